//! The cost of the speech helpers per call (issue 19): `words` and `money`, the ones a prompt
//! renders most. Figures go to BENCHMARKS.md with the command that produced them.

#![allow(missing_docs)] // criterion's macros generate undocumented functions.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ivrc::speech::{money, words, Case, Gender, Lang, Style};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("speech");
    group.bench_function("words_ru_125_genitive", |b| {
        b.iter(|| words(Lang::Ru, black_box(125), Gender::Feminine, Case::Genitive))
    });
    group.bench_function("words_ru_i64_min", |b| {
        b.iter(|| {
            words(
                Lang::Ru,
                black_box(i64::MIN),
                Gender::Masculine,
                Case::Nominative,
            )
        })
    });
    group.bench_function("words_en_1234567", |b| {
        b.iter(|| {
            words(
                Lang::En,
                black_box(1_234_567),
                Gender::Masculine,
                Case::Nominative,
            )
        })
    });
    group.bench_function("money_ru_digits", |b| {
        b.iter(|| money(Lang::Ru, black_box("1234.50"), "RUB", Style::Digits))
    });
    group.bench_function("money_ru_words", |b| {
        b.iter(|| money(Lang::Ru, black_box("1234.50"), "RUB", Style::Words))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);

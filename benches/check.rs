//! Throughput of the front end: parse, check and lower a generated flow of 10,000 and
//! 100,000 lines. Figures go to BENCHMARKS.md with the command that produced them.

#![allow(missing_docs)] // criterion's macros generate undocumented functions.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

include!("common/generated_flow.rs");

fn compile(text: &str) -> usize {
    let program = ivrc::compile("big.ivr", text)
        .program
        .expect("the generated flow checks clean");
    program.flows[0].nodes.len()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_check_lower");
    group.sample_size(10);
    for lines in [10_000, 100_000] {
        let text = flow(lines);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(lines), &text, |b, t| {
            b.iter(|| compile(t))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);

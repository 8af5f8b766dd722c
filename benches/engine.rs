//! Engine throughput: events per second through the callback flow (operator ready, client
//! agrees, bridge, report), on one core. `cargo bench --bench engine`.

#![allow(missing_docs)] // criterion's macros generate undocumented functions.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

include!("common/callback_call.rs");

fn bench(c: &mut Criterion) {
    let program = callback_flow(CALLBACK);
    let flow = &program.flows[0];
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(8));
    group.bench_function("callback_call_8_events", |b| b.iter(|| call(flow)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);

//! Engine throughput: events per second through the callback flow (operator ready, client
//! agrees, bridge, report), on one core. `cargo bench --bench engine`.

#![allow(missing_docs)] // criterion's macros generate undocumented functions.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ivrc::engine::{Engine, Event};
use ivrc::ir::{LegId, Outcome};

fn callback_flow() -> ivrc::ir::Program {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/callback.ivr"
    ))
    .expect("example");
    ivrc::compile("callback.ivr", &text)
        .program
        .expect("the example checks clean")
}

/// One whole call: 8 events.
fn call(flow: &ivrc::ir::Flow) -> usize {
    let (op, client) = (LegId(1), LegId(2));
    let params = vec![
        ("name".to_string(), "Иван".to_string()),
        ("product".to_string(), "чайник".to_string()),
        ("phone".to_string(), "+79001234567".to_string()),
    ];
    let events = [
        Event::Start {
            has_caller: false,
            caller: None,
            called: None,
            call_id: "b".into(),
            params,
        },
        Event::DialResult {
            leg: op,
            outcome: Outcome::Answered,
        },
        Event::PromptDone { leg: op },
        Event::Speech {
            leg: op,
            text: "Да, готов".into(),
            confidence: 0.9,
        },
        Event::DialResult {
            leg: client,
            outcome: Outcome::Answered,
        },
        Event::PromptDone { leg: client },
        Event::Speech {
            leg: client,
            text: "да, конечно".into(),
            confidence: 0.9,
        },
        Event::Hangup { leg: client },
    ];
    let mut engine = Engine::new(flow);
    let mut commands = 0;
    for e in events {
        commands += engine.handle(e).len();
    }
    assert!(engine.ended());
    commands
}

fn bench(c: &mut Criterion) {
    let program = callback_flow();
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

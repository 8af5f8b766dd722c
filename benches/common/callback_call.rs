// One whole callback call through the engine; included by engine.rs and engine_calls.rs.

use ivrc::engine::{Engine, Event};
use ivrc::ir::{LegId, Outcome};

/// The flow of `path` (examples/callback.ivr or a variant of it), compiled.
fn callback_flow(path: &str) -> ivrc::ir::Program {
    let text = std::fs::read_to_string(path).expect("the flow's file");
    ivrc::compile("callback.ivr", &text)
        .program
        .expect("the flow checks clean")
}

/// examples/callback.ivr.
const CALLBACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/callback.ivr");

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

//! Properties of the engine over generated flows and random callers: whatever a caller,
//! a dialled party or a CRM does, the engine never panics, never runs away, and a call that
//! is waited out long enough always ends.

mod common;

use common::generate::program;
use ivrc::ir::Outcome;
use ivrc::sim::VirtualCall;
use proptest::prelude::*;

fn lower(text: &str) -> ivrc::ir::Program {
    let c = ivrc::compile("p.ivr", text);
    c.program
        .unwrap_or_else(|| panic!("{:?} {:?}\n{text}", c.syntax_errors, c.diagnostics))
}

/// One thing a party or the world does to the call.
#[derive(Debug, Clone)]
enum Act {
    Keys(String),
    Speech(&'static str),
    Wait(u64),
    Dial(Outcome),
    Respond(bool),
    HangupCaller,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        "[0-9*#]{1,4}".prop_map(Act::Keys),
        prop::sample::select(vec!["да", "нет", "ага, конечно", "что?", ""]).prop_map(Act::Speech),
        (0u64..40_000).prop_map(Act::Wait),
        prop::sample::select(vec![
            Outcome::Answered,
            Outcome::Busy,
            Outcome::NoAnswer,
            Outcome::Failed
        ])
        .prop_map(Act::Dial),
        any::<bool>().prop_map(Act::Respond),
        Just(Act::HangupCaller),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_callers_never_break_the_engine(
        tape in proptest::collection::vec(any::<u8>(), 0..60),
        acts in proptest::collection::vec(act(), 0..30),
    ) {
        let text = program(&tape);
        let ir = lower(&text);
        let flow = &ir.flows[0];
        let mut call = VirtualCall::new(flow);
        call.start_call(Some("+79001234567".into()), vec![
            ("n".into(), "7".into()), ("t".into(), "текст".into()), ("ph".into(), "+79007654321".into()),
        ]);
        for a in acts {
            if call.ended() {
                break;
            }
            let leg = call.default_leg();
            match a {
                Act::Keys(k) => call.press(leg, &k),
                Act::Speech(s) => call.speak(leg, s),
                Act::Wait(ms) => call.wait(ms),
                Act::Dial(o) => {
                    let ringing = flow.legs.iter().map(|l| l.id).find(|l| call.is_dialing(*l));
                    if let Some(l) = ringing {
                        call.dial_result(l, o);
                    }
                }
                Act::Respond(ok) => {
                    call.respond(if ok { Ok(serde_json::json!({ "ok": true, "text": "ответ" })) } else { Err("down".into()) });
                }
                Act::HangupCaller => call.hangup(ivrc::ir::LegId(0)),
            }
        }
        // Every wait is bounded: waiting out an hour ends any generated call.
        for _ in 0..20 {
            if call.ended() {
                break;
            }
            call.wait(3_600_000);
            let ringing: Vec<_> = flow.legs.iter().map(|l| l.id).filter(|l| call.is_dialing(*l)).collect();
            for l in ringing {
                call.dial_result(l, Outcome::NoAnswer);
            }
        }
        prop_assert!(call.ended(), "the call did not end:\n{text}");
        prop_assert!(call.log.len() < 200_000);
    }
}

/// The next event from a tape byte, made plausible by what the engine asked for so far.
fn next_event(choice: u8, outputs: &[ivrc::engine::Output], legs: usize) -> ivrc::engine::Event {
    use ivrc::engine::{Command, Event};
    use ivrc::ir::LegId;
    let mut timers = Vec::new();
    let mut prompt_leg = LegId(0);
    let mut dialing = None;
    for o in outputs {
        match &o.command {
            Command::StartTimer { id, .. } => timers.push(*id),
            Command::CancelTimer { id } => timers.retain(|t| t != id),
            Command::Say { leg, .. } | Command::Play { leg, .. } => prompt_leg = *leg,
            Command::Dial { leg, .. } => dialing = Some(*leg),
            _ => {}
        }
    }
    let leg = LegId(u32::from(choice) % legs.max(1) as u32);
    match choice % 8 {
        0 | 1 => Event::PromptDone { leg: prompt_leg },
        2 => Event::Key {
            leg,
            key: ['1', '2', '#', '0'][usize::from(choice / 8) % 4],
        },
        3 => Event::Speech {
            leg,
            text: ["да", "нет", "что?"][usize::from(choice / 8) % 3].into(),
            confidence: 0.9,
        },
        4 => match timers.get(usize::from(choice / 8) % timers.len().max(1)) {
            Some(id) => Event::Timer { id: *id },
            None => Event::PromptDone { leg: prompt_leg },
        },
        5 => Event::DialResult {
            leg: dialing.unwrap_or(leg),
            outcome: [Outcome::Answered, Outcome::Busy, Outcome::NoAnswer]
                [usize::from(choice / 8) % 3]
                .clone(),
        },
        6 => Event::FetchDone {
            result: if choice > 128 {
                Ok(serde_json::json!({ "ok": true, "text": "да" }))
            } else {
                Err("down".into())
            },
        },
        _ => Event::Hangup { leg },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A call resumed from a snapshot (through JSON, as the webhook server keeps it) does
    /// exactly what the original does from then on.
    #[test]
    fn a_resumed_call_continues_exactly(
        tape in proptest::collection::vec(any::<u8>(), 0..60),
        events in proptest::collection::vec(any::<u8>(), 0..40),
        cut in 0usize..40,
    ) {
        use ivrc::engine::{Engine, Event, Snapshot};
        let text = program(&tape);
        let ir = lower(&text);
        let flow = &ir.flows[0];
        let mut engine = Engine::new(flow);
        let mut seen = engine.handle(Event::Start {
            has_caller: true,
            caller: Some("+79001234567".into()),
            called: None,
            call_id: "p".into(),
            params: vec![("n".into(), "7".into()), ("t".into(), "текст".into()), ("ph".into(), "+79007654321".into())],
        });
        let cut = cut.min(events.len());
        for &c in &events[..cut] {
            let e = next_event(c, &seen, flow.legs.len());
            seen.extend(engine.handle(e));
        }
        let json = serde_json::to_string(&engine.snapshot()).expect("snapshot serializes");
        let snapshot: Snapshot = serde_json::from_str(&json).expect("snapshot deserializes");
        let mut resumed = Engine::resume(flow, snapshot).expect("snapshot fits its flow");
        for &c in &events[cut..] {
            let e = next_event(c, &seen, flow.legs.len());
            let a = engine.handle(e.clone());
            let b = resumed.handle(e);
            prop_assert_eq!(&a, &b);
            seen.extend(a);
        }
        prop_assert_eq!(engine.ended(), resumed.ended());
    }
}

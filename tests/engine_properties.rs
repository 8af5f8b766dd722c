//! Properties of the engine over generated flows and random callers: whatever a caller,
//! a dialled party or a CRM does, the engine never panics, never runs away, and a call that
//! is waited out long enough always ends.

mod common;

use common::generate::program;
use ivrc::ir::Outcome;
use ivrc::sim::VirtualCall;
use ivrc::span::Sources;
use proptest::prelude::*;

fn lower(text: &str) -> ivrc::ir::Program {
    let mut sources = Sources::new();
    let id = sources.add("p.ivr", text);
    let (module, errors) = ivrc::syntax::parse(id, text);
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    let modules = vec![(id, &module)];
    let (analysis, diags) = ivrc::check::check(&modules, &Default::default());
    assert!(diags.iter().all(|d| d.is_warning()), "{diags:?}\n{text}");
    ivrc::lower::lower(&sources, &modules, &analysis)
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

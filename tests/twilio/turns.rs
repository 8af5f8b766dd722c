//! Webhook turns in any order: the states a flow's documents carry, fed any of the inputs
//! Twilio posts (keys, speech, silence, recordings, dial statuses, hangups — also ones the
//! call is not waiting for), in any order and from any earlier state, answer a document or
//! are refused with a `TurnError`; never a panic. Pure: `serve::voice` without a server.

use ivrc::ir;
use ivrc::serve::voice::{self, CallState, Input, Links, Step};
use proptest::prelude::*;
use std::sync::OnceLock;

/// Keeps every state a document links to, so that later inputs can go to any of them.
struct Keep(Vec<CallState>);

impl Links for Keep {
    fn next(&mut self, state: &CallState) -> String {
        self.0.push(state.clone());
        "https://ivr.example.com/next".into()
    }

    fn audio_base(&self) -> String {
        "https://ivr.example.com/audio/flow".into()
    }
}

/// The flows `ivrc serve` runs in the differential test, the multi-party ones among them.
fn flows() -> &'static Vec<ir::Flow> {
    static FLOWS: OnceLock<Vec<ir::Flow>> = OnceLock::new();
    FLOWS.get_or_init(|| {
        let mut files = vec![
            "examples/sum.ivr".to_string(),
            "examples/callback.ivr".to_string(),
            "examples/sms_reply.ivr".to_string(),
        ];
        files.extend(super::common::ivr_files("tests/fixtures/twilio"));
        files
            .iter()
            .flat_map(|f| {
                let text = std::fs::read_to_string(f).expect("readable");
                ivrc::compile(f, &text).program.expect("compiles").flows
            })
            .collect()
    })
}

fn input(kind: u8, pick: u8) -> Input {
    let statuses = [
        "completed",
        "answered",
        "busy",
        "no-answer",
        "failed",
        "canceled",
        "x",
    ];
    let texts = ["да", "готов", "нет", "", "support", "billing"];
    match kind % 7 {
        0 => Input::Digits(["1", "12#", "", "#", "9"][pick as usize % 5].to_string()),
        1 => Input::Speech {
            text: texts[pick as usize % texts.len()].to_string(),
            confidence: 0.9,
        },
        2 => Input::NoInput,
        3 => Input::Recorded("https://api.twilio.com/rec.wav".into()),
        4 => Input::DialStatus(statuses[pick as usize % statuses.len()].to_string()),
        5 => Input::Hangup,
        _ => Input::Start {
            call_sid: "CA1".into(),
            caller: "+15005550010".into(),
            called: "+15005550006".into(),
            params: Vec::new(),
            first_dial: ir::Outcome::Answered,
        },
    }
}

/// Runs one turn to its answer (fetches answered or failed by `pick`), keeping its states.
fn run(flow: &ir::Flow, state: Option<CallState>, input: Input, pick: u8, keep: &mut Keep) {
    let mut step = voice::turn(flow, state, input, keep);
    for _ in 0..16 {
        match step {
            Ok(Step::Fetch(pending)) => {
                let result = if pick % 2 == 0 {
                    Ok(serde_json::json!({ "status": "ok", "name": "Иван" }))
                } else {
                    Err("refused".to_string())
                };
                step = voice::resume(flow, pending, result, keep);
            }
            Ok(Step::Answer(turn)) => {
                assert!(turn.twiml.starts_with("<?xml"), "{}", turn.twiml);
                keep.0.push(turn.state);
                return;
            }
            Err(_) => return,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_webhook_in_any_order_answers_or_is_refused(
        which in any::<u8>(),
        params in proptest::collection::vec("[0-9+а-я ]{0,6}", 0..4),
        steps in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..24),
    ) {
        let flows = flows();
        let flow = &flows[which as usize % flows.len()];
        let mut keep = Keep(Vec::new());
        let named = flow
            .params
            .iter()
            .zip(params.iter().cycle())
            .map(|(id, v)| (flow.vars[id.0 as usize].name.clone(), v.clone()))
            .collect();
        let start = Input::Start {
            call_sid: "CA1".into(),
            caller: "+15005550010".into(),
            called: "+15005550006".into(),
            params: named,
            first_dial: ir::Outcome::Answered,
        };
        run(flow, None, start, 0, &mut keep);
        for (from, kind, pick) in steps {
            let state = match keep.0.len() {
                0 => None,
                n => Some(keep.0[from as usize % n].clone()),
            };
            run(flow, state, input(kind, pick), pick, &mut keep);
        }
    }
}

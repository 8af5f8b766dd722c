//! Fuzz target: any bytes through decode, parse, check and (when clean) lower, serialize,
//! and a simulated call with a few inputs. Must never panic, overflow the stack or hang.

#![no_main]

use ivrc::ir::LegId;
use ivrc::sim::VirtualCall;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = ivrc::syntax::decode_source(ivrc::span::FileId(0), data.to_vec()) else { return };
    let Some(program) = ivrc::compile("fuzz.ivr", &text).program else { return };
    let json = serde_json::to_string(&program).expect("IR serializes");
    let back: ivrc::ir::Program = serde_json::from_str(&json).expect("IR deserializes");
    assert_eq!(back, program);
    for flow in &program.flows {
        let mut call = VirtualCall::new(flow);
        let params = flow
            .params
            .iter()
            .map(|v| (flow.vars[v.0 as usize].name.clone(), "1".to_string()))
            .collect();
        call.start_call(Some("+79001234567".into()), params);
        let leg = call.default_leg();
        call.press(leg, "1#");
        call.speak(leg, "да");
        for _ in 0..4 {
            call.wait(600_000);
            for l in flow
                .legs
                .iter()
                .map(|l| l.id)
                .filter(|l| call.is_dialing(*l))
                .collect::<Vec<_>>()
            {
                call.dial_result(l, ivrc::ir::Outcome::Answered);
            }
            call.respond(Ok(serde_json::json!({ "ok": true })));
        }
        call.hangup(LegId(0));
    }
});

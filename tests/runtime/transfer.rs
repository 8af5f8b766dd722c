//! `transfer` on the runtime against sipp parties: a caller and a dialled agent who take our
//! REFER, and ones whose phones refuse it — then we call the number through the trunk (a sipp
//! UAS) and bridge it to the party, checked by the audio that reaches the new number.

use super::calls::speak;
use super::harness::{free_port, require, rtp_sink, sipp_uas, sipp_with, Received, Runtime};
use std::process::Output;
use std::time::Duration;

const FLOWS: &str = "tests/fixtures/runtime/transfer.ivr";

fn ok(who: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{who} sipp failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One call of the sipp `caller` scenario to flow `service`, with `trunk` (a sipp UAS scenario
/// and its arguments) behind the trunk when given and `speech` (text, file name) spoken into the
/// runtime's directory first. Both sipps must succeed and the runtime stop cleanly. The call's
/// record, what the caller heard and what the trunk's parties heard (one sink for all of them).
fn handover(
    name: &str,
    service: &str,
    caller: &str,
    trunk: Option<(&str, &[&str])>,
    speech: Option<(&str, &str)>,
) -> (serde_json::Value, Received, Received) {
    let port = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{port}");
    let rt = Runtime::start(name, &[FLOWS], &["--trunk", &trunk_arg]);
    if let Some((text, file)) = speech {
        require("espeak-ng", "--version");
        speak(&rt.dir, text, file);
    }
    let (caller_sink, caller_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let far = trunk.map(|(scenario, args)| {
        let (sink, heard) = rtp_sink(Duration::from_secs(3), Duration::from_secs(30));
        (sipp_uas(&rt.dir, port, scenario, sink, args), heard)
    });
    let called = sipp_with(&rt.dir, rt.port, caller, service, caller_sink, &[]);
    ok("caller", &called);
    let trunk_heard = far.map_or_else(Received::default, |(sipp, heard)| {
        ok("trunk", &sipp.wait_with_output().expect("trunk sipp"));
        heard.join().expect("sink")
    });
    let heard = (caller_heard.join().expect("sink"), trunk_heard);
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    (Runtime::record_of(&dir, service), heard.0, heard.1)
}

#[test]
fn a_caller_who_takes_refer_is_handed_over_and_hung_up() {
    // Nobody behind the trunk: this caller takes REFER, nothing is dialled.
    let (r, _, _) = handover(
        "transfer-refer",
        "handover",
        "uac_refer_accept.xml",
        None,
        None,
    );
    assert_eq!(r["ended_by"], "transfer", "{r:#}");
    assert_eq!(
        r["transfers"],
        serde_json::json!([{
            "leg": "caller", "number": "+74951234567", "how": "refer", "detail": "REFER 2xx"
        }]),
        "{r:#}"
    );
    assert_eq!(r["prompts"], serde_json::json!(["Перевожу."]), "{r:#}");
}

#[test]
fn a_caller_who_refuses_refer_is_bridged_to_the_number_by_us() {
    let (r, caller_heard, shop_heard) = handover(
        "transfer-bridge",
        "handover",
        "uac_refer_refuse.xml",
        Some(("uas_transfer_target.xml", &[])),
        Some(("Алло, я хочу поговорить с магазином.", "phrase")),
    );
    // The shop heard the caller (relayed by us, under our SSRC), and the caller got the shop's
    // stream after the prompt.
    assert!(
        shop_heard.audible > 25,
        "the caller's speech reached the number they were handed to: {shop_heard:?}"
    );
    assert!(caller_heard.packets > 0, "{caller_heard:?}");
    assert_eq!(r["ended_by"], "transfer", "{r:#}");
    assert_eq!(
        r["transfers"],
        serde_json::json!([{
            "leg": "caller", "number": "+74951234567", "how": "bridge",
            "detail": "REFER 501, INVITE 200"
        }]),
        "{r:#}"
    );
    let leg = &r["legs"][0];
    assert_eq!(
        (
            &leg["leg"],
            &leg["number"],
            &leg["outcome"],
            &leg["ended_by"]
        ),
        (
            &serde_json::json!("transfer"),
            &serde_json::json!("+74951234567"),
            &serde_json::json!("answered"),
            &serde_json::json!("transfer")
        ),
        "the new number is hung up when the caller leaves: {r:#}"
    );
}

#[test]
fn a_dialled_agent_who_takes_refer_is_handed_over_while_the_flow_goes_on() {
    let (r, _, _) = handover(
        "transfer-agent",
        "agent_handover",
        "uac_wait.xml",
        Some(("uas_refer_accept.xml", &[])),
        Some(("Оператор слушает.", "agent")),
    );
    assert_eq!(r["ended_by"], "flow", "{r:#}");
    assert_eq!(
        r["prompts"],
        serde_json::json!(["Оператор переведён."]),
        "{r:#}"
    );
    assert_eq!(
        r["transfers"],
        serde_json::json!([{
            "leg": "agent", "number": "+74951234567", "how": "refer", "detail": "REFER 2xx"
        }]),
        "{r:#}"
    );
    assert_eq!(r["legs"][0]["ended_by"], "transfer", "{r:#}");
}

#[test]
fn a_dialled_agent_who_refuses_refer_is_bridged_to_the_number_after_the_caller_left() {
    // Two trunk calls on one sink: the target's audible audio can only be the agent's.
    let (r, _, heard) = handover(
        "transfer-agent-bridge",
        "agent_handover",
        "uac_wait.xml",
        Some(("uas_refer_refuse.xml", &["-m", "2"])),
        Some(("Оператор слушает, передаю вас дальше.", "agent")),
    );
    assert!(
        heard.audible > 25,
        "the agent reached the number: {heard:?}"
    );
    assert_eq!(
        r["prompts"],
        serde_json::json!(["Оператор переведён."]),
        "{r:#}"
    );
    assert_eq!(
        r["transfers"],
        serde_json::json!([{
            "leg": "agent", "number": "+74951234567", "how": "bridge",
            "detail": "REFER 405, INVITE 200"
        }]),
        "{r:#}"
    );
    let legs = r["legs"].as_array().expect("legs");
    assert_eq!(legs.len(), 2, "{r:#}");
    assert_eq!(legs[0]["ended_by"], "callee", "the agent hung up: {r:#}");
    assert_eq!(legs[1]["number"], "+74951234567", "{r:#}");
    assert_eq!(legs[1]["ended_by"], "transfer", "{r:#}");
}

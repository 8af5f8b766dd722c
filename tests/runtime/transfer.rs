//! `transfer` on the runtime against sipp parties: a caller and a dialled agent who take our
//! REFER, and ones whose phones refuse it — then we call the number through the trunk (a sipp
//! UAS) and bridge it to the party, checked by the audio that reaches the new number.

use super::calls::speak;
use super::harness::{free_port, require, rtp_sink, sipp_uas, sipp_with, Runtime};
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

#[test]
fn a_caller_who_takes_refer_is_handed_over_and_hung_up() {
    // A trunk nobody answers: this caller takes REFER, nothing is dialled.
    let trunk_arg = format!("sip:127.0.0.1:{}", free_port());
    let rt = Runtime::start("transfer-refer", &[FLOWS], &["--trunk", &trunk_arg]);
    let (sink, _) = rtp_sink(Duration::from_secs(2), Duration::from_secs(20));
    let caller = sipp_with(
        &rt.dir,
        rt.port,
        "uac_refer_accept.xml",
        "handover",
        sink,
        &[],
    );
    ok("caller", &caller);
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let r = Runtime::record_of(&dir, "handover");
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
    require("espeak-ng", "--version");
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let rt = Runtime::start("transfer-bridge", &[FLOWS], &["--trunk", &trunk_arg]);
    speak(&rt.dir, "Алло, я хочу поговорить с магазином.", "phrase");
    let (caller_sink, caller_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let (shop_sink, shop_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let shop = sipp_uas(&rt.dir, trunk, "uas_transfer_target.xml", shop_sink, &[]);
    let caller = sipp_with(
        &rt.dir,
        rt.port,
        "uac_refer_refuse.xml",
        "handover",
        caller_sink,
        &[],
    );
    ok("caller", &caller);
    ok("shop", &shop.wait_with_output().expect("shop sipp"));
    let (caller_heard, shop_heard) = (
        caller_heard.join().expect("sink"),
        shop_heard.join().expect("sink"),
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    // The shop heard the caller (relayed by us, under our SSRC), and the caller got the shop's
    // stream after the prompt.
    assert!(
        shop_heard.audible > 25,
        "the caller's speech reached the number they were handed to: {shop_heard:?}"
    );
    assert!(caller_heard.packets > 0, "{caller_heard:?}");
    let r = Runtime::record_of(&dir, "handover");
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
    require("espeak-ng", "--version");
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let rt = Runtime::start("transfer-agent", &[FLOWS], &["--trunk", &trunk_arg]);
    speak(&rt.dir, "Оператор слушает.", "agent");
    let (caller_sink, _) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let (agent_sink, _) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let agent = sipp_uas(&rt.dir, trunk, "uas_refer_accept.xml", agent_sink, &[]);
    let caller = sipp_with(
        &rt.dir,
        rt.port,
        "uac_wait.xml",
        "agent_handover",
        caller_sink,
        &[],
    );
    ok("caller", &caller);
    ok("agent", &agent.wait_with_output().expect("agent sipp"));
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let r = Runtime::record_of(&dir, "agent_handover");
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
    require("espeak-ng", "--version");
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let rt = Runtime::start("transfer-agent-bridge", &[FLOWS], &["--trunk", &trunk_arg]);
    speak(&rt.dir, "Оператор слушает, передаю вас дальше.", "agent");
    let (caller_sink, _) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    // One sink for both trunk calls: the target's audible audio can only be the agent's.
    let (trunk_sink, trunk_heard) = rtp_sink(Duration::from_secs(3), Duration::from_secs(30));
    let trunk_calls = sipp_uas(
        &rt.dir,
        trunk,
        "uas_refer_refuse.xml",
        trunk_sink,
        &["-m", "2"],
    );
    let caller = sipp_with(
        &rt.dir,
        rt.port,
        "uac_wait.xml",
        "agent_handover",
        caller_sink,
        &[],
    );
    ok("caller", &caller);
    ok(
        "trunk",
        &trunk_calls.wait_with_output().expect("trunk sipp"),
    );
    let heard = trunk_heard.join().expect("sink");
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        heard.audible > 25,
        "the agent reached the number: {heard:?}"
    );
    let r = Runtime::record_of(&dir, "agent_handover");
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

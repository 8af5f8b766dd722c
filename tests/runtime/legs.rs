//! Legs the flow dials: sipp plays the party behind the trunk (a UAS), the caller is another
//! sipp, and the RTP sinks stand in for both parties' ears.

use super::calls::speak;
use super::harness::{free_port, require, rtp_sink, sipp_uas, sipp_with, Runtime};
use std::time::Duration;

#[test]
fn a_dialled_agent_is_bridged_to_the_caller_both_ways() {
    require("espeak-ng", "--version");
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let rt = Runtime::start(
        "bridge",
        &["tests/fixtures/runtime/connect.ivr"],
        &["--trunk", &trunk_arg],
    );
    speak(&rt.dir, "Алло, я клиент, хочу купить чайник.", "phrase");
    speak(&rt.dir, "Здравствуйте, оператор слушает.", "agent");
    let (caller_sink, caller_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let (agent_sink, agent_heard) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let agent = sipp_uas(&rt.dir, trunk, "uas_agent.xml", agent_sink, &["-d", "4000"]);
    let caller = sipp_with(
        &rt.dir,
        rt.port,
        "uac_bridge.xml",
        "connect",
        caller_sink,
        &[],
    );
    let agent = agent.wait_with_output().expect("agent sipp");
    assert!(
        caller.status.success(),
        "caller sipp failed:\n{}",
        String::from_utf8_lossy(&caller.stderr)
    );
    assert!(
        agent.status.success(),
        "agent sipp failed:\n{}{}",
        String::from_utf8_lossy(&agent.stdout),
        String::from_utf8_lossy(&agent.stderr)
    );
    let (caller_heard, agent_heard) = (
        caller_heard.join().expect("sink"),
        agent_heard.join().expect("sink"),
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let r = Runtime::record_of(&dir, "connect");
    // The agent answered, was bridged, and hung up; the caller heard the last prompt and
    // ivrc ended the call.
    let leg = &r["legs"][0];
    assert_eq!(
        (
            leg["leg"].as_str(),
            leg["number"].as_str(),
            leg["outcome"].as_str()
        ),
        (Some("agent"), Some("+74950000000"), Some("answered")),
        "{r:#}"
    );
    assert_eq!(leg["ended_by"], "callee", "{r:#}");
    assert_eq!(r["ended_by"], "flow", "{r:#}");
    assert_eq!(
        r["prompts"],
        serde_json::json!(["Соединяю.", "Оператор завершил разговор."]),
        "{r:#}"
    );
    // Audio and keys both ways. The agent hears nothing from ivrc itself but silence, so its
    // audible audio is the caller's; ivrc never sends events, so the events each side got
    // were the other's key.
    assert!(
        agent_heard.audible > 25 && !agent_heard.audible_ssrcs.is_empty(),
        "the caller's speech reached the agent: {agent_heard:?}"
    );
    assert!(
        agent_heard.payload_types.contains(&101),
        "the caller's key reached the agent: {agent_heard:?}"
    );
    assert!(
        caller_heard.payload_types.contains(&101),
        "the agent's key reached the caller: {caller_heard:?}"
    );
    assert!(
        caller_heard.audible_ssrcs.len() >= 2,
        "the caller heard ivrc's prompts and, on another stream, the agent: {caller_heard:?}"
    );
    // RTCP's counts: what each party got from us, the clock's packets and the relayed ones
    // alike, is what we counted as sent; what each sent us, relayed or not, was received.
    let (caller_media, agent_media) = (&r["media"], &leg["media"]);
    for (media, heard) in [(caller_media, &caller_heard), (agent_media, &agent_heard)] {
        let sent = media["packets_sent"].as_u64().expect("packets_sent");
        assert!(
            sent.abs_diff(heard.packets as u64) <= 2,
            "{media:#} against {heard:?}"
        );
        assert!(media["packets_received"].as_u64() > Some(25), "{media:#}");
        // Over loopback nothing is lost; sipp's pcaps repeat a key's end packet under one
        // sequence number, and A.3 counts duplicates as received: at most zero.
        assert!(media["packets_lost"].as_i64() <= Some(0), "{media:#}");
    }
}

/// One call through a trunk: `caller` (a tests/sip scenario) calls `service` of `file` run
/// with `--trunk` (plus `run_args`), and `trunk` (a UAS scenario, plus `trunk_args`) plays the
/// far side; both sipps must succeed and the runtime stop cleanly. Its directory (store).
struct TrunkCall<'a> {
    name: &'a str,
    file: &'a str,
    service: &'a str,
    caller: &'a str,
    trunk: &'a str,
    run_args: &'a [&'a str],
    trunk_args: &'a [&'a str],
}

impl TrunkCall<'_> {
    fn place(&self) -> std::path::PathBuf {
        let trunk = free_port();
        let trunk_arg = format!("sip:127.0.0.1:{trunk}");
        let mut args = vec!["--trunk", trunk_arg.as_str()];
        args.extend(self.run_args);
        let rt = Runtime::start(self.name, &[self.file], &args);
        let (sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
        let far = sipp_uas(&rt.dir, trunk, self.trunk, sink, self.trunk_args);
        let caller = sipp_with(&rt.dir, rt.port, self.caller, self.service, sink, &[]);
        let far = far.wait_with_output().expect("trunk sipp");
        for (who, out) in [("caller", &caller), ("trunk", &far)] {
            assert!(
                out.status.success(),
                "{who} sipp failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let dir = rt.dir.clone();
        let (code, stderr) = rt.stop();
        assert_eq!(code, 0, "{stderr}");
        dir
    }
}

/// Places a `uac_wait` call to the `connect` flow with `scenario` playing the trunk. The
/// call's record.
fn connect_with_trunk(name: &str, scenario: &str, run_args: &[&str]) -> serde_json::Value {
    let dir = TrunkCall {
        name,
        file: "tests/fixtures/runtime/connect.ivr",
        service: "connect",
        caller: "uac_wait.xml",
        trunk: scenario,
        run_args,
        trunk_args: &[],
    }
    .place();
    Runtime::calls(&dir)
        .into_iter()
        .find(|r| r["flow"] == "connect")
        .expect("a record of the call")
}

#[test]
fn a_busy_agent_behind_a_digest_challenge_takes_the_busy_path() {
    let r = connect_with_trunk(
        "busy",
        "uas_busy_auth.xml",
        &["--trunk-user", "100", "--trunk-password", "secret"],
    );
    let leg = &r["legs"][0];
    assert_eq!(
        (leg["outcome"].as_str(), leg["detail"].as_str()),
        (Some("busy"), Some("SIP 486")),
        "{r:#}"
    );
    assert_eq!(
        r["prompts"],
        serde_json::json!(["Соединяю.", "Оператор недоступен."]),
        "{r:#}"
    );
    assert_eq!(r["ended_by"], "flow");
}

#[test]
fn an_agent_who_does_not_answer_is_cancelled_at_the_dial_timeout() {
    let r = connect_with_trunk("ring", "uas_ring.xml", &[]);
    let leg = &r["legs"][0];
    assert_eq!(leg["outcome"], "no_answer", "{r:#}");
    assert_eq!(leg["ended_by"], "dial_timeout", "{r:#}");
    let rang = leg["ended_ms"].as_u64().unwrap_or(0) - leg["started_ms"].as_u64().unwrap_or(0);
    assert!(
        (4_900..8_000).contains(&rang),
        "the 5 s dial timeout: {rang} ms"
    );
    assert_eq!(
        r["prompts"],
        serde_json::json!(["Соединяю.", "Оператор недоступен."]),
        "{r:#}"
    );
}

/// The contact's timeline as `ivrc entries` prints it.
fn timeline(dir: &std::path::Path, contact: &str) -> String {
    let store = dir.join("calls.db").display().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["entries", "--contact", contact, "--store", &store])
        .output()
        .expect("ivrc entries");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_text_message_starts_on_sms_and_its_reply_goes_out_through_the_trunk() {
    let dir = TrunkCall {
        name: "text",
        file: "examples/sms_reply.ivr",
        service: "support",
        caller: "uac_text.xml",
        trunk: "uas_text.xml",
        run_args: &["--trunk-user", "+15005550001"],
        trunk_args: &[],
    }
    .place();
    let text = timeline(&dir, "+15551234567");
    assert!(
        text.contains("Hello, my order has not arrived.")
            && text.contains("Thanks for your message! An agent will call you back shortly."),
        "the customer's timeline has both texts:\n{text}"
    );
}

#[test]
fn a_missed_call_is_followed_by_a_text_to_the_caller() {
    require("espeak-ng", "--version");
    // The agent is busy; the caller then gets a text.
    let dir = TrunkCall {
        name: "missed",
        file: "examples/sms_reply.ivr",
        service: "support",
        caller: "uac_wait.xml",
        trunk: "uas_missed.xml",
        run_args: &[],
        trunk_args: &["-m", "2"],
    }
    .place();
    let text = timeline(&dir, "+79001234567");
    assert!(
        text.contains("Sorry we missed your call. We will call you back soon."),
        "the caller's timeline has the text:\n{text}"
    );
}

#[test]
fn a_dial_with_detect_machine_takes_the_machine_arm_for_a_greeting_and_answered_for_a_person() {
    require("espeak-ng", "--version");
    require("sox", "--version");
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let rt = Runtime::start(
        "legs-screen",
        &["tests/fixtures/runtime/screen.ivr"],
        &["--trunk", &trunk_arg],
    );
    super::campaign::spoken_ulaw(
        &rt.dir,
        "Абонент не может ответить. Оставьте сообщение после звукового сигнала.",
        "0.3",
        "3",
        "machine.ulaw",
    );
    super::campaign::spoken_ulaw(&rt.dir, "да, слушаю", "0.5", "6", "person.ulaw");
    let (far_sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let far = sipp_uas(&rt.dir, trunk, "uas_amd.xml", far_sink, &["-m", "2"]);
    for flow in ["screen_machine", "screen_person"] {
        let (sink, _) = rtp_sink(Duration::from_secs(3), Duration::from_secs(30));
        let call = sipp_with(&rt.dir, rt.port, "uac_wait.xml", flow, sink, &[]);
        assert!(
            call.status.success(),
            "{flow}: {}",
            String::from_utf8_lossy(&call.stderr)
        );
    }
    let far = far.wait_with_output().expect("sipp");
    assert!(
        far.status.success(),
        "{}",
        String::from_utf8_lossy(&far.stderr)
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let machine = Runtime::record_of(&dir, "screen_machine");
    assert_eq!(machine["report"]["ok"], false, "{machine:#}");
    assert_eq!(machine["report"]["reason"], "автоответчик", "{machine:#}");
    assert_eq!(machine["legs"][0]["outcome"], "machine", "{machine:#}");
    assert!(
        machine["legs"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("SIP 200, a machine")),
        "{machine:#}"
    );
    let person = Runtime::record_of(&dir, "screen_person");
    assert_eq!(person["report"]["ok"], true, "{person:#}");
    assert_eq!(person["legs"][0]["outcome"], "answered", "{person:#}");
    assert_eq!(
        person["legs"][0]["detail"], "SIP 200, a person",
        "{person:#}"
    );
}

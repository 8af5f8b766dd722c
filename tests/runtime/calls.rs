//! Calls placed by sipp.

use super::harness::{require, value, CallSpec, Placed};
use std::time::Duration;

#[test]
fn the_sum_task_keys_12_and_30_and_hears_42() {
    require("espeak-ng", "--version");
    let Placed { record, rtp, dir } = CallSpec {
        name: "sum",
        file: "examples/sum.ivr",
        scenario: "uac_sum.xml",
        service: "sum",
        ..CallSpec::default()
    }
    .place(|_| {});
    let r = &record;
    assert_eq!(r["keys"], "12#30#");
    assert_eq!(
        (value(r, "a"), value(r, "b"), value(r, "sum")),
        (Some("12"), Some("30"), Some("42"))
    );
    assert_eq!(r["ended_by"], "flow", "ivrc hangs up after the sum: {r:#}");
    assert!(
        r["prompts"]
            .as_array()
            .is_some_and(|p| p.iter().any(|t| t == "Сумма равна сорока двум.")),
        "{r:#}"
    );
    // One packet every 20 ms from the answer to the BYE, on one stream.
    let talk_ms = r["ended_ms"].as_u64().unwrap_or(0) - r["answered_ms"].as_u64().unwrap_or(0);
    let expected = talk_ms / 20;
    assert!(
        (rtp.packets as u64).abs_diff(expected) <= expected / 10 + 3,
        "{} packets for {talk_ms} ms: {rtp:?}",
        rtp.packets
    );
    assert!(rtp.audible > 50, "prompts were spoken: {rtp:?}");
    assert_eq!(rtp.ssrcs.len(), 1, "{rtp:?}");
    assert_eq!(
        (rtp.sequence_gaps, rtp.timestamp_jumps, rtp.markers),
        (0, 0, 1),
        "{rtp:?}"
    );
    assert_eq!(rtp.payload_types, [0], "PCMU as offered");
    // The same record as people read it.
    let store = dir.join("calls.db").display().to_string();
    let human = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["calls", "--store", &store])
        .output()
        .expect("ivrc calls");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("+79001234567 → sum  flow sum")
            && text.contains("ended by flow  keys \"12#30#\"  a=12 b=30 sum=42"),
        "{text}"
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["calls", "--store", &store, "--since", "yesterday"])
        .output()
        .expect("ivrc calls");
    assert_eq!(bad.status.code(), Some(2), "a bad --since is a usage error");
}

#[test]
fn a_cancel_before_the_answer_gets_487_and_ends_the_call() {
    let Placed { record, .. } = CallSpec {
        name: "cancel",
        scenario: "uac_cancel.xml",
        service: "slow_answer",
        limit: Duration::from_secs(1),
        ..CallSpec::default()
    }
    .place(|_| {});
    let r = &record;
    assert_eq!(r["ended_by"], "cancel");
    assert!(r["answered_ms"].is_null(), "{r:#}");
}

#[test]
fn a_bye_from_the_caller_mid_prompt_ends_the_call() {
    require("espeak-ng", "--version");
    let Placed { record: r, rtp, .. } = CallSpec {
        name: "bye",
        scenario: "uac_hangup.xml",
        service: "long_prompt",
        idle: Duration::from_secs(1),
        ..CallSpec::default()
    }
    .place(|_| {});
    assert_eq!(r["ended_by"], "caller");
    let talk_ms = r["ended_ms"].as_u64().unwrap_or(0) - r["answered_ms"].as_u64().unwrap_or(0);
    assert!(
        talk_ms < 3000,
        "the prompt stopped with the BYE: {talk_ms} ms"
    );
    assert!(rtp.packets < 150, "no RTP after the BYE: {rtp:?}");
}

#[test]
fn no_input_takes_the_timeout_path() {
    require("espeak-ng", "--version");
    let Placed { record: r, rtp, .. } = CallSpec {
        name: "timeout",
        scenario: "uac_wait.xml",
        service: "quick_timeout",
        ..CallSpec::default()
    }
    .place(|_| {});
    assert_eq!(r["ended_by"], "flow");
    assert_eq!(r["keys"], "");
    assert_eq!(
        r["prompts"],
        serde_json::json!(["Введите код.", "Вы ничего не ввели. До свидания."])
    );
    assert!(rtp.audible > 20, "{rtp:?}");
}

/// Speaks `text` with espeak-ng into `dir/phrase.ulaw` (8 kHz μ-law), for sipp to stream.
pub fn phrase(dir: &std::path::Path, text: &str) {
    speak(dir, text, "phrase");
}

/// Speaks `text` with espeak-ng into `dir/NAME.ulaw` (8 kHz μ-law), with a second of
/// silence after it so that a looped stream has pauses between the words.
pub fn speak(dir: &std::path::Path, text: &str, name: &str) {
    require("sox", "--version");
    let wav = dir.join(format!("{name}.wav"));
    let ok = std::process::Command::new("espeak-ng")
        .args(["-v", "ru", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "espeak-ng speaks");
    let ok = std::process::Command::new("sox")
        .arg(&wav)
        .args(["-r", "8000", "-c", "1", "-t", "ul"])
        .arg(dir.join(format!("{name}.ulaw")))
        .args(["pad", "0", "1"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "sox converts");
}

#[test]
fn a_listen_flow_hears_the_phrase_the_caller_speaks() {
    require("espeak-ng", "--version");
    for (said, answer) in [("готов", "Соединяю."), ("отмена", "Отменено.")]
    {
        let name = format!("listen-{said}");
        let Placed { record: r, .. } = CallSpec {
            name: &name,
            scenario: "uac_say.xml",
            service: "ready",
            ..CallSpec::default()
        }
        .place(|dir| phrase(dir, said));
        assert_eq!(r["phrases"], serde_json::json!([said]), "{r:#}");
        assert!(
            r["prompts"]
                .as_array()
                .is_some_and(|p| p.iter().any(|t| t == answer)),
            "{r:#}"
        );
        assert_eq!(r["ended_by"], "flow");
    }
}

#[test]
fn the_sum_task_works_over_tcp() {
    require("espeak-ng", "--version");
    let Placed { record, .. } = CallSpec {
        name: "tcp",
        file: "examples/sum.ivr",
        scenario: "uac_sum.xml",
        service: "sum",
        sipp_args: &["-t", "t1"],
        ..CallSpec::default()
    }
    .place(|_| {});
    let r = &record;
    assert_eq!(r["keys"], "12#30#");
    assert_eq!(value(r, "sum"), Some("42"));
    assert_eq!(
        r["ended_by"], "flow",
        "our BYE went back over the connection: {r:#}"
    );
}

#[test]
fn a_caller_who_sends_no_rtp_is_hung_up_at_the_media_timeout() {
    let Placed { record: r, .. } = CallSpec {
        name: "rtp-timeout",
        service: "long_wait",
        run_args: &["--rtp-timeout", "2"],
        ..CallSpec::default()
    }
    .place(|_| {});
    assert_eq!(r["ended_by"], "rtp_timeout", "{r:#}");
    let talk = r["ended_ms"].as_u64().unwrap_or(0) - r["answered_ms"].as_u64().unwrap_or(0);
    assert!(
        (1_900..6_000).contains(&talk),
        "ended {talk} ms after the answer"
    );
    assert_eq!(
        r["prompts"],
        serde_json::json!([]),
        "the pause never ended: {r:#}"
    );
}

//! Calls placed by sipp.

use super::harness::{require, rtp_sink, sipp, Runtime};
use std::time::Duration;

fn record<'a>(records: &'a [serde_json::Value], flow: &str) -> &'a serde_json::Value {
    records
        .iter()
        .find(|r| r["flow"] == flow)
        .unwrap_or_else(|| panic!("no record of `{flow}` in {records:#?}"))
}

fn value<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    record["values"]
        .as_array()?
        .iter()
        .find(|v| v[0] == name)
        .and_then(|v| v[1].as_str())
}

#[test]
fn the_sum_task_keys_12_and_30_and_hears_42() {
    require("espeak-ng", "--version");
    let rt = Runtime::start("sum", &["examples/sum.ivr"], &[]);
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let out = sipp(&rt.dir, rt.port, "uac_sum.xml", "sum", sink);
    assert!(
        out.status.success(),
        "sipp failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rtp = received.join().expect("sink");
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let records = Runtime::calls(&dir);
    let r = record(&records, "sum");
    assert_eq!(r["keys"], "12#30#");
    assert_eq!(
        (value(r, "a"), value(r, "b"), value(r, "sum")),
        (Some("12"), Some("30"), Some("42"))
    );
    assert_eq!(r["ended_by"], "flow", "ivrc hangs up after the sum: {r:#}");
    assert!(
        r["prompts"]
            .as_array()
            .is_some_and(|p| p.iter().any(|t| t == "Сумма равна 42.")),
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
    let rt = Runtime::start("cancel", &["tests/fixtures/runtime/flows.ivr"], &[]);
    let out = sipp(
        &rt.dir,
        rt.port,
        "uac_cancel.xml",
        "slow_answer",
        super::harness::free_port(),
    );
    assert!(
        out.status.success(),
        "sipp failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let records = Runtime::calls(&dir);
    let r = record(&records, "slow_answer");
    assert_eq!(r["ended_by"], "cancel");
    assert!(r["answered_ms"].is_null(), "{r:#}");
}

#[test]
fn a_bye_from_the_caller_mid_prompt_ends_the_call() {
    require("espeak-ng", "--version");
    let rt = Runtime::start("bye", &["tests/fixtures/runtime/flows.ivr"], &[]);
    let (sink, received) = rtp_sink(Duration::from_secs(1), Duration::from_secs(20));
    let out = sipp(&rt.dir, rt.port, "uac_hangup.xml", "long_prompt", sink);
    assert!(
        out.status.success(),
        "sipp failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rtp = received.join().expect("sink");
    let dir = rt.dir.clone();
    let (code, _) = rt.stop();
    assert_eq!(code, 0);
    let r = record(&Runtime::calls(&dir), "long_prompt").clone();
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
    let rt = Runtime::start("timeout", &["tests/fixtures/runtime/flows.ivr"], &[]);
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
    let out = sipp(&rt.dir, rt.port, "uac_wait.xml", "quick_timeout", sink);
    assert!(
        out.status.success(),
        "sipp failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rtp = received.join().expect("sink");
    let dir = rt.dir.clone();
    let (code, _) = rt.stop();
    assert_eq!(code, 0);
    let r = record(&Runtime::calls(&dir), "quick_timeout").clone();
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
    require("sox", "--version");
    let wav = dir.join("phrase.wav");
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
        .arg(dir.join("phrase.ulaw"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "sox converts");
}

#[test]
fn a_listen_flow_hears_the_phrase_the_caller_speaks() {
    require("espeak-ng", "--version");
    for (said, answer) in [("готов", "Соединяю."), ("отмена", "Отменено.")]
    {
        let rt = Runtime::start(
            &format!("listen-{said}"),
            &["tests/fixtures/runtime/flows.ivr"],
            &[],
        );
        phrase(&rt.dir, said);
        let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(30));
        let out = sipp(&rt.dir, rt.port, "uac_say.xml", "ready", sink);
        assert!(
            out.status.success(),
            "sipp failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        received.join().expect("sink");
        let dir = rt.dir.clone();
        let (code, stderr) = rt.stop();
        assert_eq!(code, 0, "{stderr}");
        let r = record(&Runtime::calls(&dir), "ready").clone();
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
    let rt = Runtime::start("tcp", &["examples/sum.ivr"], &[]);
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let out =
        super::harness::sipp_with(&rt.dir, rt.port, "uac_sum.xml", "sum", sink, &["-t", "t1"]);
    assert!(
        out.status.success(),
        "sipp over TCP failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    received.join().expect("sink");
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let records = Runtime::calls(&dir);
    let r = record(&records, "sum");
    assert_eq!(r["keys"], "12#30#");
    assert_eq!(value(r, "sum"), Some("42"));
    assert_eq!(
        r["ended_by"], "flow",
        "our BYE went back over the connection: {r:#}"
    );
}

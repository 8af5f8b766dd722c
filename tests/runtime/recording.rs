//! `record` on the runtime's edges, with a sipp caller (the softphone's voicemail is in
//! baresip.rs): without `--recordings` the flow goes on with an empty value and the call
//! record says why; with it, a recording nobody ends stops at `max_length`.

use super::harness::{rtp_sink, scratch, sipp, Runtime};
use std::time::Duration;

/// One call of tests/fixtures/runtime/voicemail.ivr by a caller who says and presses nothing,
/// on a runtime started with `extra`; its call record.
fn silent_voicemail(name: &str, extra: &[&str]) -> serde_json::Value {
    let rt = Runtime::start(name, &["tests/fixtures/runtime/voicemail.ivr"], extra);
    let (sink, _) = rtp_sink(Duration::from_secs(3), Duration::from_secs(30));
    let call = sipp(&rt.dir, rt.port, "uac_wait.xml", "voicemail", sink);
    assert!(
        call.status.success(),
        "{}",
        String::from_utf8_lossy(&call.stderr)
    );
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    Runtime::record_of(&dir, "voicemail")
}

#[test]
fn without_a_directory_record_is_an_error_of_the_call_and_the_flow_goes_on() {
    let r = silent_voicemail("record-nowhere", &[]);
    assert_eq!(
        r["errors"],
        serde_json::json!(["record: no --recordings directory to write to"]),
        "{r:#}"
    );
    assert_eq!(r["report"]["data"]["file"], "", "{r:#}");
    assert_eq!(r["ended_by"], "flow", "{r:#}");
}

#[test]
fn a_recording_nobody_ends_stops_at_its_longest_length() {
    let dir = scratch("record-longest");
    let recordings = dir.join("recordings").display().to_string();
    // `max_length 1m` at 30 times: 2 s.
    let r = silent_voicemail(
        "record-longest-runtime",
        &["--recordings", &recordings, "--time-scale", "30"],
    );
    let file = r["report"]["data"]["file"].as_str().unwrap_or_default();
    assert!(file.starts_with(&recordings), "{r:#}");
    assert!(std::path::Path::new(file).exists(), "{file}");
    assert_eq!(r["errors"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["ended_by"], "flow", "{r:#}");
}

//! `block` and `play record` on the runtime (tests/fixtures/runtime/blocklist.ivr, the
//! Zvonobot promo's keys): a caller hears a platform record from `--records DIR`, presses 3 and
//! is blocked; their next call is declined with 603, `ivrc entries` shows the block, and a
//! campaign on the same store does not call the number.

use super::harness::{free_port, lead_result, rtp_sink, scratch, sipp, sipp_uas, Client, Runtime};
use std::path::Path;
use std::time::Duration;

/// The caller of these tests (the From of tests/sip/uac_key3.xml and of [`Client`]).
const CALLER: &str = "+79001234567";

/// Writes a second of a 440 Hz tone as the WAV file of platform record `id` in `dir`.
fn record_file(dir: &Path, id: u64) {
    std::fs::create_dir_all(dir).expect("the records directory");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join(format!("{id}.wav")), spec).expect("a WAV");
    for i in 0..8_000 {
        let t = f64::from(i) / 8_000.0;
        let sample = (t * 440.0 * std::f64::consts::TAU).sin() * 12_000.0;
        w.write_sample(sample as i16).expect("a sample");
    }
    w.finalize().expect("written");
}

/// `ivrc run FILE extra…` (its prompts cached in `dir`) that must refuse to start: its exit
/// status and stderr.
fn refused_start(dir: &Path, file: &str, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["run", file, "--listen", "127.0.0.1:0", "--cache-dir"])
        .arg(dir.join("cache"))
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("ivrc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_blocked_caller_is_declined_and_never_called_by_a_campaign() {
    let dir = scratch("blocklist");
    for f in ["blocklist.ivr", "blocklist_leads.csv"] {
        std::fs::copy(format!("tests/fixtures/runtime/{f}"), dir.join(f)).expect("fixture");
    }
    let flow = dir.join("blocklist.ivr").display().to_string();
    let records = dir.join("records");
    let records_arg = records.display().to_string();
    let store = dir.join("calls.db").display().to_string();

    // A record the flow plays must be there before any call.
    let (code, stderr) = refused_start(&dir, &flow, &["--store", &store]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "flow `blocklist` plays record 1484915 is a platform audio record: give --records DIR holding 1484915.wav (line 12)"
        ),
        "{stderr}"
    );
    std::fs::create_dir_all(&records).expect("a directory");
    let (code, stderr) =
        refused_start(&dir, &flow, &["--store", &store, "--records", &records_arg]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("flow `blocklist` plays record 1484915 (line 12): ")
            && stderr.contains("1484915.wav"),
        "{stderr}"
    );
    record_file(&records, 1484915);

    // The caller hears the record, presses 3 and is blocked.
    let rt = Runtime::start_in(dir.clone(), &[&flow], &["--records", &records_arg]);
    let (sink, heard) = rtp_sink(Duration::from_secs(3), Duration::from_secs(20));
    let call = sipp(&dir, rt.port, "uac_key3.xml", "blocklist", sink);
    assert!(
        call.status.success(),
        "{}",
        String::from_utf8_lossy(&call.stderr)
    );
    let heard = heard.join().expect("the sink");
    assert!(heard.audible >= 40, "the record was played: {heard:?}");
    // Their next call is declined.
    let client = Client::new(&rt);
    let invite = client.request(
        "INVITE",
        "blocklist",
        "blocked-again",
        "z9hG4bKblocked",
        1,
        None,
        &super::harness::offer(free_port()),
    );
    client.send(invite.as_bytes());
    client.expect(603, Duration::from_secs(5));
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let calls = Runtime::calls(&dir);
    let declined = calls
        .iter()
        .find(|r| r["call_id"] == "blocked-again")
        .unwrap_or_else(|| panic!("{calls:#?}"));
    assert_eq!(declined["ended_by"], "blocked", "{declined:#}");
    let entries = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["entries", "--contact", CALLER, "--store", &store])
        .output()
        .expect("ivrc entries runs");
    let entries = String::from_utf8_lossy(&entries.stdout);
    assert!(
        entries.contains("blocked from calls (block)   (blocklist "),
        "{entries}"
    );

    // A campaign on the same store calls the other lead only.
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let (lead_sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let results = dir.join("results.json");
    let results_arg = results.display().to_string();
    let leads = sipp_uas(&dir, trunk, "uas_lead.xml", lead_sink, &["-m", "1"]);
    let rt = Runtime::start_in(
        dir.clone(),
        &[&flow],
        &[
            "--records",
            &records_arg,
            "--trunk",
            &trunk_arg,
            "--campaign",
            "skip_blocked",
            "--time-scale",
            "60",
            "--results",
            &results_arg,
        ],
    );
    let (code, stdout, stderr) = rt.wait(Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}\n{stdout:#?}");
    assert!(
        stdout.iter().any(|l| l
            == "campaign: 1 done, 1 failed, 0 pending; 1 calls placed, 1 not placed (the number is blocked)"),
        "{stdout:#?}"
    );
    let leads = leads.wait_with_output().expect("sipp");
    assert!(
        leads.status.success(),
        "{}",
        String::from_utf8_lossy(&leads.stderr)
    );
    let of = |phone: &str| lead_result(&results, phone);
    let blocked = of(CALLER);
    assert_eq!(
        (&blocked["state"], &blocked["outcome"], &blocked["attempts"]),
        (
            &serde_json::json!("failed"),
            &serde_json::json!("blocked"),
            &serde_json::json!(1)
        ),
        "{blocked:#}"
    );
    assert_eq!(of("+79001234568")["state"], "done");
    // The blocked lead's attempt placed no call: no leg, no answer.
    let calls = Runtime::calls(&dir);
    let skipped: Vec<_> = calls
        .iter()
        .filter(|r| r["flow"] == "greet" && r["called"] == CALLER)
        .collect();
    assert_eq!(skipped.len(), 1, "{calls:#?}");
    assert_eq!(skipped[0]["ended_by"], "blocked");
    assert!(skipped[0]["answered_ms"].is_null(), "{:#}", skipped[0]);
}

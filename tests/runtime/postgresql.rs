//! `ivrc run --store postgresql://…`: a call's record lands in PostgreSQL (no SQLite file is
//! written), and `ivrc calls` reads it back from there.

use super::harness::{require, rtp_sink, sipp, value, Runtime};
use super::pg_server;
use std::process::Command;
use std::time::Duration;

/// `ivrc ARGS` in the repository root; status, stdout, stderr.
fn ivrc(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("ivrc runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_sum_call_is_recorded_in_postgresql_and_ivrc_calls_reads_it_there() {
    require("espeak-ng", "--version");
    let Some(url) = pg_server::database("runtime_sum") else {
        return;
    };
    let (code, out, err) = ivrc(&["store", "migrate", "--store", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        format!("the store at {url} has its tables now (version 4)\n")
    );

    let rt = Runtime::start("pg-sum", &["examples/sum.ivr"], &["--store", &url]);
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let call = sipp(&rt.dir, rt.port, "uac_sum.xml", "sum", sink);
    assert!(
        call.status.success(),
        "sipp failed:\n{}\n{}",
        String::from_utf8_lossy(&call.stdout),
        String::from_utf8_lossy(&call.stderr)
    );
    let rtp = received.join().expect("sink");
    assert!(rtp.audible > 50, "prompts were spoken: {rtp:?}");
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !dir.join("calls.db").exists(),
        "no SQLite file beside the database"
    );

    let (code, json, err) = ivrc(&["calls", "--store", &url, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let records: Vec<serde_json::Value> = serde_json::from_str(&json).expect("JSON records");
    assert_eq!(records.len(), 1, "{json}");
    let r = &records[0];
    assert_eq!(
        (r["flow"].as_str(), r["keys"].as_str()),
        (Some("sum"), Some("12#30#"))
    );
    assert_eq!(
        (value(r, "a"), value(r, "b"), value(r, "sum")),
        (Some("12"), Some("30"), Some("42"))
    );
    assert_eq!(r["ended_by"], "flow", "{r:#}");

    let (code, human, err) = ivrc(&["calls", "--store", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        human.contains("ended by flow  keys \"12#30#\"  a=12 b=30 sum=42"),
        "{human}"
    );
    let (code, out, err) = ivrc(&["store", "migrate", "--store", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        format!("the store at {url} is up to date (version 4)\n")
    );
}

#[test]
fn an_unreachable_database_is_refused_before_any_call() {
    // A port nothing listens on: the error comes from connecting, at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a port");
    let url = format!("postgresql://ivrc:s3cret@127.0.0.1:{closed}/ivrc");
    let (code, _, err) = ivrc(&[
        "run",
        "examples/sum.ivr",
        "--store",
        &url,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "cannot open `postgresql://ivrc:***@127.0.0.1:{closed}/ivrc`"
        )) && err.contains("Connection refused")
            && !err.contains("s3cret"),
        "{err}"
    );
    let (code, _, err) = ivrc(&["calls", "--store", "postgresql://ivrc@127.0.0.1:port/ivrc"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not a PostgreSQL URL"), "{err}");
}

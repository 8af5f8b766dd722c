//! `ivrc build --target twiml`: the static document of a flow that needs no server is what
//! `ivrc serve` would answer for it, and a campaign's call requests start calls that the
//! server runs (their URLs are posted to a real server).

use super::typings::same_as_the_twilio_library;
use super::typings::tree;
use super::{agent, common, serve, signed_post, TOKEN};
use common::ivrc;
use std::path::PathBuf;

fn build_twiml(file: &str, base: &str, name: &str) -> (common::Run, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("twiml-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.display().to_string();
    let run = ivrc(&[
        "build",
        file,
        "--target",
        "twiml",
        "--base-url",
        base,
        "-o",
        &out,
        "--format",
        "json",
    ]);
    (run, dir)
}

#[test]
fn a_static_flow_is_one_document_equal_to_the_served_one() {
    let file = "tests/fixtures/twilio/closed.ivr";
    let (run, dir) = build_twiml(file, "https://ivr.example.com", "closed");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = std::fs::read_to_string(dir.join("closed.xml")).expect("closed.xml");
    let server = serve(&[file], &[("TWILIO_AUTH_TOKEN", TOKEN)]);
    let url = format!("{}/voice/closed", server.base);
    let form = [
        ("CallSid", "CA1"),
        ("From", "+15005550009"),
        ("To", "+15005550001"),
    ];
    let (status, served) = signed_post(&agent(), &server, &url, &form);
    assert_eq!(status, 200, "{served}");
    let a = roxmltree::Document::parse(&doc).expect("static XML");
    let b = roxmltree::Document::parse(&served).expect("served XML");
    assert_eq!(
        tree(a.root_element()),
        tree(b.root_element()),
        "static: {doc}\nserved: {served}"
    );
    same_as_the_twilio_library(&[doc], "static");
}

#[test]
fn a_flow_that_needs_input_is_left_to_the_server_with_a_warning() {
    let (run, dir) = build_twiml("examples/sum.ivr", "https://ivr.example.com", "sum");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON diagnostics");
    assert_eq!(
        common::diagnostic_codes(&json),
        ["ivrc::codegen::needs_serve"]
    );
    assert_eq!(json[0]["severity"], "warning");
    assert!(json[0]["help"]
        .as_str()
        .is_some_and(|h| h.contains("https://ivr.example.com/voice/sum")));
    assert!(!dir.join("sum.xml").exists());
    let strict = ivrc(&[
        "build",
        "examples/sum.ivr",
        "--target",
        "twiml",
        "--deny-warnings",
    ]);
    assert_eq!(strict.code, 1);
}

#[test]
fn campaign_call_requests_start_calls_the_server_runs() {
    let server = serve(&["examples/robocall.ivr"], &[("TWILIO_AUTH_TOKEN", TOKEN)]);
    let (run, dir) = build_twiml("examples/robocall.ivr", &server.base, "robocall");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let calls: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("visit_reminder.calls.json")).expect("calls file"),
    )
    .expect("JSON");
    let list = calls["calls"].as_array().expect("calls");
    assert!(!list.is_empty());
    assert_eq!(calls["schedule"]["attempts"], 4);
    for (n, call) in list.iter().enumerate() {
        let to = call["To"].as_str().expect("To");
        assert!(to.starts_with("+7") && to.len() == 12, "{to}");
        assert_eq!(call["MachineDetection"], "Enable");
        assert_eq!(call["Method"], "POST");
        // What Twilio does with the request: place the call, then fetch Url for it.
        let url = call["Url"].as_str().expect("Url");
        let sid = format!("CA{n:032}");
        let form = [
            ("CallSid", sid.as_str()),
            ("From", "+15005550006"),
            ("To", to),
            ("Direction", "outbound-api"),
        ];
        let (status, doc) = signed_post(&agent(), &server, url, &form);
        assert_eq!(status, 200, "{url}: {doc}");
        assert!(doc.contains("Здравствуйте, "), "{doc}");
        assert!(doc.contains("voice=\"Polly.Maxim\""), "{doc}");
    }
}

/// The Voximplant seed's callback campaign on Twilio: the flow has no caller, so the call
/// requested for each lead is its first dial (the operator), with the dial's ring time and
/// caller id. Twilio fetching `Url` gets the operator's prompt; a busy operator's status
/// callback (with the lead's values in its URL) runs the flow's own arm for it.
#[test]
fn a_flow_that_dials_first_is_requested_as_its_first_dial() {
    let server = serve(&["examples/callback.ivr"], &[("TWILIO_AUTH_TOKEN", TOKEN)]);
    let (run, dir) = build_twiml("examples/callback.ivr", &server.base, "callback");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let calls: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("shop_callback.calls.json")).expect("calls file"),
    )
    .expect("JSON");
    let list = calls["calls"].as_array().expect("calls");
    assert_eq!(list.len(), 2, "{calls}");
    for (n, call) in list.iter().enumerate() {
        assert_eq!(call["To"], "+74950000000");
        assert_eq!(call["From"], "+74950000001");
        assert_eq!(call["Timeout"], 30);
        let url = call["Url"].as_str().expect("Url");
        let status_url = call["StatusCallback"].as_str().expect("StatusCallback");
        assert_eq!(
            status_url.split_once('?').map(|(_, q)| q),
            url.split_once('?').map(|(_, q)| q),
            "the status callback carries the lead's values"
        );
        let sid = format!("CA{n:032}");
        let form = [
            ("CallSid", sid.as_str()),
            ("From", "+74950000001"),
            ("To", "+74950000000"),
            ("Direction", "outbound-api"),
        ];
        let (status, doc) = signed_post(&agent(), &server, url, &form);
        assert_eq!(status, 200, "{url}: {doc}");
        assert!(doc.contains("<Gather input=\"speech\""), "{doc}");
        assert!(doc.contains("хочет купить"), "{doc}");
        let busy = [
            ("CallSid", "CA-busy"),
            ("CallStatus", "busy"),
            ("From", "+74950000001"),
            ("To", "+74950000000"),
            ("Direction", "outbound-api"),
        ];
        let (status, body) = signed_post(&agent(), &server, status_url, &busy);
        assert_eq!(status, 204, "{status_url}: {body}");
    }
    let run = super::entries_when(
        &[
            "entries",
            "--contact",
            "+74950000000",
            "--store",
            &server.store,
            "--format",
            "json",
        ],
        |out| out.matches("оператор недоступен").count() >= 2,
    );
    assert_eq!(
        run.stdout.matches("оператор недоступен").count(),
        2,
        "{}",
        run.stdout
    );
}

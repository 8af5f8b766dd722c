//! The generated send scripts, run as written (executable, `#!/bin/sh`) with curl and jq against a loopback stand-in of each
//! API: the requests they make are the documented ones, carry the key or token from the
//! environment, and their bodies satisfy the schemas; a refusal by the API fails the script.

use super::common::mock::Mock;
use super::{assert_valid, build, schema, CHANNEL};
use std::path::Path;
use std::process::Command;

/// Fails unless `tool` runs (scripts/setup.sh installs it; never skipped).
fn require(tool: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{tool} is required for the send-script tests; run scripts/setup.sh"
    );
}

fn run_script(script: &Path, env: &[(&str, &str)]) -> std::process::Output {
    require("curl");
    require("jq");
    Command::new(script)
        .envs(env.iter().copied())
        .output()
        .expect("sh runs")
}

#[test]
fn the_twin24_script_creates_the_task_then_adds_the_candidates_with_its_id() {
    let (run, dir) = build(
        "examples/robocall.ivr",
        "twin24",
        &["--twin24-transfer-channel", CHANNEL],
        "send-twin24",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let api = Mock::start(0);
    api.answer(200, r#"{"id": {"identity": "bf1fee70dc544"}}"#.into());
    api.answer(200, "{}".into());
    let out = run_script(
        &dir.join("visit_reminder.send.sh"),
        &[
            ("TWIN24_TOKEN", "t0ken"),
            ("TWIN24_API", &format!("{}/cis/api/v1", api.base)),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("task bf1fee70dc544"), "{stdout}");
    let requests = api.take_requests();
    let paths: Vec<(&str, &str)> = requests
        .iter()
        .map(|(m, p, _)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("POST", "/cis/api/v1/telephony/autoCall"),
            ("POST", "/cis/api/v1/telephony/autoCallCandidate/batch")
        ]
    );
    let task: serde_json::Value = serde_json::from_str(&requests[0].2).expect("task JSON");
    assert_valid(
        &schema("twin24.autocall.schema.json"),
        &task,
        "the task sent",
    );
    let batch: serde_json::Value = serde_json::from_str(&requests[1].2).expect("batch JSON");
    assert_valid(
        &schema("twin24.candidates.schema.json"),
        &batch,
        "the batch sent",
    );
    let items = batch["batch"].as_array().expect("a batch");
    assert_eq!(items.len(), 3);
    assert!(
        items.iter().all(|c| c["autoCallId"] == "bf1fee70dc544"),
        "{batch:#}"
    );
    assert_eq!(
        items[1]["phone"][0], "79167654321",
        "the leads file's `+7 (916) 765-43-21`"
    );
    assert_eq!(items[1]["variables"]["name"], "Олег");
}

#[test]
fn the_twin24_script_stops_when_the_task_is_refused() {
    let (_, dir) = build(
        "examples/robocall.ivr",
        "twin24",
        &["--twin24-transfer-channel", CHANNEL],
        "send-twin24-refused",
    );
    let api = Mock::start(0);
    api.answer(401, r#"{"error": "bad token"}"#.into());
    let out = run_script(
        &dir.join("visit_reminder.send.sh"),
        &[("TWIN24_TOKEN", "wrong"), ("TWIN24_API", &api.base)],
    );
    assert!(!out.status.success());
    assert_eq!(
        api.take_requests().len(),
        1,
        "no candidates after a refused task"
    );
    let unset = run_script(
        &dir.join("visit_reminder.send.sh"),
        &[("TWIN24_API", &api.base)],
    );
    assert!(!unset.status.success());
    assert!(String::from_utf8_lossy(&unset.stderr).contains("set TWIN24_TOKEN"));
}

#[test]
fn the_zvonobot_script_sends_every_lead_with_the_key_from_the_environment() {
    let (run, dir) = build("examples/promo.ivr", "zvonobot", &[], "send-zvonobot");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let api = Mock::start(0);
    api.answer(
        200,
        r#"{"status": "success", "data": [{"status": "success", "phone": "79001234567"}]}"#.into(),
    );
    api.answer(200, r#"{"status": "success", "data": [{"status": "error", "phone": "79007654321", "message": "moderation"}]}"#.into());
    let out = run_script(
        &dir.join("promo_run.send.sh"),
        &[
            ("ZVONOBOT_API_KEY", "k3y\"quoted"),
            ("ZVONOBOT_API", &api.base),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a number the API refused must fail the script"
    );
    assert!(stdout.contains("promo_run.call-2.json: sent"), "{stdout}");
    assert!(
        stderr.contains("promo_run.call-3.json: refused"),
        "{stderr}"
    );
    let requests = api.take_requests();
    assert_eq!(requests.len(), 2);
    let call_schema = schema("zvonobot.create-call.schema.json");
    for (method, path, body) in &requests {
        assert_eq!(
            (method.as_str(), path.as_str()),
            ("POST", "/apiCalls/create")
        );
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(body["apiKey"], "k3y\"quoted");
        assert_valid(&call_schema, &body, "a call sent");
    }
    let phones: Vec<&str> = requests.iter().map(|(_, _, b)| b.as_str()).collect();
    assert!(phones[0].contains("79001234567") && phones[1].contains("79007654321"));
}

//! The seed's callback task end to end on the runtime: `ivrc run examples/callback.ivr
//! --campaign …` calls the operator, hears «готов», calls the client, hears «да», bridges them
//! and reports; sipp plays both parties behind the trunk (tests/sip/uas_callback.xml) with
//! espeak-ng speech. Variants: the client says «нет», the client is busy, the operator is
//! silent — each retried and, with its attempts used, failed.

use super::calls::speak;
use super::harness::{free_port, require, rtp_sink, scratch, sipp_uas, Received, Runtime};
use std::time::Duration;

/// What a campaign run left.
struct Run {
    stdout: Vec<String>,
    results: serde_json::Value,
    records: Vec<serde_json::Value>,
    operator_heard: Received,
    client_heard: Received,
}

/// Runs `campaign` of `file` (with `extra` arguments) at ten times speed against the callback
/// parties, `calls` of them; `operator` is what the operator says («готов», or nothing, when
/// no client is called and its ear is not listened to).
fn run(
    name: &str,
    file: &str,
    campaign: &str,
    extra: &[&str],
    operator: Option<&str>,
    calls: u32,
) -> Run {
    require("espeak-ng", "--version");
    let parties_dir = scratch(&format!("{name}-parties"));
    match operator {
        Some(word) => {
            // The operator lets the prompt start (1.5 s) before answering over it: on a loaded
            // machine the prompt is rendered late, and speech at once would stop it unheard.
            speak(&parties_dir, word, "operator");
            let path = parties_dir.join("operator.ulaw");
            let mut audio = vec![0xffu8; 12_000];
            audio.extend(std::fs::read(&path).expect("operator audio"));
            std::fs::write(&path, audio).expect("operator audio");
        }
        None => std::fs::write(parties_dir.join("operator.ulaw"), vec![0xffu8; 8000 * 3])
            .expect("silence"),
    }
    speak(&parties_dir, "да", "yes");
    speak(&parties_dir, "нет", "no");
    let trunk = free_port();
    let (op_sink, op_heard) = rtp_sink(Duration::from_secs(3), Duration::from_secs(90));
    let client_ear = if operator.is_some() { 90 } else { 1 };
    let (client_sink, client_heard) =
        rtp_sink(Duration::from_secs(3), Duration::from_secs(client_ear));
    let (op, client) = (op_sink.to_string(), client_sink.to_string());
    let parties = sipp_uas(
        &parties_dir,
        trunk,
        "uas_callback.xml",
        op_sink,
        &[
            "-key",
            "op_sink",
            &op,
            "-key",
            "client_sink",
            &client,
            "-m",
            &calls.to_string(),
        ],
    );
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let results = scratch(&format!("{name}-results")).join("results.json");
    let results_arg = results.display().to_string();
    let mut args = vec![
        "--trunk",
        &trunk_arg,
        "--campaign",
        campaign,
        "--time-scale",
        "10",
        "--results",
        &results_arg,
    ];
    args.extend(extra);
    let rt = Runtime::start(name, &[file], &args);
    let dir = rt.dir.clone();
    let (code, stdout, stderr) = rt.wait(Duration::from_secs(120));
    assert_eq!(code, 0, "{stderr}\n{stdout:#?}");
    let parties = parties.wait_with_output().expect("sipp");
    assert!(
        parties.status.success(),
        "the parties' sipp failed (traces in {}):\n{}",
        parties_dir.display(),
        String::from_utf8_lossy(&parties.stderr)
    );
    let results = serde_json::from_str(&std::fs::read_to_string(&results).expect("results"))
        .expect("results json");
    Run {
        stdout,
        results,
        records: Runtime::calls(&dir),
        operator_heard: op_heard.join().expect("sink"),
        client_heard: client_heard.join().expect("sink"),
    }
}

fn lead<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results
        .as_array()
        .and_then(|a| a.iter().find(|l| l["params"]["name"] == name))
        .unwrap_or_else(|| panic!("{name} in {results:#}"))
}

#[test]
fn the_operator_and_the_client_agree_and_are_bridged() {
    let r = run(
        "callback",
        "examples/callback.ivr",
        "shop_callback",
        &["--leads", "tests/fixtures/runtime/callback_leads.csv"],
        Some("готов"),
        2,
    );
    assert!(
        r.stdout
            .iter()
            .any(|l| l == "campaign: 1 done, 0 failed, 0 pending; 1 calls placed"),
        "{:#?}",
        r.stdout
    );
    let ivan = lead(&r.results, "Иван Петров");
    assert_eq!(
        (&ivan["state"], &ivan["attempts"]),
        (&serde_json::json!("done"), &serde_json::json!(1)),
        "{ivan:#}"
    );
    let call = r
        .records
        .iter()
        .find(|c| c["flow"] == "callback")
        .unwrap_or_else(|| panic!("{:#?}", r.records));
    assert_eq!(
        call["phrases"],
        serde_json::json!(["готов", "да"]),
        "{call:#}"
    );
    assert_eq!(call["report"]["ok"], true, "{call:#}");
    let legs = call["legs"].as_array().expect("legs");
    assert_eq!(legs.len(), 2, "{call:#}");
    assert_eq!(
        (legs[0]["leg"].as_str(), legs[0]["number"].as_str()),
        (Some("op"), Some("+74950000000"))
    );
    assert_eq!(
        (legs[1]["leg"].as_str(), legs[1]["number"].as_str()),
        (Some("client"), Some("+79001111111"))
    );
    assert!(legs.iter().all(|l| l["outcome"] == "answered"), "{call:#}");
    assert_eq!(
        legs[0]["ended_by"], "callee",
        "the operator hung up: {call:#}"
    );
    // Through the bridge: each party heard ivrc's prompt and, on another stream, the other
    // party's speech; each one's key reached the other (ivrc itself never sends events).
    for (who, heard) in [("operator", &r.operator_heard), ("client", &r.client_heard)] {
        assert!(
            heard.audible_ssrcs.len() >= 2,
            "the {who} heard the prompt and the other party: {heard:?}"
        );
    }
    assert!(
        r.client_heard.payload_types.contains(&101),
        "{:?}",
        r.client_heard
    );
    assert!(
        r.operator_heard.payload_types.contains(&101),
        "{:?}",
        r.operator_heard
    );
}

#[test]
fn a_refusing_client_and_a_busy_one_are_retried_then_failed() {
    let r = run(
        "callback-variants",
        "tests/fixtures/runtime/callback_variants.ivr",
        "callback_variants",
        &[],
        Some("готов"),
        8,
    );
    assert!(
        r.stdout
            .iter()
            .any(|l| l == "campaign: 0 done, 2 failed, 0 pending; 4 calls placed"),
        "{:#?}",
        r.stdout
    );
    let maria = lead(&r.results, "Мария");
    assert_eq!(maria["attempts"], 2);
    assert_eq!(
        maria["reason"], "клиент отказался (all 2 attempts used)",
        "{maria:#}"
    );
    let boris = lead(&r.results, "Борис");
    assert_eq!(
        boris["reason"], "клиент недоступен (all 2 attempts used)",
        "{boris:#}"
    );
    let refusals = r
        .records
        .iter()
        .filter(|c| c["report"]["reason"] == "клиент отказался")
        .count();
    assert_eq!(refusals, 2, "{:#?}", r.records);
    // Each attempt waited retry_after (1 min at 10×: 6 s) after the last.
    let mut maria_calls: Vec<&serde_json::Value> = r
        .records
        .iter()
        .filter(|c| {
            c["values"]
                .as_array()
                .is_some_and(|v| v.iter().any(|p| p[1] == "Мария"))
        })
        .collect();
    maria_calls.sort_by_key(|c| c["started_ms"].as_u64());
    assert_eq!(maria_calls.len(), 2, "{:#?}", r.records);
    let gap = maria_calls[1]["started_ms"].as_u64().unwrap_or(0)
        - maria_calls[0]["ended_ms"].as_u64().unwrap_or(0);
    assert!(
        gap >= 5_900,
        "the retry came {gap} ms after the first attempt"
    );
}

#[test]
fn a_silent_operator_is_prompted_until_the_listen_times_out() {
    let r = run(
        "callback-silent",
        "tests/fixtures/runtime/callback_variants.ivr",
        "callback_variants",
        &["--leads", "tests/fixtures/runtime/callback_leads.csv"],
        None,
        2,
    );
    let ivan = lead(&r.results, "Иван Петров");
    assert_eq!(ivan["state"], "failed", "{ivan:#}");
    assert_eq!(
        ivan["reason"], "оператор не готов (all 2 attempts used)",
        "{ivan:#}"
    );
    assert!(
        r.records
            .iter()
            .all(|c| c["legs"].as_array().is_some_and(|l| l.len() == 1)),
        "the client was never called: {:#?}",
        r.records
    );
}

//! `ivrc run --campaign`: the dialer calls the leads through the trunk (sipp as the leads'
//! phones), the flow reports, and the campaign's state, results and call records agree.

use super::harness::{free_port, rtp_sink, sipp_uas, Runtime};
use std::time::Duration;

#[test]
fn a_campaign_calls_every_lead_redials_the_busy_one_and_exports_the_results() {
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let (sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let dir = super::harness::scratch("campaign-trunk");
    // Иван and Мария answer; Борис is busy twice (attempts 2).
    let leads = sipp_uas(&dir, trunk, "uas_lead.xml", sink, &["-m", "4"]);
    let rt = Runtime::start(
        "campaign",
        &["tests/fixtures/runtime/campaign.ivr"],
        &[
            "--trunk",
            &trunk_arg,
            "--campaign",
            "notify",
            "--time-scale",
            "60",
            "--results",
            "target/tmp/runtime-campaign-results.json",
        ],
    );
    let store = rt.dir.join("calls.db");
    let (code, stdout, stderr) = rt.wait(Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}\n{stdout:#?}");
    let leads = leads.wait_with_output().expect("sipp");
    assert!(
        leads.status.success(),
        "the leads' sipp: {}",
        String::from_utf8_lossy(&leads.stderr)
    );
    assert!(
        stderr.contains("line 5: `phone`: `12` cannot be read"),
        "the bad row is reported: {stderr}"
    );
    assert!(
        stdout
            .iter()
            .any(|l| l == "campaign: 2 done, 1 failed, 0 pending; 4 calls placed"),
        "{stdout:#?}"
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("target/tmp/runtime-campaign-results.json").expect("results"),
    )
    .expect("json");
    let by_name = |name: &str| {
        results
            .as_array()
            .and_then(|a| a.iter().find(|l| l["params"]["name"] == name))
            .unwrap_or_else(|| panic!("{name} in {results:#}"))
            .clone()
    };
    let ivan = by_name("Иван");
    assert_eq!(
        (&ivan["state"], &ivan["attempts"], &ivan["result"]),
        (
            &serde_json::json!("done"),
            &serde_json::json!(1),
            &serde_json::json!({"heard": true})
        ),
        "{ivan:#}"
    );
    assert_eq!(ivan["params"]["phone"], "+79001111111", "normalized");
    assert_eq!(by_name("Мария")["state"], "done");
    let boris = by_name("Борис");
    assert_eq!(
        (&boris["state"], &boris["attempts"], &boris["outcome"]),
        (
            &serde_json::json!("failed"),
            &serde_json::json!(2),
            &serde_json::json!("busy")
        ),
        "{boris:#}"
    );
    // The calls themselves: Иван heard his name.
    let records = Runtime::calls(store.parent().expect("dir"));
    let ivan_call = records
        .iter()
        .find(|r| r["called"] == "+79001111111")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(
        ivan_call["prompts"],
        serde_json::json!(["Здравствуйте, Иван."])
    );
    assert_eq!(ivan_call["report"]["ok"], true);
    let busy: Vec<_> = records
        .iter()
        .filter(|r| r["called"] == "+79000000000")
        .collect();
    assert_eq!(busy.len(), 2, "{records:#?}");
    assert!(busy.iter().all(|r| r["ended_by"] == "busy"));
    // The redial waited retry_after (1 min at 60×: 1 s).
    let gap =
        busy[1]["started_ms"].as_u64().unwrap_or(0) - busy[0]["ended_ms"].as_u64().unwrap_or(0);
    assert!(gap >= 950, "redialled after {gap} ms");
}

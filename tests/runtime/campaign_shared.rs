//! One campaign shared by three `ivrc run --campaign` on one PostgreSQL (loopback): sipp is the
//! trunk and logs every message it receives; one instance is killed with SIGKILL midway. From
//! the trunk's log joined with the attempts table: no lead has two overlapping calls, no INVITE
//! lacks an attempt row, every lead ends done or failed, and no lead takes more attempts than
//! the campaign allows.

use super::harness::{free_port, rtp_sink, scratch, sipp_uas, Runtime};
use super::pg_server;
use super::sip_trace;
use ivrc::store::campaign::{CampaignState, LeadState};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The campaign: 300 leads, 24 lines and 30 calls/s over all instances, calls of 1.5 s at
/// `--time-scale 30` (45 s of flow time), a retry after 2 s.
const FLOW: &str = "campaign shared for hold {
  leads \"leads.csv\"   // phone
  dial phone
  attempts 3
  retry_after 1m
  lines 24
  rate 30/s
}

flow hold(phone: phone) {
  pause 45s
  report ok
}
";

const LEADS: usize = 300;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[test]
fn three_instances_share_a_campaign_and_a_killed_one_loses_no_lead_and_rings_none_twice() {
    let Some(url) = pg_server::database("campaign_shared") else {
        return;
    };
    let dir = scratch("campaign-shared-trunk");
    let mut leads = String::from("phone\n");
    for i in 1..=LEADS {
        leads.push_str(&format!("+7900200{i:04}\n"));
    }
    std::fs::write(dir.join("leads.csv"), leads).expect("leads");
    let flow = dir.join("shared.ivr");
    std::fs::write(&flow, FLOW).expect("flow");
    let flow_arg = flow.display().to_string();
    let trunk = free_port();
    let trunk_arg = format!("sip:127.0.0.1:{trunk}");
    let (sink, _) = rtp_sink(Duration::from_secs(1), Duration::from_secs(1));
    let mut answering = sipp_uas(
        &dir,
        trunk,
        "uas_lead.xml",
        sink,
        &["-m", "5000", "-timeout", "150s", "-trace_msg"],
    );
    let args = [
        "--trunk",
        trunk_arg.as_str(),
        "--campaign",
        "shared",
        "--time-scale",
        "30",
        "--campaign-lease",
        "3",
        "--store",
        url.as_str(),
        "--max-calls",
        "100",
    ];
    let started = Instant::now();
    let mut instances: Vec<Runtime> = (0..3)
        .map(|i| Runtime::start(&format!("campaign-shared-{i}"), &[flow_arg.as_str()], &args))
        .collect();
    // Kill the first instance while calls are up, a while into the run.
    std::thread::sleep(Duration::from_secs(5));
    let victim = instances.remove(0);
    let victim_port = victim.port;
    let _ = victim.kill9();
    let killed_ms = now_ms();
    let mut outputs = Vec::new();
    for rt in instances {
        outputs.push(rt.wait(Duration::from_secs(100)));
    }
    let _ = answering.kill();
    let _ = answering.wait();
    assert!(
        started.elapsed() < Duration::from_secs(110),
        "{:?}",
        started.elapsed()
    );
    for (code, stdout, stderr) in &outputs {
        assert_eq!(*code, 0, "{stderr}\n{stdout:#?}");
        assert!(
            stdout
                .iter()
                .any(|l| l.starts_with(&format!("campaign: {LEADS} done, 0 failed, 0 pending;"))),
            "{stdout:#?}"
        );
    }
    let mut state = CampaignState::open(&url.parse().expect("URL"), "shared", "test", 3_000)
        .expect("the state");
    let leads = state.leads().expect("leads");
    let attempts = state.attempts().expect("attempts");
    assert_eq!(leads.len(), LEADS);
    for l in &leads {
        assert!(l.state.is_final(), "line {}: {l:?}", l.line);
        assert!((1..=3).contains(&l.attempts), "line {}: {l:?}", l.line);
        assert_eq!(l.state, LeadState::Done, "every lead answers: {l:?}");
    }
    // Which instance made each attempt, by the address at the head of its owner name.
    let victim_owner = format!("127.0.0.1:{victim_port}/");
    let by_call: HashMap<&str, (usize, bool)> = attempts
        .iter()
        .map(|a| {
            (
                a.call_id.as_str(),
                (a.line, a.owner.starts_with(&victim_owner)),
            )
        })
        .collect();
    let owners: std::collections::BTreeSet<&str> = attempts
        .iter()
        .map(|a| a.owner.split('/').next().unwrap_or_default())
        .collect();
    assert_eq!(owners.len(), 3, "every instance called: {owners:?}");
    let cut: Vec<_> = attempts
        .iter()
        .filter(|a| {
            a.owner.starts_with(&victim_owner) && a.outcome.as_deref() == Some("interrupted")
        })
        .collect();
    assert!(
        !cut.is_empty(),
        "the kill came while the victim had calls up"
    );

    // The trunk's side: each call from its INVITE's arrival to the BYE that ended it.
    let log = sip_trace::read_log(&dir);
    let spans = sip_trace::calls(&sip_trace::messages(&log, sip_trace::utc_offset_s()));
    assert!(spans.len() >= LEADS, "{} INVITEs", spans.len());
    let without: Vec<&str> = spans
        .iter()
        .map(|s| s.call_id.as_str())
        .filter(|c| !by_call.contains_key(c))
        .collect();
    assert!(
        without.is_empty(),
        "INVITEs without an attempt row: {without:?}"
    );
    // Each call at the trunk, per lead: a call of the killed instance still up at the end
    // lasted until the kill (it can send no BYE).
    let mut calls: HashMap<usize, Vec<(u64, u64, &str)>> = HashMap::new();
    for span in &spans {
        let (line, of_victim) = by_call[span.call_id.as_str()];
        let end = match span.to_ms {
            Some(end) => end,
            None => {
                assert!(
                    of_victim,
                    "{}: no BYE, and its instance was not killed",
                    span.call_id
                );
                killed_ms
            }
        };
        calls
            .entry(line)
            .or_default()
            .push((span.from_ms, end, &span.call_id));
    }
    let overlapping = sip_trace::overlapping(&calls);
    assert!(
        overlapping.is_empty(),
        "leads with two overlapping calls: {overlapping:?}"
    );
    // Every rescued attempt of the victim was called again by a survivor.
    for a in &cut {
        assert!(
            attempts.iter().any(|b| b.line == a.line
                && b.attempt > a.attempt
                && !b.owner.starts_with(&victim_owner)),
            "line {} was not resumed",
            a.line
        );
    }
}

//! One campaign shared by three `ivrc run --campaign` on one PostgreSQL (loopback): sipp is the
//! trunk and logs every message it receives; one instance is killed with SIGKILL midway. From
//! the trunk's log joined with the attempts table: no lead has two overlapping calls, no INVITE
//! lacks an attempt row, every lead ends done or failed, and no lead takes more attempts than
//! the campaign allows.

use super::harness::{free_port, rtp_sink, scratch, sipp_uas, Runtime};
use super::pg_server;
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

/// A message the trunk received: when (ms since the epoch), its method (`None`: a response)
/// and its Call-ID.
#[derive(Debug)]
struct Received {
    at_ms: u64,
    method: Option<String>,
    call_id: String,
}

/// The messages of sipp's `-trace_msg` log that it received. Each starts after a line of
/// dashes ending in its local time (`… 2026-01-01 10:00:00.123456`); `utc_offset_s` is the
/// local zone's offset.
fn received(log: &str, utc_offset_s: i64) -> Vec<Received> {
    let mut out = Vec::new();
    for block in log
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.lines();
        let stamp = lines.next().unwrap_or_default();
        let at_ms = epoch_ms(stamp, utc_offset_s)
            .unwrap_or_else(|| panic!("no time in sipp's trace line `{stamp}`"));
        let Some(kind) = lines.next() else { continue };
        if !kind.contains("message received") {
            continue;
        }
        let mut method = None;
        let mut call_id = String::new();
        for line in lines.by_ref() {
            if line.is_empty() && method.is_none() && call_id.is_empty() {
                continue;
            }
            if line.trim().is_empty() {
                break;
            }
            if method.is_none() && call_id.is_empty() && !line.starts_with("SIP/2.0") {
                method = line.split(' ').next().map(str::to_string);
            }
            if let Some(v) = line
                .strip_prefix("Call-ID:")
                .or_else(|| line.strip_prefix("i:"))
            {
                call_id = v.trim().to_string();
            }
        }
        out.push(Received {
            at_ms,
            method,
            call_id,
        });
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` of a zone `utc_offset_s` east of UTC, as ms since the epoch.
fn epoch_ms(stamp: &str, utc_offset_s: i64) -> Option<u64> {
    let (date, time) = stamp.trim().split_once(|c: char| c.is_whitespace())?;
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (hms, micros) = time.trim().split_once('.')?;
    let t: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (y, m, day) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    // Days from 1970-01-01 of a civil date (400-year eras from 0000-03-01).
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3_600 + t[1] * 60 + t[2] - utc_offset_s;
    let micros: i64 = micros.get(..6).unwrap_or(micros).parse().ok()?;
    u64::try_from(secs * 1_000 + micros / 1_000).ok()
}

/// The local zone's offset from UTC in seconds (`date +%z`), as sipp's trace uses local time.
fn utc_offset_s() -> i64 {
    let out = std::process::Command::new("date")
        .arg("+%z")
        .output()
        .expect("date runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits = text.trim_start_matches(['+', '-']);
    let (h, m) = digits.split_at(2.min(digits.len()));
    sign * (h.parse::<i64>().unwrap_or(0) * 3_600 + m.parse::<i64>().unwrap_or(0) * 60)
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

    // The trunk's side: every INVITE's first arrival and the BYE that ended it.
    let log_path = std::fs::read_dir(&dir)
        .expect("the trunk's directory")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("_messages.log"))
        .expect("sipp's message log");
    let log = std::fs::read_to_string(&log_path).expect("the log");
    let messages = received(&log, utc_offset_s());
    let mut invited: HashMap<&str, u64> = HashMap::new();
    let mut byes: HashMap<&str, u64> = HashMap::new();
    // The lead's leg carries the attempt's Call-ID with the leg's own suffix
    // (`shared-7-1-…@ivrc-0-…`): the attempt's is the part up to `@ivrc`.
    let attempt_of = |wire: &str| -> String {
        match wire.find("@ivrc") {
            Some(i) => wire[..i + "@ivrc".len()].to_string(),
            None => wire.to_string(),
        }
    };
    let messages: Vec<Received> = messages
        .into_iter()
        .map(|m| Received {
            call_id: attempt_of(&m.call_id),
            ..m
        })
        .collect();
    for m in &messages {
        match m.method.as_deref() {
            Some("INVITE") => {
                invited.entry(&m.call_id).or_insert(m.at_ms);
            }
            Some("BYE") => {
                byes.entry(&m.call_id).or_insert(m.at_ms);
            }
            _ => {}
        }
    }
    assert!(invited.len() >= LEADS, "{} INVITEs", invited.len());
    let without: Vec<&&str> = invited
        .keys()
        .filter(|c| !by_call.contains_key(**c))
        .collect();
    assert!(
        without.is_empty(),
        "INVITEs without an attempt row: {without:?}"
    );
    // Each call at the trunk, per lead: from its INVITE to its BYE, or to the kill for a call
    // of the killed instance (it can send no BYE).
    let mut calls: HashMap<usize, Vec<(u64, u64, &str)>> = HashMap::new();
    for (call_id, at) in &invited {
        let (line, of_victim) = by_call[call_id];
        let end = match byes.get(call_id) {
            Some(bye) => *bye,
            None => {
                assert!(
                    of_victim,
                    "{call_id}: no BYE, and its instance was not killed"
                );
                killed_ms
            }
        };
        calls.entry(line).or_default().push((*at, end, call_id));
    }
    let mut overlapping = Vec::new();
    for (line, mut spans) in calls {
        spans.sort_unstable();
        for pair in spans.windows(2) {
            if pair[1].0 < pair[0].1 {
                overlapping.push((line, pair[0], pair[1]));
            }
        }
    }
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

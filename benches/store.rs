//! The store under load, on SQLite and on PostgreSQL (a throwaway PostgreSQL 15 started as the
//! tests start it, tests/pg_server, or `IVRC_PG_URL`):
//!
//! - **claim throughput**: a campaign of `IVRC_LEADS` leads (20,000) without a rate limit,
//!   claimed 50 at a time by 1, 2 and 4 dialers at once (SQLite: 1, as a file serves one
//!   instance), each lead finished as done right after its claim — leads claimed and finished
//!   per second;
//! - **write latency**: `IVRC_WRITES` (2,000) call records written one a transaction, as the
//!   writer thread does when calls end one at a time — p50, p99 and the slowest.
//!
//! ```text
//! cargo bench --bench store
//! ```

#[path = "../tests/pg_server/mod.rs"]
mod pg_server;

use ivrc::ir::Lead;
use ivrc::store::campaign::{CampaignState, LeadRow, LeadState, Limits};
use ivrc::store::{CallRecord, Location, Row, Store};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).map_or(default, |v| v.parse().expect("a count"))
}

/// A fresh store of each kind: a SQLite file under target/tmp and a PostgreSQL database.
fn stores(name: &str) -> Vec<(&'static str, Location)> {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let mut out = vec![("sqlite", Location::File(dir.join("store.db")))];
    let url = pg_server::database(name).expect("a PostgreSQL server for the benchmark");
    out.push(("postgresql", url.parse().expect("a URL")));
    out
}

/// Leads claimed and finished per second by `dialers` claiming 50 at a time at once.
fn claim_rate(location: &Location, leads: usize, dialers: usize) -> f64 {
    let all: Vec<Lead> = (1..=leads)
        .map(|line| Lead {
            line,
            values: [("phone".to_string(), format!("+7900{line:07}"))].into(),
        })
        .collect();
    let limits = Limits {
        lines: 100_000,
        rate: None,
    };
    CampaignState::open(location, "bench", "loader", 60_000)
        .and_then(|mut s| s.prepare(limits, &all, now_ms()))
        .expect("the leads load");
    let started = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..dialers)
            .map(|d| {
                scope.spawn(move || {
                    let owner = format!("dialer-{d}");
                    let mut state =
                        CampaignState::open(location, "bench", &owner, 60_000).expect("opens");
                    let mut done = 0;
                    loop {
                        let claim = state.claim(50, &[], now_ms()).expect("claims");
                        if claim.leads.is_empty() {
                            if claim.unfinished == 0 {
                                return done;
                            }
                            std::thread::sleep(Duration::from_millis(1));
                            continue;
                        }
                        for c in &claim.leads {
                            let row = LeadRow {
                                state: LeadState::Done,
                                outcome: "ok".into(),
                                ..c.lead.clone()
                            };
                            state.finish(c, &row, 0, now_ms()).expect("finishes");
                            done += 1;
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("runs")).sum()
    });
    assert_eq!(done, leads, "every lead once");
    done as f64 / started.elapsed().as_secs_f64()
}

/// p50, p99 and the slowest of `writes` call records written one a transaction.
fn write_latency(location: &Location, writes: usize) -> (Duration, Duration, Duration) {
    let store = Store::open_at(location).expect("opens");
    let mut took = Vec::with_capacity(writes);
    for i in 0..writes {
        let record = CallRecord {
            call_id: format!("bench-{i}@ivrc"),
            flow: "sum".into(),
            caller: "+79001234567".into(),
            called: "sum".into(),
            started_ms: now_ms(),
            ended_ms: now_ms(),
            ended_by: "caller".into(),
            keys: "12#30#".into(),
            ..CallRecord::default()
        };
        let start = Instant::now();
        store
            .add_rows(&[Row::Call(Box::new(record))])
            .expect("written");
        took.push(start.elapsed());
    }
    took.sort_unstable();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    (at(0.5), at(0.99), took[took.len() - 1])
}

fn main() {
    let leads = count("IVRC_LEADS", 20_000);
    let writes = count("IVRC_WRITES", 2_000);
    for dialers in [1, 2, 4] {
        for (kind, location) in stores(&format!("claims_{dialers}")) {
            // A SQLite file serves one instance (several share a PostgreSQL database).
            if kind == "sqlite" && dialers > 1 {
                continue;
            }
            let rate = claim_rate(&location, leads, dialers);
            println!("claim+finish {kind:<10} {dialers} dialers: {rate:>8.0} leads/s ({leads} leads, 50 a claim)");
        }
    }
    for (kind, location) in stores("writes") {
        let (p50, p99, max) = write_latency(&location, writes);
        println!(
            "call record write {kind:<10} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms ({writes} writes, one a transaction)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
}

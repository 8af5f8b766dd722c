//! Several `ivrc run` behind Kamailio's dispatcher (issue 22), all in network namespaces the
//! test makes (the cluster rig, tests/rig/: a hub bridging one subnet of 198.18.0.0/24):
//!
//! ```text
//!   db     198.18.0.2 (PostgreSQL 15: the store every instance writes its call records to)
//!   kam    198.18.0.3 (Kamailio with deploy/kamailio/kamailio.cfg)
//!   ivrc-1 198.18.0.4, ivrc-2 198.18.0.5, ivrc-3 198.18.0.6 (ivrc run … hold.ivr)
//!   caller 198.18.0.7 (sipp)
//! ```
//!
//! sipp places calls at Kamailio, which spreads them over the instances by call load and probes
//! them with OPTIONS; media flows between the caller and the instance directly; the instances
//! share one PostgreSQL store. Bounded: every process has a deadline, every namespace is
//! deleted when the test ends, the database server is stopped when the test process ends.

#[path = "runtime/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "kamailio/mod.rs"]
mod kamailio;
#[path = "netns/mod.rs"]
mod netns;
#[path = "pg_server/mod.rs"]
mod pg_server;
#[path = "rig/mod.rs"]
mod rig;

use harness::{require, Runtime};
use kamailio::Kamailio;
use rig::{instance_addr, instance_dir, Rig};
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Kamailio's address.
const PROXY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
/// The caller's address.
const CALLER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 7);
/// The flow every instance runs.
const FLOW: &str = "tests/fixtures/runtime/hold.ivr";

/// The rig: the database, Kamailio, the caller and `n` instances.
fn rig(n: usize) -> Option<Rig> {
    Rig::build(&[("kam", PROXY), ("caller", CALLER)], n, &[])
}

/// `ivrc run hold.ivr` as instance `i` (its prompt cache in `dir`), on the shared store, with
/// `--grace` seconds for its calls when it is stopped.
fn instance(rig: &Rig, i: usize, dir: &Path, grace: &str) -> Runtime {
    Runtime::launch(
        dir.to_path_buf(),
        &rig.host(i),
        5060,
        &[FLOW],
        &[
            "--rtp-ports",
            "20000-29999",
            "--max-calls",
            "1000",
            "--store",
            &rig.store,
            "--grace",
            grace,
        ],
    )
}

/// The load: `calls` calls at `rate` per second, each held `hold`, from the caller's
/// namespace through Kamailio; sipp's answered/done lines go to `log`.
fn load(rig: &Rig, dir: &Path, calls: u32, rate: u32, hold: Duration, log: &Path) -> Child {
    require("sipp", "-v");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio/call_hold.xml");
    let limit = format!(
        "{}s",
        calls / rate + hold.as_secs() as u32 + 60 // generous: failover and BYE timeouts
    );
    let caller = CALLER.to_string();
    rig.at("caller")
        .command("sipp")
        .current_dir(dir)
        .args(["-sf", &scenario.display().to_string()])
        .args(["-i", &caller, "-p", "5060", "-mi", &caller, "-mp", "6000"])
        .args(["-s", "hold", "-r", &rate.to_string(), "-rp", "1000"])
        .args(["-m", &calls.to_string(), "-l", "1000"])
        .args(["-d", &hold.as_millis().to_string()])
        .args(["-nostdin", "-timeout", &limit, "-timeout_error"])
        .args(["-trace_logs", "-log_file", &log.display().to_string()])
        .args([
            "-trace_err",
            "-error_file",
            &dir.join("sipp-errors.log").display().to_string(),
        ])
        .arg(SocketAddr::from((PROXY, 5060)).to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp runs")
}

/// The Call-IDs sipp logged with `word` (`answered`, `done`).
fn logged(log: &Path, word: &str) -> HashSet<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(word)?.strip_prefix(' '))
        .map(|id| id.trim().to_string())
        .collect()
}

/// Where Kamailio sent each call, in order: its log's `ivrc-front: INVITE CALL-ID to sip:…`
/// lines (a call that failed over has several); and the index in the log of each line.
fn routed(k: &Kamailio) -> Vec<(usize, String, String)> {
    k.log()
        .lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let rest = line.split("ivrc-front: INVITE ").nth(1)?;
            let (id, to) = rest.split_once(" to ")?;
            Some((n, id.to_string(), to.trim().to_string()))
        })
        .collect()
}

/// Waits until `kamcmd dispatcher.list` shows every instance active (flags `AP`).
fn wait_all_active(k: &Kamailio, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = k.rpc(&["dispatcher.list"]);
        if list.matches("FLAGS: AP").count() == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every instance came up in the dispatcher:\n{list}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn calls_spread_over_instances_and_a_killed_one_costs_only_its_own_calls() {
    const N: usize = 3;
    const CALLS: u32 = 1200;
    const RATE: u32 = 20;
    const HOLD: Duration = Duration::from_secs(10);
    let Some(rig) = rig(N) else {
        return;
    };
    let dirs: Vec<_> = (0..N).map(|i| instance_dir("cluster", i)).collect();
    let mut instances: Vec<Option<Runtime>> = (0..N)
        .map(|i| Some(instance(&rig, i, &dirs[i], "1")))
        .collect();
    let backends: Vec<_> = (0..N).map(|i| (instance_addr(i), 1000)).collect();
    let Some(k) = Kamailio::front_in("cluster", rig.ns("kam"), PROXY, &backends) else {
        return;
    };
    wait_all_active(&k, N);
    let work = harness::scratch("cluster-caller");
    let log = work.join("sipp.log");
    let started = Instant::now();
    let mut sipp = load(&rig, &work, CALLS, RATE, HOLD, &log);
    // At 20 s, instance 2 dies with SIGKILL; at 35 s it is started again on its store.
    const VICTIM: usize = 1;
    std::thread::sleep(Duration::from_secs(20).saturating_sub(started.elapsed()));
    let before_kill = k.log().lines().count();
    let answered_before_kill = logged(&log, "answered");
    instances[VICTIM].take().expect("running").kill9();
    std::thread::sleep(Duration::from_secs(35).saturating_sub(started.elapsed()));
    let before_restart = k.log().lines().count();
    instances[VICTIM] = Some(instance(&rig, VICTIM, &dirs[VICTIM], "1"));
    let deadline = Instant::now() + Duration::from_secs(180);
    while matches!(sipp.try_wait(), Ok(None)) {
        assert!(Instant::now() < deadline, "sipp did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let answered = logged(&log, "answered");
    let done = logged(&log, "done");
    let routes = routed(&k);
    // Where each call went last, and whether it went there before the kill.
    let mut last: HashMap<&str, (usize, &str)> = HashMap::new();
    for (n, id, to) in &routes {
        last.insert(id, (*n, to));
    }
    let victim = format!("sip:{}", instance_addr(VICTIM));
    let failed: Vec<&str> = last
        .keys()
        .copied()
        .filter(|id| !done.contains(*id))
        .collect();
    assert_eq!(last.len(), CALLS as usize, "every call reached Kamailio");
    for id in &failed {
        let (n, to) = last[id];
        assert!(
            to == victim && n < before_kill && answered_before_kill.contains(*id),
            "call {id} failed but was not up on the killed instance (last routed to {to})"
        );
    }
    assert!(
        !failed.is_empty(),
        "the kill cut no call: the test did not test"
    );
    assert_eq!(answered.len(), CALLS as usize, "every call was answered");
    // The restarted instance is back in rotation.
    let after_restart = routes
        .iter()
        .filter(|(n, _, to)| *n > before_restart && *to == victim)
        .count();
    assert!(after_restart > 0, "no call went to the restarted instance");
    // Each instance took about a third of the calls before the kill.
    for i in 0..N {
        let to = format!("sip:{}", instance_addr(i));
        let share = routes
            .iter()
            .filter(|(n, _, t)| *n < before_kill && *t == to)
            .count();
        assert!(share > 60, "instance {} took {share} calls", i + 1);
    }
    wait_all_active(&k, N);
    // Every call's load was released, the cut ones' too (their BYE passed Kamailio).
    let list = k.rpc(&["dispatcher.list"]);
    assert_eq!(list.matches("DLGLOAD: 0").count(), N, "{list}");
    eprintln!(
        "cluster: {CALLS} calls, {} failed (up on the killed instance), {after_restart} to the \
         restarted one",
        failed.len()
    );
    let mut stderrs = Vec::new();
    for rt in instances.into_iter().flatten() {
        let (code, stderr) = rt.stop();
        assert_eq!(code, 0, "{stderr}");
        stderrs.push(stderr);
    }
    // Each call cut by the kill still has its record, written when it started and closed as
    // interrupted by the instance's restart.
    assert!(
        stderrs[VICTIM].contains(&format!(
            "ivrc: {} calls were cut off when this instance last stopped; recorded as interrupted",
            failed.len()
        )),
        "{}",
        stderrs[VICTIM]
    );
    // One record per call in the shared store, the cut ones included.
    let records = rig.records("caller");
    assert_eq!(
        records.len(),
        CALLS as usize,
        "one record per call\n{stderrs:#?}"
    );
    for id in &failed {
        let r = records
            .iter()
            .find(|r| r["call_id"] == *id)
            .unwrap_or_else(|| panic!("no record of the cut call {id}"));
        assert_eq!(r["ended_by"], "interrupted", "{r:#}");
        assert_eq!(r["instance"], instance_addr(VICTIM).to_string(), "{r:#}");
    }
    assert!(
        records.iter().all(|r| r["ended_by"] != "running"),
        "a record left running"
    );
}

#[test]
fn a_draining_instance_takes_no_new_calls_and_finishes_its_own() {
    const N: usize = 3;
    const CALLS: u32 = 400;
    const RATE: u32 = 20;
    const HOLD: Duration = Duration::from_secs(8);
    let Some(rig) = rig(N) else {
        return;
    };
    let dirs: Vec<_> = (0..N).map(|i| instance_dir("drain", i)).collect();
    // The draining instance gives its calls 60 s to finish.
    let mut instances: Vec<Runtime> = (0..N).map(|i| instance(&rig, i, &dirs[i], "60")).collect();
    let backends: Vec<_> = (0..N).map(|i| (instance_addr(i), 1000)).collect();
    let Some(k) = Kamailio::front_in("drain", rig.ns("kam"), PROXY, &backends) else {
        return;
    };
    wait_all_active(&k, N);
    let work = harness::scratch("drain-caller");
    let log = work.join("sipp.log");
    let started = Instant::now();
    let mut sipp = load(&rig, &work, CALLS, RATE, HOLD, &log);
    // At 6 s, instance 3 gets SIGTERM: new calls 503, its OPTIONS 503, its calls go on.
    std::thread::sleep(Duration::from_secs(6).saturating_sub(started.elapsed()));
    let before_drain = k.log().lines().count();
    let draining = instances.pop().expect("instance 3");
    let drained = std::thread::spawn(move || draining.stop());
    let deadline = Instant::now() + Duration::from_secs(120);
    while matches!(sipp.try_wait(), Ok(None)) {
        assert!(Instant::now() < deadline, "sipp did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, stderr) = drained.join().expect("the drained instance");
    assert_eq!(code, 0, "{stderr}");
    let done = logged(&log, "done");
    assert_eq!(done.len(), CALLS as usize, "every call completed");
    // After the drain began, Kamailio sent instance 3 at most the calls that found it
    // refusing (503, then the next instance) before its probes took it out.
    let third = format!("sip:{}", instance_addr(N - 1));
    let routes = routed(&k);
    let late: HashSet<&str> = routes
        .iter()
        .filter(|(n, _, to)| *n > before_drain && *to == third)
        .map(|(_, id, _)| id.as_str())
        .collect();
    for id in &late {
        let last = routes
            .iter()
            .rev()
            .find(|(_, i, _)| i == id)
            .expect("routed");
        assert_ne!(last.2, third, "call {id} stayed on the draining instance");
    }
    // Its own calls all ended by the caller's BYE, none cut by the shutdown.
    let all = rig.records("caller");
    assert_eq!(
        all.len(),
        CALLS as usize,
        "one record per call; the draining instance said:\n{stderr}"
    );
    let third_addr = instance_addr(N - 1).to_string();
    let records: Vec<_> = all.iter().filter(|r| r["instance"] == third_addr).collect();
    assert!(records.len() > 30, "{} calls on instance 3", records.len());
    assert!(
        records.iter().all(|r| r["ended_by"] == "caller"),
        "{:#?}",
        records
            .iter()
            .filter(|r| r["ended_by"] != "caller")
            .collect::<Vec<_>>()
    );
    eprintln!(
        "drain: {} calls finished on the draining instance, {} new ones moved on",
        records.len(),
        late.len()
    );
    for rt in instances {
        let (code, stderr) = rt.stop();
        assert_eq!(code, 0, "{stderr}");
    }
}

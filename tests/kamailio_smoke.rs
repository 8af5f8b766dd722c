//! The Kamailio harness (tests/kamailio/mod.rs) proven with sipp alone, before ivrc registers
//! anywhere (issue 21): sipp registers the account with digest credentials, a second sipp
//! calls the DID through Kamailio and a third, standing at the registered contact, answers;
//! a wrong password, a too brief and a too long expiry, a restart that forgets the
//! registration, and the account calling out through the PSTN gateway. Everything is on
//! 127.0.0.1, every wait is bounded, every process is killed when its guard drops.

#[path = "kamailio/mod.rs"]
mod kamailio;
#[path = "netns/mod.rs"]
mod netns;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kamailio::{Kamailio, ProviderConfig, WrongPassword};

/// The longest one sipp run may take (sipp's own `-timeout` is a little shorter).
const SIPP_LIMIT: Duration = Duration::from_secs(20);

/// A sipp process in `dir`, killed if still running when dropped.
struct Sipp {
    child: Child,
    /// Its `-log_file`: the lines the scenario's `<log>` actions wrote.
    log: PathBuf,
    /// Its `-error_file`.
    errors: PathBuf,
    /// What it is, for a failure message.
    name: String,
}

impl Sipp {
    /// Starts sipp with `scenario` (tests/kamailio) on 127.0.0.1:`port` for one call,
    /// bounded by `-timeout`, logging into `dir/NAME.log`; `args` are the scenario's own
    /// (`-s`, `-key`, `-au`/`-ap`, the remote address).
    fn start(dir: &Path, name: &str, scenario: &str, port: u16, args: &[&str]) -> Sipp {
        let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/kamailio")
            .join(scenario);
        let log = dir.join(format!("{name}.log"));
        let errors = dir.join(format!("{name}.errors"));
        let child = Command::new("sipp")
            .current_dir(dir)
            .args(["-sf", &scenario.display().to_string()])
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &(free_port() & !1).to_string()])
            .args(["-m", "1", "-nostdin", "-timeout", "15s", "-timeout_error"])
            .args(["-trace_logs", "-log_file", &log.display().to_string()])
            .args(["-trace_err", "-error_file", &errors.display().to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp starts");
        Sipp {
            child,
            log,
            errors,
            name: name.to_string(),
        }
    }

    /// Waits (at most [`SIPP_LIMIT`]) for sipp to end; how it went.
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + SIPP_LIMIT;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "sipp {} still runs after {SIPP_LIMIT:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        Finished {
            code: status.code().unwrap_or(-1),
            lines: read(&self.log).lines().map(str::to_string).collect(),
            errors: read(&self.errors),
        }
    }
}

/// How a sipp run ended.
struct Finished {
    /// The exit code: 0 when the call went as the scenario says.
    code: i32,
    /// The lines the scenario's `<log>` actions wrote.
    lines: Vec<String>,
    /// What sipp reported as errors.
    errors: String,
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UDP port of 127.0.0.1 free right now.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts Kamailio with `cfg` unless it or sipp is missing (then `None`, with the reason
/// printed; under `CI=true` that fails instead).
fn provider(test: &str, cfg: ProviderConfig) -> Option<Kamailio> {
    if Command::new("sipp").arg("-v").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "sipp is not installed: the Kamailio tests need it under CI; run scripts/setup.sh"
        );
        println!("skipped: sipp is not installed (scripts/setup.sh installs sip-tester)");
        return None;
    }
    Kamailio::start(test, cfg)
}

/// Runs the register scenario as the account with `password`, asking for `expires`, its
/// Contact naming `contact_port`; the one outcome line it logged (`outcome 200 expires=30`).
fn register(kam: &Kamailio, name: &str, password: &str, expires: u32, contact_port: u16) -> String {
    let cfg = kam.config();
    let expires = expires.to_string();
    let contact_port = contact_port.to_string();
    let target = kam.addr().to_string();
    let sipp = Sipp::start(
        kam.scratch(),
        name,
        "register.xml",
        free_port(),
        &[
            "-s",
            &cfg.user,
            "-au",
            &cfg.user,
            "-ap",
            password,
            "-key",
            "expires",
            &expires,
            "-key",
            "contact_port",
            &contact_port,
            &target,
        ],
    );
    let run = sipp.finish();
    assert_eq!(
        run.code,
        0,
        "sipp {name} failed: {}\n{}",
        run.errors,
        kam.log()
    );
    let outcomes: Vec<_> = run
        .lines
        .iter()
        .filter(|l| l.starts_with("outcome "))
        .collect();
    assert_eq!(outcomes.len(), 1, "sipp {name} logged {:?}", run.lines);
    outcomes[0].clone()
}

/// Starts a sipp that answers one call on `port` (the registered contact, or the gateway).
fn answerer(kam: &Kamailio, name: &str, port: u16) -> Sipp {
    Sipp::start(kam.scratch(), name, "answer.xml", port, &[])
}

/// Calls `number` through the provider as a caller on the provider's side; sipp's exit code.
fn call_did(kam: &Kamailio, name: &str, number: &str) -> i32 {
    let target = kam.addr().to_string();
    let sipp = Sipp::start(
        kam.scratch(),
        name,
        "call_did.xml",
        free_port(),
        &["-s", number, &target],
    );
    sipp.finish().code
}

#[test]
fn sipp_registers_and_a_call_for_the_did_reaches_its_contact() {
    let Some(kam) = provider("register-call", ProviderConfig::default()) else {
        return;
    };
    println!("Kamailio answered {:?} after its start", kam.last_start());
    let contact = free_port();
    let phone = answerer(&kam, "contact", contact);
    let password = kam.config().password.clone();
    assert_eq!(
        register(&kam, "register", &password, 30, contact),
        "outcome 200 expires=30"
    );
    kam.wait_for_log(
        &format!("harness: REGISTER ivrc saved Contact <sip:ivrc@127.0.0.1:{contact}> Expires 30"),
        1,
        Duration::from_secs(2),
    );
    // The DID as the caller dials it, with "+": Kamailio sends it to the contact, To kept.
    let code = call_did(&kam, "caller", "+74950000001");
    let answered = phone.finish();
    assert_eq!(code, 0, "the caller's call failed\n{}", kam.log());
    assert_eq!(
        answered.code, 0,
        "the contact's call failed: {}",
        answered.errors
    );
    assert_eq!(answered.lines, ["invite for ivrc to +74950000001"]);
    kam.wait_for_log(
        &format!("relayed to sip:ivrc@127.0.0.1:{contact}"),
        1,
        Duration::from_secs(2),
    );
}

#[test]
fn a_wrong_password_is_refused_or_challenged_again() {
    let Some(kam) = provider("wrong-password", ProviderConfig::default()) else {
        return;
    };
    assert_eq!(
        register(&kam, "forbidden", "not-the-password", 30, free_port()),
        "outcome 403"
    );
    kam.wait_for_log(
        "harness: REGISTER from ivrc not authenticated: -2",
        1,
        Duration::from_secs(2),
    );
    let cfg = ProviderConfig {
        wrong_password: WrongPassword::Challenge,
        ..ProviderConfig::default()
    };
    let Some(kam) = provider("wrong-password-challenge", cfg) else {
        return;
    };
    assert_eq!(
        register(&kam, "challenged", "not-the-password", 30, free_port()),
        "outcome 401"
    );
}

#[test]
fn the_registrar_holds_expiries_between_its_bounds() {
    let Some(kam) = provider("expiry-bounds", ProviderConfig::default()) else {
        return;
    };
    let password = kam.config().password.clone();
    // One contact throughout: the 200 lists every contact of the account, and the scenario
    // reads the first one's expiry.
    let contact = free_port();
    assert_eq!(
        register(&kam, "too-brief", &password, 5, contact),
        "outcome 423 min-expires=20"
    );
    assert_eq!(
        register(&kam, "too-long", &password, 3600, contact),
        "outcome 200 expires=60"
    );
    assert_eq!(
        register(&kam, "shortest", &password, 20, contact),
        "outcome 200 expires=20"
    );
    kam.wait_for_log(
        "harness: REGISTER ivrc not saved",
        1,
        Duration::from_secs(2),
    );
}

#[test]
fn a_restart_forgets_the_registration() {
    let Some(mut kam) = provider("restart", ProviderConfig::default()) else {
        return;
    };
    let password = kam.config().password.clone();
    let port = kam.port();
    assert_eq!(
        register(&kam, "before", &password, 60, free_port()),
        "outcome 200 expires=60"
    );
    let restarting = Instant::now();
    kam.restart();
    println!(
        "Kamailio restarted in {:?} (answered {:?} after its start)",
        restarting.elapsed(),
        kam.last_start()
    );
    assert_eq!(kam.port(), port, "a restart keeps the port");
    assert_ne!(call_did(&kam, "unregistered", "74950000001"), 0);
    kam.wait_for_log(
        "harness: INVITE for DID 74950000001: ivrc is not registered",
        1,
        Duration::from_secs(2),
    );
    let contact = free_port();
    let phone = answerer(&kam, "contact", contact);
    assert_eq!(
        register(&kam, "after", &password, 60, contact),
        "outcome 200 expires=60"
    );
    assert_eq!(call_did(&kam, "registered", "74950000001"), 0);
    assert_eq!(phone.finish().code, 0);
    assert_eq!(kam.log_lines("harness: start ").len(), 2);
}

#[test]
fn the_account_calls_out_through_the_pstn_gateway() {
    let gateway = free_port();
    let cfg = ProviderConfig {
        pstn: Some(SocketAddr::from(([127, 0, 0, 1], gateway))),
        ..ProviderConfig::default()
    };
    let Some(kam) = provider("call-out", cfg) else {
        return;
    };
    let pstn = answerer(&kam, "pstn", gateway);
    let cfg = kam.config().clone();
    let target = kam.addr().to_string();
    let caller = Sipp::start(
        kam.scratch(),
        "account",
        "call_out.xml",
        free_port(),
        &[
            "-s",
            "74951112233",
            "-key",
            "account",
            &cfg.user,
            "-au",
            &cfg.user,
            "-ap",
            &cfg.password,
            &target,
        ],
    );
    let called = caller.finish();
    assert_eq!(
        called.code,
        0,
        "the account's call failed: {}\n{}",
        called.errors,
        kam.log()
    );
    let answered = pstn.finish();
    assert_eq!(
        answered.code, 0,
        "the gateway's call failed: {}",
        answered.errors
    );
    assert_eq!(answered.lines, ["invite for 74951112233 to 74951112233"]);
    kam.wait_for_log(
        "harness: INVITE from ivrc not authenticated: -5",
        1,
        Duration::from_secs(2),
    );
    kam.wait_for_log(
        &format!("harness: INVITE to 74951112233 from ivrc relayed to sip:127.0.0.1:{gateway}"),
        1,
        Duration::from_secs(2),
    );
}

//! Kamailio as the SIP provider of the interop tests (issue 21): Debian's `/usr/sbin/kamailio`
//! (installed by `scripts/setup.sh`) run by the test in the foreground on a free port of
//! 127.0.0.1 (UDP and TCP) — or on port 5060 of an address in a network namespace of the test
//! ([`Kamailio::start_in`], tests/netns/) — with a configuration written from
//! `tests/kamailio/kamailio.cfg` and a [`ProviderConfig`]:
//!
//! - a registrar for one account ([`ProviderConfig::user`]) with digest authentication against
//!   [`ProviderConfig::password`] (no database), its contacts in memory only, so a
//!   [`Kamailio::restart`] forgets them as a provider's failover would;
//! - an INVITE for the DID ([`ProviderConfig::did`], as `DID` or `+DID` in the request-URI) goes
//!   to the account's registered contact, the DID left in To;
//! - an INVITE from the account to any other number is challenged (407) and relayed to
//!   [`ProviderConfig::pstn`];
//! - the proxy record-routes, so ACK, BYE and CANCEL of those calls pass through it.
//!
//! A test binary takes this module in with `#[path = "kamailio/mod.rs"] mod kamailio;` (or
//! `#[path = "../kamailio/mod.rs"]` from a `tests/NAME/main.rs`), and tests/netns/ beside it
//! as `mod netns`, and starts a provider with
//! [`Kamailio::start`]; dropping it ends the process group. Without Kamailio the test fails
//! under `CI=true` and is skipped with its reason printed elsewhere. Every wait here is bounded.

// A test binary that takes this module in may use only part of it: what it leaves unused is
// not dead (tests/kamailio_smoke.rs uses most of it; ivrc's registration tests use the rest).
#![allow(dead_code)]

use super::netns::Namespace;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Debian's Kamailio (package `kamailio`, which also ships every module the config loads).
pub const KAMAILIO: &str = "/usr/sbin/kamailio";
/// The longest Kamailio may take to answer after a start, or to exit after SIGTERM.
pub const START_LIMIT: Duration = Duration::from_secs(10);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);
/// The configuration template; [`render`] fills in its fields in double braces.
const TEMPLATE: &str = include_str!("kamailio.cfg");

/// Scratch directories handed out in this test process.
static NEXT_SCRATCH: AtomicU32 = AtomicU32::new(0);

/// What a wrong password gets from the registrar (and from the outbound proxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrongPassword {
    /// `403 Forbidden`: the refusal a client should report as an error.
    Forbidden,
    /// A fresh challenge (401 for REGISTER, 407 otherwise), as Kamailio's stock config does: a
    /// client that answers it with the same password again loops.
    Challenge,
}

/// The digest algorithm of Kamailio's challenges (the auth module's `algorithm` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// MD5 (RFC 2617).
    Md5,
    /// SHA-256 (RFC 8760).
    Sha256,
}

/// The account, number and registrar limits of the provider.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The account's user name: the only one that may register or call out.
    pub user: String,
    /// The account's password.
    pub password: String,
    /// The digest realm of the challenges (also an alias of the proxy's own domain).
    pub realm: String,
    /// The DID that reaches the account, digits only (`74950000001`; `+74950000001` in a
    /// request-URI matches too).
    pub did: String,
    /// The registrar's `min_expires`: a shorter expiry gets `423 Interval Too Brief` with
    /// `Min-Expires`.
    pub min_expires: u32,
    /// The registrar's `max_expires`: a longer expiry is lowered to it.
    pub max_expires: u32,
    /// The registrar's `default_expires`, for a REGISTER that names no expiry.
    pub default_expires: u32,
    /// Where the account's outbound calls go after authentication; `None` answers them 503.
    pub pstn: Option<SocketAddr>,
    /// What a wrong password gets.
    pub wrong_password: WrongPassword,
    /// The digest algorithm of the challenges.
    pub algorithm: DigestAlgorithm,
    /// SIP over TLS too (the tls module, Debian's kamailio-tls-modules), when given.
    pub tls: Option<ProviderTls>,
}

/// Kamailio's TLS listener: on `port` of its address, with a certificate and key (PEM); it
/// asks no client certificate and, as a client, verifies none (the tls module's defaults). It
/// accepts the `;alias` of a client's Via (RFC 5923, `tcp_accept_aliases`), so a call for a
/// contact registered over TLS goes back on the registering connection.
#[derive(Clone, Debug)]
pub struct ProviderTls {
    /// The TCP port of the TLS listener.
    pub port: u16,
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// Its key (PEM).
    pub key: PathBuf,
}

impl Default for ProviderConfig {
    /// Account `ivrc` with a test password, realm `provider.test`, DID `74950000001`, expiries
    /// between 20 and 60 s (30 by default), no PSTN gateway, 403 for a wrong password, MD5.
    fn default() -> ProviderConfig {
        ProviderConfig {
            user: "ivrc".to_string(),
            password: "kamailio-test-secret".to_string(),
            realm: "provider.test".to_string(),
            did: "74950000001".to_string(),
            min_expires: 20,
            max_expires: 60,
            default_expires: 30,
            pstn: None,
            wrong_password: WrongPassword::Forbidden,
            algorithm: DigestAlgorithm::Md5,
            tls: None,
        }
    }
}

/// A running Kamailio in a process group of its own; killed (the whole group) when dropped.
pub struct Kamailio {
    child: Option<Child>,
    /// The configuration file and its `-A` defines.
    config: Vec<String>,
    ip: Ipv4Addr,
    port: u16,
    /// The network namespace it runs in, if not the test's own.
    netns: Option<String>,
    cfg: ProviderConfig,
    scratch: PathBuf,
    /// How long the last start took until Kamailio answered.
    last_start: Duration,
}

impl Kamailio {
    /// Writes the configuration into a fresh scratch directory under `target/tmp/kamailio/`
    /// (named after `test`), starts Kamailio on a free port of 127.0.0.1 and waits until it
    /// answers an OPTIONS. `None` (with the reason printed) when Kamailio is not installed;
    /// under `CI=true` that fails the test instead.
    pub fn start(test: &str, cfg: ProviderConfig) -> Option<Kamailio> {
        Kamailio::launch(test, cfg, Ipv4Addr::LOCALHOST, None)
    }

    /// [`Kamailio::start`] inside the network namespace `ns`, on port 5060 of `ip` (an
    /// address of one of its interfaces).
    pub fn start_in(
        test: &str,
        cfg: ProviderConfig,
        ns: &Namespace,
        ip: Ipv4Addr,
    ) -> Option<Kamailio> {
        Kamailio::launch(test, cfg, ip, Some(ns.name().to_string()))
    }

    fn launch(
        test: &str,
        cfg: ProviderConfig,
        ip: Ipv4Addr,
        netns: Option<String>,
    ) -> Option<Kamailio> {
        if !installed() {
            return None;
        }
        let scratch = scratch_dir(test);
        let port = if netns.is_some() { 5060 } else { free_port() };
        std::fs::write(scratch.join("kamailio.cfg"), render(&cfg, ip, port))
            .expect("kamailio.cfg written");
        let config = vec![
            "-f".to_string(),
            scratch.join("kamailio.cfg").display().to_string(),
        ];
        let mut kamailio = Kamailio {
            child: None,
            config,
            ip,
            port,
            netns,
            cfg,
            scratch,
            last_start: Duration::ZERO,
        };
        kamailio.spawn();
        Some(kamailio)
    }

    /// The dispatcher in front of ivrc instances (issue 22): Kamailio with the repository's
    /// own `deploy/kamailio/kamailio.cfg`, inside `ns` on port 5060 of `ip`, its instance list
    /// (`dispatcher.list`, set 1) naming `instances` as `(address, maxload)`, `duid` ivrc-1, …
    /// Its control socket is `kamailio_ctl` in the scratch directory ([`Kamailio::rpc`]).
    pub fn front_in(
        test: &str,
        ns: &Namespace,
        ip: Ipv4Addr,
        instances: &[(SocketAddr, u32)],
    ) -> Option<Kamailio> {
        if !installed() {
            return None;
        }
        let scratch = scratch_dir(test);
        let list: String = instances
            .iter()
            .enumerate()
            .map(|(n, (addr, maxload))| {
                format!("1 sip:{addr} 0 0 duid=ivrc-{};maxload={maxload}\n", n + 1)
            })
            .collect();
        std::fs::write(scratch.join("dispatcher.list"), list).expect("dispatcher.list written");
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kamailio/kamailio.cfg");
        let config = vec![
            "-f".to_string(),
            file.display().to_string(),
            "-A".to_string(),
            format!("PROXY_IP={ip}"),
            "-A".to_string(),
            format!(
                "DISPATCHER_LIST=\"{}\"",
                scratch.join("dispatcher.list").display()
            ),
            "-A".to_string(),
            format!(
                "CTL_SOCKET=\"unix:{}\"",
                scratch.join("kamailio_ctl").display()
            ),
        ];
        let mut kamailio = Kamailio {
            child: None,
            config,
            ip,
            port: 5060,
            netns: Some(ns.name().to_string()),
            cfg: ProviderConfig::default(),
            scratch,
            last_start: Duration::ZERO,
        };
        kamailio.spawn();
        Some(kamailio)
    }

    /// Runs `kamcmd COMMAND ARGS…` against this Kamailio's control socket; its output.
    pub fn rpc(&self, args: &[&str]) -> String {
        let socket = format!("unix:{}", self.scratch.join("kamailio_ctl").display());
        let out = Command::new("kamcmd")
            .args(["-s", &socket])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("kamcmd does not run: {e}"));
        assert!(
            out.status.success(),
            "kamcmd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Where the provider listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    /// The provider's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The provider as a trunk URI, `sip:IP:PORT`.
    pub fn uri(&self) -> String {
        format!("sip:{}", self.addr())
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &ProviderConfig {
        &self.cfg
    }

    /// Its scratch directory: `kamailio.cfg` and `kamailio.log`.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// How long the last start or restart took until Kamailio answered an OPTIONS.
    pub fn last_start(&self) -> Duration {
        self.last_start
    }

    /// Everything Kamailio logged so far, across restarts (each start begins with a line
    /// `harness: start N`). The config's own lines start with `harness:`, such as
    /// `harness: REGISTER ivrc saved Contact <…> Expires 30`.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.join("kamailio.log")).unwrap_or_default()
    }

    /// The log's lines that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// Waits up to `within` until the log has at least `count` lines containing `needle`;
    /// answers them, or fails with the log.
    pub fn wait_for_log(&self, needle: &str, count: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let lines = self.log_lines(needle);
            if lines.len() >= count {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "Kamailio did not log {count} × {needle:?} within {within:?}\n{}",
                self.log_text()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Stops Kamailio (see [`Kamailio::stop`]) and starts it again on the same port with the same configuration: the
    /// registrations kept in memory are gone, the auth module's nonces change.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Stops Kamailio (SIGTERM to its process group, SIGKILL if it is still there after
    /// [`START_LIMIT`]) and waits until its port is free again; [`Kamailio::restart`] or drop
    /// after this.
    pub fn stop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        terminate(child);
        let deadline = Instant::now() + START_LIMIT;
        while self.udp(self.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "port {} still taken {START_LIMIT:?} after Kamailio stopped",
                self.port
            );
            std::thread::sleep(POLL);
        }
    }

    /// Starts Kamailio with the scratch directory's configuration, in the foreground (`-DD`),
    /// logging to stderr (`-E`) appended to `kamailio.log`, and waits until it answers.
    fn spawn(&mut self) {
        let started = Instant::now();
        let log_path = self.scratch.join("kamailio.log");
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("kamailio.log");
        let starts = self.log_lines("harness: start ").len() + 1;
        writeln!(log, "harness: start {starts}").expect("kamailio.log");
        let scratch = self.scratch.display().to_string();
        let child = {
            use std::os::unix::process::CommandExt;
            let config = self.config.clone();
            let mut command = match &self.netns {
                Some(ns) => {
                    let mut command = Command::new("ip");
                    command.args(["netns", "exec", ns, KAMAILIO]);
                    command
                }
                None => Command::new(KAMAILIO),
            };
            command
                .args(&config)
                // Foreground, log to stderr, one worker per socket, 32 MB shared and 4 MB
                // private memory, runtime files and working directory in the scratch.
                .args(["-DD", "-E", "-n", "1", "-m", "32", "-M", "4"])
                .args(["-Y", &scratch, "-w", &scratch])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("kamailio.log"))
                .stderr(log)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("{KAMAILIO} does not start: {e}"))
        };
        self.child = Some(child);
        self.wait_ready();
        self.last_start = started.elapsed();
    }

    /// Sends OPTIONS from a fresh socket until a 200 comes back, for at most [`START_LIMIT`].
    fn wait_ready(&mut self) {
        let probe = self
            .udp(SocketAddr::from((self.ip, 0)))
            .expect("a probe socket");
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("probe timeout");
        let local = probe.local_addr().expect("probe address");
        let deadline = Instant::now() + START_LIMIT;
        for attempt in 0.. {
            let options = format!(
                "OPTIONS sip:{addr} SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {local};branch=z9hG4bK-harness-{attempt};rport\r\n\
                 From: <sip:harness@{ip}>;tag=harness\r\n\
                 To: <sip:{addr}>\r\n\
                 Call-ID: harness-ready-{attempt}@{ip}\r\n\
                 CSeq: 1 OPTIONS\r\n\
                 Max-Forwards: 70\r\n\
                 Content-Length: 0\r\n\r\n",
                addr = self.addr(),
                ip = self.ip,
            );
            let _ = probe.send_to(options.as_bytes(), self.addr());
            let mut buf = [0u8; 4096];
            if let Ok(n) = probe.recv(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 200") {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("Kamailio exited ({status})\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "Kamailio did not answer OPTIONS within {START_LIMIT:?}\n{}",
                self.log_text()
            );
        }
    }

    /// A UDP socket bound to `addr` where Kamailio runs (its namespace, or the test's own).
    fn udp(&self, addr: SocketAddr) -> std::io::Result<UdpSocket> {
        match &self.netns {
            Some(ns) => super::netns::udp_in(ns, addr),
            None => UdpSocket::bind(addr),
        }
    }

    /// The log with its path, for a failure message.
    fn log_text(&self) -> String {
        format!(
            "{}:\n{}",
            self.scratch.join("kamailio.log").display(),
            self.log()
        )
    }
}

impl Drop for Kamailio {
    /// Ends Kamailio's process group (see [`terminate`]) and removes the scratch directory,
    /// which a failing test keeps for its configuration and log.
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child);
        }
        if std::thread::panicking() {
            eprintln!("kamailio scratch kept: {}", self.scratch.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// Whether Kamailio is installed; `false` with the reason printed, and under `CI=true` a
/// failure instead.
fn installed() -> bool {
    if Path::new(KAMAILIO).is_file() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{KAMAILIO} is not installed: the Kamailio tests need it under CI; run scripts/setup.sh"
    );
    println!("skipped: {KAMAILIO} is not installed (scripts/setup.sh installs kamailio)");
    false
}

/// A fresh scratch directory under `target/tmp/kamailio/`, named after `test`.
fn scratch_dir(test: &str) -> PathBuf {
    let n = NEXT_SCRATCH.fetch_add(1, Ordering::SeqCst);
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("kamailio")
        .join(format!("{test}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("kamailio scratch directory");
    scratch
}

/// Ends the Kamailio that `child` is: SIGTERM to its process group, so that the main process
/// reaps its workers as it exits; SIGKILL to the group after [`START_LIMIT`], or at once for
/// any worker left.
fn terminate(mut child: Child) {
    signal_group(&child, "-TERM");
    let deadline = Instant::now() + START_LIMIT;
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    signal_group(&child, "-KILL");
    let _ = child.wait();
}

/// Sends `signal` (`-TERM`, `-KILL`) to the process group that `child` leads.
fn signal_group(child: &Child, signal: &str) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args([signal, "--", &group])
        .stderr(Stdio::null())
        .status();
}

/// `tests/kamailio/kamailio.cfg` with its fields filled in for `cfg` on `ip`:`port`.
fn render(cfg: &ProviderConfig, ip: Ipv4Addr, port: u16) -> String {
    for (what, value) in [
        ("user", &cfg.user),
        ("password", &cfg.password),
        ("realm", &cfg.realm),
    ] {
        assert!(
            !value.is_empty() && value.chars().all(|c| c.is_ascii_graphic() && c != '"'),
            "the {what} {value:?} does not fit in a Kamailio string"
        );
    }
    assert!(
        !cfg.did.is_empty() && cfg.did.chars().all(|c| c.is_ascii_digit()),
        "the DID {:?} must be digits only",
        cfg.did
    );
    let pstn_route = match cfg.pstn {
        Some(gateway) => format!(
            "$du = \"sip:{gateway}\";\n\
             \txlog(\"L_NOTICE\", \"harness: INVITE to $rU from $fU relayed to $du\\n\");\n\
             \troute(RELAY);"
        ),
        None => "sl_send_reply(\"503\", \"No PSTN Gateway\");\n\texit;".to_string(),
    };
    let algorithm = match cfg.algorithm {
        DigestAlgorithm::Md5 => "MD5",
        DigestAlgorithm::Sha256 => "SHA-256",
    };
    let forbid = match cfg.wrong_password {
        WrongPassword::Forbidden => "1",
        WrongPassword::Challenge => "0",
    };
    let (tls_listen, tls_module) = match &cfg.tls {
        Some(t) => (
            format!(
                "enable_tls=yes\nlisten=tls:{ip}:{}\ntcp_accept_aliases=yes",
                t.port
            ),
            format!(
                "loadmodule \"tls.so\"\n\
                 modparam(\"tls\", \"certificate\", \"{}\")\n\
                 modparam(\"tls\", \"private_key\", \"{}\")\n\
                 modparam(\"tls\", \"tls_method\", \"TLSv1.2+\")\n\
                 modparam(\"tls\", \"verify_certificate\", 0)\n\
                 modparam(\"tls\", \"require_certificate\", 0)",
                t.cert.display(),
                t.key.display()
            ),
        ),
        None => (String::new(), String::new()),
    };
    let text = [
        ("TLS_LISTEN", tls_listen),
        ("TLS_MODULE", tls_module),
        ("ADDRESS", ip.to_string()),
        ("PORT", port.to_string()),
        ("USER", cfg.user.clone()),
        ("PASSWORD", cfg.password.clone()),
        ("REALM", cfg.realm.clone()),
        ("DID", cfg.did.clone()),
        ("MIN_EXPIRES", cfg.min_expires.to_string()),
        ("MAX_EXPIRES", cfg.max_expires.to_string()),
        ("DEFAULT_EXPIRES", cfg.default_expires.to_string()),
        ("ALGORITHM", algorithm.to_string()),
        ("FORBID_WRONG_PASSWORD", forbid.to_string()),
        ("PSTN_ROUTE", pstn_route),
    ]
    .into_iter()
    .fold(TEMPLATE.to_string(), |text, (field, value)| {
        text.replace(&format!("{{{{{field}}}}}"), &value)
    });
    assert!(
        !text.contains("{{"),
        "a field of kamailio.cfg is left unfilled"
    );
    text
}

/// A port of 127.0.0.1 free right now for both UDP and TCP (Kamailio listens on both).
fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("a free UDP port");
        let port = udp.local_addr().expect("its address").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port of 127.0.0.1 free for both UDP and TCP in 100 tries");
}

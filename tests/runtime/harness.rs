//! Running `ivrc run` for a test: the real binary on a free loopback port with its own RTP
//! range, store and prompt cache; sipp as the caller; a UDP sink that receives and checks the
//! RTP we send; a plain SIP client for protocol tests.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// RTP ranges handed to runtimes of this test process, 100 ports each.
static NEXT_RANGE: AtomicU16 = AtomicU16::new(0);

/// Fails unless `tool` runs (scripts/setup.sh installs it; these tests are never skipped).
pub fn require(tool: &str, arg: &str) {
    let ok = Command::new(tool).arg(arg).output().is_ok();
    assert!(
        ok,
        "{tool} is required for the runtime tests; run scripts/setup.sh"
    );
}

/// A UDP port free right now.
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An even UDP port that is free right now together with the `count - 1` after it, for a
/// peer's RTP, RTCP (and sipp's video) ports: a free port's even neighbour may be taken.
pub fn free_even_ports(count: u16) -> u16 {
    loop {
        let base = free_port() & !1;
        if base == 0 || base > u16::MAX - count {
            continue;
        }
        let all: Result<Vec<UdpSocket>, _> = (base..base + count)
            .map(|p| UdpSocket::bind(("127.0.0.1", p)))
            .collect();
        if all.is_ok() {
            return base;
        }
    }
}

/// A port free for both UDP and TCP right now, for a runtime (it listens on both: a port free
/// for UDP alone may be the local end of a TCP connection of another test's).
pub fn free_sip_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a TCP port");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A fresh scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("runtime-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Where a process of a test runs: on 127.0.0.1 of the test's own network namespace, or on an
/// address of a namespace the test made (tests/netns/).
#[derive(Clone, Debug)]
pub struct Host {
    /// The namespace's name; `None` for the test's own.
    pub netns: Option<String>,
    /// The address it binds.
    pub ip: Ipv4Addr,
}

impl Host {
    /// 127.0.0.1 of the test's own namespace.
    pub fn loopback() -> Host {
        Host {
            netns: None,
            ip: Ipv4Addr::LOCALHOST,
        }
    }

    /// `ip` inside the namespace `ns`.
    pub fn inside(ns: &super::netns::Namespace, ip: Ipv4Addr) -> Host {
        Host {
            netns: Some(ns.name().to_string()),
            ip,
        }
    }

    /// `program` to be run there.
    pub fn command(&self, program: &str) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns, program]);
                command
            }
            None => Command::new(program),
        }
    }
}

/// A running `ivrc run`, killed when dropped.
pub struct Runtime {
    child: Child,
    /// Its stdout lines after `listening on`.
    stdout: std::sync::mpsc::Receiver<String>,
    /// Its SIP port (on 127.0.0.1, or the address of [`Runtime::start_on`]).
    pub port: u16,
    /// Its scratch directory (store, cache, sipp traces).
    pub dir: PathBuf,
}

impl Runtime {
    /// Starts `ivrc run FILES --grace 1` plus `extra` in a fresh scratch directory, and waits
    /// until it listens.
    pub fn start(name: &str, files: &[&str], extra: &[&str]) -> Runtime {
        Runtime::start_in(scratch(name), files, extra)
    }

    /// [`Runtime::start`] in `dir` as it is (its store and cache kept: a restart).
    pub fn start_in(dir: PathBuf, files: &[&str], extra: &[&str]) -> Runtime {
        Runtime::launch(dir, &Host::loopback(), free_sip_port(), files, extra)
    }

    /// [`Runtime::start`] with environment variables set (`Some`) or removed (`None`).
    pub fn start_env(
        name: &str,
        files: &[&str],
        extra: &[&str],
        env: &[(&str, Option<&str>)],
    ) -> Runtime {
        let host = Host::loopback();
        Runtime::launch_env(scratch(name), &host, free_sip_port(), files, extra, env)
    }

    /// [`Runtime::start`] listening on `host`'s address and `port`, run where `host` is.
    pub fn start_on(name: &str, host: &Host, port: u16, files: &[&str], extra: &[&str]) -> Runtime {
        Runtime::launch(scratch(name), host, port, files, extra)
    }

    /// Starts `ivrc run FILES` in `dir` as it is, listening on `host`'s address and `port`,
    /// run where `host` is; `extra` may give its own `--rtp-ports`, `--store` and `--grace`.
    pub fn launch(dir: PathBuf, host: &Host, port: u16, files: &[&str], extra: &[&str]) -> Runtime {
        Runtime::launch_env(dir, host, port, files, extra, &[])
    }

    /// [`Runtime::launch`] with environment variables set (`Some`) or removed (`None`).
    fn launch_env(
        dir: PathBuf,
        host: &Host,
        port: u16,
        files: &[&str],
        extra: &[&str],
        env: &[(&str, Option<&str>)],
    ) -> Runtime {
        // Test binaries run one after another, so ranges only differ within this process.
        let base = 24_000 + 100 * NEXT_RANGE.fetch_add(1, Ordering::SeqCst);
        let listen = SocketAddr::from((host.ip, port)).to_string();
        let range = format!("{base}-{}", base + 99);
        let store = dir.join("calls.db").display().to_string();
        let cache = dir.join("cache").display().to_string();
        let mut args = vec!["run"];
        args.extend(files);
        args.extend(["--listen", &listen, "--cache-dir", &cache]);
        // Defaults that `extra` may replace: the RTP range, the store (`calls.db` in the
        // directory) and a grace period of a second.
        for (option, value) in [
            ("--rtp-ports", range.as_str()),
            ("--store", store.as_str()),
            ("--grace", "1"),
        ] {
            if !extra.contains(&option) {
                args.extend([option, value]);
            }
        }
        args.extend(extra);
        let mut command = host.command(env!("CARGO_BIN_EXE_ivrc"));
        for (name, value) in env {
            match value {
                Some(v) => command.env(name, v),
                None => command.env_remove(name),
            };
        }
        let mut child = command
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ivrc starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line.starts_with("listening on") => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().expect("output");
                    panic!(
                        "ivrc run did not start: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        Runtime {
            child,
            stdout: rx,
            port,
            dir,
        }
    }

    /// Waits (at most `limit`) for the runtime to exit by itself — a campaign's end; its
    /// status, stdout lines and stderr.
    pub fn wait(mut self, limit: Duration) -> (i32, Vec<String>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("ivrc run did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        let lines = self.stdout.iter().collect();
        (status.code().unwrap_or(-1), lines, err)
    }

    /// [`Runtime::stop`], with the stdout lines printed after `listening on` (the shutdown
    /// summary among them).
    pub fn stop_with_output(mut self) -> (i32, Vec<String>, String) {
        let stdout = std::mem::replace(&mut self.stdout, std::sync::mpsc::channel().1);
        let (code, err) = self.stop();
        (code, stdout.iter().collect(), err)
    }

    /// SIGTERM, then waits for the exit (at most 60 s); the status and stderr.
    pub fn stop(mut self) -> (i32, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return (status.code().unwrap_or(-1), err);
            }
            assert!(
                Instant::now() < deadline,
                "ivrc run did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process with SIGKILL (no shutdown at all); its directory.
    pub fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.clone()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What `ivrc calls` prints for people (registrations, then the records); also while
    /// the runtime runs.
    pub fn calls_text(dir: &std::path::Path) -> String {
        let store = dir.join("calls.db").display().to_string();
        ivrc_calls(&Host::loopback(), &store, &[])
    }

    /// The call records, after a stop.
    pub fn calls(dir: &std::path::Path) -> Vec<serde_json::Value> {
        let store = dir.join("calls.db").display().to_string();
        records_at(&Host::loopback(), &store)
    }

    /// The record of the call that ran `flow`, after a stop; fails listing them all when
    /// there is none.
    pub fn record_of(dir: &std::path::Path, flow: &str) -> serde_json::Value {
        let records = Runtime::calls(dir);
        records
            .iter()
            .find(|r| r["flow"] == flow)
            .cloned()
            .unwrap_or_else(|| panic!("no call of {flow}: {records:#?}"))
    }
}

/// The lead whose `phone` is `phone` in a campaign's results file (`--results`, JSON).
pub fn lead_result(results: &std::path::Path, phone: &str) -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results).expect("results")).expect("JSON");
    all.as_array()
        .and_then(|a| a.iter().find(|l| l["params"]["phone"] == phone))
        .unwrap_or_else(|| panic!("{phone} in {all:#}"))
        .clone()
}

/// The first entry of `kind` of `contact` in the SQLite store at `store`, as `ivrc entries
/// --format json` prints it.
pub fn entry_of(store: &std::path::Path, contact: &str, kind: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args([
            "entries",
            "--contact",
            contact,
            "--format",
            "json",
            "--store",
        ])
        .arg(store)
        .output()
        .expect("ivrc entries runs");
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    entries
        .as_array()
        .and_then(|a| a.iter().find(|e| e["kind"] == kind))
        .unwrap_or_else(|| panic!("no {kind} in {entries:#}"))
        .clone()
}

/// Every call record in `store` (a file or a URL), as `ivrc calls --format json` run where
/// `host` is prints them.
pub fn records_at(host: &Host, store: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&ivrc_calls(host, store, &["--format", "json"])).expect("JSON records")
}

/// What `ivrc calls --store STORE ARGS…` prints, run where `host` is; it must succeed.
fn ivrc_calls(host: &Host, store: &str, args: &[&str]) -> String {
    let out = host
        .command(env!("CARGO_BIN_EXE_ivrc"))
        .args(["calls", "--store", store])
        .args(args)
        .output()
        .expect("ivrc calls");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one sipp call of `scenario` (tests/sip) to `service` at the runtime on `port`
/// (traces in `dir`), our RTP going to `rtp_sink`.
pub fn sipp(
    dir: &std::path::Path,
    port: u16,
    scenario: &str,
    service: &str,
    rtp_sink: u16,
) -> Output {
    sipp_with(dir, port, scenario, service, rtp_sink, &[])
}

/// [`sipp`] with more sipp arguments (`-t t1` for TCP).
pub fn sipp_with(
    dir: &std::path::Path,
    port: u16,
    scenario: &str,
    service: &str,
    rtp_sink: u16,
    extra: &[&str],
) -> Output {
    sipp_on(
        &Host::loopback(),
        dir,
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        scenario,
        service,
        rtp_sink,
        extra,
    )
}

/// [`sipp_with`] run where `host` is, calling `remote`.
pub fn sipp_on(
    host: &Host,
    dir: &std::path::Path,
    remote: SocketAddr,
    scenario: &str,
    service: &str,
    rtp_sink: u16,
    extra: &[&str],
) -> Output {
    sipp_command(host, dir, scenario, free_port(), rtp_sink)
        .args(["-s", service])
        .args(extra)
        .arg(remote.to_string())
        .output()
        .expect("sipp runs")
}

/// Starts sipp as a UAS (the party behind the trunk) on `port` with `scenario` (tests/sip),
/// for one call; its media answer names `rtp_sink`. It runs in `dir` (audio files, traces).
pub fn sipp_uas(
    dir: &std::path::Path,
    port: u16,
    scenario: &str,
    rtp_sink: u16,
    extra: &[&str],
) -> Child {
    sipp_uas_on(&Host::loopback(), dir, port, scenario, rtp_sink, extra)
}

/// [`sipp_uas`] run where `host` is.
pub fn sipp_uas_on(
    host: &Host,
    dir: &std::path::Path,
    port: u16,
    scenario: &str,
    rtp_sink: u16,
    extra: &[&str],
) -> Child {
    sipp_command(host, dir, scenario, port, rtp_sink)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp runs")
}

/// sipp in `dir` with `scenario` (tests/sip, or a path from the crate's root) on `host`'s
/// address and `port`, media on a free port, the key `rtp_sink`, one call, bounded to 40 s.
fn sipp_command(
    host: &Host,
    dir: &std::path::Path,
    scenario: &str,
    port: u16,
    rtp_sink: u16,
) -> Command {
    require("sipp", "-v");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenario = if scenario.contains('/') {
        root.join(scenario)
    } else {
        root.join("tests/sip").join(scenario)
    };
    let media = free_even_ports(4);
    let ip = host.ip.to_string();
    let mut sipp = host.command("sipp");
    sipp.current_dir(dir)
        .args(["-sf", &scenario.display().to_string()])
        .args(["-i", &ip, "-p", &port.to_string()])
        .args(["-mi", &ip, "-mp", &media.to_string()])
        .args(["-key", "rtp_sink", &rtp_sink.to_string()])
        .args([
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "40s",
            "-timeout_error",
            "-trace_err",
        ]);
    sipp
}

/// What an RTP sink received.
#[derive(Debug, Default)]
pub struct Received {
    /// Packets.
    pub packets: usize,
    /// Packets with audible μ-law (not only silence codes).
    pub audible: usize,
    /// Packets whose sequence number was not the previous one plus one.
    pub sequence_gaps: usize,
    /// Packets whose timestamp did not advance by 160.
    pub timestamp_jumps: usize,
    /// Distinct SSRCs.
    pub ssrcs: Vec<u32>,
    /// Packets with the marker bit.
    pub markers: usize,
    /// Payload types seen.
    pub payload_types: Vec<u8>,
    /// SSRCs of the streams that carried audible audio.
    pub audible_ssrcs: Vec<u32>,
}

/// An even port and the odd one after it, both bound on 127.0.0.1: RTP and its RTCP (the
/// runtime reports to the RTP port + 1, which must not be some other test's socket).
pub fn port_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..200 {
        let rtp = UdpSocket::bind("127.0.0.1:0").expect("a port");
        let port = rtp.local_addr().expect("addr").port();
        if port % 2 != 0 {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)) {
            return (rtp, rtcp);
        }
    }
    panic!("no free even/odd port pair");
}

/// Receives RTP on a free port (its RTCP port held and ignored) until `idle` passes without a
/// packet (after the first) or `limit` passes; the port and a handle for the result.
pub fn rtp_sink(idle: Duration, limit: Duration) -> (u16, std::thread::JoinHandle<Received>) {
    let (socket, rtcp) = port_pair();
    let port = socket.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let _rtcp = rtcp;
        let mut r = Received::default();
        let start = Instant::now();
        let mut last: Option<(u16, u32)> = None;
        let mut buf = [0u8; 2048];
        let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
        let mut last_packet = Instant::now();
        while start.elapsed() < limit {
            match socket.recv(&mut buf) {
                Ok(n) if n >= 12 => {
                    last_packet = Instant::now();
                    let p = &buf[..n];
                    let seq = u16::from_be_bytes([p[2], p[3]]);
                    let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                    let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
                    r.packets += 1;
                    if p[1] & 0x80 != 0 {
                        r.markers += 1;
                    }
                    if !r.payload_types.contains(&(p[1] & 0x7f)) {
                        r.payload_types.push(p[1] & 0x7f);
                    }
                    if !r.ssrcs.contains(&ssrc) {
                        r.ssrcs.push(ssrc);
                    }
                    if let Some((s, t)) = last {
                        if seq != s.wrapping_add(1) {
                            r.sequence_gaps += 1;
                        }
                        if ts != t.wrapping_add(160) {
                            r.timestamp_jumps += 1;
                        }
                    }
                    last = Some((seq, ts));
                    let audio = matches!(p[1] & 0x7f, 0 | 8);
                    if audio
                        && p[12..]
                            .iter()
                            .any(|&b| !matches!(b, 0xff | 0x7f | 0xfe | 0x7e | 0xd5 | 0x55))
                    {
                        r.audible += 1;
                        if !r.audible_ssrcs.contains(&ssrc) {
                            r.audible_ssrcs.push(ssrc);
                        }
                    }
                }
                _ => {
                    if r.packets > 0 && last_packet.elapsed() > idle {
                        break;
                    }
                }
            }
        }
        r
    });
    (port, handle)
}

/// A bare SIP client on a free port.
pub struct Client {
    socket: UdpSocket,
    /// Its port.
    pub port: u16,
    server: u16,
}

impl Client {
    /// A client talking to the runtime.
    pub fn new(rt: &Runtime) -> Client {
        Client::new_to(rt.port)
    }

    /// A client talking to the runtime on `server`.
    pub fn new_to(server: u16) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("client port");
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let port = socket.local_addr().expect("addr").port();
        Client {
            socket,
            port,
            server,
        }
    }

    /// The runtime's port.
    pub fn server_port(&self) -> u16 {
        self.server
    }

    /// Sends raw bytes.
    pub fn send(&self, bytes: &[u8]) {
        self.socket
            .send_to(bytes, ("127.0.0.1", self.server))
            .expect("send");
    }

    /// The next datagram within `wait`, as text.
    pub fn recv(&self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65_535];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        None
    }

    /// Waits for a response whose status line starts with `SIP/2.0 {status}`, skipping
    /// others; the response.
    pub fn expect(&self, status: u16, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Some(m) = self.recv(Duration::from_millis(200)) {
                if m.starts_with(&format!("SIP/2.0 {status} ")) {
                    return m;
                }
                seen.push(m.lines().next().unwrap_or_default().to_string());
            }
        }
        panic!("no {status} within {wait:?}; saw {seen:?}");
    }

    /// Waits up to `wait` for a BYE from the runtime (failing with `what` otherwise) and
    /// answers it 200 OK, copying its dialog headers.
    pub fn answer_bye(&self, wait: Duration, what: &str) {
        let deadline = Instant::now() + wait;
        let bye = std::iter::from_fn(|| {
            (Instant::now() < deadline).then(|| self.recv(Duration::from_millis(300)))
        })
        .flatten()
        .find(|m| m.starts_with("BYE "))
        .unwrap_or_else(|| panic!("{what}: none within {wait:?}"));
        let reply = bye
            .lines()
            .filter(|l| {
                ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
                    .iter()
                    .any(|h| l.starts_with(h))
            })
            .collect::<Vec<_>>()
            .join("\r\n");
        self.send(format!("SIP/2.0 200 OK\r\n{reply}\r\nContent-Length: 0\r\n\r\n").as_bytes());
    }

    /// A request from this client: `method` to `service` with the dialog fields given (each
    /// is a field of the message, so they stay separate arguments).
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        method: &str,
        service: &str,
        call_id: &str,
        branch: &str,
        cseq: u32,
        to_tag: Option<&str>,
        body: &str,
    ) -> String {
        let to_tag = to_tag.map_or(String::new(), |t| format!(";tag={t}"));
        let content_type = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{method} sip:{service}@127.0.0.1:{server} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\nFrom: <sip:+79001234567@127.0.0.1>;tag=c{port}\r\nTo: <sip:{service}@127.0.0.1>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:t@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
            body.len(),
            server = self.server,
            port = self.port,
        )
    }
}

/// An SDP offer with PCMU and telephone-event 101, media at `port`.
pub fn offer(port: u16) -> String {
    format!("v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
}

/// The To tag of a response.
pub fn to_tag(response: &str) -> Option<String> {
    let to = response.lines().find(|l| l.starts_with("To:"))?;
    Some(to.split(";tag=").nth(1)?.trim().to_string())
}

/// A variable's value in a call record.
pub fn value<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    record["values"]
        .as_array()?
        .iter()
        .find(|v| v[0] == name)
        .and_then(|v| v[1].as_str())
}

/// One call placed by sipp on a fresh runtime: fields say what to run; [`CallSpec::place`]
/// asserts that sipp succeeded and that the runtime stopped with status 0.
pub struct CallSpec<'a> {
    /// The scratch directory's name.
    pub name: &'a str,
    /// The flow file.
    pub file: &'a str,
    /// More `ivrc run` arguments.
    pub run_args: &'a [&'a str],
    /// The sipp scenario (tests/sip).
    pub scenario: &'a str,
    /// The flow called (request-URI user); the record looked up is this flow's.
    pub service: &'a str,
    /// More sipp arguments.
    pub sipp_args: &'a [&'a str],
    /// How long the RTP sink waits after the last packet.
    pub idle: Duration,
    /// The longest the RTP sink listens (short for calls that are never answered).
    pub limit: Duration,
}

/// What a placed call left behind.
pub struct Placed {
    /// The call's record.
    pub record: serde_json::Value,
    /// The RTP we sent.
    pub rtp: Received,
    /// The runtime's directory (store, traces).
    pub dir: PathBuf,
}

impl Default for CallSpec<'_> {
    fn default() -> Self {
        CallSpec {
            name: "call",
            file: "tests/fixtures/runtime/flows.ivr",
            run_args: &[],
            scenario: "uac_wait.xml",
            service: "",
            sipp_args: &[],
            idle: Duration::from_secs(2),
            limit: Duration::from_secs(40),
        }
    }
}

impl CallSpec<'_> {
    /// Starts the runtime, lets `prepare` put files in its directory (sipp runs there), places
    /// the call, stops the runtime and reads the record back.
    pub fn place(&self, prepare: impl FnOnce(&std::path::Path)) -> Placed {
        let rt = Runtime::start(self.name, &[self.file], self.run_args);
        prepare(&rt.dir);
        let (sink, received) = rtp_sink(self.idle, self.limit);
        let out = sipp_with(
            &rt.dir,
            rt.port,
            self.scenario,
            self.service,
            sink,
            self.sipp_args,
        );
        assert!(
            out.status.success(),
            "sipp failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let rtp = received.join().expect("sink");
        let dir = rt.dir.clone();
        let (code, stderr) = rt.stop();
        assert_eq!(code, 0, "{stderr}");
        let records = Runtime::calls(&dir);
        let record = records
            .iter()
            .find(|r| r["flow"] == self.service)
            .unwrap_or_else(|| panic!("no record of `{}` in {records:#?}", self.service))
            .clone();
        Placed { record, rtp, dir }
    }
}

//! `ivrc run --register` against sipp as a provider's registrar (tests/sip/uas_registrar.xml):
//! every REGISTER challenged and the answer checked by sipp's own digest code, a 3-second
//! expiry that the runtime must refresh, the unregistration at shutdown; and a wrong
//! password refused once, not retried. (Kamailio as the registrar is issue 21's next test.)

use super::harness::{free_port, sipp_uas, Runtime};
use std::time::Duration;

/// `ivrc run` registering `password` at a sipp registrar; sipp's output and ivrc's stderr.
/// The arguments that register the runtime at `trunk` as `ivrc` with the password `secret`.
pub fn registering_at(trunk: &str) -> Vec<&str> {
    vec![
        "--trunk",
        trunk,
        "--trunk-user",
        "ivrc",
        "--trunk-password",
        "secret",
        "--register",
    ]
}

fn register_with(name: &str, password: &str, wait: Duration) -> (std::process::Output, String) {
    let (out, stderr, _) = register_at(name, password, wait, false);
    (out, stderr)
}

/// `ivrc run` registering `password` for `wait` at a sipp registrar reached over TCP
/// (`;transport=tcp`, sipp on one TCP socket, its messages logged) or UDP; sipp's output, ivrc's
/// stderr and the directory both ran in.
pub(super) fn register_at(
    name: &str,
    password: &str,
    wait: Duration,
    tcp: bool,
) -> (std::process::Output, String, std::path::PathBuf) {
    let registrar = free_port();
    let rt_dir = super::harness::scratch(name);
    let sipp_args: &[&str] = if tcp {
        &["-t", "t1", "-trace_msg"]
    } else {
        &["-d", "200"]
    };
    let sipp = sipp_uas(
        &rt_dir,
        registrar,
        "uas_registrar.xml",
        free_port(),
        sipp_args,
    );
    // sipp binds before it reads the scenario; give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    let transport = if tcp { ";transport=tcp" } else { "" };
    let trunk = format!("sip:127.0.0.1:{registrar}{transport}");
    let rt = Runtime::start_in(
        rt_dir.clone(),
        &["examples/sum.ivr"],
        &[
            "--trunk",
            &trunk,
            "--trunk-user",
            "ivrc",
            "--trunk-password",
            password,
            "--register",
            "--register-expires",
            "3",
        ],
    );
    std::thread::sleep(wait);
    let (_, stderr) = rt.stop();
    let out = sipp.wait_with_output().expect("sipp ends");
    (out, stderr, rt_dir)
}

#[test]
fn the_runtime_registers_refreshes_and_unregisters() {
    // Registered at 0 s, refreshed at about 2 s and 4 s (three quarters of 3 s), stopped at
    // 5 s, a second before the next refresh.
    let (sipp, stderr) = register_with("register_ok", "secret", Duration::from_millis(5000));
    assert!(
        sipp.status.success(),
        "sipp: {}\n{}\nivrc: {stderr}",
        String::from_utf8_lossy(&sipp.stdout),
        String::from_utf8_lossy(&sipp.stderr)
    );
    let registered = stderr
        .matches("ivrc: registered at the provider for 3 s")
        .count();
    assert!(registered >= 3, "{registered} registrations: {stderr}");
    assert!(
        stderr.contains("ivrc: unregistered at the provider"),
        "{stderr}"
    );
    assert!(!stderr.contains("registration failed"), "{stderr}");
}

#[test]
fn a_wrong_password_is_a_clear_error_not_a_loop() {
    let (sipp, stderr) = register_with("register_bad", "wrong", Duration::from_millis(3500));
    assert!(
        sipp.status.success(),
        "sipp saw a REGISTER after its 403: {}\nivrc: {stderr}",
        String::from_utf8_lossy(&sipp.stderr)
    );
    assert_eq!(
        stderr
            .matches("ivrc: registration refused: 403 Forbidden")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("not trying again"), "{stderr}");
    assert!(!stderr.contains("registered at the provider"), "{stderr}");
}

/// An INVITE to `user@` the runtime (the request-URI) whose To names `dialed`, as a provider
/// sends a call for one of its numbers (a DID) to the Contact we registered.
fn invite_for(client: &super::harness::Client, call_id: &str, user: &str, dialed: &str) -> String {
    let request = client.request(
        "INVITE",
        user,
        call_id,
        &format!("z9hG4bK{call_id}"),
        1,
        None,
        &super::harness::offer(free_port()),
    );
    request.replace(
        &format!("To: <sip:{user}@127.0.0.1>"),
        &format!("To: <sip:{dialed}@provider.test>"),
    )
}

#[test]
fn calls_are_routed_by_the_number_dialled_and_unrouted_ones_refused_with_a_record() {
    let rt = Runtime::start(
        "route",
        &["examples/sum.ivr", "examples/courier.ivr"],
        &[
            "--route",
            "+7 (495) 000-00-01=sum",
            "--route",
            "74950000002=courier",
        ],
    );
    let client = super::harness::Client::new(&rt);
    // The request-URI names our account, the To the DID: the route picks the flow.
    client.send(invite_for(&client, "routed1", "ivrc", "+74950000001").as_bytes());
    client.expect(200, Duration::from_secs(10));
    client.send(invite_for(&client, "routed2", "ivrc", "84950000003").as_bytes());
    let refused = client.expect(404, Duration::from_secs(5));
    assert!(refused.contains("Call-ID: routed2"), "{refused}");
    let dir = rt.dir.clone();
    let (_, stderr) = rt.stop();
    let records = Runtime::calls(&dir);
    let by_id = |id: &str| records.iter().find(|r| r["call_id"] == id).cloned();
    let routed = by_id("routed1").unwrap_or_else(|| panic!("{records:?}\n{stderr}"));
    assert_eq!(routed["flow"], "sum");
    assert_eq!(routed["called"], "ivrc");
    let unrouted = by_id("routed2").unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(unrouted["ended_by"], "refused");
    assert_eq!(unrouted["called"], "84950000003");
    assert!(unrouted["errors"][0]
        .as_str()
        .is_some_and(|e| e.starts_with("404 Not Found")));
}

#[test]
fn registered_only_the_providers_address_starts_calls() {
    // The registrar on 127.0.0.2 (loopback, another address than the caller's 127.0.0.1).
    let registrar = free_port();
    let dir = super::harness::scratch("trusted");
    let sipp = std::process::Command::new("sipp")
        .current_dir(&dir)
        .args([
            "-sf",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sip/uas_registrar.xml"),
        ])
        .args([
            "-i",
            "127.0.0.2",
            "-p",
            &registrar.to_string(),
            "-m",
            "1",
            "-d",
            "200",
            "-nostdin",
        ])
        .args(["-timeout", "40s", "-timeout_error", "-trace_err"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sipp runs");
    std::thread::sleep(Duration::from_millis(300));
    let trunk = format!("sip:127.0.0.2:{registrar}");
    let rt = Runtime::start_in(dir, &["examples/sum.ivr"], &registering_at(&trunk));
    let client = super::harness::Client::new(&rt);
    client.send(invite_for(&client, "scanner1", "sum", "sum").as_bytes());
    client.expect(403, Duration::from_secs(5));
    let dir = rt.dir.clone();
    let (_, stderr) = rt.stop();
    let _ = sipp.wait_with_output();
    let records = Runtime::calls(&dir);
    let scanner = records
        .iter()
        .find(|r| r["call_id"] == "scanner1")
        .unwrap_or_else(|| panic!("{records:?}\n{stderr}"));
    assert_eq!(scanner["ended_by"], "refused");
    assert!(scanner["errors"][0]
        .as_str()
        .is_some_and(|e| e.contains("127.0.0.1 is not the provider's address")));
}

#[test]
fn behind_nat_the_public_address_is_what_we_advertise() {
    let rt = Runtime::start(
        "public",
        &["examples/sum.ivr"],
        &["--public-address", "198.18.0.7"],
    );
    let client = super::harness::Client::new(&rt);
    client.send(invite_for(&client, "nat1", "sum", "sum").as_bytes());
    let ok = client.expect(200, Duration::from_secs(10));
    let contact = ok
        .lines()
        .find(|l| l.starts_with("Contact:"))
        .unwrap_or_default();
    assert_eq!(
        contact,
        format!("Contact: <sip:ivrc@198.18.0.7:{}>", rt.port),
        "{ok}"
    );
    assert!(ok.contains("c=IN IP4 198.18.0.7\r\n"), "{ok}");
    assert!(
        !ok.contains("127.0.0.1\r\n"),
        "no private address in the SDP: {ok}"
    );
}

/// The `m=audio` port of an SDP inside a SIP message.
fn media_port(message: &str) -> u16 {
    message
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no m=audio in {message}"))
}

#[test]
fn rtp_goes_where_the_partys_rtp_comes_from() {
    let rt = Runtime::start("symmetric", &["examples/sum.ivr"], &["--symmetric-rtp"]);
    let client = super::harness::Client::new(&rt);
    // The SDP names a port nobody reads (a private address behind NAT, in effect); the party's
    // packets come from another socket, as through a NAT's mapping.
    let named = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let mapped = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    mapped
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let named_port = named.local_addr().expect("addr").port();
    let invite = client.request(
        "INVITE",
        "sum",
        "sym1",
        "z9hG4bKsym1",
        1,
        None,
        &super::harness::offer(named_port),
    );
    client.send(invite.as_bytes());
    let ok = client.expect(200, Duration::from_secs(10));
    let ours = media_port(&ok);
    // One μ-law packet of silence from the mapped socket.
    let mut packet = vec![0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78];
    packet.extend(std::iter::repeat_n(0xff, 160));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut got = None;
    let mut buf = [0u8; 2048];
    while got.is_none() && std::time::Instant::now() < deadline {
        mapped.send_to(&packet, ("127.0.0.1", ours)).expect("sent");
        if let Ok((n, from)) = mapped.recv_from(&mut buf) {
            got = Some((n, from));
        }
    }
    let (n, from) = got.expect("our RTP reaches the address the party's RTP came from");
    assert_eq!(from.port(), ours, "from our media port");
    assert!(n >= 12 && buf[0] >> 6 == 2, "an RTP packet");
}

/// A 200 OK to a REGISTER (its dialog headers copied) keeping its Contact for `expires`.
fn registered_ok(register: &str, expires: u32) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for line in register.lines() {
        if ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|h| line.starts_with(h))
        {
            out.push_str(line);
            out.push_str("\r\n");
        }
        if line.starts_with("Contact:") {
            out.push_str(&format!("{line};expires={expires}\r\n"));
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// A registrar that is only a UDP socket the test reads and answers by hand: for what a real
/// registrar never sends (odd answers) or never shows (keep-alives it ignores).
struct PlainRegistrar {
    socket: std::net::UdpSocket,
}

impl PlainRegistrar {
    /// The socket, and `ivrc run examples/sum.ivr` registering there with `extra` arguments.
    fn start(name: &str, extra: &[&str]) -> (PlainRegistrar, Runtime) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let trunk = format!("sip:{}", socket.local_addr().expect("addr"));
        let mut args = registering_at(&trunk);
        args.extend(extra);
        let rt = Runtime::start(name, &["examples/sum.ivr"], &args);
        (PlainRegistrar { socket }, rt)
    }

    /// The next datagram within `limit`, as text, and where it came from.
    fn recv(&self, limit: Duration) -> (String, std::net::SocketAddr) {
        let mut buf = [0u8; 4096];
        let deadline = std::time::Instant::now() + limit;
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing within {limit:?}"
            );
            if let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                return (String::from_utf8_lossy(&buf[..n]).into_owned(), from);
            }
        }
    }
}

#[test]
fn keep_alives_hold_the_nat_mapping_between_refreshes() {
    let (registrar, rt) = PlainRegistrar::start("keepalive", &["--keepalive", "1"]);
    let (register, from) = registrar.recv(Duration::from_secs(10));
    assert!(register.starts_with("REGISTER "), "{register}");
    let registrar = &registrar.socket;
    let mut buf = [0u8; 4096];
    registrar
        .send_to(registered_ok(&register, 60).as_bytes(), from)
        .expect("sent");
    // One keep-alive a second while registered (and no REGISTER: the refresh is at 45 s).
    let (mut pings, mut others) = (0, Vec::new());
    let until = std::time::Instant::now() + Duration::from_millis(3500);
    while std::time::Instant::now() < until {
        if let Ok((n, _)) = registrar.recv_from(&mut buf) {
            match &buf[..n] {
                b"\r\n\r\n" => pings += 1,
                other => others.push(String::from_utf8_lossy(other).into_owned()),
            }
        }
    }
    assert!(
        (2..=4).contains(&pings),
        "{pings} keep-alives in 3.5 s; also {others:?}"
    );
    assert!(others.is_empty(), "{others:?}");
    drop(rt);
}

#[test]
fn odd_registrar_answers_are_logged_and_retried_never_a_panic() {
    let (plain, rt) = PlainRegistrar::start("odd_registrar", &[]);
    let next_register = |limit: Duration| loop {
        let (text, from) = plain.recv(limit);
        if text.starts_with("REGISTER ") {
            return (text, from);
        }
    };
    let registrar = &plain.socket;
    let (first, from) = next_register(Duration::from_secs(10));
    // Noise first: bytes that are no SIP, and a 200 for a transaction that is not ours.
    registrar
        .send_to(b"\x00\xffgarbage\r\n\r\n", from)
        .expect("sent");
    let stray = registered_ok(&first, 60).replace("Call-ID: ", "Call-ID: not-ours-");
    registrar.send_to(stray.as_bytes(), from).expect("sent");
    // Then a 200 whose Contact line lost its colon: the parser refuses the whole response, but
    // its status and Call-ID still end the attempt with the reason logged, and a retry.
    let unreadable = with_contact(&registered_ok(&first, 60), "Contact <sip:ivrc@127.0.0.1>");
    registrar
        .send_to(unreadable.as_bytes(), from)
        .expect("sent");
    // The retry, 5 s later (a new CSeq; retransmissions of the first are skipped), gets a 200
    // that binds somebody else's Contact: no binding of ours, so a failure and a retry 10 s later.
    let cseq = |r: &str| {
        r.lines()
            .find(|l| l.starts_with("CSeq:"))
            .unwrap_or_default()
            .to_string()
    };
    let next_attempt = |before: &str, limit: Duration| loop {
        let (r, from) = next_register(limit);
        if cseq(&r) != cseq(before) {
            break (r, from);
        }
    };
    let (second, from) = next_attempt(&first, Duration::from_secs(10));
    let others = with_contact(
        &registered_ok(&second, 60),
        "Contact: <sip:someone@198.18.0.9:5060>;expires=60",
    );
    registrar.send_to(others.as_bytes(), from).expect("sent");
    // The third attempt: this time an expiry of 2^32 seconds.
    let (third, from) = next_attempt(&second, Duration::from_secs(15));
    let huge = registered_ok(&third, 60).replace(";expires=60", ";expires=4294967296");
    registrar.send_to(huge.as_bytes(), from).expect("sent");
    std::thread::sleep(Duration::from_millis(500));
    let (_, stderr) = rt.stop();
    assert!(
        stderr.contains(
            "ivrc: registration failed: the registrar's 200 answer is not readable SIP (failed to tokenize headers: Contact <sip:ivrc@127.0.0.1>); trying again in 5 s"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("ivrc: registration failed: the registrar's 200 OK kept no binding of our Contact; trying again in 10 s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ivrc: registered at the provider for 86400 s"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `response` with its Contact line replaced by `contact` (a whole header line).
fn with_contact(response: &str, contact: &str) -> String {
    response
        .lines()
        .map(|l| {
            if l.starts_with("Contact:") {
                contact
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n\r\n"
}

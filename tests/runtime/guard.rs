//! The defences at the intake, end to end: a bounded OPTIONS flood from sipp on 127.0.0.2
//! while a caller on 127.0.0.1 completes the sum flow; `--allow`, `--drop-scanners`, an
//! unroutable INVITE, and digest authentication of callers (`--inbound-user`) with sipp's
//! `[authentication]`. Every figure is checked in the shutdown summary's `defences:` line.

use super::harness::{
    free_port, offer, require, rtp_sink, sipp, sipp_on, to_tag, value, Client, Host, Runtime,
};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

/// The numbers of the `defences:` line of a shutdown summary, by their words.
fn defences(lines: &[String]) -> Vec<(String, u64)> {
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix("defences: "))
        .unwrap_or_else(|| panic!("no defences line in {lines:?}"));
    line.split(", ")
        .map(|part| {
            let (n, what) = part.split_once(' ').expect("N what");
            (what.to_string(), n.parse().expect("a count"))
        })
        .collect()
}

/// The count of `what` (the start of its words) in a `defences:` line.
fn count(lines: &[String], what: &str) -> u64 {
    defences(lines)
        .into_iter()
        .find(|(w, _)| w.starts_with(what))
        .unwrap_or_else(|| panic!("no `{what}` in {lines:?}"))
        .1
}

/// An OPTIONS from `from` (an address of 127.0.0.0/8) with `user_agent`; the first line of
/// the answer within a second, if any.
fn options_from(from: Ipv4Addr, port: u16, user_agent: &str) -> Option<String> {
    let socket = UdpSocket::bind((from, 0)).expect("a client socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let me = socket.local_addr().expect("addr");
    let request = format!("OPTIONS sip:sum@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{}\r\nFrom: <sip:probe@{from}>;tag=p1\r\nTo: <sip:sum@127.0.0.1>\r\nCall-ID: probe-{}@{from}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: {user_agent}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", me.port(), me.port());
    socket
        .send_to(request.as_bytes(), ("127.0.0.1", port))
        .expect("send");
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Some(
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn a_flood_from_one_address_gets_503s_then_silence_while_a_caller_completes_the_sum() {
    require("espeak-ng", "--version");
    let files = ["tests/fixtures/runtime/flows.ivr", "examples/sum.ivr"];
    let rt = Runtime::start("guard-flood", &files, &["--rate-limit", "100/s"]);
    // The flood: 9,000 OPTIONS at 3,000 a second from 127.0.0.2, bounded in count and time.
    let flood = {
        let (dir, port) = (rt.dir.clone(), rt.port);
        std::thread::spawn(move || {
            let host = Host {
                netns: None,
                ip: Ipv4Addr::new(127, 0, 0, 2),
            };
            let remote = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let args = ["-r", "3000", "-m", "9000", "-l", "9000", "-timeout", "30s"];
            sipp_on(
                &host,
                &dir,
                remote,
                "flood_options.xml",
                "sum",
                free_port(),
                &args,
            )
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // Meanwhile a caller from 127.0.0.1 keys 12# and 30# and hears the sum.
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let call = sipp(&rt.dir, rt.port, "uac_sum.xml", "sum", sink);
    assert!(
        call.status.success(),
        "the caller failed during the flood:\n{}\n{}",
        String::from_utf8_lossy(&call.stdout),
        String::from_utf8_lossy(&call.stderr)
    );
    assert!(received.join().expect("sink").audible > 50);
    let flooded = flood.join().expect("flood thread");
    assert!(
        flooded.status.success(),
        "sipp's flood did not run:\n{}\n{}",
        String::from_utf8_lossy(&flooded.stdout),
        String::from_utf8_lossy(&flooded.stderr)
    );
    // A request of the flooded address after the flood is served again.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        options_from(Ipv4Addr::new(127, 0, 0, 2), rt.port, "sipp").as_deref(),
        Some("SIP/2.0 200 OK")
    );
    let dir = rt.dir.clone();
    let (code, lines, stderr) = rt.stop_with_output();
    assert_eq!(code, 0, "{stderr}");
    let record = Runtime::record_of(&dir, "sum");
    assert_eq!(value(&record, "sum"), Some("42"), "{record:#}");
    // Of 9,000: the burst (100) and 100/s pass; 503s at a tenth of that; the rest dropped.
    let (limited, dropped) = (count(&lines, "rate-limited"), count(&lines, "dropped over"));
    assert!((10..=300).contains(&limited), "{lines:?}");
    assert!(dropped >= 7000, "{lines:?}");
    assert!(limited + dropped <= 9000 - 100, "{lines:?}");
    assert_eq!(count(&lines, "not allowed"), 0, "{lines:?}");
}

#[test]
fn allow_drops_other_sources_and_drop_scanners_drops_scanners() {
    let rt = Runtime::start(
        "guard-allow",
        &["examples/sum.ivr"],
        &[
            "--allow",
            "127.0.0.2/32",
            "--allow",
            "::1",
            "--drop-scanners",
        ],
    );
    let allowed = Ipv4Addr::new(127, 0, 0, 2);
    assert_eq!(
        options_from(allowed, rt.port, "baresip 3.10").as_deref(),
        Some("SIP/2.0 200 OK")
    );
    assert_eq!(
        options_from(Ipv4Addr::LOCALHOST, rt.port, "baresip 3.10"),
        None
    );
    assert_eq!(options_from(allowed, rt.port, "friendly-scanner"), None);
    assert_eq!(options_from(allowed, rt.port, "sipvicious svmap"), None);
    let (code, lines, stderr) = rt.stop_with_output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(&lines, "not allowed"), 1, "{lines:?}");
    assert_eq!(count(&lines, "scanners"), 2, "{lines:?}");
}

#[test]
fn scanners_pass_unless_dropping_them_is_asked_for() {
    let rt = Runtime::start("guard-scanners-off", &["examples/sum.ivr"], &[]);
    assert_eq!(
        options_from(Ipv4Addr::LOCALHOST, rt.port, "friendly-scanner").as_deref(),
        Some("SIP/2.0 200 OK")
    );
    let (code, lines, stderr) = rt.stop_with_output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(&lines, "scanners"), 0, "{lines:?}");
}

#[test]
fn an_unroutable_invite_gets_404_and_no_flow_runs() {
    // Two flows, no route and no default flow: `nosuch` names none of them.
    let files = ["tests/fixtures/runtime/flows.ivr", "examples/sum.ivr"];
    let rt = Runtime::start("guard-unroutable", &files, &[]);
    let client = Client::new(&rt);
    let invite = client.request(
        "INVITE",
        "nosuch",
        "unroutable-1",
        "z9hG4bKu1",
        1,
        None,
        &offer(free_port()),
    );
    client.send(invite.as_bytes());
    let refused = client.expect(404, Duration::from_secs(5));
    let ack = client.request(
        "ACK",
        "nosuch",
        "unroutable-1",
        "z9hG4bKu1",
        1,
        to_tag(&refused).as_deref(),
        "",
    );
    client.send(ack.as_bytes());
    let dir = rt.dir.clone();
    let (code, lines, stderr) = rt.stop_with_output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(&lines, "unroutable"), 1, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("stopped: 0 calls, 1 refused")),
        "{lines:?}"
    );
    let records = Runtime::calls(&dir);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["ended_by"], "refused");
    assert_eq!(records[0]["flow"], "", "no flow ran: {records:#?}");
}

#[test]
fn inbound_digest_authentication_challenges_with_sha_256_first_and_a_right_answer_is_served() {
    let rt = Runtime::start(
        "guard-auth-sha256",
        &["examples/sum.ivr"],
        &["--inbound-user", "pbx:s3cret"],
    );
    // No credentials: 401 with a SHA-256 and an MD5 challenge, SHA-256 first.
    let client = Client::new(&rt);
    let sdp = offer(free_port());
    let invite = client.request("INVITE", "sum", "auth-sha", "z9hG4bKa1", 1, None, &sdp);
    client.send(invite.as_bytes());
    let challenge = client.expect(401, Duration::from_secs(5));
    let offered: Vec<&str> = challenge
        .lines()
        .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .collect();
    assert_eq!(offered.len(), 2, "{challenge}");
    assert!(offered[0].contains("algorithm=SHA-256") && offered[1].contains("algorithm=MD5"));
    assert!(offered
        .iter()
        .all(|c| c.contains("realm=\"ivrc\"") && c.contains("qop=\"auth\"")));
    // Answered with SHA-256 (by the runtime's own client-side digest code): the call is taken.
    let uri = format!("sip:sum@127.0.0.1:{}", rt.port);
    let answer = ivrc::runtime::sip::digest::Challenge::parse(offered[0])
        .expect("a challenge")
        .answer("pbx", "s3cret", "INVITE", &uri, "c0ffee");
    let again = client
        .request("INVITE", "sum", "auth-sha", "z9hG4bKa2", 2, None, &sdp)
        .replace(
            "Max-Forwards: 70\r\n",
            &format!("Max-Forwards: 70\r\nAuthorization: {answer}\r\n"),
        );
    client.send(again.as_bytes());
    let ok = client.expect(200, Duration::from_secs(10));
    let tag = to_tag(&ok);
    client.send(
        client
            .request("ACK", "sum", "auth-sha", "z9hG4bKa3", 2, tag.as_deref(), "")
            .as_bytes(),
    );
    client.send(
        client
            .request("BYE", "sum", "auth-sha", "z9hG4bKa4", 3, tag.as_deref(), "")
            .as_bytes(),
    );
    client.expect(200, Duration::from_secs(5));
    let (code, lines, stderr) = rt.stop_with_output();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(&lines, "challenged"), 1, "{lines:?}");
    assert_eq!(count(&lines, "failed authentication"), 0, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("stopped: 1 calls")),
        "{lines:?}"
    );
}

#[test]
fn inbound_digest_authentication_with_sipp_right_password_calls_wrong_gets_403() {
    require("espeak-ng", "--version");
    // sipp computes MD5 alone, from the first challenge it reads: offer MD5 only.
    let rt = Runtime::start(
        "guard-auth-sipp",
        &["examples/sum.ivr"],
        &["--inbound-user", "pbx:s3cret", "--inbound-digest", "MD5"],
    );
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let right = sipp_with_account(&rt, "uac_sum_auth.xml", sink, "s3cret");
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stdout)
    );
    assert!(received.join().expect("sink").audible > 50);
    // A wrong password gets 403 after the challenge.
    let wrong = sipp_with_account(&rt, "uac_auth_refused.xml", free_port(), "guess");
    assert!(
        wrong.status.success(),
        "{}",
        String::from_utf8_lossy(&wrong.stdout)
    );
    let dir = rt.dir.clone();
    let (code, lines, stderr) = rt.stop_with_output();
    assert_eq!(code, 0, "{stderr}");
    let record = Runtime::record_of(&dir, "sum");
    assert_eq!(value(&record, "sum"), Some("42"), "{record:#}");
    // Each sipp caller's first INVITE was challenged; one answer was wrong.
    assert_eq!(count(&lines, "challenged"), 2, "{lines:?}");
    assert_eq!(count(&lines, "failed authentication"), 1, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("stopped: 1 calls")),
        "{lines:?}"
    );
}

/// One sipp call of `scenario` to `sum` with the account `pbx` and `password`.
fn sipp_with_account(
    rt: &Runtime,
    scenario: &str,
    sink: u16,
    password: &str,
) -> std::process::Output {
    super::harness::sipp_with(
        &rt.dir,
        rt.port,
        scenario,
        "sum",
        sink,
        &["-au", "pbx", "-ap", password],
    )
}

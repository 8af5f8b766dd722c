//! The protocol's edges with a bare SIP client: the malformed-message corpus (tests/sip/
//! malformed, plus generated mutations) while a sipp call goes on unaffected, OPTIONS,
//! retransmissions, SIP INFO keys, capacity, and a graceful shutdown.

use super::harness::{free_port, offer, rtp_sink, sipp, to_tag, Client, Runtime};
use std::time::Duration;

/// What each corpus message gets: the first response other than 100 Trying, or none when no
/// response is possible (no Via, not SIP, a response, an ACK). Reviewed by hand.
const CORPUS: &[(&str, Option<u16>)] = &[
    ("ack_unknown", None),
    ("binary_garbage", None),
    ("bye_unknown_dialog", Some(481)),
    ("cancel_unknown_transaction", Some(481)),
    ("compact_headers_options", Some(200)),
    ("content_length_negative", Some(400)),
    ("content_length_not_a_number", Some(400)),
    ("content_length_too_big", Some(400)),
    ("crlf_keepalive", None),
    ("cseq_method_mismatch", Some(400)),
    ("cseq_not_a_number", Some(400)),
    ("cseq_overflow", Some(400)),
    ("empty", None),
    ("escaped_user_in_uri", Some(200)),
    ("folded_header_line", Some(488)),
    ("header_without_colon", Some(400)),
    ("http_request", None),
    ("huge_header_value", Some(488)),
    ("info_unknown_dialog", Some(481)),
    ("invalid_utf8_in_header", Some(400)),
    ("invite_g729_only", Some(488)),
    ("invite_sdp_garbage", Some(488)),
    ("invite_unknown_flow", Some(404)),
    ("invite_without_sdp", Some(488)),
    ("lf_only_line_ends", None),
    ("many_via_lines", Some(488)),
    ("message_html_body", Some(415)),
    ("message_no_sms_flow", Some(404)),
    ("no_call_id", Some(400)),
    ("no_cseq", Some(400)),
    ("no_from", Some(400)),
    ("no_to", Some(400)),
    ("no_version", None),
    ("no_via", None),
    ("nul_in_header", Some(488)),
    ("register_not_allowed", Some(405)),
    ("reinvite_unknown_dialog", Some(481)),
    ("request_line_only", None),
    ("response_huge_status", None),
    ("response_no_reason", None),
    ("stray_response", None),
    ("subscribe_not_allowed", Some(405)),
    ("two_content_lengths", Some(400)),
    ("two_requests_in_one_datagram", Some(200)),
    ("unknown_method", Some(501)),
    ("unknown_method_odd_token", Some(501)),
    ("uri_scheme_http", Some(416)),
    ("uri_scheme_mailto", Some(416)),
    ("version_7", Some(505)),
    ("via_without_branch", Some(488)),
];

/// The status of a response's first line.
fn status(response: &str) -> Option<u16> {
    response.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Mutations of a valid request: bytes flipped, cut, repeated or dropped (a fixed xorshift
/// sequence, so every run sends the same messages).
fn mutations(valid: &str, count: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let mut m = valid.as_bytes().to_vec();
            for _ in 0..(1 + next() % 4) {
                if m.is_empty() {
                    break;
                }
                let at = (next() as usize) % m.len();
                match next() % 5 {
                    0 => m[at] ^= 1 << (next() % 8),
                    1 => m.truncate(at),
                    2 => {
                        let piece: Vec<u8> = m[at..m.len().min(at + 40)].to_vec();
                        m.splice(at..at, piece);
                    }
                    3 => {
                        m.remove(at);
                    }
                    _ => m[at] = [b'\r', b'\n', b':', b';', b' ', 0, 0xff][(next() % 7) as usize],
                }
            }
            m
        })
        .collect()
}

#[test]
fn the_malformed_corpus_gets_the_right_answers_and_a_call_goes_on_unaffected() {
    let files = ["tests/fixtures/runtime/flows.ivr", "examples/sum.ivr"];
    let mut rt = Runtime::start("corpus", &files, &[]);
    // A real call in parallel with the corpus.
    let (sink, received) = rtp_sink(Duration::from_secs(2), Duration::from_secs(40));
    let caller = {
        let (dir, port) = (rt.dir.clone(), rt.port);
        std::thread::spawn(move || sipp(&dir, port, "uac_sum.xml", "sum", sink))
    };
    let corpus_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sip/malformed");
    let mut count = 0;
    for entry in std::fs::read_dir(&corpus_dir).expect("corpus") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let expected = CORPUS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name}.sip has no expectation in CORPUS"))
            .1;
        let client = Client::new(&rt);
        client.send(&std::fs::read(&path).expect("message"));
        let mut got = None;
        while let Some(m) = client.recv(Duration::from_millis(400)) {
            match status(&m) {
                Some(100) => continue,
                s => {
                    got = s;
                    break;
                }
            }
        }
        assert_eq!(got, expected, "{name}");
        count += 1;
    }
    assert!(count >= 40, "only {count} corpus messages");
    // Generated ones: whatever comes back is a well-formed status line.
    let client = Client::new(&rt);
    let valid = [
        client.request(
            "OPTIONS",
            "sum",
            "fuzz-options",
            "z9hG4bK-fuzz-o",
            1,
            None,
            "",
        ),
        client.request(
            "INVITE",
            "long_prompt",
            "fuzz-invite",
            "z9hG4bK-fuzz-i",
            1,
            None,
            &offer(9),
        ),
    ];
    for (i, m) in valid.iter().flat_map(|v| mutations(v, 300)).enumerate() {
        let fuzz = Client::new(&rt);
        fuzz.send(&m);
        if i % 50 == 0 {
            if let Some(r) = fuzz.recv(Duration::from_millis(50)) {
                assert!(status(&r).is_some(), "not a status line: {r:?}");
            }
        }
    }
    assert!(rt.alive(), "ivrc survived the corpus");
    let client = Client::new(&rt);
    client.send(
        client
            .request(
                "OPTIONS",
                "sum",
                "after-corpus",
                "z9hG4bK-after",
                1,
                None,
                "",
            )
            .as_bytes(),
    );
    let ok = client.expect(200, Duration::from_secs(2));
    assert!(
        ok.contains("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE")
            && ok.contains("X-Ivrc-Status: open"),
        "{ok}"
    );
    let out = caller.join().expect("sipp thread");
    assert!(
        out.status.success(),
        "the parallel call failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(received.join().expect("sink").packets > 100);
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let records = Runtime::calls(&dir);
    let sum = records
        .iter()
        .find(|r| r["flow"] == "sum")
        .expect("the sum call's record");
    assert_eq!(sum["keys"], "12#30#");
}

/// Places a call with the bare client: INVITE, the 200's To tag; ACKs it when `ack`.
fn call(client: &Client, flow: &str, call_id: &str, media: u16, ack: bool) -> (String, String) {
    let invite = client.request(
        "INVITE",
        flow,
        call_id,
        &format!("z9hG4bK-{call_id}"),
        1,
        None,
        &offer(media),
    );
    client.send(invite.as_bytes());
    let ok = client.expect(200, Duration::from_secs(5));
    let tag = to_tag(&ok).expect("a To tag");
    if ack {
        client.send(
            client
                .request(
                    "ACK",
                    flow,
                    call_id,
                    &format!("z9hG4bK-{call_id}-ack"),
                    1,
                    Some(&tag),
                    "",
                )
                .as_bytes(),
        );
    }
    (ok, tag)
}

#[test]
fn the_answer_is_retransmitted_until_ack_and_info_keys_reach_the_flow() {
    let rt = Runtime::start("retransmit", &["tests/fixtures/runtime/flows.ivr"], &[]);
    let client = Client::new(&rt);
    let (ok, tag) = call(&client, "quick_timeout", "rtx-1", free_port(), false);
    assert!(
        ok.contains("Content-Type: application/sdp") && ok.contains("m=audio "),
        "{ok}"
    );
    // Timer G: the 200 again after 0.5 s and 1 s more.
    let again = client.expect(200, Duration::from_secs(2));
    assert_eq!(again, ok, "the same response is retransmitted");
    client.send(
        client
            .request(
                "ACK",
                "quick_timeout",
                "rtx-1",
                "z9hG4bK-rtx-ack",
                1,
                Some(&tag),
                "",
            )
            .as_bytes(),
    );
    // The INVITE retransmitted after the answer gets the 200 again, not a new call.
    let invite = client.request(
        "INVITE",
        "quick_timeout",
        "rtx-1",
        "z9hG4bK-rtx-1",
        1,
        None,
        &offer(9),
    );
    client.send(invite.as_bytes());
    assert_eq!(client.expect(200, Duration::from_secs(2)), ok);
    for (i, key) in ["1", "2", "3", "4"].iter().enumerate() {
        let mut info = client.request(
            "INFO",
            "quick_timeout",
            "rtx-1",
            &format!("z9hG4bK-info-{i}"),
            2 + i as u32,
            Some(&tag),
            "",
        );
        let body = format!("Signal={key}\r\nDuration=160\r\n");
        info = info.replace(
            "Content-Length: 0\r\n\r\n",
            &format!(
                "Content-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        client.send(info.as_bytes());
        client.expect(200, Duration::from_secs(2));
    }
    // "Код 1234 принят." then BYE from ivrc.
    client.answer_bye(Duration::from_secs(20), "BYE from ivrc");
    let dir = rt.dir.clone();
    let (code, _) = rt.stop();
    assert_eq!(code, 0);
    let records = Runtime::calls(&dir);
    assert_eq!(records.len(), 1, "one call, not two: {records:#?}");
    assert_eq!(records[0]["keys"], "1234");
    assert!(
        records[0]["prompts"]
            .as_array()
            .is_some_and(|p| p.iter().any(|t| t == "Код 1234 принят.")),
        "{:#}",
        records[0]
    );
}

#[test]
fn calls_over_the_limit_get_503_and_a_shutdown_hangs_up_the_rest() {
    let rt = Runtime::start(
        "capacity",
        &["tests/fixtures/runtime/flows.ivr"],
        &["--max-calls", "1"],
    );
    let first = Client::new(&rt);
    let (_, _) = call(&first, "long_prompt", "cap-1", free_port(), true);
    let second = Client::new(&rt);
    let invite = second.request(
        "INVITE",
        "long_prompt",
        "cap-2",
        "z9hG4bK-cap-2",
        1,
        None,
        &offer(9),
    );
    second.send(invite.as_bytes());
    second.expect(503, Duration::from_secs(3));
    // A proxy's probe sees the instance full, then draining.
    let probe = |client: &Client, id: &str| {
        let options = client.request("OPTIONS", "ping", id, &format!("z9hG4bK-{id}"), 1, None, "");
        client.send(options.as_bytes());
        client.expect(503, Duration::from_secs(2))
    };
    let full = probe(&second, "probe-full");
    assert!(
        full.contains("X-Ivrc-Status: full")
            && full.contains("X-Ivrc-Calls: 1")
            && full.contains("X-Ivrc-Max-Calls: 1"),
        "{full}"
    );
    // SIGTERM: the call has the grace period (1 s), then gets BYE.
    let dir = rt.dir.clone();
    let stopper = std::thread::spawn(move || rt.stop());
    std::thread::sleep(Duration::from_millis(300));
    let third = Client::new_to(first.server_port());
    third.send(
        third
            .request(
                "INVITE",
                "long_prompt",
                "cap-3",
                "z9hG4bK-cap-3",
                1,
                None,
                &offer(9),
            )
            .as_bytes(),
    );
    third.expect(503, Duration::from_secs(2));
    let draining = probe(&third, "probe-draining");
    assert!(draining.contains("X-Ivrc-Status: draining"), "{draining}");
    first.answer_bye(Duration::from_secs(6), "BYE at the end of the grace period");
    let (code, stderr) = stopper.join().expect("stop");
    assert_eq!(code, 0, "{stderr}");
    let records = Runtime::calls(&dir);
    let cap1 = records
        .iter()
        .find(|r| r["call_id"] == "cap-1")
        .expect("cap-1 record");
    assert_eq!(cap1["ended_by"], "shutdown");
    assert!(
        records
            .iter()
            .all(|r| r["call_id"] != "cap-2" && r["call_id"] != "cap-3"),
        "{records:#?}"
    );
}

/// RTP packets arriving at `media` within `window`.
fn packets_within(media: &std::net::UdpSocket, window: Duration) -> usize {
    let deadline = std::time::Instant::now() + window;
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while std::time::Instant::now() < deadline {
        if media.recv(&mut buf).is_ok() {
            n += 1;
        }
    }
    n
}

#[test]
fn a_re_invite_putting_us_on_hold_stops_our_media_until_it_resumes() {
    let rt = Runtime::start("reinvite-hold", &["tests/fixtures/runtime/hold.ivr"], &[]);
    let client = Client::new(&rt);
    let media = std::net::UdpSocket::bind("127.0.0.1:0").expect("a media port");
    media
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("a timeout");
    let port = media.local_addr().expect("an address").port();
    let (_, tag) = call(&client, "hold", "hold-1", port, true);
    assert!(
        packets_within(&media, Duration::from_secs(1)) >= 40,
        "media flows"
    );
    let mut cseq = 1;
    let mut reoffer = |direction: &str| -> String {
        cseq += 1;
        let body = format!("{}{direction}\r\n", offer(port));
        let branch = format!("z9hG4bK-hold-{cseq}");
        let invite = client.request("INVITE", "hold", "hold-1", &branch, cseq, Some(&tag), &body);
        client.send(invite.as_bytes());
        let ok = client.expect(200, Duration::from_secs(5));
        let ack = client.request(
            "ACK",
            "hold",
            "hold-1",
            &format!("{branch}-ack"),
            cseq,
            Some(&tag),
            "",
        );
        client.send(ack.as_bytes());
        ok
    };
    // On hold (RFC 3264 §8.4): answered recvonly, and we send nothing.
    let held = reoffer("a=sendonly");
    assert!(held.contains("a=recvonly\r\n"), "{held}");
    let _ = packets_within(&media, Duration::from_millis(200));
    let during = packets_within(&media, Duration::from_secs(1));
    assert!(during <= 1, "{during} packets while on hold");
    // Resumed: sendrecv again, with a newer version, and the media flows.
    let resumed = reoffer("a=sendrecv");
    assert!(resumed.contains("a=sendrecv\r\n"), "{resumed}");
    let version = |sdp: &str| -> u64 {
        sdp.lines()
            .find_map(|l| l.strip_prefix("o="))
            .and_then(|o| o.split(' ').nth(2))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(version(&resumed), version(&held) + 1);
    assert!(
        packets_within(&media, Duration::from_secs(1)) >= 40,
        "media flows again"
    );
    // An offer without a codec of ours: 488, and the call goes on.
    cseq += 1;
    let g729 = offer(port)
        .replace("RTP/AVP 0 101", "RTP/AVP 18")
        .replace("a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:18 G729/8000\r\n");
    let invite = client.request(
        "INVITE",
        "hold",
        "hold-1",
        "z9hG4bK-hold-g729",
        cseq,
        Some(&tag),
        &g729,
    );
    client.send(invite.as_bytes());
    client.expect(488, Duration::from_secs(5));
    assert!(
        packets_within(&media, Duration::from_secs(1)) >= 40,
        "the call went on"
    );
    let _ = rt.stop();
}

#[test]
fn a_re_invite_with_a_new_address_moves_our_media_there() {
    let rt = Runtime::start("reinvite-move", &["tests/fixtures/runtime/hold.ivr"], &[]);
    let client = Client::new(&rt);
    let socket = |_| {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("a media port");
        s.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a timeout");
        s
    };
    let (first, second) = (socket(1), socket(2));
    let first_port = first.local_addr().expect("an address").port();
    let second_port = second.local_addr().expect("an address").port();
    let (_, tag) = call(&client, "hold", "move-1", first_port, true);
    assert!(
        packets_within(&first, Duration::from_secs(1)) >= 40,
        "media flows to the first address"
    );
    // A PBX moves the media (Asterisk's direct_media does so): the same session, a new port.
    let invite = client.request(
        "INVITE",
        "hold",
        "move-1",
        "z9hG4bK-move-2",
        2,
        Some(&tag),
        &offer(second_port),
    );
    client.send(invite.as_bytes());
    let ok = client.expect(200, Duration::from_secs(5));
    assert!(ok.contains("a=sendrecv\r\n"), "{ok}");
    let ack = client.request(
        "ACK",
        "hold",
        "move-1",
        "z9hG4bK-move-2-ack",
        2,
        Some(&tag),
        "",
    );
    client.send(ack.as_bytes());
    let _ = packets_within(&first, Duration::from_millis(200));
    let (at_first, at_second) = std::thread::scope(|s| {
        let a = s.spawn(|| packets_within(&first, Duration::from_secs(1)));
        let b = s.spawn(|| packets_within(&second, Duration::from_secs(1)));
        (a.join().expect("first"), b.join().expect("second"))
    });
    assert!(at_second >= 40, "{at_second} packets at the new address");
    assert_eq!(at_first, 0, "nothing more to the old address");
    // A switch to A-law alone would change the codec in use (μ-law): refused, media unmoved.
    let alaw = offer(first_port)
        .replace("RTP/AVP 0 101", "RTP/AVP 8 101")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000");
    let invite = client.request(
        "INVITE",
        "hold",
        "move-1",
        "z9hG4bK-move-3",
        3,
        Some(&tag),
        &alaw,
    );
    client.send(invite.as_bytes());
    client.expect(488, Duration::from_secs(5));
    assert!(
        packets_within(&second, Duration::from_secs(1)) >= 40,
        "the call went on"
    );
    let _ = rt.stop();
}

//! RTCP end to end (RFC 3550 §6): the test is the caller's phone — its own SIP client places
//! the call with an SDP naming the test's RTP socket, it sends RTP with known gaps across the
//! sequence wrap and a known jitter, reads the runtime's SRs on its RTCP port (the port after
//! its RTP port) and answers one with an RR; the call record must show the loss exactly, the
//! jitter within a bound computed from the test's own send times, and the RR it got.

use super::harness::{offer, port_pair, to_tag, Client, Runtime};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Packets the test sends (20 ms apart); every tenth is dropped.
const PACKETS: u16 = 251;
/// The first sequence number: the stream wraps after 36 packets.
const FIRST_SEQ: u16 = 65_500;
/// Odd packets go this much late: a transit swing of 80 timestamp units per packet.
const SWING: Duration = Duration::from_millis(10);

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// An SR as the test reads it, by hand from RFC 3550 §6.4.1.
#[derive(Debug, Clone, Copy)]
struct Sr {
    ssrc: u32,
    ntp: u64,
    packets: u32,
    octets: u32,
    /// When it arrived.
    at: Instant,
    /// The compound ended with a BYE of the same SSRC.
    bye: bool,
}

/// Reads a compound packet from the runtime: an SR first (we both send), an SDES with a
/// CNAME, maybe a BYE; fails the test on anything else.
fn read_sr(b: &[u8], at: Instant) -> Sr {
    assert!(b.len() >= 28 && b.len() % 4 == 0, "{b:?}");
    assert_eq!(b[0] >> 6, 2, "version 2: {b:?}");
    assert_eq!(b[1], 200, "an SR first (we send RTP): {b:?}");
    let sr = Sr {
        ssrc: word(b, 4),
        ntp: (u64::from(word(b, 8)) << 32) | u64::from(word(b, 12)),
        packets: word(b, 20),
        octets: word(b, 24),
        at,
        bye: false,
    };
    let (mut pos, mut types, mut bye) = (0, Vec::new(), false);
    while pos + 4 <= b.len() {
        assert_eq!(b[pos] >> 6, 2, "version 2 in every part: {b:?}");
        let len = 4 * (usize::from(u16::from_be_bytes([b[pos + 2], b[pos + 3]])) + 1);
        types.push(b[pos + 1]);
        if b[pos + 1] == 202 {
            assert_eq!(word(b, pos + 4), sr.ssrc, "the SDES is of the SR's SSRC");
            assert_eq!(b[pos + 8], 1, "a CNAME item");
        }
        if b[pos + 1] == 203 {
            assert_eq!(word(b, pos + 4), sr.ssrc, "the BYE is of the SR's SSRC");
            bye = true;
        }
        pos += len;
    }
    assert_eq!(pos, b.len(), "the lengths add up: {b:?}");
    assert_eq!(types[1], 202, "an SDES second: {types:?}");
    Sr { bye, ..sr }
}

/// The test's RR on `ssrc`: fraction 51/256, 7 lost, jitter 160 units (20 ms), and the SR's
/// time with `held` since it came; with an SDES CNAME.
fn rr(ours: u32, ssrc: u32, highest: u32, sr: &Sr, held: Duration) -> Vec<u8> {
    let mut b = vec![0x81, 201, 0, 7];
    b.extend_from_slice(&ours.to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(&((51u32 << 24) | 7).to_be_bytes());
    b.extend_from_slice(&highest.to_be_bytes());
    b.extend_from_slice(&160u32.to_be_bytes());
    b.extend_from_slice(&((sr.ntp >> 16) as u32).to_be_bytes());
    let dlsr = (held.as_micros() * 65_536 / 1_000_000) as u32;
    b.extend_from_slice(&dlsr.to_be_bytes());
    // SDES: CNAME "test@127.0.0.1" (14 bytes) + null, padded: 4 + 4 + 2 + 14 + 1 + 3 = 28.
    b.extend_from_slice(&[0x81, 202, 0, 6]);
    b.extend_from_slice(&ours.to_be_bytes());
    b.extend_from_slice(&[1, 14]);
    b.extend_from_slice(b"test@127.0.0.1");
    b.extend_from_slice(&[0, 0, 0, 0]);
    b
}

/// RFC 3550 A.8 over the packets as the test sent them: (send time, RTP timestamp).
fn jitter_ms(sent: &[(Instant, u32)]) -> f64 {
    let t0 = sent[0].0;
    let mut j = 0.0f64;
    let mut last: Option<f64> = None;
    for &(at, ts) in sent {
        let arrival = at.duration_since(t0).as_secs_f64() * 8000.0;
        let transit = arrival - f64::from(ts);
        if let Some(l) = last {
            j += ((transit - l).abs() - j) / 16.0;
        }
        last = Some(transit);
    }
    j / 8.0
}

#[test]
fn rtcp_reports_loss_and_jitter_both_ways_and_the_record_keeps_them() {
    let rt = Runtime::start("rtcp", &["tests/fixtures/runtime/hold.ivr"], &[]);
    let client = Client::new(&rt);
    let (media, reports) = port_pair();
    let port = media.local_addr().expect("addr").port();
    let invite = client.request(
        "INVITE",
        "hold",
        "rtcp-1",
        "z9hG4bK-rtcp-1",
        1,
        None,
        &offer(port),
    );
    client.send(invite.as_bytes());
    let ok = client.expect(200, Duration::from_secs(5));
    let tag = to_tag(&ok).expect("a To tag");
    let ack = client.request(
        "ACK",
        "hold",
        "rtcp-1",
        "z9hG4bK-rtcp-1a",
        1,
        Some(&tag),
        "",
    );
    client.send(ack.as_bytes());
    let their_rtp: u16 = ok
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the answer's RTP port");
    assert_eq!(their_rtp % 2, 0, "an even RTP port");
    let their_rtcp = ("127.0.0.1", their_rtp + 1);

    // The runtime's RTP: its SSRC, how many, the highest sequence number.
    let (rtp_tx, rtp_rx) = mpsc::channel::<(u32, u16)>();
    let reader = media.try_clone().expect("a clone");
    reader
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("a timeout");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(n) = reader.recv(&mut buf) {
                if n >= 12
                    && rtp_tx
                        .send((word(&buf, 8), u16::from_be_bytes([buf[2], buf[3]])))
                        .is_err()
                {
                    return;
                }
            }
        }
    });
    // Its RTCP.
    let (rtcp_tx, rtcp_rx) = mpsc::channel::<Sr>();
    reports
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("a timeout");
    let report_socket = reports.try_clone().expect("a clone");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(n) = report_socket.recv(&mut buf) {
                if rtcp_tx.send(read_sr(&buf[..n], Instant::now())).is_err() {
                    return;
                }
            }
        }
    });

    // Our RTP: 251 packets from 65500 (wrapping), every tenth dropped, odd ones 10 ms late.
    let our_ssrc = 0x7e57_0001u32;
    let start = Instant::now();
    let mut sent = Vec::new();
    let mut dropped = 0;
    let mut srs: Vec<Sr> = Vec::new();
    let mut rtp_seen: Vec<(u32, u16)> = Vec::new();
    let mut rr_sent = false;
    for i in 0..PACKETS {
        let due = start + Duration::from_millis(20 * u64::from(i)) + SWING * u32::from(i % 2);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        srs.extend(rtcp_rx.try_iter());
        rtp_seen.extend(rtp_rx.try_iter());
        // Once an SR came, the RR on the runtime's stream answers it.
        if let (false, Some(sr), Some(&(ssrc, highest))) = (rr_sent, srs.first(), rtp_seen.last()) {
            let held = sr.at.elapsed();
            let packet = rr(our_ssrc, ssrc, u32::from(highest), sr, held);
            reports.send_to(&packet, their_rtcp).expect("our RR");
            rr_sent = true;
        }
        if i % 10 == 9 {
            dropped += 1;
            continue;
        }
        let seq = FIRST_SEQ.wrapping_add(i);
        let ts = 160 * u32::from(i);
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&our_ssrc.to_be_bytes());
        p.extend_from_slice(&[0xff; 160]);
        media
            .send_to(&p, ("127.0.0.1", their_rtp))
            .expect("our RTP");
        sent.push((Instant::now(), ts));
    }
    assert!(rr_sent, "an SR came within the call's 5 s: {srs:?}");
    let expected_jitter = jitter_ms(&sent);
    // Hang up; the runtime's last compound says BYE.
    let bye = client.request(
        "BYE",
        "hold",
        "rtcp-1",
        "z9hG4bK-rtcp-1b",
        2,
        Some(&tag),
        "",
    );
    client.send(bye.as_bytes());
    client.expect(200, Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !srs.last().is_some_and(|s| s.bye) {
        if let Ok(sr) = rtcp_rx.recv_timeout(Duration::from_millis(100)) {
            srs.push(sr);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    rtp_seen.extend(rtp_rx.try_iter());
    let dir = rt.dir.clone();
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");

    // The runtime's SRs: its RTP's SSRC, counts that grow, 160 octets a packet, and a last
    // one (with the BYE) that counts what we got.
    let their_ssrc = rtp_seen.first().expect("RTP from the runtime").0;
    assert!(
        srs.len() >= 2,
        "a report in the call and one at its end: {srs:?}"
    );
    assert!(
        srs.last().is_some_and(|s| s.bye),
        "a BYE at the end: {srs:?}"
    );
    for pair in srs.windows(2) {
        assert!(pair[1].packets > pair[0].packets, "{srs:?}");
        assert!(pair[1].ntp > pair[0].ntp, "{srs:?}");
    }
    for sr in &srs {
        assert_eq!(sr.ssrc, their_ssrc, "the SR's SSRC is the RTP's");
        assert_eq!(sr.octets, 160 * sr.packets, "{sr:?}");
    }
    let last = srs.last().expect("the last SR");
    let got = rtp_seen.len() as u32;
    assert!(
        last.packets.abs_diff(got) <= 2,
        "the last SR counts {} packets, we got {got}",
        last.packets
    );

    let r = Runtime::record_of(&dir, "hold");
    let m = &r["media"];
    eprintln!("media: {m:#}; jitter as sent: {expected_jitter:.3} ms");
    let received = u64::from(PACKETS) - dropped;
    assert_eq!(m["packets_received"], received, "{m:#}");
    assert_eq!(m["packets_lost"], dropped, "{m:#}");
    let jitter = m["jitter_ms"].as_f64().expect("jitter_ms");
    // Sent with a 10 ms swing: A.8 converges near 10 ms; what the runtime saw differs from
    // the send times only by loopback and scheduling delays.
    assert!(
        (jitter - expected_jitter).abs() < 2.0 && (6.0..12.0).contains(&jitter),
        "jitter {jitter} ms, as sent {expected_jitter:.3} ms"
    );
    let packets_sent = m["packets_sent"].as_u64().expect("packets_sent");
    assert!(
        packets_sent.abs_diff(u64::from(got)) <= 2,
        "{m:#}, we got {got}"
    );
    assert!(m["rtcp_sent"].as_u64() >= Some(srs.len() as u64), "{m:#}");
    assert_eq!(m["rtcp_received"], 1, "{m:#}");
    let peer = &m["peer"];
    assert_eq!(peer["fraction_lost"], 0.199, "51/256: {m:#}");
    assert_eq!(peer["packets_lost"], 7, "{m:#}");
    assert_eq!(peer["jitter_ms"], 20.0, "{m:#}");
    let rtt = peer["round_trip_ms"].as_f64().expect("a round trip");
    assert!((0.0..50.0).contains(&rtt), "loopback: {rtt} ms");
}

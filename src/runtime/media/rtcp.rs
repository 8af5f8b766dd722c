//! RTCP packets and statistics (RFC 3550 §6 and Appendix A): the compound packets we send
//! (an SR or RR, SDES with our CNAME, and BYE at the end), reading the ones a peer sends (SR,
//! RR and BYE; every other type skipped), what we count of the RTP we send, and the receiver
//! statistics of the RTP we get — loss per Appendix A.3 (extended sequence numbers, wrap,
//! reordering, duplicates) and interarrival jitter per A.8. The timing of reports and the
//! sockets are the session's ([`super::session`]).

use super::rtp;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Packet type of a sender report.
pub const SR: u8 = 200;
/// Packet type of a receiver report.
pub const RR: u8 = 201;
/// Packet type of source descriptions.
pub const SDES: u8 = 202;
/// Packet type of a goodbye.
pub const BYE: u8 = 203;

/// The RTP clock rate of G.711 and telephone events: timestamp units per second.
pub const CLOCK_RATE: u32 = 8000;
/// A sequence jump this large is a restart, not loss (RFC 3550 A.1's MAX_DROPOUT).
const MAX_DROPOUT: u16 = 3000;
/// A packet this far behind the highest one is reordered, not a restart (A.1's MAX_MISORDER).
const MAX_MISORDER: u16 = 100;
/// We count as a sender in a report when we sent RTP this recently (RFC 3550 §6.4: since
/// the report before last, with reports at least 5 s apart).
const SENDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds from the NTP epoch (1900) to the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The wallclock as a 64-bit NTP timestamp (seconds since 1900 in the high word, the
/// fraction in the low word).
pub fn ntp_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since.as_secs() + NTP_UNIX_OFFSET;
    let fraction = (u64::from(since.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

/// The middle 32 bits of an NTP timestamp: the LSR of a report block (§6.4.1).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration in units of 1/65536 s, as DLSR counts (saturating).
pub fn to_short(d: Duration) -> u32 {
    u32::try_from(d.as_micros() * 65_536 / 1_000_000).unwrap_or(u32::MAX)
}

/// The sender-info section of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// When the report was made, as an NTP timestamp.
    pub ntp: u64,
    /// The same moment on the RTP clock of the stream.
    pub rtp_timestamp: u32,
    /// RTP packets sent on this SSRC.
    pub packets: u32,
    /// Payload octets sent on this SSRC.
    pub octets: u32,
}

/// One report block: what the reporter received of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Packets lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Packets lost since the start (24 bits, signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// The extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// The middle 32 bits of the NTP timestamp of the last SR from the source (0: none).
    pub last_sr: u32,
    /// Time since that SR, in units of 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// An SR (with sender info) or an RR (without).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// Present in an SR.
    pub sender: Option<SenderInfo>,
    /// The sources reported on (at most 31).
    pub blocks: Vec<ReportBlock>,
}

/// What a compound packet carried that we read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compound {
    /// Its SRs and RRs, in order.
    pub reports: Vec<Report>,
    /// The first CNAME of its SDES.
    pub cname: Option<String>,
    /// The SSRCs that said goodbye.
    pub bye: Vec<u32>,
}

/// Writes one packet's common header: version 2, no padding, `count`, `pt`, and the length
/// in 32-bit words minus one, filled in by [`finish`].
fn start(out: &mut Vec<u8>, count: u8, pt: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0x80 | (count & 0x1f), pt, 0, 0]);
    at
}

/// Pads the packet started at `at` to a word and writes its length.
fn finish(out: &mut [u8], at: usize) {
    let words = (out.len() - at) / 4 - 1;
    let words = u16::try_from(words).unwrap_or(u16::MAX);
    out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
}

/// Writes a compound packet into `out` (cleared first): `report` as an SR or RR, an SDES
/// with `cname`, and a BYE of the reporter when `bye`.
pub fn write(report: &Report, cname: &str, bye: bool, out: &mut Vec<u8>) {
    out.clear();
    let blocks = &report.blocks[..report.blocks.len().min(31)];
    let pt = if report.sender.is_some() { SR } else { RR };
    let at = start(out, blocks.len() as u8, pt);
    out.extend_from_slice(&report.ssrc.to_be_bytes());
    if let Some(s) = &report.sender {
        out.extend_from_slice(&s.ntp.to_be_bytes());
        out.extend_from_slice(&s.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&s.packets.to_be_bytes());
        out.extend_from_slice(&s.octets.to_be_bytes());
    }
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        out.extend_from_slice(&((u32::from(b.fraction_lost) << 24) | lost).to_be_bytes());
        out.extend_from_slice(&b.highest_sequence.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.last_sr.to_be_bytes());
        out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
    }
    finish(out, at);
    // SDES: one chunk, the CNAME item, then a null item and padding to a word.
    let at = start(out, 1, SDES);
    out.extend_from_slice(&report.ssrc.to_be_bytes());
    let name = &cname.as_bytes()[..cname.len().min(255)];
    out.push(1);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.push(0);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    finish(out, at);
    if bye {
        let at = start(out, 1, BYE);
        out.extend_from_slice(&report.ssrc.to_be_bytes());
        finish(out, at);
    }
}

fn word(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

/// Whether a datagram is RTCP rather than RTP when both share a port (RFC 5761 §4: the
/// second byte is a packet type of 192–223).
pub fn is_rtcp(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0] >> 6 == 2 && (192..=223).contains(&bytes[1])
}

/// Reads a compound packet; `None` unless it is valid as RFC 3550 A.2 checks it: every
/// packet version 2, the first an SR or RR without padding, padding only in the last, and
/// the lengths adding up to the datagram. Sections cut short are refused too.
pub fn parse(bytes: &[u8]) -> Option<Compound> {
    let mut c = Compound::default();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes.get(at..at + 4)?;
        if head[0] >> 6 != 2 {
            return None;
        }
        let padding = head[0] & 0x20 != 0;
        let count = usize::from(head[0] & 0x1f);
        let pt = head[1];
        let len = 4 * (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1);
        let end = at.checked_add(len).filter(|&e| e <= bytes.len())?;
        if at == 0 && (padding || !matches!(pt, SR | RR)) {
            return None;
        }
        let mut body_end = end;
        if padding {
            if end != bytes.len() {
                return None;
            }
            let pad = usize::from(bytes[end - 1]);
            body_end = end.checked_sub(pad).filter(|&e| pad > 0 && e >= at + 4)?;
        }
        let body = &bytes[at + 4..body_end];
        match pt {
            SR | RR => c.reports.push(report(pt, count, body)?),
            SDES if c.cname.is_none() => c.cname = cname(count, body),
            BYE => {
                for i in 0..count {
                    c.bye.push(word(body, 4 * i)?);
                }
            }
            _ => {}
        }
        at = end;
    }
    (!c.reports.is_empty()).then_some(c)
}

/// The body of an SR or RR (after the common header).
fn report(pt: u8, count: usize, body: &[u8]) -> Option<Report> {
    let ssrc = word(body, 0)?;
    let mut at = 4;
    let sender = if pt == SR {
        let high = word(body, 4)?;
        let low = word(body, 8)?;
        at = 24;
        Some(SenderInfo {
            ntp: (u64::from(high) << 32) | u64::from(low),
            rtp_timestamp: word(body, 12)?,
            packets: word(body, 16)?,
            octets: word(body, 20)?,
        })
    } else {
        None
    };
    let mut blocks = Vec::with_capacity(count);
    for i in 0..count {
        let b = at + 24 * i;
        let lost = word(body, b + 4)?;
        // Sign-extend the 24-bit cumulative count.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        blocks.push(ReportBlock {
            ssrc: word(body, b)?,
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost,
            highest_sequence: word(body, b + 8)?,
            jitter: word(body, b + 12)?,
            last_sr: word(body, b + 16)?,
            delay_since_last_sr: word(body, b + 20)?,
        });
    }
    Some(Report {
        ssrc,
        sender,
        blocks,
    })
}

/// The first chunk's CNAME in an SDES body, if it has one.
fn cname(count: usize, body: &[u8]) -> Option<String> {
    if count == 0 {
        return None;
    }
    let mut at = 4;
    loop {
        let kind = *body.get(at)?;
        if kind == 0 {
            return None;
        }
        let len = usize::from(*body.get(at + 1)?);
        let text = body.get(at + 2..at + 2 + len)?;
        if kind == 1 {
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        at += 2 + len;
    }
}

/// What we sent on a stream, for SRs and the call record. A bridge's relay sends to the leg
/// under its own SSRC: the counts of the SR follow the SSRC last sent (RFC 3550 §6.4.1 resets
/// them with a new SSRC), the total does not.
#[derive(Debug, Clone, Default)]
pub struct Sender {
    /// The SSRC last sent.
    pub ssrc: Option<u32>,
    packets: u32,
    octets: u32,
    /// Packets sent on every SSRC.
    pub total: u64,
    /// The last packet's timestamp and when it went.
    last: Option<(u32, Instant)>,
}

impl Sender {
    /// One RTP packet with `header` and `payload` octets went out at `at`.
    pub fn sent(&mut self, header: &rtp::Header, payload: usize, at: Instant) {
        if self.ssrc != Some(header.ssrc) {
            self.ssrc = Some(header.ssrc);
            self.packets = 0;
            self.octets = 0;
        }
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload as u32);
        self.total += 1;
        self.last = Some((header.timestamp, at));
    }

    /// The sender info of an SR made at `now` (`ntp` on the wallclock), when we sent RTP
    /// lately; its RTP timestamp is the last packet's moved on by the time since it went.
    pub fn info(&self, now: Instant, ntp: u64) -> Option<SenderInfo> {
        let (timestamp, at) = self.last?;
        let since = now.saturating_duration_since(at);
        if since > SENDER_TIMEOUT {
            return None;
        }
        let ahead = since.as_micros() * u128::from(CLOCK_RATE) / 1_000_000;
        Some(SenderInfo {
            ntp,
            rtp_timestamp: timestamp.wrapping_add(ahead as u32),
            packets: self.packets,
            octets: self.octets,
        })
    }
}

/// One source's reception (RFC 3550 A.1 without the probation: signalling already vouched
/// for the stream).
#[derive(Debug, Clone)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    /// Sequence-number wraps, times 65536.
    cycles: u32,
    base_seq: u32,
    /// The sequence number that confirms a restart, after a big jump.
    bad_seq: Option<u16>,
    received: u64,
    expected_prior: i64,
    received_prior: u64,
    /// The last transit time, in timestamp units (A.8).
    transit: Option<i32>,
    /// Interarrival jitter, in timestamp units.
    jitter: f64,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Source {
        Source {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
        }
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> i64 {
        i64::from(self.extended_max()) - i64::from(self.base_seq) + 1
    }

    fn lost(&self) -> i64 {
        self.expected() - self.received as i64
    }
}

/// The receiver statistics of the RTP a peer sends us: loss (A.3) and jitter (A.8) of its
/// current source, and totals over the sources and restarts before it.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    source: Option<Source>,
    earlier_received: u64,
    earlier_lost: i64,
}

impl Receiver {
    /// A packet arrived: its header, its arrival on the RTP clock (timestamp units, any
    /// origin), and whether it counts for jitter (audio does; RFC 4733 events repeat one
    /// timestamp for a whole key and would look like jitter).
    pub fn packet(&mut self, header: &rtp::Header, arrival: u32, timed: bool) {
        let seq = header.sequence;
        let restart = match &mut self.source {
            Some(s) if s.ssrc == header.ssrc => {
                let delta = seq.wrapping_sub(s.max_seq);
                if delta < MAX_DROPOUT {
                    // In order, with a permissible gap.
                    if seq < s.max_seq {
                        s.cycles = s.cycles.wrapping_add(1 << 16);
                    }
                    s.max_seq = seq;
                    false
                } else if delta <= u16::MAX - MAX_MISORDER {
                    // A very large jump: a restart if the next packet follows it.
                    if s.bad_seq == Some(seq) {
                        true
                    } else {
                        s.bad_seq = Some(seq.wrapping_add(1));
                        return;
                    }
                } else {
                    // Duplicate or reordered: counted as received (A.3).
                    false
                }
            }
            _ => true,
        };
        if restart {
            if let Some(old) = self.source.take() {
                self.earlier_received += old.received;
                self.earlier_lost += old.lost();
            }
            self.source = Some(Source::new(header.ssrc, seq));
        }
        let Some(s) = self.source.as_mut() else {
            return;
        };
        s.received += 1;
        if timed {
            // A.8: D = (Rj - Ri) - (Sj - Si), J += (|D| - J) / 16.
            let transit = arrival.wrapping_sub(header.timestamp) as i32;
            if let Some(last) = s.transit {
                let d = f64::from(transit.wrapping_sub(last)).abs();
                s.jitter += (d - s.jitter) / 16.0;
            }
            s.transit = Some(transit);
        }
    }

    /// The current source's SSRC.
    pub fn ssrc(&self) -> Option<u32> {
        self.source.as_ref().map(|s| s.ssrc)
    }

    /// Packets received, from every source.
    pub fn received(&self) -> u64 {
        self.earlier_received + self.source.as_ref().map_or(0, |s| s.received)
    }

    /// Packets lost (expected less received, A.3), from every source; duplicates make it
    /// smaller, down to negative.
    pub fn lost(&self) -> i64 {
        self.earlier_lost + self.source.as_ref().map_or(0, Source::lost)
    }

    /// The current source's interarrival jitter, in timestamp units.
    pub fn jitter(&self) -> f64 {
        self.source.as_ref().map_or(0.0, |s| s.jitter)
    }

    /// The report block on the current source, with `last_sr` and `delay_since_last_sr` as
    /// given; starts the next interval of the fraction lost (A.3).
    pub fn block(&mut self, last_sr: u32, delay_since_last_sr: u32) -> Option<ReportBlock> {
        let s = self.source.as_mut()?;
        let expected = s.expected();
        let expected_interval = expected - s.expected_prior;
        s.expected_prior = expected;
        let received_interval = s.received as i64 - s.received_prior as i64;
        s.received_prior = s.received;
        let lost_interval = expected_interval - received_interval;
        let fraction_lost = if expected_interval <= 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        Some(ReportBlock {
            ssrc: s.ssrc,
            fraction_lost,
            cumulative_lost: s.lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_sequence: s.extended_max(),
            jitter: s.jitter as u32,
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// Timestamp units as milliseconds at [`CLOCK_RATE`].
pub fn units_to_ms(units: f64) -> f64 {
    units * 1000.0 / f64::from(CLOCK_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ssrc: u32, sequence: u16, timestamp: u32) -> rtp::Header {
        rtp::Header {
            payload_type: 0,
            marker: false,
            sequence,
            timestamp,
            ssrc,
        }
    }

    fn receive(r: &mut Receiver, seqs: &[u16]) {
        for &seq in seqs {
            r.packet(&header(7, seq, u32::from(seq) * 160), 0, false);
        }
    }

    #[test]
    fn loss_across_the_sequence_wrap_with_reordering() {
        let mut r = Receiver::default();
        // 65530 ..= 9 with 65533, 3 and 7 missing, 6 before 5.
        receive(
            &mut r,
            &[65530, 65531, 65532, 65534, 65535, 0, 1, 2, 4, 6, 5, 8, 9],
        );
        assert_eq!((r.received(), r.lost()), (13, 3));
        let b = r.block(0, 0).expect("a block");
        assert_eq!(b.highest_sequence, 65_536 + 9);
        assert_eq!(b.cumulative_lost, 3);
        assert_eq!(b.fraction_lost, 48, "3 of 16 lost, as a fraction of 256");
        // The next interval lost nothing.
        receive(&mut r, &[10, 11, 12]);
        let b = r.block(0, 0).expect("a block");
        assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 3));
        // A late packet from before the wrap counts as received, not as a new cycle.
        receive(&mut r, &[65533]);
        assert_eq!((r.received(), r.lost()), (17, 2));
        assert_eq!(
            r.block(0, 0).expect("a block").highest_sequence,
            65_536 + 12
        );
    }

    #[test]
    fn duplicates_count_as_received() {
        let mut r = Receiver::default();
        receive(&mut r, &[1, 2, 2, 3, 5, 5, 5]);
        // Expected 1..=5 = 5, received 7: A.3's cumulative loss goes negative.
        assert_eq!((r.received(), r.lost()), (7, -2));
        let b = r.block(0, 0).expect("a block");
        assert_eq!((b.fraction_lost, b.cumulative_lost), (0, -2));
    }

    #[test]
    fn a_big_jump_restarts_only_when_confirmed_and_a_new_source_adds_up() {
        let mut r = Receiver::default();
        receive(&mut r, &[100, 101, 103]);
        // One stray packet far ahead is ignored …
        receive(&mut r, &[20_000]);
        assert_eq!((r.received(), r.lost()), (3, 1));
        // … two in sequence restart the count there (the old one kept in the totals).
        receive(&mut r, &[30_000, 30_001, 30_003]);
        assert_eq!((r.received(), r.lost()), (3 + 2, 1 + 1));
        // Another SSRC: a new source, the totals go on.
        r.packet(&header(8, 5, 0), 0, false);
        r.packet(&header(8, 6, 160), 0, false);
        assert_eq!(r.ssrc(), Some(8));
        assert_eq!((r.received(), r.lost()), (7, 2));
        assert_eq!(r.block(0, 0).expect("a block").ssrc, 8);
    }

    #[test]
    fn jitter_as_appendix_a8_computes_it() {
        let mut r = Receiver::default();
        // Sent every 160 units; transit times 1000, 1008, 1000, 1016 (D = 8, 8, 16).
        for (i, arrival) in [1000u32, 1168, 1320, 1496].into_iter().enumerate() {
            r.packet(&header(1, i as u16, 160 * i as u32), arrival, true);
        }
        // J = 0 + (8 - 0)/16 = 0.5; 0.5 + (8 - 0.5)/16 = 0.96875; + (16 - 0.96875)/16.
        assert!((r.jitter() - 1.908_203_125).abs() < 1e-9, "{}", r.jitter());
        assert!((units_to_ms(r.jitter()) - 0.238_525_390_625).abs() < 1e-9);
        // Untimed packets (events) leave it as it was; the wrap of the arrival clock too.
        r.packet(&header(1, 4, 0), 5, false);
        assert!((r.jitter() - 1.908_203_125).abs() < 1e-9);
        let mut w = Receiver::default();
        w.packet(&header(1, 0, 0), u32::MAX - 79, true);
        w.packet(&header(1, 1, 160), 80, true);
        assert!(w.jitter().abs() < 1e-9, "{}", w.jitter());
        assert_eq!(r.block(0, 0).expect("a block").jitter, 1);
    }

    #[test]
    fn sender_counts_follow_the_ssrc_last_sent() {
        let t0 = Instant::now();
        let mut s = Sender::default();
        assert!(s.info(t0, 1).is_none(), "nothing sent: an RR");
        s.sent(&header(1, 0, 1000), 160, t0);
        s.sent(&header(1, 1, 1160), 160, t0);
        let later = t0 + Duration::from_millis(10);
        let info = s.info(later, 42).expect("an SR");
        assert_eq!((info.packets, info.octets, info.ntp), (2, 320, 42));
        assert_eq!(info.rtp_timestamp, 1160 + 80);
        s.sent(&header(2, 9, 0), 160, later);
        let info = s.info(later, 42).expect("an SR");
        assert_eq!((info.packets, s.total, s.ssrc), (1, 3, Some(2)));
        assert!(s.info(later + Duration::from_secs(11), 1).is_none());
    }

    #[test]
    fn compound_packets_round_trip() {
        let report = Report {
            ssrc: 0x1234_5678,
            sender: Some(SenderInfo {
                ntp: 0xe000_0001_8000_0000,
                rtp_timestamp: 160_000,
                packets: 500,
                octets: 80_000,
            }),
            blocks: vec![
                ReportBlock {
                    ssrc: 9,
                    fraction_lost: 25,
                    cumulative_lost: -3,
                    highest_sequence: 70_000,
                    jitter: 44,
                    last_sr: 0x0001_8000,
                    delay_since_last_sr: 65_536,
                },
                ReportBlock {
                    ssrc: 10,
                    cumulative_lost: 0x7f_ffff,
                    ..ReportBlock::default()
                },
            ],
        };
        let mut out = Vec::new();
        write(&report, "ivrc@example", true, &mut out);
        assert_eq!(out.len() % 4, 0);
        assert_eq!((out[0], out[1]), (0x82, SR));
        assert!(is_rtcp(&out));
        let c = parse(&out).expect("parses");
        assert_eq!(c.reports, vec![report.clone()]);
        assert_eq!(c.cname.as_deref(), Some("ivrc@example"));
        assert_eq!(c.bye, vec![0x1234_5678]);
        // An RR without blocks, no BYE.
        let rr = Report {
            ssrc: 3,
            sender: None,
            blocks: Vec::new(),
        };
        write(&rr, "x", false, &mut out);
        assert_eq!((out[0], out[1], out.len()), (0x80, RR, 8 + 12));
        let c = parse(&out).expect("parses");
        assert_eq!((c.reports, c.bye), (vec![rr], Vec::new()));
        // Losses beyond 24 bits are clamped.
        let mut big = report;
        big.blocks[0].cumulative_lost = -10_000_000;
        write(&big, "x", false, &mut out);
        assert_eq!(
            parse(&out).expect("parses").reports[0].blocks[0].cumulative_lost,
            -0x80_0000
        );
        assert_eq!(ntp_middle(0x0000_1234_5678_0000), 0x1234_5678);
        assert_eq!(to_short(Duration::from_millis(500)), 32_768);
    }

    #[test]
    fn malformed_packets_are_refused_without_panicking() {
        let rr = Report {
            ssrc: 3,
            sender: None,
            blocks: vec![ReportBlock::default()],
        };
        let mut good = Vec::new();
        write(&rr, "peer", true, &mut good);
        assert!(parse(&good).is_some());
        // A cut inside a packet is refused (the lengths no longer add up); cuts between the
        // RR (32 bytes), the SDES (16) and the BYE leave shorter valid compounds.
        for n in 0..good.len() {
            assert_eq!(
                parse(&good[..n]).is_some(),
                [32, 48].contains(&n),
                "cut at {n}"
            );
        }
        let mut v1 = good.clone();
        v1[0] = 0x41;
        assert!(parse(&v1).is_none(), "version 1");
        let mut sdes_first = good.clone();
        sdes_first[1] = SDES;
        assert!(parse(&sdes_first).is_none(), "an SDES first");
        let mut too_many = good.clone();
        too_many[0] = 0x82; // two blocks in a packet long enough for one
        assert!(parse(&too_many).is_none(), "blocks past the length");
        let mut long = good.clone();
        long[3] += 1;
        assert!(parse(&long).is_none(), "a length past the datagram");
        let mut padded_first = good.clone();
        padded_first[0] |= 0x20;
        assert!(
            parse(&padded_first).is_none(),
            "padding in the first packet"
        );
        // Unknown packet types inside are skipped.
        let mut app = good.clone();
        app.extend_from_slice(&[0x80, 204, 0, 1, 0, 0, 0, 1]);
        assert!(parse(&app).is_some());
        assert!(!is_rtcp(&[0x80, 0, 0, 0, 0, 0, 0, 0]));
        // Noise never panics.
        let mut x: u32 = 0x2545_f491;
        for len in 0..400 {
            let mut noise: Vec<u8> = (0..len % 97)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = parse(&noise);
            if noise.len() >= 4 {
                noise[0] = 0x80 | (noise[0] & 0x1f);
                noise[1] = RR;
                let _ = parse(&noise);
            }
        }
    }
}

//! A leg's RTCP session (RFC 3550 §6): the [`Quality`] counted by the clock and the relays
//! (what we send) and by the leg's reader (what the party sends), a task that sends our
//! compound report every few seconds and reads the party's, and the BYE at the leg's end.
//!
//! Reports go to the RTP port + 1 unless the party's SDP named another (`a=rtcp:`, RFC 3605)
//! or both sides agreed on one port for both (`a=rtcp-mux`, RFC 5761). The interval is RFC
//! 3550's for a session of two with a little RTCP: the 5 s minimum (§6.2), the first report
//! after half of it, each randomised to 0.5–1.5 times (§6.3.1) so that calls started together
//! spread out.

use super::remote::Remote;
use super::rtcp::{self, Compound, Receiver, Report, Sender, CLOCK_RATE};
use super::rtp;
use crate::store::{MediaQuality, PeerReport};
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The minimum interval between reports (RFC 3550 §6.2).
const MIN_INTERVAL: Duration = Duration::from_secs(5);

/// What a leg's RTCP knows: our stream, the party's, and the party's reports.
#[derive(Debug)]
pub struct Quality {
    /// Arrival times on the RTP clock count from here.
    epoch: Instant,
    /// What we sent.
    pub sender: Sender,
    /// What the party sent.
    pub receiver: Receiver,
    /// The middle of the NTP timestamp of the party's last SR, and when it came.
    last_sr: Option<(u32, Instant)>,
    /// The party's last report block on our stream.
    peer: Option<PeerReport>,
    sent: u32,
    received: u32,
}

/// A leg's [`Quality`], shared by the clock, the relays into the leg, its reader and its
/// RTCP task.
pub type Shared = Arc<Mutex<Quality>>;

impl Default for Quality {
    fn default() -> Self {
        Quality {
            epoch: Instant::now(),
            sender: Sender::default(),
            receiver: Receiver::default(),
            last_sr: None,
            peer: None,
            sent: 0,
            received: 0,
        }
    }
}

impl Quality {
    /// A new leg's, shareable.
    pub fn shared() -> Shared {
        Arc::new(Mutex::new(Quality::default()))
    }

    /// An RTP packet from the party arrived at `now`; `timed` as [`Receiver::packet`] takes it.
    pub fn received(&mut self, header: &rtp::Header, now: Instant, timed: bool) {
        let since = now.saturating_duration_since(self.epoch);
        let arrival = (since.as_micros() * u128::from(CLOCK_RATE) / 1_000_000) as u32;
        self.receiver.packet(header, arrival, timed);
    }

    /// Our report at `now` (`ntp` on the wallclock): an SR while we send, else an RR; a block
    /// on the party's stream once it sent some.
    fn report(&mut self, now: Instant, ntp: u64, ssrc: u32) -> Report {
        let (lsr, dlsr) = self.last_sr.map_or((0, 0), |(lsr, at)| {
            (lsr, rtcp::to_short(now.saturating_duration_since(at)))
        });
        Report {
            ssrc: self.sender.ssrc.unwrap_or(ssrc),
            sender: self.sender.info(now, ntp),
            blocks: self.receiver.block(lsr, dlsr).into_iter().collect(),
        }
    }

    /// A compound packet from the party arrived at `now` (`ntp` on the wallclock): its SR's
    /// time is kept for our next block, its block on our stream for the record.
    pub fn heard(&mut self, c: &Compound, now: Instant, ntp: u64) {
        self.received += 1;
        for r in &c.reports {
            if let Some(s) = &r.sender {
                self.last_sr = Some((rtcp::ntp_middle(s.ntp), now));
            }
            let ours = r.blocks.iter().find(|b| Some(b.ssrc) == self.sender.ssrc);
            if let Some(b) = ours {
                // §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s; a clock slip makes it negative.
                let round_trip_ms = (b.last_sr != 0).then(|| {
                    let rtt = rtcp::ntp_middle(ntp)
                        .wrapping_sub(b.last_sr)
                        .wrapping_sub(b.delay_since_last_sr) as i32;
                    round(f64::from(rtt.max(0)) * 1000.0 / 65_536.0)
                });
                self.peer = Some(PeerReport {
                    fraction_lost: round(f64::from(b.fraction_lost) / 256.0),
                    packets_lost: i64::from(b.cumulative_lost),
                    jitter_ms: round(rtcp::units_to_ms(f64::from(b.jitter))),
                    round_trip_ms,
                });
            }
        }
    }

    /// The leg's figures for its call record.
    pub fn summary(&self) -> MediaQuality {
        MediaQuality {
            packets_sent: self.sender.total,
            packets_received: self.receiver.received(),
            packets_lost: self.receiver.lost(),
            jitter_ms: round(rtcp::units_to_ms(self.receiver.jitter())),
            rtcp_sent: self.sent,
            rtcp_received: self.received,
            peer: self.peer.clone(),
            srtp: None,
        }
    }
}

/// To three decimals, for the record.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Where and how a leg's reports go.
#[derive(Debug, Clone)]
pub struct Rtcp {
    /// The socket they leave from (the RTCP port's, or the RTP port's with rtcp-mux).
    pub out: Arc<UdpSocket>,
    /// Where the party wants them.
    pub remote: Remote,
    /// Our CNAME.
    pub cname: String,
    /// Our SSRC while we have sent nothing.
    pub ssrc: u32,
    /// The leg's figures.
    pub quality: Shared,
    /// The leg's SRTP: reports go out as SRTCP, and only SRTCP is read.
    pub srtp: Option<super::srtp::Protection>,
}

impl Rtcp {
    /// Sends our compound report now, ending with a BYE when `bye`; a full socket buffer
    /// loses it, as a network would.
    pub fn send(&self, bye: bool) {
        let mut q = self.quality.lock().unwrap_or_else(|p| p.into_inner());
        let report = q.report(Instant::now(), rtcp::ntp_now(), self.ssrc);
        q.sent += 1;
        drop(q);
        let mut out = Vec::with_capacity(128);
        rtcp::write(&report, &self.cname, bye, &mut out);
        if self.srtp.as_ref().is_none_or(|s| s.rtcp_out(&mut out)) {
            let _ = self.out.send_to(&out, self.remote.get());
        }
    }

    /// A datagram from `from` on an RTCP port: a readable compound packet is taken in (and,
    /// with symmetric RTP, its source learnt); anything else is ignored.
    pub fn datagram(&self, bytes: &[u8], from: std::net::SocketAddr) {
        let mut plain;
        let bytes = match &self.srtp {
            Some(s) => {
                plain = bytes.to_vec();
                let Some(n) = s.rtcp_in(&mut plain) else {
                    return;
                };
                &plain[..n]
            }
            None => bytes,
        };
        if let Some(c) = rtcp::parse(bytes) {
            self.remote.heard_from(from);
            self.quality
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .heard(&c, Instant::now(), rtcp::ntp_now());
        }
    }
}

/// The time to the next report: `base` times 0.5–1.5, from the xorshift state `rng`.
fn interval(base: Duration, rng: &mut u32) -> Duration {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 17;
    *rng ^= *rng << 5;
    base.mul_f64(0.5 + f64::from(*rng) / f64::from(u32::MAX))
}

/// Sends reports and reads the party's on `socket` until aborted (the leg's end).
pub async fn run(rtcp: Rtcp, socket: tokio::net::UdpSocket, seed: u32) {
    let mut rng = seed | 1;
    let mut buf = [0u8; 1500];
    let next = tokio::time::sleep(interval(MIN_INTERVAL / 2, &mut rng));
    tokio::pin!(next);
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = received {
                    rtcp.datagram(&buf[..n], from);
                }
            },
            () = &mut next => {
                rtcp.send(false);
                let after = interval(MIN_INTERVAL, &mut rng);
                next.as_mut().reset(tokio::time::Instant::now() + after);
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rtcp::{ReportBlock, SenderInfo};
    use super::*;

    #[test]
    fn intervals_are_spread_around_the_base() {
        let mut rng = 12_345 | 1;
        for _ in 0..1000 {
            let d = interval(MIN_INTERVAL, &mut rng);
            assert!(d >= MIN_INTERVAL / 2 && d <= MIN_INTERVAL * 3 / 2, "{d:?}");
        }
    }

    #[test]
    fn the_peers_report_on_our_stream_and_its_sr_are_kept() {
        let mut q = Quality::default();
        let t0 = Instant::now();
        let ours = rtp::Header {
            payload_type: 0,
            marker: false,
            sequence: 1,
            timestamp: 0,
            ssrc: 77,
        };
        q.sender.sent(&ours, 160, t0);
        let ntp = 0x0000_1000_0000_0000_u64;
        let block = ReportBlock {
            ssrc: 77,
            fraction_lost: 64,
            cumulative_lost: 12,
            jitter: 80,
            // Our SR went 0.5 s before, the party held it 0.25 s: RTT 0.25 s.
            last_sr: rtcp::ntp_middle(ntp) - 32_768,
            delay_since_last_sr: 16_384,
            ..ReportBlock::default()
        };
        let other = ReportBlock { ssrc: 5, ..block };
        let sr = Report {
            ssrc: 9,
            sender: Some(SenderInfo {
                ntp: 0xabcd_1234_5678_0000,
                rtp_timestamp: 0,
                packets: 1,
                octets: 160,
            }),
            blocks: vec![other, block],
        };
        let compound = Compound {
            reports: vec![sr],
            ..Compound::default()
        };
        q.heard(&compound, t0, ntp);
        let s = q.summary();
        assert_eq!(s.rtcp_received, 1);
        let peer = s.peer.expect("the peer's report");
        assert_eq!(peer.fraction_lost, 0.25);
        assert_eq!(peer.packets_lost, 12);
        assert_eq!(peer.jitter_ms, 10.0);
        assert_eq!(peer.round_trip_ms, Some(250.0));
        // Our next block echoes its SR's time and how long we held it.
        q.received(&ours, t0, true);
        let r = q.report(t0 + Duration::from_secs(1), ntp, 1);
        assert_eq!(r.ssrc, 77);
        assert!(r.sender.is_some(), "we sent lately: an SR");
        assert_eq!(r.blocks[0].last_sr, 0x1234_5678);
        assert_eq!(r.blocks[0].delay_since_last_sr, 65_536);
    }
}

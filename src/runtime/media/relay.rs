//! The relay of a bridge: each packet one leg sends is rewritten for the other — its payload
//! type mapped (audio, and RFC 4733 events to the other side's event type), G.711 transcoded
//! when the legs settled on different laws, and our own SSRC with the sender's sequence
//! numbers and timestamps moved by offsets, so that loss and timing show through. When the
//! sender's SSRC changes (a phone restarting its stream, a second source), the offsets are
//! chosen again so that our stream goes on where it was, marked.

use super::{g711, rtp};
use std::net::UdpSocket;

/// One side of a codec mapping: an audio law and the telephone-event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    /// A-law, else μ-law.
    pub a_law: bool,
    /// The RFC 4733 payload type, when this side has events.
    pub dtmf: Option<u8>,
}

impl Side {
    fn audio_type(self) -> u8 {
        if self.a_law {
            8
        } else {
            0
        }
    }
}

/// Rewrites one direction of a bridge.
#[derive(Debug, Clone)]
pub struct Rewrite {
    from: Side,
    to: Side,
    ssrc: u32,
    sequence_offset: u16,
    timestamp_offset: u32,
    /// The sender's SSRC the offsets are for.
    source: Option<u32>,
    /// Our last sequence number and timestamp.
    last: (u16, u32),
}

impl Rewrite {
    /// Packets from a `from` leg to a `to` leg, sent as stream `ssrc`.
    pub fn new(from: Side, to: Side, ssrc: u32) -> Rewrite {
        Rewrite {
            from,
            to,
            ssrc,
            sequence_offset: 0,
            timestamp_offset: 0,
            source: None,
            last: (ssrc as u16, ssrc.rotate_left(11)),
        }
    }

    /// The packet for the other leg (its header returned), or `None` for what it cannot
    /// take (events it did not negotiate, payloads of neither type).
    pub fn packet(&mut self, p: &rtp::Packet<'_>, out: &mut Vec<u8>) -> Option<rtp::Header> {
        let pt = p.header.payload_type;
        let payload_type;
        let mut transcoded = Vec::new();
        let payload: &[u8] = if pt == self.from.audio_type() {
            payload_type = self.to.audio_type();
            if self.from.a_law == self.to.a_law {
                p.payload
            } else {
                let decode = if self.from.a_law {
                    g711::alaw_decode
                } else {
                    g711::ulaw_decode
                };
                let samples: Vec<i16> = p.payload.iter().map(|&b| decode(b)).collect();
                g711::encode(&samples, self.to.a_law, &mut transcoded);
                &transcoded
            }
        } else if Some(pt) == self.from.dtmf {
            payload_type = self.to.dtmf?;
            p.payload
        } else {
            return None;
        };
        let rebased = self.source != Some(p.header.ssrc);
        if rebased {
            self.source = Some(p.header.ssrc);
            self.sequence_offset = self.last.0.wrapping_add(1).wrapping_sub(p.header.sequence);
            self.timestamp_offset = self
                .last
                .1
                .wrapping_add(160)
                .wrapping_sub(p.header.timestamp);
        }
        let header = rtp::Header {
            payload_type,
            marker: p.header.marker || rebased,
            sequence: p.header.sequence.wrapping_add(self.sequence_offset),
            timestamp: p.header.timestamp.wrapping_add(self.timestamp_offset),
            ssrc: self.ssrc,
        };
        self.last = (header.sequence, header.timestamp);
        header.write(payload, out);
        Some(header)
    }
}

/// Where a bridged leg's packets go: the other leg's socket and remote address.
#[derive(Debug)]
pub struct Relay {
    /// The other leg's RTP socket (so the packets come from the port it expects).
    pub socket: std::sync::Arc<UdpSocket>,
    /// The other party's RTP address.
    pub remote: super::remote::Remote,
    /// The rewriting.
    pub rewrite: Rewrite,
    /// A buffer for the rewritten packet.
    pub buffer: Vec<u8>,
    /// The other leg's figures: what the relay sends it counts for its RTCP.
    pub quality: super::session::Shared,
    /// The other leg's SRTP: what the relay sends it is encrypted with its keys.
    pub srtp: Option<super::srtp::Protection>,
}

impl Relay {
    /// Relays one packet; a full socket buffer loses it, as a network would.
    pub fn forward(&mut self, p: &rtp::Packet<'_>) {
        self.buffer.clear();
        if let Some(header) = self.rewrite.packet(p, &mut self.buffer) {
            let payload = self.buffer.len() - 12;
            if !self
                .srtp
                .as_ref()
                .is_none_or(|s| s.rtp_out(&mut self.buffer))
            {
                return;
            }
            let _ = self.socket.send_to(&self.buffer, self.remote.get());
            self.quality
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .sender
                .sent(&header, payload, std::time::Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        from(42, pt, seq, ts, payload)
    }

    fn from(ssrc: u32, pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        rtp::Header {
            payload_type: pt,
            marker: false,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
        .write(payload, &mut out);
        out
    }

    #[test]
    fn same_law_keeps_the_payload_and_shifts_numbers() {
        let ulaw = Side {
            a_law: false,
            dtmf: Some(101),
        };
        let mut r = Rewrite::new(ulaw, ulaw, 7);
        let mut out = Vec::new();
        let first = packet(0, 100, 1000, &[0x55; 160]);
        r.packet(&rtp::parse(&first).unwrap(), &mut out).unwrap();
        let p1 = rtp::parse(&out).unwrap();
        assert_eq!((p1.header.ssrc, p1.header.marker), (7, true));
        assert_eq!(p1.payload, &[0x55; 160][..]);
        let (s1, t1) = (p1.header.sequence, p1.header.timestamp);
        let mut out2 = Vec::new();
        let second = packet(0, 101, 1160, &[0x55; 160]);
        r.packet(&rtp::parse(&second).unwrap(), &mut out2).unwrap();
        let p2 = rtp::parse(&out2).unwrap();
        assert!(!p2.header.marker);
        assert_eq!(p2.header.sequence, s1.wrapping_add(1));
        assert_eq!(p2.header.timestamp, t1.wrapping_add(160));
        // Another source: our stream goes on from where it was, marked.
        let mut out3 = Vec::new();
        let other = from(99, 0, 40_000, 77, &[0x55; 160]);
        r.packet(&rtp::parse(&other).unwrap(), &mut out3).unwrap();
        let p3 = rtp::parse(&out3).unwrap();
        assert!(p3.header.marker);
        assert_eq!(p3.header.ssrc, 7);
        assert_eq!(p3.header.sequence, s1.wrapping_add(2));
        assert_eq!(p3.header.timestamp, t1.wrapping_add(320));
    }

    #[test]
    fn laws_are_transcoded_and_event_types_mapped() {
        let from = Side {
            a_law: false,
            dtmf: Some(101),
        };
        let to = Side {
            a_law: true,
            dtmf: Some(96),
        };
        let mut r = Rewrite::new(from, to, 1);
        let mut out = Vec::new();
        let mut ulaw = Vec::new();
        g711::encode(&[1000i16; 160], false, &mut ulaw);
        r.packet(&rtp::parse(&packet(0, 1, 0, &ulaw)).unwrap(), &mut out)
            .unwrap();
        let p = rtp::parse(&out).unwrap();
        assert_eq!(p.header.payload_type, 8);
        let back = g711::alaw_decode(p.payload[0]);
        assert!((back - 1000).abs() < 64, "{back}");
        let mut out = Vec::new();
        let event = [5u8, 0x0a, 0, 160];
        r.packet(&rtp::parse(&packet(101, 2, 0, &event)).unwrap(), &mut out)
            .unwrap();
        let p = rtp::parse(&out).unwrap();
        assert_eq!((p.header.payload_type, p.payload), (96, &event[..]));
        // Comfort noise (13) and events the other side did not negotiate are dropped.
        assert!(r
            .packet(&rtp::parse(&packet(13, 3, 0, &[0])).unwrap(), &mut out)
            .is_none());
        let mut no_events = Rewrite::new(
            from,
            Side {
                a_law: true,
                dtmf: None,
            },
            1,
        );
        assert!(no_events
            .packet(&rtp::parse(&packet(101, 2, 0, &event)).unwrap(), &mut out)
            .is_none());
    }
}

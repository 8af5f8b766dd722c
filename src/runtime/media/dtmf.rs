//! Keys from the caller in RTP: RFC 4733 telephone-events (SIP INFO keys are
//! `sip::info`'s).
//!
//! One key is reported per event, at its first packet (so barge-in is immediate). The
//! packets that follow for the same event — updates and the end packet, which RFC 4733 §2.5.1.4
//! sends three times — are ignored. A new event is one with another timestamp or event code,
//! or any packet that is not an end packet after the current event ended: recorded streams
//! (sipp's pcaps) replay every digit with the same timestamp, so the timestamp alone cannot
//! tell two presses of `#` apart.

use crate::runtime::sip::info::key_of_event;

/// Decodes RFC 4733 events of one stream into keys.
#[derive(Debug, Default, Clone)]
pub struct Receiver {
    /// The event being received: timestamp, event code, whether its end was seen.
    current: Option<(u32, u8, bool)>,
}

impl Receiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Receiver {
        Receiver::default()
    }

    /// Takes one telephone-event payload with its RTP timestamp; returns the key when the
    /// packet starts a new event.
    pub fn packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let [event, flags, ..] = *payload else {
            return None;
        };
        if payload.len() < 4 {
            return None;
        }
        let end = flags & 0x80 != 0;
        let same = matches!(self.current, Some((ts, ev, _)) if ts == timestamp && ev == event);
        let ended = matches!(self.current, Some((_, _, true)));
        let new_event = !same || (ended && !end);
        if new_event {
            self.current = Some((timestamp, event, end));
            return key_of_event(event);
        }
        if end {
            self.current = Some((timestamp, event, true));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packets of one sipp pcap digit: 7 updates then 3 end packets, one timestamp.
    fn press(r: &mut Receiver, event: u8, ts: u32) -> Vec<char> {
        let mut keys = Vec::new();
        for i in 0..10u16 {
            let end = if i >= 7 { 0x80 } else { 0 };
            let d = (i * 320).to_be_bytes();
            keys.extend(r.packet(ts, &[event, end | 10, d[0], d[1]]));
        }
        keys
    }

    #[test]
    fn one_key_per_event_even_with_replayed_timestamps() {
        let mut r = Receiver::new();
        let mut keys = Vec::new();
        for event in [1, 2, 11, 3, 0, 11] {
            keys.extend(press(&mut r, event, 0));
        }
        assert_eq!(keys.into_iter().collect::<String>(), "12#30#");
        // the same digit twice with the same timestamp is still two presses
        assert_eq!(press(&mut r, 5, 0), ['5']);
        assert_eq!(press(&mut r, 5, 0), ['5']);
        // a proper stream: new timestamps
        assert_eq!(press(&mut r, 5, 1600), ['5']);
        // a lone end packet of a new event still counts; its retransmissions do not
        assert_eq!(r.packet(4000, &[9, 0x8a, 0, 0]), Some('9'));
        assert_eq!(r.packet(4000, &[9, 0x8a, 0, 0]), None);
        assert_eq!(r.packet(4000, &[9, 0, 0]), None, "short payload");
        assert_eq!(r.packet(4800, &[200, 0, 0, 0]), None, "not a DTMF event");
    }
}

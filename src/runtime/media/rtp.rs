//! RTP packets (RFC 3550): the fixed 12-byte header we send, and reading the packets a peer
//! sends (header, CSRCs, extension and padding skipped). RTCP is [`super::rtcp`]'s.

/// A packet we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The payload type.
    pub payload_type: u8,
    /// Set on the first packet of a talkspurt (and of an RFC 4733 event).
    pub marker: bool,
    /// The sequence number.
    pub sequence: u16,
    /// The sampling-clock timestamp.
    pub timestamp: u32,
    /// The stream's source id.
    pub ssrc: u32,
}

impl Header {
    /// Writes the header and `payload` into `out` (cleared first).
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.push(0x80); // version 2, no padding, no extension, no CSRC
        out.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
    }
}

/// A packet a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Its header fields.
    pub header: Header,
    /// The payload, without padding.
    pub payload: &'a [u8],
}

/// Reads a packet; `None` for anything that is not RTP version 2 or is cut short.
pub fn parse(bytes: &[u8]) -> Option<Packet<'_>> {
    if bytes.len() < 12 || bytes[0] >> 6 != 2 {
        return None;
    }
    let padding = bytes[0] & 0x20 != 0;
    let extension = bytes[0] & 0x10 != 0;
    let csrcs = usize::from(bytes[0] & 0x0f);
    let mut start = 12 + 4 * csrcs;
    if extension {
        let words = bytes.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = bytes.len();
    if padding {
        let pad = usize::from(*bytes.last()?);
        end = end.checked_sub(pad)?;
    }
    let payload = bytes.get(start..end)?;
    Some(Packet {
        header: Header {
            payload_type: bytes[1] & 0x7f,
            marker: bytes[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([bytes[2], bytes[3]]),
            timestamp: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            ssrc: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
        },
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Header {
            payload_type: 0,
            marker: true,
            sequence: 65_535,
            timestamp: 160,
            ssrc: 0xdead_beef,
        };
        let mut out = Vec::new();
        h.write(&[1, 2, 3], &mut out);
        assert_eq!(out.len(), 15);
        let p = parse(&out).expect("parses");
        assert_eq!(p.header, h);
        assert_eq!(p.payload, [1, 2, 3]);
    }

    #[test]
    fn padding_csrc_extension_and_junk() {
        // version 2, padding, 1 CSRC, extension of 1 word, PT 101
        let mut b = vec![0xb1, 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 1, 2, 3, 4];
        b.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // extension header + 1 word
        b.extend_from_slice(&[7, 0, 0, 160, 0, 0, 3]); // payload 4 bytes + padding 3 (count last)
        let p = parse(&b).expect("parses");
        assert_eq!(p.payload, [7, 0, 0, 160]);
        assert!(parse(&[0x80; 11]).is_none());
        assert!(parse(&[0x40; 20]).is_none());
        assert!(parse(&[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200]).is_none());
        assert!(parse(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).is_none());
    }
}

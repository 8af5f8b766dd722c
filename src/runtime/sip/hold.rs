//! What a re-INVITE's new offer asks of our media (RFC 3264 §8.4, hold and resume): its
//! direction, and our previous answer again in kind with a new version. Read from the SDP's
//! text alone, as the SIP layer needs it to answer at once; the media side learns only whether
//! to send.

use std::fmt::Write as _;

/// Which way media flows (RFC 3264 §6.1), as an offer or answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Both ways (the default).
    SendRecv,
    /// The offerer only sends: it put us on hold.
    SendOnly,
    /// The offerer only receives.
    RecvOnly,
    /// Neither way.
    Inactive,
}

impl Direction {
    /// The direction an offer asks for: the audio stream's attribute, else the session's,
    /// else both ways; a connection address of 0.0.0.0 (RFC 2543 hold) is `SendOnly`.
    pub fn of_offer(offer: &[u8]) -> Direction {
        let text = String::from_utf8_lossy(offer);
        let (mut session, mut audio, mut in_audio, mut zero) = (None, None, false, false);
        for line in text.lines().map(|l| l.trim_end_matches('\r')) {
            if let Some(m) = line.strip_prefix("m=") {
                in_audio = m.starts_with("audio ");
                continue;
            }
            if line.starts_with("c=") && line.split_whitespace().nth(2) == Some("0.0.0.0") {
                zero = true;
            }
            let d = match line {
                "a=sendrecv" => Direction::SendRecv,
                "a=sendonly" => Direction::SendOnly,
                "a=recvonly" => Direction::RecvOnly,
                "a=inactive" => Direction::Inactive,
                _ => continue,
            };
            if in_audio {
                audio = Some(d);
            } else {
                session = Some(d);
            }
        }
        match audio.or(session) {
            Some(d) => d,
            None if zero => Direction::SendOnly,
            None => Direction::SendRecv,
        }
    }

    /// The direction an answer to this offer takes (RFC 3264 §6.1).
    pub fn answered(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// Whether we send media in this direction of ours.
    pub fn we_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "a=sendrecv",
            Direction::SendOnly => "a=sendonly",
            Direction::RecvOnly => "a=recvonly",
            Direction::Inactive => "a=inactive",
        }
    }
}

/// Our `answer` again for a new offer in the dialog: its direction set to `direction` and its
/// `o=` version one more (RFC 3264 §8: a changed session description has a new version).
pub fn answer_again(answer: &[u8], direction: Direction) -> Vec<u8> {
    let text = String::from_utf8_lossy(answer);
    let mut out = String::with_capacity(text.len() + 14);
    let mut said = false;
    for line in text.split_inclusive("\r\n") {
        let bare = line.trim_end_matches("\r\n");
        if let Some(o) = bare.strip_prefix("o=") {
            let mut parts: Vec<&str> = o.split(' ').collect();
            let v = parts
                .get(2)
                .and_then(|v| v.parse::<u64>().ok())
                .map_or_else(|| "1".to_string(), |v| v.wrapping_add(1).to_string());
            if parts.len() > 2 {
                parts[2] = &v;
            }
            let _ = write!(out, "o={}\r\n", parts.join(" "));
        } else if matches!(
            bare,
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
        ) {
            let _ = write!(out, "{}\r\n", direction.attribute());
            said = true;
        } else {
            out.push_str(line);
        }
    }
    if !said {
        let _ = write!(out, "{}\r\n", direction.attribute());
    }
    out.into_bytes()
}

/// Where a new offer wants our RTP: its audio stream's port at the stream's connection address
/// (else the session's). None for a hold's 0.0.0.0, a rejected stream (port 0) or SDP without
/// them: the media stays where it was.
pub fn media_address(offer: &[u8]) -> Option<std::net::SocketAddr> {
    let text = String::from_utf8_lossy(offer);
    let (mut session, mut audio_ip, mut port, mut in_audio) = (None, None, None, false);
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = port.is_none() && m.starts_with("audio ");
            if in_audio {
                port = m
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.parse::<u16>().ok());
            }
        } else if let Some(c) = line.strip_prefix("c=") {
            let ip = c
                .split_whitespace()
                .nth(2)
                .and_then(|a| a.split('/').next()?.parse::<std::net::IpAddr>().ok());
            if in_audio {
                audio_ip = ip;
            } else if port.is_none() {
                session = ip;
            }
        }
    }
    let ip = audio_ip.or(session)?;
    let port = port.filter(|p| *p != 0)?;
    (!ip.is_unspecified()).then_some(std::net::SocketAddr::new(ip, port))
}

/// The values of an offer's `a=crypto:` attributes (SDES keys, RFC 4568), in order.
pub fn crypto_lines(offer: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(offer)
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("a=crypto:"))
        .map(str::to_string)
        .collect()
}

/// The G.711 codecs (`pcmu`, `pcma`) an SDP's audio stream lists, by static payload type or
/// by name.
fn g711_of(sdp: &[u8]) -> Vec<&'static str> {
    let text = String::from_utf8_lossy(sdp);
    let mut formats: Vec<&str> = Vec::new();
    let mut names: Vec<(&str, String)> = Vec::new();
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(m) = line.strip_prefix("m=audio ") {
            formats = m.split_whitespace().skip(2).collect();
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            let mut p = map.split_whitespace();
            if let (Some(pt), Some(enc)) = (p.next(), p.next()) {
                names.push((pt, enc.to_ascii_lowercase()));
            }
        }
    }
    let mut out = Vec::new();
    for f in formats {
        let codec = match names.iter().find(|(pt, _)| *pt == f) {
            Some((_, enc)) if enc.starts_with("pcmu/8000") => "pcmu",
            Some((_, enc)) if enc.starts_with("pcma/8000") => "pcma",
            Some(_) => continue,
            None if f == "0" => "pcmu",
            None if f == "8" => "pcma",
            None => continue,
        };
        if !out.contains(&codec) {
            out.push(codec);
        }
    }
    out
}

/// Whether a new `offer` keeps a codec of `ours` (our answer: the one codec in use; our
/// offer: those we offered). Our media keeps its codec through a re-INVITE, so an offer
/// without it is refused with 488 and the call goes on as it was.
pub fn keeps_codec(ours: &[u8], offer: &[u8]) -> bool {
    let offered = g711_of(offer);
    g711_of(ours).iter().any(|c| offered.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_offer_is_answered_in_kind_with_a_new_version() {
        let hold = b"v=0\r\no=a 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
        assert_eq!(Direction::of_offer(hold), Direction::SendOnly);
        assert_eq!(Direction::SendOnly.answered(), Direction::RecvOnly);
        assert!(!Direction::RecvOnly.we_send());
        let old = b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert_eq!(
            Direction::of_offer(old),
            Direction::SendOnly,
            "RFC 2543 hold"
        );
        let session_level = b"v=0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert_eq!(Direction::of_offer(session_level), Direction::Inactive);
        let ulaw = b"v=0\r\nm=audio 5000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
        assert!(keeps_codec(ulaw, hold));
        assert!(!keeps_codec(
            ulaw,
            b"v=0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
        ));
        // A switch to A-law alone would change our codec: refused.
        let alaw = b"v=0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\n";
        assert!(!keeps_codec(ulaw, alaw));
        assert!(keeps_codec(b"m=audio 5000 RTP/AVP 0 8 101\r\n", alaw));
        let first =
            b"v=0\r\no=ivrc 7 7 IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 0\r\na=sendrecv\r\n";
        let again = String::from_utf8(answer_again(first, Direction::RecvOnly)).expect("text");
        assert!(again.contains("o=ivrc 7 8 IN IP4 127.0.0.1\r\n"), "{again}");
        assert!(
            again.contains("a=recvonly\r\n") && !again.contains("a=sendrecv"),
            "{again}"
        );
        let resumed =
            String::from_utf8(answer_again(again.as_bytes(), Direction::SendRecv)).expect("text");
        assert!(resumed.contains("o=ivrc 7 9 ") && resumed.contains("a=sendrecv\r\n"));
    }

    #[test]
    fn a_new_offer_names_where_our_media_goes() {
        let moved = b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 5000 RTP/AVP 96\r\nm=audio 4002 RTP/AVP 0\r\nc=IN IP4 198.18.0.7\r\n";
        assert_eq!(
            media_address(moved),
            Some("198.18.0.7:4002".parse().expect("addr")),
            "the audio stream's own c= wins"
        );
        let session = b"v=0\r\nc=IN IP4 198.18.0.8\r\nm=audio 4004 RTP/AVP 8\r\n";
        assert_eq!(
            media_address(session),
            Some("198.18.0.8:4004".parse().expect("addr"))
        );
        assert_eq!(
            media_address(b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            None
        );
        assert_eq!(
            media_address(b"v=0\r\nc=IN IP4 198.18.0.8\r\nm=audio 0 RTP/AVP 0\r\n"),
            None
        );
        assert_eq!(media_address(b"m=audio 4000 RTP/AVP 0\r\n"), None);
        assert_eq!(
            media_address(b"c=IN IP6 ::1\r\nm=audio 4000 RTP/AVP 0\r\n"),
            Some("[::1]:4000".parse().expect("addr"))
        );
    }

    #[test]
    fn crypto_lines_are_read_in_order() {
        let offer = b"v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:y\r\n";
        assert_eq!(
            crypto_lines(offer),
            [
                "1 AES_CM_128_HMAC_SHA1_80 inline:x",
                "2 AES_CM_128_HMAC_SHA1_32 inline:y"
            ]
        );
        assert!(crypto_lines(b"v=0\r\n").is_empty());
    }
}

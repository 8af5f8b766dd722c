//! SDP offer/answer for one audio stream (RFC 3264 with RFC 4566 syntax): from an offer,
//! the peer's media address, the G.711 codec we both have (PCMU preferred, then PCMA) and the
//! peer's telephone-event payload type; and our answer with the same payload numbers, ptime
//! 20. Nothing else of SDP is interpreted; an offer without audio we can send is refused.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// A G.711 codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// μ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// What the offer settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Where the peer wants our RTP.
    pub remote: SocketAddr,
    /// The codec both sides have.
    pub codec: Codec,
    /// The peer's payload type for RFC 4733 events, when it offered them.
    pub dtmf_payload_type: Option<u8>,
}

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not SDP we can read: no connection address, no audio line, bad numbers.
    #[error("unreadable SDP: {0}")]
    Malformed(String),
    /// Audio without PCMU or PCMA (answered with 488).
    #[error("no common codec: the offer has none of PCMU and PCMA")]
    NoCommonCodec,
}

/// Reads an offer.
///
/// # Errors
///
/// [`SdpError::Malformed`] for SDP without a usable connection address or audio line,
/// [`SdpError::NoCommonCodec`] when the audio offers neither PCMU nor PCMA.
pub fn negotiate(offer: &[u8]) -> Result<Negotiated, SdpError> {
    let text = std::str::from_utf8(offer).map_err(|_| SdpError::Malformed("not UTF-8".into()))?;
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut audio: Option<(u16, Vec<u8>)> = None;
    let mut rtpmap: Vec<(u8, String)> = Vec::new();
    let mut in_audio = false;
    let mut seen_media = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((kind, value)) = line.split_once('=') else {
            continue;
        };
        match kind {
            "c" => {
                let ip = value
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| SdpError::Malformed(format!("c={value}")))?;
                if !seen_media {
                    session_ip = Some(ip);
                } else if in_audio {
                    media_ip = Some(ip);
                }
            }
            "m" => {
                seen_media = true;
                let mut parts = value.split_whitespace();
                in_audio = parts.next() == Some("audio") && audio.is_none();
                if in_audio {
                    let port = parts
                        .next()
                        .and_then(|p| p.split('/').next())
                        .and_then(|p| p.parse::<u16>().ok())
                        .ok_or_else(|| SdpError::Malformed(format!("m={value}")))?;
                    let _proto = parts.next();
                    let formats = parts.filter_map(|f| f.parse::<u8>().ok()).collect();
                    audio = Some((port, formats));
                }
            }
            "a" if in_audio => {
                if let Some(map) = value.strip_prefix("rtpmap:") {
                    let mut p = map.split_whitespace();
                    if let (Some(pt), Some(enc)) = (p.next().and_then(|x| x.parse().ok()), p.next())
                    {
                        rtpmap.push((pt, enc.to_ascii_lowercase()));
                    }
                }
            }
            _ => {}
        }
    }
    let (port, formats) = audio.ok_or_else(|| SdpError::Malformed("no audio stream".into()))?;
    let ip = media_ip
        .or(session_ip)
        .ok_or_else(|| SdpError::Malformed("no connection address".into()))?;
    let named = |pt: u8| {
        rtpmap
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, e)| e.as_str())
    };
    let offers = |codec: Codec| {
        let wanted = format!("{}/8000", codec.name().to_ascii_lowercase());
        formats.iter().any(|&pt| match named(pt) {
            Some(encoding) => encoding.starts_with(&wanted),
            None => pt == codec.payload_type(),
        })
    };
    let codec = if offers(Codec::Pcmu) {
        Codec::Pcmu
    } else if offers(Codec::Pcma) {
        Codec::Pcma
    } else {
        return Err(SdpError::NoCommonCodec);
    };
    let dtmf_payload_type = formats
        .iter()
        .copied()
        .find(|&pt| named(pt).is_some_and(|e| e.starts_with("telephone-event/8000")));
    Ok(Negotiated {
        remote: SocketAddr::new(ip, port),
        codec,
        dtmf_payload_type,
    })
}

/// Our answer: audio on `local`, the negotiated codec and the peer's telephone-event type.
pub fn answer(local: SocketAddr, n: &Negotiated, session_id: u64) -> Vec<u8> {
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    let pt = n.codec.payload_type();
    let mut s = format!(
        "v=0\r\no=ivrc {session_id} {session_id} IN {family} {ip}\r\ns=ivrc\r\nc=IN {family} {ip}\r\nt=0 0\r\n"
    );
    let _ = write!(s, "m=audio {} RTP/AVP {pt}", local.port());
    if let Some(dtmf) = n.dtmf_payload_type {
        let _ = write!(s, " {dtmf}");
    }
    let _ = write!(s, "\r\na=rtpmap:{pt} {}/8000\r\n", n.codec.name());
    if let Some(dtmf) = n.dtmf_payload_type {
        let _ = write!(
            s,
            "a=rtpmap:{dtmf} telephone-event/8000\r\na=fmtp:{dtmf} 0-15\r\n"
        );
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s.into_bytes()
}

/// The payload type we offer for RFC 4733 events.
pub const OFFERED_DTMF: u8 = 101;

/// Our offer for a leg we dial: audio on `local`, PCMU and PCMA, telephone-event.
pub fn offer(local: SocketAddr, session_id: u64) -> Vec<u8> {
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    let d = OFFERED_DTMF;
    format!(
        "v=0\r\no=ivrc {session_id} {session_id} IN {family} {ip}\r\ns=ivrc\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 8 {d}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{d} telephone-event/8000\r\na=fmtp:{d} 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
        local.port()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 17000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    #[test]
    fn sipps_offer() {
        let n = negotiate(SIPP.as_bytes()).expect("negotiates");
        assert_eq!(n.remote, "127.0.0.1:17000".parse().expect("addr"));
        assert_eq!(n.codec, Codec::Pcmu);
        assert_eq!(n.dtmf_payload_type, Some(101));
        let a = String::from_utf8(answer("127.0.0.1:20000".parse().expect("addr"), &n, 7))
            .unwrap_or_default();
        assert!(a.contains("m=audio 20000 RTP/AVP 0 101\r\n"), "{a}");
        assert!(a.contains("a=rtpmap:101 telephone-event/8000\r\n"), "{a}");
    }

    #[test]
    fn our_offer_negotiates_as_an_answer_would() {
        let o = offer("127.0.0.1:20002".parse().expect("addr"), 9);
        let n = negotiate(&o).expect("negotiates");
        assert_eq!(n.remote, "127.0.0.1:20002".parse().expect("addr"));
        assert_eq!((n.codec, n.dtmf_payload_type), (Codec::Pcmu, Some(101)));
    }

    #[test]
    fn pcma_only_and_other_dtmf_type() {
        let offer = SIPP
            .replace("RTP/AVP 0 8 101", "RTP/AVP 8 96")
            .replace("a=rtpmap:101", "a=rtpmap:96");
        let n = negotiate(offer.as_bytes()).expect("negotiates");
        assert_eq!((n.codec, n.dtmf_payload_type), (Codec::Pcma, Some(96)));
    }

    #[test]
    fn refusals() {
        let g729 = SIPP.replace("RTP/AVP 0 8 101", "RTP/AVP 18").replace(
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n",
            "a=rtpmap:18 G729/8000\r\n",
        );
        assert_eq!(negotiate(g729.as_bytes()), Err(SdpError::NoCommonCodec));
        assert!(matches!(negotiate(b"v=0\r\n"), Err(SdpError::Malformed(_))));
        assert!(matches!(
            negotiate(b"v=0\r\nc=IN IP4 nowhere\r\n"),
            Err(SdpError::Malformed(_))
        ));
        assert!(matches!(
            negotiate(&[0xff, 0xfe]),
            Err(SdpError::Malformed(_))
        ));
    }
}

//! SDP offer/answer for one audio stream (RFC 3264 with RFC 4566 syntax): from an offer,
//! the peer's media address, the G.711 codec we both have (PCMU preferred, then PCMA) and the
//! peer's telephone-event payload type, where it wants RTCP (`a=rtcp:`, RFC 3605; else the
//! RTP port + 1) and whether it offers RTCP on the RTP port (`a=rtcp-mux`, RFC 5761); and our
//! answer with the same payload numbers, ptime 20, and rtcp-mux when offered. Nothing else of
//! SDP is interpreted; an offer without audio we can send is refused.

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
    /// Where the peer wants our RTCP when it is not muxed.
    pub rtcp: SocketAddr,
    /// RTCP shares the RTP ports (RFC 5761): the peer offered it, and our answer takes it.
    pub rtcp_mux: bool,
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
    let mut rtcp: Option<(u16, Option<IpAddr>)> = None;
    let mut rtcp_mux = false;
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
                if value == "rtcp-mux" {
                    rtcp_mux = true;
                } else if let Some(at) = value.strip_prefix("rtcp:") {
                    // `a=rtcp:PORT [IN IP4 ADDRESS]`; an unreadable one is ignored.
                    let mut p = at.split_whitespace();
                    if let Some(port) = p.next().and_then(|x| x.parse::<u16>().ok()) {
                        rtcp = Some((port, p.nth(2).and_then(|a| a.parse().ok())));
                    }
                } else if let Some(map) = value.strip_prefix("rtpmap:") {
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
    let rtcp = match rtcp {
        Some((port, address)) => SocketAddr::new(address.unwrap_or(ip), port),
        None => SocketAddr::new(ip, port.saturating_add(1)),
    };
    Ok(Negotiated {
        remote: SocketAddr::new(ip, port),
        codec,
        dtmf_payload_type,
        rtcp,
        rtcp_mux,
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
    if n.rtcp_mux {
        s.push_str("a=rtcp-mux\r\n");
    }
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
        assert_eq!(n.rtcp, "127.0.0.1:17001".parse().expect("addr"));
        assert!(!n.rtcp_mux);
        let a = String::from_utf8(answer("127.0.0.1:20000".parse().expect("addr"), &n, 7))
            .unwrap_or_default();
        assert!(a.contains("m=audio 20000 RTP/AVP 0 101\r\n"), "{a}");
        assert!(a.contains("a=rtpmap:101 telephone-event/8000\r\n"), "{a}");
        assert!(!a.contains("rtcp-mux"), "{a}");
    }

    #[test]
    fn rtcp_attributes() {
        let moved = format!("{SIPP}a=rtcp:17011\r\n");
        let n = negotiate(moved.as_bytes()).expect("negotiates");
        assert_eq!(n.rtcp, "127.0.0.1:17011".parse().expect("addr"));
        let elsewhere = format!("{SIPP}a=rtcp:53020 IN IP4 10.0.0.7\r\na=rtcp-mux\r\n");
        let n = negotiate(elsewhere.as_bytes()).expect("negotiates");
        assert_eq!(n.rtcp, "10.0.0.7:53020".parse().expect("addr"));
        assert!(n.rtcp_mux);
        let a = answer("127.0.0.1:20000".parse().expect("addr"), &n, 7);
        assert!(String::from_utf8_lossy(&a).contains("a=rtcp-mux\r\n"));
        // Unreadable: the default, port + 1.
        let junk = format!("{SIPP}a=rtcp:nope\r\n");
        let n = negotiate(junk.as_bytes()).expect("negotiates");
        assert_eq!(n.rtcp, "127.0.0.1:17001".parse().expect("addr"));
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

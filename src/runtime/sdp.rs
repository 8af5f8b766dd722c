//! SDP offer/answer for one audio stream (RFC 3264 with RFC 4566 syntax): from an offer,
//! the peer's media address, the G.711 codec we both have (PCMU preferred, then PCMA) and the
//! peer's telephone-event payload type, where it wants RTCP (`a=rtcp:`, RFC 3605; else the
//! RTP port + 1) and whether it offers RTCP on the RTP port (`a=rtcp-mux`, RFC 5761); and our
//! answer with the same payload numbers, ptime 20, and rtcp-mux when offered. Nothing else of
//! SDP is interpreted; an offer without audio we can send is refused.
//!
//! SRTP keys travel in the SDP (SDES, RFC 4568): `a=crypto:TAG SUITE inline:KEY` lines on an
//! `RTP/SAVP` stream (or, offered best-effort, on `RTP/AVP`), as `--srtp` ([`SrtpPolicy`])
//! wants. A line with several keys, an MKI, a short lifetime or session parameters is not
//! used (RFC 4568 §6.1 lets us pick among the lines).

use crate::runtime::media::srtp::{MasterKey, Suite, MASTER_LEN};
use base64::Engine as _;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Whether calls' media is encrypted (`ivrc run --srtp`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SrtpPolicy {
    /// Plain RTP only: an `RTP/SAVP` offer gets 488.
    #[default]
    Off,
    /// SRTP when the party offers or takes it, plain RTP otherwise.
    Optional,
    /// SRTP only: offers without a suite we have get 488.
    Required,
}

/// The SRTP keys an SDES exchange settled for a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdes {
    /// The crypto line's tag.
    pub tag: u32,
    /// The suite.
    pub suite: Suite,
    /// Our key: what we send.
    pub ours: MasterKey,
    /// The party's key: what it sends.
    pub theirs: MasterKey,
}

/// What our offer for a dialled leg proposed, to read its answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    policy: SrtpPolicy,
    keys: Vec<(u32, Suite, MasterKey)>,
}

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
    /// The stream's profile is `RTP/SAVP`.
    pub savp: bool,
    /// The SRTP keys, when the media is encrypted.
    pub srtp: Option<Sdes>,
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
    /// The SRTP `--srtp` wants cannot be agreed (answered with 488).
    #[error("SRTP: {0}")]
    Srtp(String),
}

/// Reads the value of an `a=crypto:` attribute (RFC 4568 §9.1): its tag, suite and key, or
/// why we do not use it.
fn crypto_line(value: &str) -> Result<(u32, Suite, MasterKey), String> {
    let mut parts = value.split_whitespace();
    let tag = parts
        .next()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| format!("unreadable tag in a=crypto:{value}"))?;
    let name = parts.next().unwrap_or_default();
    let suite = Suite::from_name(name).ok_or_else(|| format!("unsupported suite {name:?}"))?;
    let params = parts.next().unwrap_or_default();
    if params.contains(';') {
        return Err("several keys in one crypto line are not supported".into());
    }
    if let Some(session) = parts.next() {
        return Err(format!("session parameter {session} is not supported"));
    }
    let inline = params
        .strip_prefix("inline:")
        .ok_or_else(|| format!("key method of {params:?} is not inline"))?;
    let mut fields = inline.split('|');
    let key = fields.next().unwrap_or_default();
    for f in fields {
        if f.contains(':') {
            return Err(format!("MKI {f} is not supported"));
        }
        let lifetime = match f.strip_prefix("2^") {
            Some(power) => power.parse::<u32>().ok().map(|p| 1u64 << p.min(63)),
            None => f.parse::<u64>().ok(),
        };
        match lifetime {
            Some(l) if l >= 1 << 20 => {}
            _ => return Err(format!("key lifetime {f} is shorter than 2^20 packets")),
        }
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|_| format!("key {key:?} is not base64"))?;
    let bytes: [u8; MASTER_LEN] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("key of {} bytes, not {MASTER_LEN}", b.len()))?;
    Ok((tag, suite, MasterKey(bytes)))
}

/// The party's new key in a re-offer's crypto lines (`lines`, as after `a=crypto:`): the
/// line of the tag and suite in use, when its key differs from the one we have.
pub fn rekeyed(keys: &Sdes, lines: &[String]) -> Option<MasterKey> {
    lines
        .iter()
        .filter_map(|l| crypto_line(l).ok())
        .find(|(tag, suite, _)| *tag == keys.tag && *suite == keys.suite)
        .map(|(_, _, key)| key)
        .filter(|key| *key != keys.theirs)
}

/// Writes our crypto line.
fn write_crypto(s: &mut String, tag: u32, suite: Suite, key: &MasterKey) {
    let inline = base64::engine::general_purpose::STANDARD.encode(key.0);
    let _ = write!(s, "a=crypto:{tag} {} inline:{inline}\r\n", suite.name());
}

/// A fresh key, or the 488's reason.
fn fresh_key() -> Result<MasterKey, SdpError> {
    MasterKey::generate().map_err(|e| SdpError::Srtp(format!("no random key: {e}")))
}

/// Reads an offer as `--srtp` `policy` wants: its crypto line, when used, keyed with a fresh
/// key of ours.
///
/// # Errors
///
/// [`SdpError::Malformed`] for SDP without a usable connection address or audio line,
/// [`SdpError::NoCommonCodec`] when the audio offers neither PCMU nor PCMA,
/// [`SdpError::Srtp`] when `RTP/SAVP` is offered with SRTP off, or
/// no usable crypto line is offered when SRTP is required (or the profile is `RTP/SAVP`).
pub fn negotiate(offer: &[u8], policy: SrtpPolicy) -> Result<Negotiated, SdpError> {
    let (mut n, crypto) = parse(offer)?;
    if policy == SrtpPolicy::Off {
        if n.savp {
            return Err(SdpError::Srtp("RTP/SAVP offered, SRTP is off".into()));
        }
        return Ok(n);
    }
    let mut why = Vec::new();
    let chosen = crypto.iter().find_map(|c| match crypto_line(c) {
        Ok(line) => Some(line),
        Err(e) => {
            why.push(e);
            None
        }
    });
    match chosen {
        Some((tag, suite, theirs)) => {
            n.srtp = Some(Sdes {
                tag,
                suite,
                ours: fresh_key()?,
                theirs,
            });
        }
        None if policy == SrtpPolicy::Required || n.savp => {
            if why.is_empty() {
                why.push("no a=crypto line".into());
            }
            return Err(SdpError::Srtp(why.join("; ")));
        }
        None => {}
    }
    Ok(n)
}

/// Reads an offer or answer: what it settles without SRTP, and its audio stream's crypto
/// attributes.
fn parse(offer: &[u8]) -> Result<(Negotiated, Vec<String>), SdpError> {
    let text = std::str::from_utf8(offer).map_err(|_| SdpError::Malformed("not UTF-8".into()))?;
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut audio: Option<(u16, Vec<u8>)> = None;
    let mut rtpmap: Vec<(u8, String)> = Vec::new();
    let mut rtcp: Option<(u16, Option<IpAddr>)> = None;
    let mut rtcp_mux = false;
    let mut savp = false;
    let mut crypto = Vec::new();
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
                    savp = matches!(parts.next(), Some("RTP/SAVP" | "RTP/SAVPF"));
                    let formats = parts.filter_map(|f| f.parse::<u8>().ok()).collect();
                    audio = Some((port, formats));
                }
            }
            "a" if in_audio => {
                if value == "rtcp-mux" {
                    rtcp_mux = true;
                } else if let Some(line) = value.strip_prefix("crypto:") {
                    crypto.push(line.to_string());
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
    let n = Negotiated {
        remote: SocketAddr::new(ip, port),
        codec,
        dtmf_payload_type,
        rtcp,
        rtcp_mux,
        savp,
        srtp: None,
    };
    Ok((n, crypto))
}

/// Reads the answer to our offer: the crypto line it took, with our key of that tag.
///
/// # Errors
///
/// As [`negotiate`]; [`SdpError::Srtp`] when SRTP is required and the answer takes none
/// of our crypto lines.
pub fn accept(answer: &[u8], offered: &Offered) -> Result<Negotiated, SdpError> {
    let (mut n, crypto) = parse(answer)?;
    let taken =
        crypto
            .iter()
            .filter_map(|c| crypto_line(c).ok())
            .find_map(|(tag, suite, theirs)| {
                let (_, _, ours) = offered
                    .keys
                    .iter()
                    .find(|(t, s, _)| *t == tag && *s == suite)?;
                Some(Sdes {
                    tag,
                    suite,
                    ours: ours.clone(),
                    theirs,
                })
            });
    if taken.is_none() && offered.policy == SrtpPolicy::Required {
        return Err(SdpError::Srtp(
            "the answer took none of our crypto lines".into(),
        ));
    }
    n.srtp = taken;
    Ok(n)
}

/// Our answer: audio on `local`, the negotiated codec and the peer's telephone-event type.
pub fn answer(local: SocketAddr, n: &Negotiated, session_id: u64) -> Vec<u8> {
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    let pt = n.codec.payload_type();
    let mut s = format!(
        "v=0\r\no=ivrc {session_id} {session_id} IN {family} {ip}\r\ns=ivrc\r\nc=IN {family} {ip}\r\nt=0 0\r\n"
    );
    let profile = if n.savp { "RTP/SAVP" } else { "RTP/AVP" };
    let _ = write!(s, "m=audio {} {profile} {pt}", local.port());
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
    if let Some(k) = &n.srtp {
        write_crypto(&mut s, k.tag, k.suite, &k.ours);
    }
    s.into_bytes()
}

/// The payload type we offer for RFC 4733 events.
pub const OFFERED_DTMF: u8 = 101;

/// Our offer for a leg we dial: audio on `local`, PCMU and PCMA, telephone-event; with SRTP
/// required, `RTP/SAVP` and a crypto line for each suite; with it optional, the same lines on
/// `RTP/AVP` (best effort, as baresip's `mediaenc=srtp`).
///
/// # Errors
///
/// [`SdpError::Srtp`] when no random key can be had.
pub fn offer(
    local: SocketAddr,
    session_id: u64,
    policy: SrtpPolicy,
) -> Result<(Vec<u8>, Offered), SdpError> {
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    let d = OFFERED_DTMF;
    let profile = if policy == SrtpPolicy::Required {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut s = format!(
        "v=0\r\no=ivrc {session_id} {session_id} IN {family} {ip}\r\ns=ivrc\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {} {profile} 0 8 {d}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{d} telephone-event/8000\r\na=fmtp:{d} 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
        local.port()
    );
    let mut keys = Vec::new();
    if policy != SrtpPolicy::Off {
        for (tag, suite) in (1..).zip(Suite::ALL) {
            let key = fresh_key()?;
            write_crypto(&mut s, tag, suite, &key);
            keys.push((tag, suite, key));
        }
    }
    Ok((s.into_bytes(), Offered { policy, keys }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 17000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    #[test]
    fn sipps_offer() {
        let n = negotiate(SIPP.as_bytes(), SrtpPolicy::Off).expect("negotiates");
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
        let n = negotiate(moved.as_bytes(), SrtpPolicy::Off).expect("negotiates");
        assert_eq!(n.rtcp, "127.0.0.1:17011".parse().expect("addr"));
        let elsewhere = format!("{SIPP}a=rtcp:53020 IN IP4 10.0.0.7\r\na=rtcp-mux\r\n");
        let n = negotiate(elsewhere.as_bytes(), SrtpPolicy::Off).expect("negotiates");
        assert_eq!(n.rtcp, "10.0.0.7:53020".parse().expect("addr"));
        assert!(n.rtcp_mux);
        let a = answer("127.0.0.1:20000".parse().expect("addr"), &n, 7);
        assert!(String::from_utf8_lossy(&a).contains("a=rtcp-mux\r\n"));
        // Unreadable: the default, port + 1.
        let junk = format!("{SIPP}a=rtcp:nope\r\n");
        let n = negotiate(junk.as_bytes(), SrtpPolicy::Off).expect("negotiates");
        assert_eq!(n.rtcp, "127.0.0.1:17001".parse().expect("addr"));
    }

    #[test]
    fn our_offer_negotiates_as_an_answer_would() {
        let (o, _) =
            offer("127.0.0.1:20002".parse().expect("addr"), 9, SrtpPolicy::Off).expect("an offer");
        let n = negotiate(&o, SrtpPolicy::Off).expect("negotiates");
        assert_eq!(n.remote, "127.0.0.1:20002".parse().expect("addr"));
        assert_eq!((n.codec, n.dtmf_payload_type), (Codec::Pcmu, Some(101)));
    }

    #[test]
    fn pcma_only_and_other_dtmf_type() {
        let offer = SIPP
            .replace("RTP/AVP 0 8 101", "RTP/AVP 8 96")
            .replace("a=rtpmap:101", "a=rtpmap:96");
        let n = negotiate(offer.as_bytes(), SrtpPolicy::Off).expect("negotiates");
        assert_eq!((n.codec, n.dtmf_payload_type), (Codec::Pcma, Some(96)));
    }

    #[test]
    fn refusals() {
        let g729 = SIPP.replace("RTP/AVP 0 8 101", "RTP/AVP 18").replace(
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n",
            "a=rtpmap:18 G729/8000\r\n",
        );
        assert_eq!(
            negotiate(g729.as_bytes(), SrtpPolicy::Off),
            Err(SdpError::NoCommonCodec)
        );
        assert!(matches!(
            negotiate(b"v=0\r\n", SrtpPolicy::Off),
            Err(SdpError::Malformed(_))
        ));
        assert!(matches!(
            negotiate(b"v=0\r\nc=IN IP4 nowhere\r\n", SrtpPolicy::Off),
            Err(SdpError::Malformed(_))
        ));
        assert!(matches!(
            negotiate(&[0xff, 0xfe], SrtpPolicy::Off),
            Err(SdpError::Malformed(_))
        ));
    }

    const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn savp(extra: &str) -> String {
        SIPP.replace("RTP/AVP", "RTP/SAVP") + extra
    }

    #[test]
    fn sdes_offers_are_answered_with_our_key_of_the_suite_taken() {
        let o = savp(&format!(
            "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY}{KEY}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY}|2^31\r\n"
        ));
        for policy in [SrtpPolicy::Optional, SrtpPolicy::Required] {
            let n = negotiate(o.as_bytes(), policy).expect("negotiates");
            let k = n.srtp.clone().expect("keys");
            assert_eq!((k.tag, k.suite), (2, Suite::Aes128Sha1_32));
            assert_eq!(k.theirs.0[..4], [0x59, 0x53, 0x5f, 0x5f]);
            assert_ne!(k.ours, k.theirs);
            let a = String::from_utf8(answer("127.0.0.1:20000".parse().expect("addr"), &n, 7))
                .unwrap_or_default();
            assert!(a.contains("m=audio 20000 RTP/SAVP 0 101\r\n"), "{a}");
            let line = a
                .lines()
                .find_map(|l| l.strip_prefix("a=crypto:"))
                .expect("our crypto line");
            let (tag, suite, ours) = crypto_line(line).expect("readable");
            assert_eq!((tag, suite, &ours), (2, Suite::Aes128Sha1_32, &k.ours));
        }
        assert!(matches!(
            negotiate(o.as_bytes(), SrtpPolicy::Off),
            Err(SdpError::Srtp(_))
        ));
    }

    #[test]
    fn what_each_policy_refuses() {
        let plain = SIPP.to_string();
        assert!(negotiate(plain.as_bytes(), SrtpPolicy::Optional)
            .expect("plain is fine")
            .srtp
            .is_none());
        assert!(matches!(
            negotiate(plain.as_bytes(), SrtpPolicy::Required),
            Err(SdpError::Srtp(_))
        ));
        // Best effort: RTP/AVP with a crypto line is encrypted unless SRTP is off.
        let best = format!("{SIPP}a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n");
        let n = negotiate(best.as_bytes(), SrtpPolicy::Required).expect("negotiates");
        assert!(!n.savp && n.srtp.is_some());
        assert!(negotiate(best.as_bytes(), SrtpPolicy::Off)
            .expect("plain")
            .srtp
            .is_none());
        for (line, why) in [
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4"),
                "MKI",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|1024"),
                "lifetime",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY} UNENCRYPTED_SRTP"),
                "session",
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY};inline:{KEY}"),
                "several",
            ),
            ("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA".into(), "bytes"),
            ("1 F8_128_HMAC_SHA1_80 inline:AAAA".into(), "suite"),
            ("x AES_CM_128_HMAC_SHA1_80 inline:AAAA".into(), "tag"),
        ] {
            let e = crypto_line(&line).expect_err(&line);
            assert!(e.contains(why), "{line}: {e}");
            let o = savp(&format!("a=crypto:{line}\r\n"));
            match negotiate(o.as_bytes(), SrtpPolicy::Optional) {
                Err(SdpError::Srtp(e)) => assert!(e.contains(why), "{e}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn our_offers_and_their_answers() {
        let local = "127.0.0.1:20002".parse().expect("addr");
        let (o, offered) = offer(local, 9, SrtpPolicy::Required).expect("an offer");
        let text = String::from_utf8(o.clone()).unwrap_or_default();
        assert!(
            text.contains("m=audio 20002 RTP/SAVP 0 8 101\r\n"),
            "{text}"
        );
        assert_eq!(text.matches("a=crypto:").count(), 2, "{text}");
        // The party answers our offer as we answer one: it takes our first line.
        let n = negotiate(&o, SrtpPolicy::Required).expect("negotiates");
        let a = answer("127.0.0.1:30000".parse().expect("addr"), &n, 1);
        let ours = accept(&a, &offered).expect("accepted").srtp.expect("keys");
        let theirs = n.srtp.expect("keys");
        assert_eq!((ours.tag, ours.suite), (1, Suite::Aes128Sha1_80));
        assert_eq!((&ours.ours, &ours.theirs), (&theirs.theirs, &theirs.ours));
        // A plain answer: refused when required, plain when optional.
        let n = negotiate(SIPP.as_bytes(), SrtpPolicy::Off).expect("negotiates");
        let plain = answer("127.0.0.1:30000".parse().expect("addr"), &n, 1);
        assert!(matches!(accept(&plain, &offered), Err(SdpError::Srtp(_))));
        let (o, offered) = offer(local, 9, SrtpPolicy::Optional).expect("an offer");
        assert!(String::from_utf8_lossy(&o).contains("RTP/AVP 0 8 101"));
        assert!(accept(&plain, &offered).expect("plain").srtp.is_none());
        let (o, _) = offer(local, 9, SrtpPolicy::Off).expect("an offer");
        assert!(!String::from_utf8_lossy(&o).contains("crypto"));
    }

    #[test]
    fn a_re_offer_rekeys_only_when_the_line_in_use_changed() {
        let o = savp(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"
        ));
        let n = negotiate(o.as_bytes(), SrtpPolicy::Required).expect("negotiates");
        let keys = n.srtp.expect("keys");
        let same = vec![format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}")];
        assert_eq!(rekeyed(&keys, &same), None);
        let new_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
        let other_tag = vec![format!("2 AES_CM_128_HMAC_SHA1_80 inline:{new_key}")];
        assert_eq!(rekeyed(&keys, &other_tag), None);
        let changed = vec![
            format!("2 AES_CM_128_HMAC_SHA1_32 inline:{KEY}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{new_key}"),
        ];
        let k = rekeyed(&keys, &changed).expect("a new key");
        assert_eq!(&k.0[..3], b"ABC");
    }
}

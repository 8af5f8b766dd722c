//! The runtime's defences at its intake, before a request costs more than a glance: the
//! allow list of source networks (`--allow`), known scanners' user agents
//! (`--drop-scanners`), the per-source rate limit ([`super::rate`]) and digest
//! authentication of the requests that start flows ([`super::inbound_auth`]). Each counts what
//! it turned away, for the shutdown summary ([`Counts`]).
//!
//! [`Guard::screen`] reads only the request line and the Call-ID and User-Agent header lines
//! of a datagram ([`peek`]), so a flood that is dropped is never parsed. Responses pass (they
//! only match transactions of ours), and so do requests of dialogs we have (their Call-ID is
//! known): a flood does not starve the calls that are up. Sources in `--trusted` networks (a
//! proxy or SBC in front, which sends every caller's requests from its one address) and the
//! trunk's are neither rate-limited nor challenged, and are allowed whatever `--allow` says.

use super::inbound_auth::{Users, Verdict};
use super::message::{Method, Request};
use super::network::Network;
use super::rate::{self, Limiter, Rate};
use std::net::IpAddr;
use std::time::Instant;

/// User agents of SIP scanners, matched as case-insensitive substrings: the ones Kamailio's
/// default configuration drops (`route[REQINIT]`: friendly-scanner, sipcli, VaxSIPUserAgent),
/// those Smartvox lists from its proxies' logs ("How to spot hacker INVITE requests", 2016:
/// friendly-scanner, sipcli), and the tools they name themselves after (SIPVicious' svmap and
/// svwar, sundayddr, iWar, SIPBomber, sip-scan, pplsip).
pub const SCANNERS: [&str; 10] = [
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "vaxsipuseragent",
    "sundayddr",
    "iwar",
    "sipbomber",
    "sip-scan",
    "pplsip",
    "vaxipuseragent",
];

/// The defences' settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// When not empty, requests from other sources are dropped.
    pub allow: Vec<Network>,
    /// Sources exempt from the rate limit and authentication (and allowed).
    pub trusted: Vec<Network>,
    /// The per-source rate limit of requests outside our dialogs; `None`: off.
    pub rate: Option<Rate>,
    /// Drop requests whose User-Agent is a known scanner's.
    pub drop_scanners: bool,
    /// Who may start flows, when INVITE and MESSAGE must be authenticated.
    pub users: Option<Users>,
}

/// What the defences turned away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests over the rate limit answered 503.
    pub rate_limited: u64,
    /// Requests far over the rate limit, dropped.
    pub rate_dropped: u64,
    /// Requests from sources outside `--allow`, dropped.
    pub not_allowed: u64,
    /// Requests from scanners, dropped.
    pub scanners: u64,
    /// Requests challenged with 401 (no credentials, or a stale or foreign nonce).
    pub challenged: u64,
    /// Requests whose credentials were wrong (403) or malformed (400).
    pub auth_failed: u64,
}

/// What becomes of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// It goes on to the core.
    Pass,
    /// Dropped without an answer.
    Drop,
    /// Answered 503 with Retry-After of this many seconds (unless an ACK).
    Busy(u32),
}

/// A refusal of a caller: the status, its reason phrase and the response's extra headers.
pub type Refusal = (u16, &'static str, Vec<(&'static str, String)>);

/// The defences and their counts.
#[derive(Debug, Default)]
pub struct Guard {
    settings: Settings,
    limiter: Option<Limiter>,
    counts: Counts,
}

/// What [`Guard::screen`] reads of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peek<'a> {
    /// The Call-ID (full or compact header).
    pub call_id: Option<&'a str>,
    /// The User-Agent.
    pub user_agent: Option<&'a str>,
}

impl Guard {
    /// Defences with `settings`.
    pub fn new(settings: Settings) -> Guard {
        Guard {
            limiter: settings.rate.map(Limiter::new),
            settings,
            counts: Counts::default(),
        }
    }

    /// What was turned away so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.settings.trusted.iter().any(|n| n.contains(ip))
    }

    /// Screens a datagram from `ip` at `now`; `known` tells whether a Call-ID is one of our
    /// dialogs'.
    pub fn screen(
        &mut self,
        bytes: &[u8],
        ip: IpAddr,
        now: Instant,
        known: impl Fn(&str) -> bool,
    ) -> Screen {
        // Responses, and keep-alives (CRLF), are not requests.
        if bytes.starts_with(b"SIP/") || bytes.iter().all(u8::is_ascii_whitespace) {
            return Screen::Pass;
        }
        let trusted = self.trusted(ip);
        let allow = &self.settings.allow;
        if !trusted && !allow.is_empty() && !allow.iter().any(|n| n.contains(ip)) {
            self.counts.not_allowed += 1;
            return Screen::Drop;
        }
        let limiter = self.limiter.as_mut().filter(|_| !trusted);
        if !self.settings.drop_scanners && limiter.is_none() {
            return Screen::Pass;
        }
        let peek = peek(bytes);
        if self.settings.drop_scanners && peek.user_agent.is_some_and(is_scanner) {
            self.counts.scanners += 1;
            return Screen::Drop;
        }
        let Some(limiter) = limiter else {
            return Screen::Pass;
        };
        if peek.call_id.is_some_and(known) {
            return Screen::Pass;
        }
        match limiter.check(ip, now) {
            rate::Verdict::Pass => Screen::Pass,
            rate::Verdict::Refuse(after) => {
                self.counts.rate_limited += 1;
                Screen::Busy(after)
            }
            rate::Verdict::Drop => {
                self.counts.rate_dropped += 1;
                Screen::Drop
            }
        }
    }

    /// Whether a request that starts a flow (an INVITE or MESSAGE outside our dialogs) from
    /// `ip` is let through: `None`, or the response that refuses it (status, reason, headers).
    pub fn authenticate(&mut self, r: &Request, ip: IpAddr, now: Instant) -> Option<Refusal> {
        if !matches!(r.method, Method::Invite | Method::Message) || self.trusted(ip) {
            return None;
        }
        let users = self.settings.users.as_ref()?;
        match users.check(r.method.as_str(), &r.uri, &r.headers, now) {
            Verdict::Pass(_) => None,
            Verdict::Challenge { stale } => {
                self.counts.challenged += 1;
                Some((401, "Unauthorized", users.challenges(stale, now)))
            }
            Verdict::Forbidden => {
                self.counts.auth_failed += 1;
                Some((403, "Forbidden", Vec::new()))
            }
            Verdict::Malformed => {
                self.counts.auth_failed += 1;
                Some((400, "Bad Request", Vec::new()))
            }
        }
    }
}

/// Whether a User-Agent is a known scanner's.
pub fn is_scanner(user_agent: &str) -> bool {
    let lower = user_agent.to_ascii_lowercase();
    SCANNERS.iter().any(|s| lower.contains(s))
}

/// The Call-ID and User-Agent of a request, read from its header lines alone (up to the
/// first empty line; CRLF or LF line ends, full or compact names, any case).
pub fn peek(bytes: &[u8]) -> Peek<'_> {
    let mut out = Peek {
        call_id: None,
        user_agent: None,
    };
    for line in bytes.split(|b| *b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let value = || std::str::from_utf8(line[colon + 1..].trim_ascii()).ok();
        if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            out.call_id = out.call_id.or_else(value);
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            out.user_agent = out.user_agent.or_else(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn options(user_agent: &str, call_id: &str) -> Vec<u8> {
        format!("OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5070;branch=z9hG4bKx\r\nFrom: <sip:100@192.0.2.9>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\ni: {call_id}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: {user_agent}\r\nContent-Length: 0\r\n\r\nUser-Agent: body\r\n").into_bytes()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn peek_reads_the_call_id_and_user_agent_of_the_head_only() {
        let m = options("friendly-scanner", "abc@x");
        assert_eq!(
            peek(&m),
            Peek {
                call_id: Some("abc@x"),
                user_agent: Some("friendly-scanner")
            }
        );
        let lf = b"INVITE sip:a@b SIP/2.0\nCALL-ID:  q1 \nuser-agent:sipcli/v1.8\n\n";
        assert_eq!(
            peek(lf),
            Peek {
                call_id: Some("q1"),
                user_agent: Some("sipcli/v1.8")
            }
        );
        assert_eq!(peek(b"\xff\xfe garbage").call_id, None);
    }

    #[test]
    fn scanners_are_known_by_any_case() {
        for ua in [
            "friendly-scanner",
            "SIPVicious 0.3",
            "sipcli/v1.8",
            "VaxSIPUserAgent/3.1",
            "sundayddr",
            "iWar",
            "SIPBomber",
        ] {
            assert!(is_scanner(ua), "{ua}");
        }
        for ua in ["baresip v3.10", "Asterisk PBX 22", "sipp", "Linphone"] {
            assert!(!is_scanner(ua), "{ua}");
        }
    }

    #[test]
    fn the_allow_list_and_scanners_drop_and_count() {
        let mut guard = Guard::new(Settings {
            allow: vec!["10.0.0.0/8".parse().expect("net")],
            trusted: vec!["192.0.2.1".parse().expect("net")],
            drop_scanners: true,
            ..Settings::default()
        });
        let now = Instant::now();
        let none = |_: &str| false;
        let ok = options("baresip", "c1");
        assert_eq!(guard.screen(&ok, ip("10.1.2.3"), now, none), Screen::Pass);
        assert_eq!(guard.screen(&ok, ip("192.0.2.7"), now, none), Screen::Drop);
        assert_eq!(
            guard.screen(&ok, ip("192.0.2.1"), now, none),
            Screen::Pass,
            "trusted"
        );
        // Responses pass wherever they come from.
        let response = b"SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n";
        assert_eq!(
            guard.screen(response, ip("192.0.2.7"), now, none),
            Screen::Pass
        );
        let scan = options("friendly-scanner", "c2");
        assert_eq!(guard.screen(&scan, ip("10.0.0.5"), now, none), Screen::Drop);
        assert_eq!(
            guard.counts(),
            Counts {
                not_allowed: 1,
                scanners: 1,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn the_rate_limit_spares_dialogs_we_have_and_trusted_sources() {
        let mut guard = Guard::new(Settings {
            rate: Some(Rate {
                per_second: 10.0,
                burst: 10.0,
            }),
            trusted: vec!["192.0.2.1".parse().expect("net")],
            ..Settings::default()
        });
        let start = Instant::now();
        let known = |id: &str| id == "up";
        let mut busy = 0;
        for i in 0..1000u64 {
            let now = start + Duration::from_millis(i);
            let new = options("sipp", &format!("flood{i}"));
            if let Screen::Busy(_) = guard.screen(&new, ip("198.51.100.9"), now, known) {
                busy += 1;
            }
            // Requests of the call that is up, and of the trusted proxy, always pass.
            let dialog = options("sipp", "up");
            assert_eq!(
                guard.screen(&dialog, ip("198.51.100.9"), now, known),
                Screen::Pass
            );
            assert_eq!(
                guard.screen(&new, ip("192.0.2.1"), now, known),
                Screen::Pass
            );
        }
        let counts = guard.counts();
        assert_eq!(busy, counts.rate_limited);
        assert!(
            counts.rate_limited >= 1 && counts.rate_limited <= 2,
            "{counts:?}"
        );
        assert!(counts.rate_dropped > 950, "{counts:?}");
    }
}

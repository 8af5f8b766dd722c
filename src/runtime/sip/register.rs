//! Outbound registration (RFC 3261 §10): keeps our Contact bound at a provider's registrar
//! so that calls for our numbers reach us. One REGISTER transaction at a time (a non-INVITE
//! client transaction: timer E retransmissions over UDP, timer F gives up, §17.1.2), the
//! registrar's digest challenge answered once per nonce ([`super::digest`]), a refresh before
//! the granted expiry runs out, `Min-Expires` honoured on 423 (§10.2.8), retries with backoff
//! after failures and silence, and `Expires: 0` on shutdown. A refusal that retrying cannot
//! fix — 403, 404, or a second challenge for the same credentials (a wrong password) — stops
//! with its reason instead of looping. No I/O: responses and `now` in, effects out.

use super::digest::Challenge;
use super::effect::{Effect, Registration};
use super::message::{self, cseq, Method, Response};
use super::timers::{token, T1, T2, TIMEOUT};
use super::transport::Transport;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The expiry we ask for unless told otherwise (an hour, as softphones do).
pub const DEFAULT_EXPIRES: u32 = 3600;
/// The longest expiry we accept from a registrar (a day): a larger one, even 2^32, is read as
/// this, so a refresh still happens.
const MAX_EXPIRES: u64 = 86_400;
/// The first pause after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a shutdown waits for the registrar to confirm the unregistration.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(4);

/// The account at a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The registrar's address.
    pub registrar: SocketAddr,
    /// The provider's domain (the host of our address of record and of the request-URI).
    pub domain: String,
    /// The account's user, the user of our address of record.
    pub user: String,
    /// The digest password.
    pub password: String,
    /// The expiry we ask for, in seconds.
    pub expires: u32,
    /// While registered, a CRLF keep-alive to the registrar this often (RFC 5626 §3.5.1's
    /// double CRLF), so that a NAT on the way keeps our mapping open between refreshes.
    pub keepalive: Option<Duration>,
    /// The trunk's transport: over TCP or TLS, Via names it (with `;alias`, RFC 5923, so that
    /// calls for us come back on our connection), our Contact asks for it, and REGISTER is not
    /// retransmitted.
    pub transport: Transport,
}

/// The registration client.
#[derive(Debug)]
pub struct Registrar {
    account: Account,
    /// Our address (the Via and the Contact).
    local: SocketAddr,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The current transaction's branch and request, and its retransmit interval.
    branch: String,
    request: Vec<u8>,
    interval: Duration,
    /// The expiry asked for now (raised by a 423's Min-Expires).
    expires: u32,
    /// The nonce last answered: a second challenge with it means the password is wrong.
    answered_nonce: Option<String>,
    /// Failures in a row, for the backoff.
    failures: u32,
    /// Whether a transaction is out.
    pending: bool,
    /// Whether we are unregistering (shutdown).
    leaving: bool,
    /// Stopped for good (refused, or unregistered).
    stopped: bool,
    /// Timer E: send the request again.
    retransmit_at: Option<Instant>,
    /// Timer F: nothing came back.
    give_up_at: Option<Instant>,
    /// Register again: the refresh before expiry, or the retry after a failure.
    again_at: Option<Instant>,
    /// The next keep-alive, while registered.
    ping_at: Option<Instant>,
    seq: u64,
    out: Vec<Effect>,
}

impl Registrar {
    /// A client for `account` with our Contact at `local`; nothing is sent before
    /// [`Registrar::start`].
    pub fn new(local: SocketAddr, account: Account) -> Registrar {
        let mut seq = 0;
        let call_id = format!("reg-{}", token(&mut seq, 0x5eed_0f12));
        let from_tag = token(&mut seq, 0x7a61_9e3d);
        Registrar {
            expires: account.expires,
            account,
            local,
            call_id,
            from_tag,
            cseq: 0,
            branch: String::new(),
            request: Vec::new(),
            interval: T1,
            answered_nonce: None,
            failures: 0,
            pending: false,
            leaving: false,
            stopped: false,
            retransmit_at: None,
            give_up_at: None,
            again_at: None,
            ping_at: None,
            seq,
            out: Vec::new(),
        }
    }

    /// Whether a message with this Call-ID is ours.
    pub fn owns(&self, call_id: &str) -> bool {
        call_id == self.call_id
    }

    /// When the next timer is due.
    pub fn next_timer(&self) -> Option<Instant> {
        [
            self.retransmit_at,
            self.give_up_at,
            self.again_at,
            self.ping_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Takes the effects produced so far.
    pub fn effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    /// Whether effects wait to be taken.
    pub fn effects_pending(&self) -> bool {
        !self.out.is_empty()
    }

    /// Whether an unregistration is still out (shutdown waits for it).
    pub fn busy(&self) -> bool {
        self.leaving && self.pending
    }

    /// Sends the first REGISTER.
    pub fn start(&mut self, now: Instant) {
        self.send(None, now);
    }

    /// Our connection to the registrar (TCP or TLS) was made again after it dropped: the
    /// binding may have been tied to the old one (a registrar that sends calls back on it), so
    /// we register again now. Nothing while leaving or stopped for good.
    pub fn reconnected(&mut self, now: Instant) {
        if self.stopped || self.leaving {
            return;
        }
        self.answered_nonce = None;
        self.send(None, now);
    }

    /// Removes our binding (`Expires: 0`), for shutdown; nothing is sent when we never got
    /// registered or were refused.
    pub fn stop(&mut self, now: Instant) {
        if self.stopped || self.leaving {
            return;
        }
        self.leaving = true;
        self.ping_at = None;
        self.answered_nonce = None;
        self.send(None, now);
    }

    fn report(&mut self, r: Registration) {
        self.out.push(Effect::Registration(r));
    }

    fn aor(&self) -> String {
        format!("<sip:{}@{}>", self.account.user, self.account.domain)
    }

    fn contact(&self) -> String {
        let transport = self.account.transport.uri_param();
        format!("<sip:{}@{}{transport}>", self.account.user, self.local)
    }

    /// Sends a REGISTER (a new transaction), with credentials when answering a challenge.
    fn send(&mut self, credentials: Option<(&str, String)>, now: Instant) {
        self.cseq += 1;
        self.branch = format!("z9hG4bK{}", token(&mut self.seq, 0x3c2f_1a77));
        let expires = if self.leaving { 0 } else { self.expires };
        let mut headers: Vec<(&str, String)> = vec![
            (
                "Via",
                format!(
                    "SIP/2.0/{} {};branch={};rport{}",
                    self.account.transport.via_name(),
                    self.local,
                    self.branch,
                    if self.account.transport.reliable() {
                        ";alias"
                    } else {
                        ""
                    }
                ),
            ),
            ("Max-Forwards", "70".into()),
            ("From", format!("{};tag={}", self.aor(), self.from_tag)),
            ("To", self.aor()),
            ("Call-ID", self.call_id.clone()),
            ("CSeq", format!("{} REGISTER", self.cseq)),
            ("Contact", self.contact()),
            ("Expires", expires.to_string()),
            ("User-Agent", "ivrc".into()),
        ];
        if let Some((name, value)) = credentials {
            headers.push((name, value));
        }
        let uri = format!("sip:{}", self.account.domain);
        self.request = message::request(&Method::Other("REGISTER".into()), &uri, &headers, b"");
        self.pending = true;
        self.interval = T1;
        self.out
            .push(Effect::Send(self.request.clone(), self.account.registrar));
        // Timer E is for unreliable transports (RFC 3261 §17.1.2.2).
        self.retransmit_at = (!self.account.transport.reliable()).then(|| now + T1);
        // A shutdown waits for the unregistration only briefly.
        self.give_up_at = Some(now + if self.leaving { LEAVE_TIMEOUT } else { TIMEOUT });
        self.again_at = None;
    }

    /// Runs the timers due at `now`.
    pub fn fire(&mut self, now: Instant) {
        if self.pending && self.give_up_at.is_some_and(|at| at <= now) {
            self.pending = false;
            self.retransmit_at = None;
            self.give_up_at = None;
            self.fail("the registrar did not answer".into(), None, now);
            return;
        }
        if self.pending && self.retransmit_at.is_some_and(|at| at <= now) {
            self.interval = (self.interval * 2).min(T2);
            self.retransmit_at = Some(now + self.interval);
            self.out
                .push(Effect::Send(self.request.clone(), self.account.registrar));
        }
        if let (Some(at), Some(every)) = (self.ping_at, self.account.keepalive) {
            if at <= now {
                self.ping_at = Some(now + every);
                if !self.pending {
                    self.out
                        .push(Effect::Send(b"\r\n\r\n".to_vec(), self.account.registrar));
                }
            }
        }
        if !self.pending && self.again_at.is_some_and(|at| at <= now) {
            self.again_at = None;
            self.answered_nonce = None;
            self.send(None, now);
        }
    }

    /// A failure retrying may fix: reported, then the next attempt after the backoff (or the
    /// registrar's `Retry-After`). While unregistering, nothing more is tried.
    fn fail(&mut self, reason: String, retry_after: Option<Duration>, now: Instant) {
        if self.leaving {
            self.stopped = true;
            self.report(Registration::NotUnregistered(reason));
            return;
        }
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF);
        let wait = retry_after.map_or(backoff, |r| r.min(MAX_BACKOFF));
        self.failures += 1;
        self.again_at = Some(now + wait);
        self.report(Registration::Failed {
            reason,
            retry_in: wait,
        });
    }

    /// A refusal retrying cannot fix: reported, and nothing more is sent.
    fn refuse(&mut self, reason: String) {
        self.stopped = true;
        self.again_at = None;
        self.ping_at = None;
        self.report(Registration::Refused(reason));
    }

    /// A response to our REGISTER that the parser refused (only its `status` could be read):
    /// a final one ends the transaction as a failure, with `reason` in the report, and the
    /// next attempt comes after the backoff — rather than retransmitting until timer F as if
    /// the registrar had not answered.
    pub fn unreadable(&mut self, status: u16, reason: &str, now: Instant) {
        if !self.pending || status < 200 {
            return;
        }
        self.pending = false;
        self.retransmit_at = None;
        self.give_up_at = None;
        self.fail(
            format!(
                "the registrar's {status} answer is not readable SIP ({})",
                brief(reason)
            ),
            None,
            now,
        );
    }

    /// A response to our REGISTER.
    pub fn response(&mut self, r: &Response, now: Instant) {
        // Only the current transaction's answers count (a late answer to an old one is
        // dropped); a provisional answer stops the retransmissions.
        let current = r
            .headers
            .get("Via")
            .and_then(|v| v.split(',').next())
            .is_some_and(|top| top.contains(&format!("branch={}", self.branch)));
        let is_register = matches!(cseq(&r.headers), Some((n, Method::Other(m))) if n == self.cseq && m == "REGISTER");
        if !self.pending || !current || !is_register {
            return;
        }
        if r.status < 200 {
            self.retransmit_at = None;
            return;
        }
        self.pending = false;
        self.retransmit_at = None;
        self.give_up_at = None;
        match r.status {
            200..=299 if self.leaving => {
                self.stopped = true;
                self.report(Registration::Unregistered);
            }
            200..=299 => match granted(r, &self.contact(), self.expires) {
                Some(seconds) => {
                    self.failures = 0;
                    // Refresh when three quarters of the time have passed (at least a second
                    // before the end).
                    let refresh = Duration::from_secs((seconds * 3 / 4).max(1));
                    self.again_at = Some(now + refresh);
                    self.ping_at = self.account.keepalive.map(|every| now + every);
                    self.report(Registration::Registered {
                        expires: Duration::from_secs(seconds),
                    });
                }
                None => self.fail(
                    "the registrar's 200 OK kept no binding of our Contact".into(),
                    None,
                    now,
                ),
            },
            401 | 407 => self.challenged(r, now),
            423 => {
                let min = r
                    .headers
                    .get("Min-Expires")
                    .and_then(|m| m.trim().parse::<u64>().ok())
                    .filter(|m| *m > u64::from(self.expires) && *m <= MAX_EXPIRES);
                match min {
                    Some(min) => {
                        self.expires = u32::try_from(min).unwrap_or(u32::MAX);
                        self.send(None, now);
                    }
                    None => self.fail(
                        "423 Interval Too Brief without a usable Min-Expires".into(),
                        None,
                        now,
                    ),
                }
            }
            403 | 404 => self.refuse(format!(
                "{} {}: the provider refuses the account `{}` at {}",
                r.status,
                if r.status == 403 {
                    "Forbidden"
                } else {
                    "Not Found"
                },
                self.account.user,
                self.account.domain
            )),
            status => {
                let retry_after = r
                    .headers
                    .get("Retry-After")
                    .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                    .map(Duration::from_secs);
                self.fail(format!("the registrar answered {status}"), retry_after, now);
            }
        }
    }

    /// A 401 or 407: answered once per nonce; the same credentials challenged again (not as
    /// stale) mean a wrong user or password.
    fn challenged(&mut self, r: &Response, now: Instant) {
        let (header, answer) = if r.status == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let challenge = match r.headers.get(header).map(Challenge::parse) {
            Some(Ok(c)) => c,
            Some(Err(e)) => return self.refuse(format!("the registrar's challenge: {e}")),
            None => return self.refuse(format!("{} without {header}", r.status)),
        };
        if self.answered_nonce.is_some() && !challenge.stale {
            return self.refuse(format!(
                "{} again after our answer: the provider does not take the password of `{}`",
                r.status, self.account.user
            ));
        }
        self.answered_nonce = Some(challenge.nonce.clone());
        let cnonce = token(&mut self.seq, 0x0c70_11ce);
        let uri = format!("sip:{}", self.account.domain);
        let value = challenge.answer(
            &self.account.user,
            &self.account.password,
            "REGISTER",
            &uri,
            &cnonce,
        );
        self.send(Some((answer, value)), now);
    }
}

/// The seconds the registrar granted our Contact: its `expires` parameter in the 200's
/// Contact list, else the `Expires` header, else what we asked for; `None` when the 200 lists
/// bindings but not ours, or grants 0. Values above a day are read as a day.
fn granted(r: &Response, ours: &str, asked: u32) -> Option<u64> {
    let ours = message::strip_angle(ours);
    let mut listed = false;
    for value in r.headers.all("Contact") {
        for contact in split_contacts(value) {
            listed = true;
            if message::strip_angle(contact) != ours {
                continue;
            }
            let expires = contact
                .rsplit_once('>')
                .map_or("", |(_, params)| params)
                .split(';')
                .find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("expires").then(|| v.trim())
                });
            if let Some(e) = expires {
                return seconds(e);
            }
            return header_expires(r)
                .or(Some(u64::from(asked)))
                .filter(|s| *s > 0);
        }
    }
    if listed {
        return None;
    }
    header_expires(r)
        .or(Some(u64::from(asked)))
        .filter(|s| *s > 0)
}

/// A parser's reason cut to one log-sized line: its first line, without the tokenizer's
/// repeated prefixes, at most 120 characters.
fn brief(reason: &str) -> String {
    let mut line = reason.lines().next().unwrap_or_default();
    while let Some(rest) = ["Tokenizer error: ", "tokenizer error: "]
        .iter()
        .find_map(|p| line.strip_prefix(p))
    {
        line = rest;
    }
    line.chars().take(120).collect()
}

fn header_expires(r: &Response) -> Option<u64> {
    r.headers.get("Expires").and_then(seconds)
}

/// A delta-seconds value, capped at a day; 0 and garbage are `None`.
fn seconds(text: &str) -> Option<u64> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // More digits than any u64 holds are also "more than a day".
    let n = digits.parse::<u64>().unwrap_or(u64::MAX);
    (n > 0).then_some(n.min(MAX_EXPIRES))
}

/// The comma-separated contacts of a Contact header value (commas inside `<…>` or quotes
/// are not separators).
fn split_contacts(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.into_iter().filter(|c| !c.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sip::message::{parse, Message};

    const REGISTRAR: &str = "127.0.0.1:5070";

    fn client() -> Registrar {
        Registrar::new(
            "127.0.0.1:5060".parse().expect("addr"),
            Account {
                registrar: REGISTRAR.parse().expect("addr"),
                domain: "provider.test".into(),
                user: "ivrc".into(),
                password: "secret".into(),
                expires: 60,
                keepalive: None,
                transport: Transport::Udp,
            },
        )
    }

    /// The requests sent and the registration reports, in order.
    fn drain(r: &mut Registrar) -> (Vec<String>, Vec<Registration>) {
        let mut sent = Vec::new();
        let mut reports = Vec::new();
        for e in r.effects() {
            match e {
                Effect::Send(bytes, to) => {
                    assert_eq!(to.to_string(), REGISTRAR);
                    sent.push(String::from_utf8(bytes).expect("UTF-8"));
                }
                Effect::Registration(x) => reports.push(x),
                other => panic!("{other:?}"),
            }
        }
        (sent, reports)
    }

    /// A header of a request we sent.
    fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
        request
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }

    /// The response `status` to `request`, with `extra` header lines.
    fn answer(request: &str, status: &str, extra: &str) -> Response {
        let mut text = format!("SIP/2.0 {status}\r\n");
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            let value = header(request, name).expect("a dialog header");
            let value = if name == "To" {
                format!("{value};tag=reg1")
            } else {
                value.to_string()
            };
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str(extra);
        text.push_str("Content-Length: 0\r\n\r\n");
        match parse(text.as_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const CHALLENGE: &str =
        "WWW-Authenticate: Digest realm=\"provider.test\", nonce=\"n1\", qop=\"auth\", algorithm=MD5\r\n";

    #[test]
    fn registers_through_a_challenge_and_refreshes_before_expiry() {
        let now = Instant::now();
        let mut r = client();
        r.start(now);
        let (sent, _) = drain(&mut r);
        assert!(
            sent[0].starts_with("REGISTER sip:provider.test SIP/2.0\r\n"),
            "{}",
            sent[0]
        );
        assert_eq!(header(&sent[0], "Expires"), Some("60"));
        assert_eq!(
            header(&sent[0], "Contact"),
            Some("<sip:ivrc@127.0.0.1:5060>")
        );
        // UDP retransmission (timer E) until an answer.
        r.fire(now + T1);
        assert_eq!(drain(&mut r).0, sent);
        r.response(&answer(&sent[0], "401 Unauthorized", CHALLENGE), now + T1);
        let (sent2, _) = drain(&mut r);
        let auth = header(&sent2[0], "Authorization").expect("credentials");
        assert!(
            auth.starts_with("Digest username=\"ivrc\", realm=\"provider.test\", nonce=\"n1\""),
            "{auth}"
        );
        assert_ne!(
            header(&sent2[0], "CSeq"),
            header(&sent[0], "CSeq"),
            "a new transaction"
        );
        assert_eq!(
            header(&sent2[0], "Call-ID"),
            header(&sent[0], "Call-ID"),
            "one Call-ID"
        );
        let ok = answer(
            &sent2[0],
            "200 OK",
            "Contact: <sip:ivrc@127.0.0.1:5060>;expires=40, <sip:other@10.9.9.9>;expires=3600\r\n",
        );
        r.response(&ok, now + T1);
        assert_eq!(
            drain(&mut r).1,
            [Registration::Registered {
                expires: Duration::from_secs(40)
            }]
        );
        // The same 200 again (a retransmission) changes nothing.
        r.response(&ok, now + T1);
        assert_eq!(drain(&mut r), (vec![], vec![]));
        // The refresh comes at three quarters of the 40 s.
        assert_eq!(r.next_timer(), Some(now + T1 + Duration::from_secs(30)));
        r.fire(now + T1 + Duration::from_secs(30));
        let (refresh, _) = drain(&mut r);
        assert_eq!(refresh.len(), 1);
        assert!(
            header(&refresh[0], "Authorization").is_none(),
            "a fresh nonce is asked for"
        );
        // Shutdown: Expires 0, answered.
        r.response(
            &answer(&refresh[0], "200 OK", "Expires: 40\r\n"),
            now + Duration::from_secs(31),
        );
        drain(&mut r);
        r.stop(now + Duration::from_secs(32));
        let (bye, _) = drain(&mut r);
        assert_eq!(header(&bye[0], "Expires"), Some("0"));
        assert!(r.busy());
        r.response(
            &answer(&bye[0], "200 OK", ""),
            now + Duration::from_secs(32),
        );
        assert_eq!(drain(&mut r).1, [Registration::Unregistered]);
        assert!(!r.busy());
        assert_eq!(r.next_timer(), None);
    }

    #[test]
    fn keep_alives_go_out_between_refreshes_while_registered() {
        let now = Instant::now();
        let mut r = client();
        r.account.keepalive = Some(Duration::from_secs(10));
        r.start(now);
        let (sent, _) = drain(&mut r);
        r.fire(now + Duration::from_secs(10));
        assert!(
            drain(&mut r).0.iter().all(|m| m.starts_with("REGISTER")),
            "none before the 200"
        );
        r.response(&answer(&sent[0], "200 OK", "Expires: 60\r\n"), now);
        drain(&mut r);
        r.fire(now + Duration::from_secs(10));
        assert_eq!(drain(&mut r).0, ["\r\n\r\n"]);
        r.fire(now + Duration::from_secs(20));
        assert_eq!(drain(&mut r).0, ["\r\n\r\n"]);
        // The refresh at 45 s; the pings go on; none once unregistering.
        r.fire(now + Duration::from_secs(45));
        let (out, _) = drain(&mut r);
        assert!(out.iter().any(|m| m.starts_with("REGISTER")), "{out:?}");
        r.stop(now + Duration::from_secs(46));
        drain(&mut r);
        r.fire(now + Duration::from_secs(47));
        assert!(drain(&mut r).0.iter().all(|m| m != "\r\n\r\n"));
    }

    #[test]
    fn an_unconfirmed_unregistration_does_not_hold_the_shutdown() {
        let now = Instant::now();
        let mut r = client();
        r.start(now);
        drain(&mut r);
        r.stop(now);
        let (sent, _) = drain(&mut r);
        assert_eq!(header(&sent[0], "Expires"), Some("0"));
        assert!(r.busy());
        r.fire(now + LEAVE_TIMEOUT);
        assert!(matches!(
            drain(&mut r).1.as_slice(),
            [Registration::NotUnregistered(_)]
        ));
        assert!(!r.busy());
        r.stop(now + LEAVE_TIMEOUT);
        assert_eq!(drain(&mut r), (vec![], vec![]), "once");
    }

    #[test]
    fn a_wrong_password_is_refused_once_not_retried() {
        let now = Instant::now();
        let mut r = client();
        r.start(now);
        let (sent, _) = drain(&mut r);
        r.response(&answer(&sent[0], "401 Unauthorized", CHALLENGE), now);
        let (sent, _) = drain(&mut r);
        r.response(&answer(&sent[0], "401 Unauthorized", CHALLENGE), now);
        let (more, reports) = drain(&mut r);
        assert!(more.is_empty());
        assert!(
            matches!(reports.as_slice(), [Registration::Refused(why)] if why.contains("password")),
            "{reports:?}"
        );
        assert_eq!(r.next_timer(), None, "nothing more is tried");
        // A stale nonce is answered again, though.
        let mut r = client();
        r.start(now);
        let (sent, _) = drain(&mut r);
        r.response(&answer(&sent[0], "401 Unauthorized", CHALLENGE), now);
        let (sent, _) = drain(&mut r);
        let stale = CHALLENGE
            .replace("algorithm=MD5", "algorithm=MD5, stale=true")
            .replace("n1", "n2");
        r.response(&answer(&sent[0], "401 Unauthorized", &stale), now);
        let (again, reports) = drain(&mut r);
        assert!(reports.is_empty());
        assert!(header(&again[0], "Authorization").is_some_and(|a| a.contains("nonce=\"n2\"")));
        // 403 stops too, with the reason.
        r.response(&answer(&again[0], "403 Forbidden", ""), now);
        assert!(
            matches!(drain(&mut r).1.as_slice(), [Registration::Refused(why)] if why.starts_with("403"))
        );
    }

    #[test]
    fn an_unreadable_final_answer_fails_the_attempt_at_once() {
        let now = Instant::now();
        let mut r = client();
        r.start(now);
        drain(&mut r);
        // A provisional answer changes nothing; a final one ends the transaction.
        r.unreadable(100, "bad Contact", now);
        assert_eq!(drain(&mut r), (vec![], vec![]));
        let rsip = "Tokenizer error: Tokenizer error: failed to tokenize headers: Contact <sip:a@b>\r\nContent-Length: 0 or …";
        r.unreadable(200, rsip, now);
        let (_, reports) = drain(&mut r);
        assert!(
            matches!(reports.as_slice(), [Registration::Failed { reason, retry_in }]
                if reason == "the registrar's 200 answer is not readable SIP (failed to tokenize headers: Contact <sip:a@b>)"
                    && *retry_in == FIRST_BACKOFF),
            "{reports:?}"
        );
        // No retransmission is due any more, and a second one is a stray.
        r.fire(now + Duration::from_secs(4));
        r.unreadable(200, "bad Contact", now);
        assert_eq!(drain(&mut r), (vec![], vec![]));
        r.fire(now + FIRST_BACKOFF);
        assert_eq!(drain(&mut r).0.len(), 1, "the retry");
    }

    #[test]
    fn min_expires_silence_and_odd_answers() {
        let now = Instant::now();
        let mut r = client();
        r.start(now);
        let (sent, _) = drain(&mut r);
        // 423: ask again with the registrar's minimum.
        r.response(
            &answer(&sent[0], "423 Interval Too Brief", "Min-Expires: 120\r\n"),
            now,
        );
        let (sent, _) = drain(&mut r);
        assert_eq!(header(&sent[0], "Expires"), Some("120"));
        // A 200 whose Contact list lacks ours is no registration: retried after a backoff.
        r.response(&answer(&sent[0], "200 OK", "Contact: garbage\r\n"), now);
        let (_, reports) = drain(&mut r);
        assert!(
            matches!(reports.as_slice(), [Registration::Failed { retry_in, .. }] if *retry_in == FIRST_BACKOFF),
            "{reports:?}"
        );
        r.fire(now + FIRST_BACKOFF);
        let (sent, _) = drain(&mut r);
        // An expiry of 2^32 is read as a day; an answer to another transaction is ignored.
        let old = answer(&sent[0], "200 OK", "Expires: 1\r\n");
        let mut stray = old.clone();
        for h in &mut stray.headers.0 {
            if h.0 == "Via" {
                h.1 = h.1.replace("branch=", "branch=x");
            }
        }
        r.response(&stray, now + FIRST_BACKOFF);
        assert_eq!(drain(&mut r), (vec![], vec![]));
        r.response(
            &answer(&sent[0], "200 OK", "Expires: 4294967296\r\n"),
            now + FIRST_BACKOFF,
        );
        assert_eq!(
            drain(&mut r).1,
            [Registration::Registered {
                expires: Duration::from_secs(86_400)
            }]
        );
        // Silence: timer F gives up after 32 s and the backoff doubles.
        r.fire(now + Duration::from_secs(100_000));
        let (sent, _) = drain(&mut r);
        assert_eq!(sent.len(), 1);
        let t = now + Duration::from_secs(100_000);
        r.fire(t + TIMEOUT);
        let (_, reports) = drain(&mut r);
        assert!(
            matches!(reports.as_slice(), [Registration::Failed { reason, retry_in }] if reason.contains("did not answer") && *retry_in == FIRST_BACKOFF),
            "{reports:?}"
        );
        // A 503 with Retry-After waits as told.
        r.fire(t + TIMEOUT + FIRST_BACKOFF);
        let (sent, _) = drain(&mut r);
        r.response(
            &answer(&sent[0], "503 Service Unavailable", "Retry-After: 17\r\n"),
            t,
        );
        assert!(
            matches!(drain(&mut r).1.as_slice(), [Registration::Failed { retry_in, .. }] if *retry_in == Duration::from_secs(17))
        );
    }
}

//! The SIP user-agent core of the runtime: it parses each datagram and hands it to the side
//! whose dialog it is — the legs we place ([`super::uac`]) or the calls we answer
//! ([`super::uas`]) — answers what cannot be parsed, takes incoming text messages (MESSAGE,
//! answered once per transaction however often it is retransmitted), and queues the
//! [`Effect`]s of all three for the server. It does no I/O: datagrams in, effects out, and
//! time passes only through [`Core::fire`], so every rule here is tested without sockets.
//!
//! It decides how to answer requests; it does not run flows. A new INVITE becomes
//! [`Effect::Start`] for the server to create a call, which later asks the core to answer,
//! reject, transfer or hang up (`Core::answer`, …).

use super::effect::{Effect, IncomingText};
use super::guard::{Counts, Guard, Screen};
use super::message::{self, branch, cseq, uri_user, ErrorKind, Headers, Message, Method, Request};
use super::register::{Account, Registrar};
use super::timers::{token, TIMEOUT};
use super::transport::Transport;
use super::uac::{Dial, OutboundLegs, Trunk};
use super::uas::{IncomingCalls, Load};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

/// The core: the calls we answer, the legs we place, and the texts that came lately.
pub struct Core {
    /// The calls we answer.
    calls: IncomingCalls,
    /// The calls and texts we place.
    outbound: OutboundLegs,
    /// Our registration at the provider, when asked for.
    registrar: Option<Registrar>,
    /// Our address.
    local: SocketAddr,
    /// Our TLS listener's address, when we listen on TLS.
    tls_local: Option<SocketAddr>,
    next_seq: u64,
    out: Vec<Effect>,
    /// Text messages seen lately by branch, with our reply (empty until given), so a
    /// retransmitted MESSAGE is answered again instead of starting its flow twice.
    texts: HashMap<String, (Instant, Vec<u8>)>,
    /// The defences at the intake.
    guard: Guard,
}

impl Core {
    /// A core listening at `local`, placing calls through `trunk`.
    pub fn new(local: SocketAddr, trunk: Option<Trunk>) -> Core {
        Core {
            calls: IncomingCalls::new(local),
            outbound: OutboundLegs::new(local, trunk),
            registrar: None,
            local,
            tls_local: None,
            next_seq: 0,
            out: Vec::new(),
            texts: HashMap::new(),
            guard: Guard::default(),
        }
    }

    /// Puts the defences in place (none by default).
    pub fn set_guard(&mut self, guard: Guard) {
        self.guard = guard;
    }

    /// What the defences turned away so far.
    pub fn guard_counts(&self) -> Counts {
        self.guard.counts()
    }

    /// We listen on TLS at `local` too: calls over TLS, and a TLS trunk, name it in Via and
    /// Contact.
    pub fn listen_tls(&mut self, local: SocketAddr) {
        self.tls_local = Some(local);
        self.calls.set_tls(local);
        self.outbound.set_tls(local);
    }

    /// Registers at the provider and keeps the registration fresh; how it stands comes back
    /// as [`Effect::Registration`].
    pub fn register(&mut self, account: Account, now: Instant) {
        let local = match (account.transport, self.tls_local) {
            (Transport::Tls, Some(tls)) => tls,
            _ => self.local,
        };
        let mut r = Registrar::new(local, account);
        r.start(now);
        self.registrar = Some(r);
    }

    /// Our connection to the trunk was made again after it dropped: the registration, if
    /// any, is renewed on it.
    pub fn reconnected(&mut self, now: Instant) {
        if let Some(r) = &mut self.registrar {
            r.reconnected(now);
        }
    }

    /// Removes our registration (shutdown).
    pub fn unregister(&mut self, now: Instant) {
        if let Some(r) = &mut self.registrar {
            r.stop(now);
        }
    }

    /// Places an outbound call; its progress comes back as [`Effect::Dialed`].
    pub fn dial(&mut self, dial: Dial, now: Instant) {
        self.outbound.dial(dial, now);
    }

    /// Sets how busy the server is: OPTIONS answer with it.
    pub fn set_load(&mut self, load: Load) {
        self.calls.set_load(load);
    }

    /// Dialogs a shutdown waits for: an answer not yet acknowledged, our BYE or REFER not yet
    /// answered, an outbound leg not yet over.
    pub fn busy_dialogs(&self) -> usize {
        let unregistering = self.registrar.as_ref().is_some_and(Registrar::busy);
        self.outbound.busy() + self.calls.busy() + usize::from(unregistering)
    }

    /// When the next timer is due.
    pub fn next_timer(&self) -> Option<Instant> {
        [
            self.calls.next_timer(),
            self.outbound.next_timer(),
            self.registrar.as_ref().and_then(Registrar::next_timer),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether effects wait to be taken.
    pub fn effects_pending(&self) -> bool {
        !self.out.is_empty()
            || self.calls.effects_pending()
            || self.outbound.effects_pending()
            || self
                .registrar
                .as_ref()
                .is_some_and(Registrar::effects_pending)
    }

    /// Takes the effects produced so far.
    pub fn effects(&mut self) -> Vec<Effect> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(self.calls.effects());
        out.extend(self.outbound.effects());
        if let Some(r) = &mut self.registrar {
            out.extend(r.effects());
        }
        out
    }

    fn token(&mut self) -> String {
        token(&mut self.next_seq, 0x1b87_3593)
    }

    fn send(&mut self, bytes: Vec<u8>, to: SocketAddr) {
        self.out.push(Effect::Send(bytes, to));
    }

    fn respond(&mut self, to: &Headers, peer: SocketAddr, status: u16, reason: &str) {
        let bytes = message::response(to, status, reason, None, &[], b"");
        self.send(bytes, peer);
    }

    /// Handles one datagram from `peer` (UDP).
    pub fn datagram(&mut self, bytes: &[u8], peer: SocketAddr, now: Instant) {
        self.received(bytes, peer, Transport::Udp, now);
    }

    /// Handles one message from `peer` that came on `transport`.
    pub fn received(&mut self, bytes: &[u8], peer: SocketAddr, transport: Transport, now: Instant) {
        let (calls, outbound) = (&self.calls, &self.outbound);
        let known = |id: &str| calls.knows(id) || outbound.owns(id);
        match self.guard.screen(bytes, peer.ip(), now, known) {
            Screen::Pass => {}
            Screen::Drop => return,
            Screen::Busy(after) => {
                if let Ok(Message::Request(r)) = message::parse(bytes) {
                    if r.method != Method::Ack {
                        let extra = [("Retry-After", after.to_string())];
                        let bytes = message::response(
                            &r.headers,
                            503,
                            "Service Unavailable",
                            None,
                            &extra,
                            b"",
                        );
                        self.send(bytes, peer);
                    }
                }
                return;
            }
        }
        match message::parse(bytes) {
            Ok(Message::Response(r))
                if self
                    .registrar
                    .as_ref()
                    .is_some_and(|reg| r.headers.get("Call-ID").is_some_and(|id| reg.owns(id))) =>
            {
                if let Some(reg) = &mut self.registrar {
                    reg.response(&r, now);
                }
            }
            Ok(mut m) => {
                if let Message::Request(r) = &mut m {
                    r.headers.stamp_via(peer);
                }
                // Our outbound legs' dialogs are the client side's; the rest are ours.
                let outbound = m
                    .headers()
                    .get("Call-ID")
                    .is_some_and(|id| self.outbound.owns(id));
                if let Message::Request(r) = &m {
                    if self.refuse_extensions(r, peer)
                        || self.refuse_sips(r, peer, transport)
                        || (!outbound && self.refuse_caller(r, peer, now))
                    {
                        return;
                    }
                }
                match (m, outbound) {
                    (Message::Request(r), true) => self.outbound.request(&r, peer, now),
                    (Message::Request(r), false) if r.method == Method::Message => {
                        self.text(r, peer, now);
                    }
                    (Message::Request(r), false) => self.calls.request(r, peer, transport, now),
                    (Message::Response(r), true) => self.outbound.response(&r, now),
                    (Message::Response(r), false) => {
                        self.calls.response(&r.headers, r.status, now);
                    }
                }
            }
            Err(e) => {
                // An answer to our REGISTER that the parser refused still ends its transaction.
                if let Some((status, call_id)) = message::unreadable_response(bytes) {
                    if let Some(reg) = self.registrar.as_mut().filter(|reg| reg.owns(&call_id)) {
                        reg.unreadable(status, &e.reason, now);
                    }
                }
                if let Some(h) = e.respond_to {
                    let (status, reason) = match e.kind {
                        ErrorKind::UnknownMethod => (501, "Not Implemented"),
                        ErrorKind::Version => (505, "Version Not Supported"),
                        ErrorKind::Malformed => (400, "Bad Request"),
                        ErrorKind::UriScheme => (416, "Unsupported URI Scheme"),
                    };
                    // ACK gets no response, whatever its shape. 501 lists what we take
                    // (RFC 4475 §3.1.1.2).
                    if !matches!(cseq(&h), Some((_, Method::Ack))) {
                        let allow = [("Allow", message::ALLOW.to_string())];
                        let extra: &[(&str, String)] = if status == 501 { &allow } else { &[] };
                        let bytes = message::response(&h, status, reason, None, extra, b"");
                        self.send(bytes, peer);
                    }
                }
            }
        }
    }

    /// RFC 3261 §8.2.2.3: a request that requires an extension gets 420 Bad Extension naming
    /// the option tags in Unsupported (none is supported); ACK and CANCEL are exempt. Whether
    /// it was refused.
    fn refuse_extensions(&mut self, r: &Request, peer: SocketAddr) -> bool {
        if matches!(r.method, Method::Ack | Method::Cancel) {
            return false;
        }
        let tags = message::required(&r.headers);
        if tags.is_empty() {
            return false;
        }
        let extra = [("Unsupported", tags.join(", "))];
        let bytes = message::response(&r.headers, 420, "Bad Extension", None, &extra, b"");
        self.send(bytes, peer);
        true
    }

    /// Digest authentication of a request that would start a flow (`--inbound-user`): one
    /// that is not of a dialog we have, answered here when its credentials do not pass.
    /// Whether it was refused.
    fn refuse_caller(&mut self, r: &Request, peer: SocketAddr, now: Instant) -> bool {
        if r.headers
            .get("Call-ID")
            .is_some_and(|id| self.calls.knows(id))
        {
            return false;
        }
        let Some((status, reason, extra)) = self.guard.authenticate(r, peer.ip(), now) else {
            return false;
        };
        // Stateless, as a proxy's challenge (the ACK of a 401 finds no transaction and is
        // absorbed; a retransmitted INVITE is challenged again).
        let tag = self.token();
        let bytes = message::response(&r.headers, status, reason, Some(&tag), &extra, b"");
        self.send(bytes, peer);
        true
    }

    /// A `sips:` request-URI asks for TLS on every hop (RFC 3261 §26.2.2, RFC 5630 §3): one
    /// that came over UDP or TCP cannot be served as asked and gets 480 Temporarily Unavailable
    /// (not 416: the scheme is one we support, over TLS). ACK gets no response. Whether it was
    /// refused.
    fn refuse_sips(&mut self, r: &Request, peer: SocketAddr, transport: Transport) -> bool {
        let sips = r
            .uri
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("sips:"));
        if !sips || transport == Transport::Tls {
            return false;
        }
        if r.method != Method::Ack {
            let extra = [("Warning", "399 ivrc \"SIPS requires TLS\"".to_string())];
            let bytes = message::response(
                &r.headers,
                480,
                "Temporarily Unavailable",
                None,
                &extra,
                b"",
            );
            self.send(bytes, peer);
        }
        true
    }

    /// A MESSAGE: plain text (UTF-8) goes to the server; other bodies are refused here.
    fn text(&mut self, r: Request, peer: SocketAddr, now: Instant) {
        let Some(call_id) = r.headers.get("Call-ID").map(str::to_string) else {
            return;
        };
        let key = text_key(&r.headers);
        self.texts
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < TIMEOUT);
        if let Some((_, reply)) = self.texts.get(&key) {
            if !reply.is_empty() {
                let again = reply.clone();
                self.send(again, peer);
            }
            return;
        }
        let kind = r
            .headers
            .get("Content-Type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let media = kind.split(';').next().unwrap_or_default().trim();
        if media != "text/plain" {
            let extra = [("Accept", "text/plain".to_string())];
            let bytes =
                message::response(&r.headers, 415, "Unsupported Media Type", None, &extra, b"");
            self.send(bytes, peer);
            return;
        }
        let Ok(text) = String::from_utf8(r.body) else {
            self.respond(&r.headers, peer, 400, "Bad Request");
            return;
        };
        let from = r.headers.get("From").and_then(uri_user);
        let service = uri_user(&r.uri);
        self.texts.insert(key, (now, Vec::new()));
        self.out.push(Effect::Text(Box::new(IncomingText {
            headers: r.headers,
            peer,
            id: call_id,
            service,
            from,
            text,
        })));
    }

    /// Answers a text message with `status` (and again when it is retransmitted).
    pub fn reply(&mut self, to: &Headers, peer: SocketAddr, status: u16, reason: &str) {
        let tag = self.token();
        let bytes = message::response(to, status, reason, Some(&tag), &[], b"");
        if let Some(seen) = self.texts.get_mut(&text_key(to)) {
            seen.1.clone_from(&bytes);
        }
        self.send(bytes, peer);
    }

    /// Sends a text message through the trunk; its status comes back as [`Effect::Texted`].
    pub fn message(
        &mut self,
        id: &str,
        number: &str,
        from: Option<&str>,
        text: &str,
        now: Instant,
    ) {
        self.outbound.message(id, number, from, text, now);
    }

    /// Answers the call with our SDP.
    pub fn answer(&mut self, call_id: &str, sdp: Vec<u8>, now: Instant) {
        self.calls.answer(call_id, sdp, now);
    }

    /// Refuses the call before the answer (capacity, no flow, no codec, shutdown, the flow
    /// hanging up first).
    pub fn reject(&mut self, call_id: &str, status: u16, reason: &str, now: Instant) {
        self.calls.reject(call_id, status, reason, now);
    }

    /// Hands a party to `number`: a caller 302 before the answer; after it, or a leg we
    /// placed, REFER (a blind transfer), reported as [`Effect::Referred`].
    pub fn transfer(&mut self, call_id: &str, number: &str, now: Instant) {
        if self.outbound.owns(call_id) {
            self.outbound.transfer(call_id, number, now);
        } else {
            self.calls.transfer(call_id, number, now);
        }
    }

    /// Ends the call from our side: BYE when answered, 480 before (an outbound leg: CANCEL
    /// before the answer, BYE after).
    pub fn hangup(&mut self, call_id: &str, now: Instant) {
        if self.outbound.owns(call_id) {
            self.outbound.hangup(call_id, now);
        } else {
            self.calls.hangup(call_id, now);
        }
    }

    /// The call task ended; the dialog is forgotten once it is over.
    pub fn call_ended(&mut self, call_id: &str) {
        self.calls.call_ended(call_id);
    }

    /// Runs the timers due at `now`.
    pub fn fire(&mut self, now: Instant) {
        self.outbound.fire(now);
        self.calls.fire(now);
        if let Some(r) = &mut self.registrar {
            r.fire(now);
        }
    }
}

/// A text message's transaction: its Call-ID and top Via branch.
fn text_key(headers: &Headers) -> String {
    format!(
        "{} {}",
        headers.get("Call-ID").unwrap_or_default(),
        branch(headers).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sip::effect::split_sent;
    use std::time::Duration;

    const PEER: &str = "127.0.0.1:5080";

    /// The first lines of what was sent, and the other effects.
    fn drain(core: &mut Core) -> (Vec<String>, Vec<Effect>) {
        split_sent(core.effects())
    }

    /// Everything sent, whole.
    fn sent_text(core: &mut Core) -> Vec<String> {
        core.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(b, _) => Some(String::from_utf8_lossy(&b).into_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_call_over_tls_is_answered_and_ended_over_tls_and_sips_needs_tls() {
        let now = Instant::now();
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        core.listen_tls("127.0.0.1:5061".parse().expect("addr"));
        let peer: SocketAddr = PEER.parse().expect("peer");
        let invite = |uri: &str, call: &str| {
            format!("INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/TLS {PEER};branch=z9hG4bK{call}\r\nFrom: <sip:a@b>;tag=c\r\nTo: <{uri}>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\nContact: <sip:a@{PEER};transport=tls>\r\nContent-Length: 0\r\n\r\n")
        };
        // sips: over UDP (or TCP): 480, no call.
        core.datagram(invite("sips:sum@127.0.0.1", "s0").as_bytes(), peer, now);
        let (sent, effects) = drain(&mut core);
        assert_eq!(sent, ["SIP/2.0 480 Temporarily Unavailable"], "{effects:?}");
        assert!(effects.is_empty(), "{effects:?}");
        for (uri, call, contact) in [
            (
                "sip:sum@127.0.0.1",
                "t1",
                "Contact: <sip:ivrc@127.0.0.1:5061;transport=tls>",
            ),
            (
                "sips:sum@127.0.0.1",
                "t2",
                "Contact: <sips:ivrc@127.0.0.1:5061>",
            ),
        ] {
            core.received(invite(uri, call).as_bytes(), peer, Transport::Tls, now);
            let (_, effects) = drain(&mut core);
            assert!(
                matches!(effects.as_slice(), [Effect::Start(_)]),
                "{effects:?}"
            );
            core.answer(call, b"v=0\r\n".to_vec(), now);
            let ok = sent_text(&mut core);
            assert!(
                ok[0].starts_with("SIP/2.0 200 OK\r\n") && ok[0].contains(contact),
                "{ok:?}"
            );
            let ack = invite(uri, call).replace("INVITE", "ACK");
            core.received(ack.as_bytes(), peer, Transport::Tls, now);
            core.hangup(call, now);
            let bye = sent_text(&mut core);
            assert!(bye[0].starts_with("BYE sip:a@"), "{bye:?}");
            assert!(
                bye[0].contains("Via: SIP/2.0/TLS 127.0.0.1:5061;"),
                "{bye:?}"
            );
            // No timer E over TLS: nothing is sent again before timer F gives up.
            core.fire(now + Duration::from_secs(20));
            assert!(sent_text(&mut core).is_empty());
        }
    }

    #[test]
    fn a_required_extension_gets_420_naming_it_but_not_for_ack() {
        let now = Instant::now();
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        let peer: SocketAddr = PEER.parse().expect("peer");
        let options = format!("OPTIONS sip:sum@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bKr1\r\nFrom: <sip:a@b>;tag=c\r\nTo: <sip:sum@b>\r\nCall-ID: r1\r\nCSeq: 1 OPTIONS\r\nRequire: foo, bar\r\nContent-Length: 0\r\n\r\n");
        core.datagram(options.as_bytes(), peer, now);
        let sent = core.effects();
        let Some(Effect::Send(bytes, _)) = sent.first() else {
            panic!("{sent:?}");
        };
        let text = String::from_utf8_lossy(bytes);
        assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"), "{text}");
        assert!(text.contains("\r\nUnsupported: foo, bar\r\n"), "{text}");
        let ack = options.replace("OPTIONS", "ACK");
        core.datagram(ack.as_bytes(), peer, now);
        assert_eq!(drain(&mut core), (vec![], vec![]));
    }

    #[test]
    fn a_retransmitted_text_starts_its_flow_once_and_gets_the_same_reply() {
        let now = Instant::now();
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        let text = format!("MESSAGE sip:support@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bKt1\r\nFrom: <sip:+15551234567@127.0.0.1>;tag=c\r\nTo: <sip:support@127.0.0.1>\r\nCall-ID: t1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nHello");
        let peer: SocketAddr = PEER.parse().expect("peer");
        core.datagram(text.as_bytes(), peer, now);
        let (sent, other) = drain(&mut core);
        assert!(sent.is_empty());
        let Some(Effect::Text(t)) = other.first() else {
            panic!("{other:?}")
        };
        assert_eq!(
            (t.service.as_deref(), t.from.as_deref(), t.text.as_str()),
            (Some("support"), Some("+15551234567"), "Hello")
        );
        // Again before the server answered: nothing; after: the same 200 again.
        core.datagram(text.as_bytes(), peer, now);
        assert_eq!(drain(&mut core), (vec![], vec![]));
        let headers = t.headers.clone();
        core.reply(&headers, peer, 200, "OK");
        assert_eq!(drain(&mut core).0, ["SIP/2.0 200 OK"]);
        core.datagram(text.as_bytes(), peer, now + Duration::from_secs(1));
        assert_eq!(
            drain(&mut core),
            (vec!["SIP/2.0 200 OK".to_string()], vec![])
        );
        // A new transaction is a new text; after timer J the old one is forgotten.
        let html = text
            .replace("text/plain", "text/html")
            .replace("z9hG4bKt1", "z9hG4bKt2");
        core.datagram(html.as_bytes(), peer, now);
        assert_eq!(drain(&mut core).0, ["SIP/2.0 415 Unsupported Media Type"]);
        core.datagram(
            text.as_bytes(),
            peer,
            now + TIMEOUT + Duration::from_secs(1),
        );
        assert!(matches!(drain(&mut core).1.as_slice(), [Effect::Text(_)]));
    }

    #[test]
    fn callers_are_challenged_before_a_call_starts_and_their_dialogs_are_not() {
        use crate::runtime::sip::digest::Challenge;
        use crate::runtime::sip::guard::{Guard, Settings};
        use crate::runtime::sip::inbound_auth::Users;
        let now = Instant::now();
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        let users = Users::new(vec![("pbx".into(), "pw".into())], b"k".to_vec(), now);
        core.set_guard(Guard::new(Settings {
            users: Some(users),
            ..Settings::default()
        }));
        let peer: SocketAddr = PEER.parse().expect("peer");
        let invite = |cseq: u32, auth: &str| {
            format!("INVITE sip:sum@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bKi{cseq}\r\nFrom: <sip:a@b>;tag=c\r\nTo: <sip:sum@127.0.0.1>\r\nCall-ID: auth1\r\nCSeq: {cseq} INVITE\r\n{auth}Content-Length: 0\r\n\r\n")
        };
        core.datagram(invite(1, "").as_bytes(), peer, now);
        let sent = core.effects();
        let [Effect::Send(bytes, _)] = sent.as_slice() else {
            panic!("{sent:?}");
        };
        let text = String::from_utf8_lossy(bytes).into_owned();
        assert!(text.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{text}");
        let header = text
            .lines()
            .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
            .expect("a challenge");
        let answer = Challenge::parse(header).expect("challenge").answer(
            "pbx",
            "pw",
            "INVITE",
            "sip:sum@127.0.0.1",
            "cn",
        );
        let wrong = Challenge::parse(header).expect("challenge").answer(
            "pbx",
            "guess",
            "INVITE",
            "sip:sum@127.0.0.1",
            "cn",
        );
        core.datagram(
            invite(2, &format!("Authorization: {wrong}\r\n")).as_bytes(),
            peer,
            now,
        );
        assert_eq!(
            drain(&mut core),
            (vec!["SIP/2.0 403 Forbidden".to_string()], vec![])
        );
        core.datagram(
            invite(3, &format!("Authorization: {answer}\r\n")).as_bytes(),
            peer,
            now,
        );
        let (sent, other) = drain(&mut core);
        assert_eq!(sent, ["SIP/2.0 100 Trying"]);
        assert!(matches!(other.as_slice(), [Effect::Start(_)]), "{other:?}");
        // The dialog's own requests are not challenged: its CANCEL is answered.
        let cancel = invite(3, "").replace("INVITE", "CANCEL");
        core.datagram(cancel.as_bytes(), peer, now);
        let (sent, _) = drain(&mut core);
        assert!(sent.contains(&"SIP/2.0 200 OK".to_string()), "{sent:?}");
        let counts = core.guard_counts();
        assert_eq!((counts.challenged, counts.auth_failed), (1, 1));
    }
}

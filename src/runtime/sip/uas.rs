//! The calls we answer: the server side of incoming INVITEs (100 Trying, the final response
//! retransmitted with timer G until ACK or timer H, RFC 3261 §17.2.1), BYE, CANCEL, OPTIONS and
//! INFO; their dialogs; and the client transactions of the BYE and REFER we send in them
//! (timers E and F, §17.1.2). No I/O: the UA core hands it requests and responses and takes
//! its effects. The legs we place are [`super::uac`]'s.
//!
//! It decides how to answer requests; it does not run flows. A new INVITE becomes
//! [`Effect::Start`] for the server to create a call, which later asks the core to answer,
//! reject, transfer or hang up.

use super::effect::{Effect, Gone, NewCall, Referred};
use super::info::key_of_info;
use super::message::{
    self, cseq, strip_angle, tag, transaction, uri_user, Headers, Method, Request,
};
use super::timers::{token, Timers, T1, T2, TIMEOUT};
use super::transport::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use message::ALLOW;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// 100 Trying sent, no final response yet.
    Proceeding,
    /// A final response sent; waiting for its ACK (2xx: `confirmed` after it).
    Answered { ok: bool },
    /// The call is up.
    Confirmed,
    /// Our REFER is out; BYE follows its answer.
    Referring,
    /// Our BYE is out.
    Closing,
    /// Over; kept until timer J so retransmissions are answered.
    Terminated,
}

#[derive(Debug, Clone)]
struct Dialog {
    peer: SocketAddr,
    /// The transport the INVITE came on: our Via, our Contact and whether we retransmit.
    transport: Transport,
    invite: Headers,
    /// The INVITE's server transaction ([`transaction`]), which its CANCEL and its
    /// retransmissions share.
    invite_transaction: String,
    invite_uri: String,
    local_tag: String,
    state: State,
    /// Bumped to cancel the timers of the previous state.
    generation: u64,
    /// The last response to the INVITE, for retransmitted INVITEs and timer G.
    last_response: Vec<u8>,
    /// Our SDP answer, for re-INVITEs.
    answer: Vec<u8>,
    /// The request we are retransmitting (BYE or REFER) and its interval.
    request: Vec<u8>,
    interval: Duration,
    local_cseq: u32,
    /// Whether the call task still runs.
    live: bool,
}

impl Dialog {
    /// The dialog is over: it only absorbs retransmitted BYEs now, which need its tags, so
    /// everything else is dropped (with thousands of calls an hour, timer J keeps many).
    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.generation += 1;
        self.answer = Vec::new();
        self.request = Vec::new();
        self.last_response = Vec::new();
        self.invite_uri = String::new();
        let from = self.invite.get("From").map(str::to_string);
        self.invite = Headers(
            from.map(|f| vec![("From".to_string(), f)])
                .unwrap_or_default(),
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// G: retransmit the INVITE's final response.
    Response,
    /// H: no ACK came.
    AckTimeout,
    /// E: retransmit our request.
    Request,
    /// F: our request got no answer.
    RequestTimeout,
    /// J: forget a terminated dialog.
    Forget,
}

/// The calls we answer: their dialogs by Call-ID and pending timers.
pub struct IncomingCalls {
    /// Our SIP address, for Contact and Via.
    local: SocketAddr,
    /// Our TLS listener's address, for the calls that come over TLS.
    tls_local: Option<SocketAddr>,
    /// How busy the server is, as the answer to OPTIONS tells.
    load: Load,
    dialogs: HashMap<String, Dialog>,
    timers: Timers<TimerKind>,
    next_seq: u64,
    out: Vec<Effect>,
}

/// How busy the server is: what OPTIONS answers tell a proxy in front (Kamailio's dispatcher
/// probes with OPTIONS), as jambonz's feature servers tell their SBCs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    /// Calls running.
    pub calls: usize,
    /// Calls it takes at most (`--max-calls`).
    pub max_calls: usize,
    /// Shutting down: new calls are refused, running ones finish.
    pub draining: bool,
}

impl Load {
    /// Whether a new call would be taken.
    pub fn taking(self) -> bool {
        !self.draining && self.calls < self.max_calls
    }

    /// `open`, `full` or `draining`.
    pub fn status(self) -> &'static str {
        if self.draining {
            "draining"
        } else if self.calls >= self.max_calls {
            "full"
        } else {
            "open"
        }
    }
}

impl IncomingCalls {
    /// Tells the calls our TLS address (`--tls-listen`), for Via and Contact in the calls that
    /// come over TLS.
    pub fn set_tls(&mut self, local: SocketAddr) {
        self.tls_local = Some(local);
    }

    /// Sets how busy the server is, for the next OPTIONS.
    pub fn set_load(&mut self, load: Load) {
        self.load = load;
    }

    /// Calls answered at `local`.
    pub fn new(local: SocketAddr) -> IncomingCalls {
        IncomingCalls {
            local,
            tls_local: None,
            load: Load::default(),
            dialogs: HashMap::new(),
            timers: Timers::default(),
            next_seq: 0,
            out: Vec::new(),
        }
    }

    /// Whether `call_id` is one of our dialogs (up, being set up, or over and kept a while).
    pub fn knows(&self, call_id: &str) -> bool {
        self.dialogs.contains_key(call_id)
    }

    /// Dialogs a shutdown waits for: an answer not yet acknowledged, our BYE or REFER not yet
    /// answered. (Refusals waiting for their ACK and terminated dialogs only absorb
    /// retransmissions.)
    pub fn busy(&self) -> usize {
        self.dialogs
            .values()
            .filter(|d| {
                matches!(
                    d.state,
                    State::Answered { ok: true } | State::Closing | State::Referring
                )
            })
            .count()
    }

    /// When the next timer is due.
    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Takes the effects produced so far.
    pub fn effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    /// Whether effects wait to be taken.
    pub fn effects_pending(&self) -> bool {
        !self.out.is_empty()
    }

    fn token(&mut self) -> String {
        token(&mut self.next_seq, 0x5bd1_e995)
    }

    fn timer(&mut self, now: Instant, after: Duration, call_id: &str, kind: TimerKind) {
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        self.timers.set(now, after, call_id, d.generation, kind);
    }

    fn send(&mut self, bytes: Vec<u8>, to: SocketAddr) {
        self.out.push(Effect::Send(bytes, to));
    }

    fn respond(&mut self, to: &Headers, peer: SocketAddr, status: u16, reason: &str) {
        let bytes = message::response(to, status, reason, None, &[], b"");
        self.send(bytes, peer);
    }

    /// A request outside our outbound legs (MESSAGE is the core's), come on `transport`.
    pub fn request(&mut self, r: Request, peer: SocketAddr, transport: Transport, now: Instant) {
        let Some(call_id) = r.headers.get("Call-ID").map(str::to_string) else {
            return;
        };
        match r.method {
            Method::Invite => self.invite(r, call_id, peer, transport),
            Method::Ack => self.ack(&call_id, now),
            Method::Bye => self.bye(&r, &call_id, peer, now),
            Method::Cancel => self.cancel(&r, &call_id, peer, now),
            Method::Options => {
                // A proxy's health probe: 200 while we take calls, 503 while full or draining
                // (the proxy then sends calls elsewhere); our load either way.
                let (status, reason) = if self.load.taking() {
                    (200, "OK")
                } else {
                    (503, "Service Unavailable")
                };
                let extra = [
                    ("Allow", ALLOW.to_string()),
                    ("Accept", "application/sdp".into()),
                    ("X-Ivrc-Calls", self.load.calls.to_string()),
                    ("X-Ivrc-Max-Calls", self.load.max_calls.to_string()),
                    ("X-Ivrc-Status", self.load.status().into()),
                ];
                let bytes = message::response(&r.headers, status, reason, Some("opt"), &extra, b"");
                self.send(bytes, peer);
            }
            Method::Info => {
                if !self.in_dialog(&r, &call_id) {
                    self.respond(&r.headers, peer, 481, "Call/Transaction Does Not Exist");
                    return;
                }
                let kind = r.headers.get("Content-Type").unwrap_or_default();
                if let Some(key) = key_of_info(kind, &r.body) {
                    self.out.push(Effect::Key(call_id, key));
                }
                self.respond(&r.headers, peer, 200, "OK");
            }
            // The progress of our REFER (RFC 3515 §2.4.4): acknowledged, not acted on.
            Method::Other(ref m) if m == "NOTIFY" && self.in_dialog(&r, &call_id) => {
                self.respond(&r.headers, peer, 200, "OK");
            }
            // RFC 3261 §8.2.1: a method we know but do not take gets 405, one we do not know
            // 501, both listing ours (RFC 4475 §3.1.1.2, §3.3.7: an endpoint that is not a
            // registrar answers REGISTER 405).
            Method::Message | Method::Other(_) => {
                let (status, reason) = if message::is_known_method(r.method.as_str()) {
                    (405, "Method Not Allowed")
                } else {
                    (501, "Not Implemented")
                };
                let allow = [("Allow", ALLOW.to_string())];
                let bytes = message::response(&r.headers, status, reason, None, &allow, b"");
                self.send(bytes, peer);
            }
        }
    }

    /// Whether a request belongs to a known dialog (Call-ID and both tags).
    fn in_dialog(&self, r: &Request, call_id: &str) -> bool {
        let Some(d) = self.dialogs.get(call_id) else {
            return false;
        };
        let to_tag = r.headers.get("To").and_then(tag);
        let from_tag = r.headers.get("From").and_then(tag);
        let their = d.invite.get("From").and_then(tag);
        to_tag == Some(d.local_tag.as_str()) && from_tag == their
    }

    fn invite(&mut self, r: Request, call_id: String, peer: SocketAddr, transport: Transport) {
        let id = transaction(&r);
        if let Some(d) = self.dialogs.get(&call_id) {
            if d.invite_transaction == id {
                // A retransmission: repeat the last response (100 Trying at first; nothing
                // once the dialog is over).
                let again = d.last_response.clone();
                if !again.is_empty() {
                    self.send(again, peer);
                }
                return;
            }
            if self.in_dialog(&r, &call_id) {
                self.reinvite(&r, &call_id, peer);
                return;
            }
            self.respond(&r.headers, peer, 482, "Loop Detected");
            return;
        }
        if r.headers.get("To").and_then(tag).is_some() {
            // A re-INVITE for a dialog we do not have.
            self.respond(&r.headers, peer, 481, "Call/Transaction Does Not Exist");
            return;
        }
        // RFC 3261 §8.2.3: a body we cannot read gets 415 with what we can (RFC 4475 §3.3.6);
        // an Accept without SDP leaves no answer we could give (406, RFC 4475 §3.3.15).
        let kind = r.headers.get("Content-Type").unwrap_or_default();
        let media = kind.split(';').next().unwrap_or_default().trim();
        let accept = [("Accept", "application/sdp".to_string())];
        if !r.body.is_empty() && !media.eq_ignore_ascii_case("application/sdp") {
            let bytes = message::response(
                &r.headers,
                415,
                "Unsupported Media Type",
                None,
                &accept,
                b"",
            );
            self.send(bytes, peer);
            return;
        }
        if !message::accepts_sdp(&r.headers) {
            // With a Warning saying why (RFC 4475 §3.3.15: 406 "with a Warning/399").
            let warning = format!(
                "399 {} \"Only application/sdp bodies are supported\"",
                self.local
            );
            let extra = [accept[0].clone(), ("Warning", warning)];
            let bytes = message::response(&r.headers, 406, "Not Acceptable", None, &extra, b"");
            self.send(bytes, peer);
            return;
        }
        let local_tag = self.token();
        let trying = message::response(&r.headers, 100, "Trying", None, &[], b"");
        self.send(trying.clone(), peer);
        let caller = r.headers.get("From").and_then(uri_user);
        let service = uri_user(&r.uri);
        let dialed = r.headers.get("To").and_then(uri_user);
        self.dialogs.insert(
            call_id.clone(),
            Dialog {
                peer,
                transport,
                invite_transaction: id,
                invite_uri: r.uri.clone(),
                invite: r.headers,
                local_tag,
                state: State::Proceeding,
                generation: 0,
                last_response: trying,
                answer: Vec::new(),
                request: Vec::new(),
                interval: T1,
                local_cseq: 0,
                live: true,
            },
        );
        self.out.push(Effect::Start(Box::new(NewCall {
            call_id,
            service,
            dialed,
            caller,
            offer: r.body,
            peer,
        })));
    }

    /// A re-INVITE in the dialog. A new offer (hold, resume) is answered in kind (RFC 3264
    /// §8.4: `sendonly` → `recvonly`, `inactive` → `inactive`, `sendrecv` → `sendrecv`, the
    /// version bumped) and the call told whether to send media; without an offer (a session
    /// refresh) the answer is the same as before. An offer with no codec of ours gets 488 and
    /// the call goes on as it was.
    fn reinvite(&mut self, r: &Request, call_id: &str, peer: SocketAddr) {
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        if d.state != State::Confirmed {
            self.respond(&r.headers, peer, 491, "Request Pending");
            return;
        }
        let contact = self.contact(d);
        let extra = [
            ("Contact", contact),
            ("Content-Type", "application/sdp".into()),
        ];
        if !r.body.is_empty() {
            if !super::hold::keeps_codec(&d.answer, &r.body) {
                self.respond(&r.headers, peer, 488, "Not Acceptable Here");
                return;
            }
            let ours = super::hold::Direction::of_offer(&r.body).answered();
            if let Some(d) = self.dialogs.get_mut(call_id) {
                d.answer = super::hold::answer_again(&d.answer, ours);
            }
            self.out
                .push(Effect::Sending(call_id.to_string(), ours.we_send()));
            if let Some(to) = super::hold::media_address(&r.body) {
                self.out.push(Effect::MediaMoved(call_id.to_string(), to));
            }
            let crypto = super::hold::crypto_lines(&r.body);
            if !crypto.is_empty() {
                self.out.push(Effect::Crypto(call_id.to_string(), crypto));
            }
        }
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        let answer = d.answer.clone();
        let bytes = message::response(&r.headers, 200, "OK", None, &extra, &answer);
        self.send(bytes, peer);
    }

    /// Our address on the transport of `d`: the TLS listener's for a call over TLS.
    fn local_of(&self, d: &Dialog) -> SocketAddr {
        match (d.transport, self.tls_local) {
            (Transport::Tls, Some(tls)) => tls,
            _ => self.local,
        }
    }

    /// Our Contact in `d`: over TLS a `sips:` URI when the INVITE's request-URI was one (RFC
    /// 3261 §12.1.1), else one asking for TLS, so that the caller's BYE comes over TLS too.
    fn contact(&self, d: &Dialog) -> String {
        let local = self.local_of(d);
        if d.transport == Transport::Tls && d.invite_uri.starts_with("sips:") {
            format!("<sips:ivrc@{local}>")
        } else {
            format!("<sip:ivrc@{local}{}>", d.transport.uri_param())
        }
    }

    fn ack(&mut self, call_id: &str, now: Instant) {
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return;
        };
        match d.state {
            State::Answered { ok: true } => {
                d.state = State::Confirmed;
                d.generation += 1;
            }
            State::Answered { ok: false } => {
                d.terminate();
                self.timer(now, TIMEOUT, call_id, TimerKind::Forget);
            }
            _ => {}
        }
    }

    fn bye(&mut self, r: &Request, call_id: &str, peer: SocketAddr, now: Instant) {
        if !self.in_dialog(r, call_id) {
            self.respond(&r.headers, peer, 481, "Call/Transaction Does Not Exist");
            return;
        }
        self.respond(&r.headers, peer, 200, "OK");
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return;
        };
        if d.state == State::Terminated {
            return; // a retransmitted BYE: answered again above
        }
        d.terminate();
        self.out.push(Effect::Gone(call_id.to_string(), Gone::Bye));
        self.timer(now, TIMEOUT, call_id, TimerKind::Forget);
    }

    fn cancel(&mut self, r: &Request, call_id: &str, peer: SocketAddr, now: Instant) {
        let matches = self
            .dialogs
            .get(call_id)
            .is_some_and(|d| d.invite_transaction == transaction(r));
        if !matches {
            self.respond(&r.headers, peer, 481, "Call/Transaction Does Not Exist");
            return;
        }
        self.respond(&r.headers, peer, 200, "OK");
        if self
            .dialogs
            .get(call_id)
            .is_some_and(|d| d.state == State::Proceeding)
        {
            self.final_response(call_id, 487, "Request Terminated", &[], now);
            self.out
                .push(Effect::Gone(call_id.to_string(), Gone::Cancel));
        }
    }

    /// A response to our BYE or REFER.
    pub fn response(&mut self, headers: &Headers, status: u16, now: Instant) {
        if status < 200 {
            return;
        }
        let Some(call_id) = headers.get("Call-ID").map(str::to_string) else {
            return;
        };
        let Some((n, method)) = cseq(headers) else {
            return;
        };
        let Some(d) = self.dialogs.get_mut(&call_id) else {
            return;
        };
        if n != d.local_cseq {
            return;
        }
        match (d.state, method) {
            (State::Closing, Method::Bye) => {
                d.terminate();
                self.timer(now, TIMEOUT, &call_id, TimerKind::Forget);
            }
            (State::Referring, Method::Other(m)) if m == "REFER" => {
                d.generation += 1;
                if status < 300 {
                    self.out
                        .push(Effect::Referred(call_id.clone(), Referred::Accepted));
                    self.send_bye(&call_id, now);
                } else {
                    // Refused (405, 501, 603 …): the call stays ours; the call task decides.
                    d.state = State::Confirmed;
                    self.out
                        .push(Effect::Referred(call_id, Referred::Refused(status)));
                }
            }
            _ => {}
        }
    }

    /// Sends a final response to the INVITE and retransmits it until ACK (G, H).
    fn final_response(
        &mut self,
        call_id: &str,
        status: u16,
        reason: &str,
        extra: &[(&str, String)],
        now: Instant,
    ) {
        let body = self
            .dialogs
            .get(call_id)
            .map(|d| d.answer.clone())
            .unwrap_or_default();
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return;
        };
        let ok = (200..300).contains(&status);
        let bytes = message::response(
            &d.invite,
            status,
            reason,
            Some(&d.local_tag),
            extra,
            if ok { &body } else { b"" },
        );
        d.last_response = bytes.clone();
        d.state = State::Answered { ok };
        d.generation += 1;
        d.interval = T1;
        let peer = d.peer;
        // A 2xx is sent again until its ACK whatever the transport (§13.3.1.4: proxies do
        // not carry it reliably end to end); another final response only over UDP (timer G,
        // §17.2.1).
        let again = ok || !d.transport.reliable();
        self.send(bytes, peer);
        if again {
            self.timer(now, T1, call_id, TimerKind::Response);
        }
        self.timer(now, TIMEOUT, call_id, TimerKind::AckTimeout);
    }

    /// Answers the call with our SDP.
    pub fn answer(&mut self, call_id: &str, sdp: Vec<u8>, now: Instant) {
        let Some(contact) = self.dialogs.get(call_id).map(|d| self.contact(d)) else {
            return;
        };
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return;
        };
        if d.state != State::Proceeding {
            return;
        }
        d.answer = sdp;
        let extra = [
            ("Contact", contact),
            ("Content-Type", "application/sdp".to_string()),
            ("Allow", ALLOW.to_string()),
        ];
        self.final_response(call_id, 200, "OK", &extra, now);
    }

    /// Refuses the call before the answer (capacity, no flow, no codec, shutdown, the flow
    /// hanging up first).
    pub fn reject(&mut self, call_id: &str, status: u16, reason: &str, now: Instant) {
        if self
            .dialogs
            .get(call_id)
            .is_some_and(|d| d.state == State::Proceeding)
        {
            self.final_response(call_id, status, reason, &[], now);
        }
    }

    /// Sends the unanswered call elsewhere (302) — `transfer` before the answer.
    fn redirect(&mut self, call_id: &str, number: &str, now: Instant) {
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        if d.state != State::Proceeding {
            return;
        }
        let contact = format!("<{}>", target_uri(number, &d.invite_uri));
        self.final_response(
            call_id,
            302,
            "Moved Temporarily",
            &[("Contact", contact)],
            now,
        );
    }

    /// Hands the call to `number`: 302 before the answer; after it REFER (a blind transfer),
    /// whose fate comes back as [`Effect::Referred`] — accepted: we send BYE; refused or
    /// unanswered: the dialog goes on.
    pub fn transfer(&mut self, call_id: &str, number: &str, now: Instant) {
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        match d.state {
            State::Proceeding => self.redirect(call_id, number, now),
            State::Confirmed | State::Answered { ok: true } => {
                let refer_to = format!("<{}>", target_uri(number, &d.invite_uri));
                self.send_request(
                    call_id,
                    Method::Other("REFER".into()),
                    &[("Refer-To", refer_to)],
                    State::Referring,
                    now,
                );
            }
            _ => {}
        }
    }

    /// Ends the call from our side: BYE when answered, 480 before.
    pub fn hangup(&mut self, call_id: &str, now: Instant) {
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        match d.state {
            State::Proceeding => self.reject(call_id, 480, "Temporarily Unavailable", now),
            State::Answered { ok: true } | State::Confirmed => self.send_bye(call_id, now),
            _ => {}
        }
    }

    /// The call task ended; the dialog is forgotten once it is over.
    pub fn call_ended(&mut self, call_id: &str) {
        if let Some(d) = self.dialogs.get_mut(call_id) {
            d.live = false;
        }
    }

    fn send_bye(&mut self, call_id: &str, now: Instant) {
        self.send_request(call_id, Method::Bye, &[], State::Closing, now);
    }

    /// Sends a request in the dialog from our side (UAS: From is their To with our tag).
    fn send_request(
        &mut self,
        call_id: &str,
        method: Method,
        extra: &[(&str, String)],
        state: State,
        now: Instant,
    ) {
        let branch = format!("z9hG4bK{}", self.token());
        let Some((local, contact)) = self
            .dialogs
            .get(call_id)
            .map(|d| (self.local_of(d), self.contact(d)))
        else {
            return;
        };
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return;
        };
        d.local_cseq += 1;
        let their_from = d.invite.get("From").unwrap_or_default().to_string();
        let our_to = d.invite.get("To").unwrap_or_default().to_string();
        let our_from = if tag(&our_to).is_some() {
            our_to
        } else {
            format!("{our_to};tag={}", d.local_tag)
        };
        // The caller's Contact, else its From; a URI we could not send to (a broken header)
        // gives way to the address the INVITE came from.
        let target = [d.invite.get("Contact"), Some(their_from.as_str())]
            .into_iter()
            .flatten()
            .map(strip_angle)
            .find(|u| message::is_sendable_uri(u))
            .map_or_else(|| format!("sip:{}", d.peer), str::to_string);
        // The transport the caller used, for our Via.
        let transport = d.transport.via_name();
        let mut headers: Vec<(&str, String)> = vec![
            (
                "Via",
                format!("SIP/2.0/{transport} {local};branch={branch};rport"),
            ),
            ("Max-Forwards", "70".into()),
            ("From", our_from),
            ("To", their_from),
            ("Call-ID", call_id.to_string()),
            ("CSeq", format!("{} {}", d.local_cseq, method.as_str())),
            ("Contact", contact),
        ];
        // The route set of a UAS is the INVITE's Record-Route, in order (§12.1.1).
        for rr in d.invite.all("Record-Route") {
            headers.push(("Route", rr.to_string()));
        }
        headers.extend(extra.iter().cloned());
        let bytes = message::request(&method, &target, &headers, b"");
        d.request = bytes.clone();
        d.interval = T1;
        d.state = state;
        d.generation += 1;
        let (peer, reliable) = (d.peer, d.transport.reliable());
        self.send(bytes, peer);
        // Timer E is for unreliable transports (§17.1.2.2).
        if !reliable {
            self.timer(now, T1, call_id, TimerKind::Request);
        }
        self.timer(now, TIMEOUT, call_id, TimerKind::RequestTimeout);
    }

    /// Runs the timers due at `now`.
    pub fn fire(&mut self, now: Instant) {
        while let Some(t) = self.timers.pop_due(now) {
            let Some(d) = self.dialogs.get_mut(&t.call_id) else {
                continue;
            };
            if d.generation != t.generation {
                continue;
            }
            let id = t.call_id;
            match t.kind {
                TimerKind::Response | TimerKind::Request => {
                    d.interval = (d.interval * 2).min(T2);
                    let bytes = if t.kind == TimerKind::Response {
                        d.last_response.clone()
                    } else {
                        d.request.clone()
                    };
                    let (peer, after) = (d.peer, d.interval);
                    self.send(bytes, peer);
                    self.timer(now, after, &id, t.kind);
                }
                TimerKind::AckTimeout => {
                    let ok = d.state == State::Answered { ok: true };
                    d.state = State::Terminated;
                    d.generation += 1;
                    if ok {
                        // RFC 3261 §13.3.1.4: no ACK for our 2xx — end the dialog with BYE.
                        self.out.push(Effect::Gone(id.clone(), Gone::NoAck));
                        self.send_bye(&id, now);
                    } else {
                        self.timer(now, Duration::ZERO, &id, TimerKind::Forget);
                    }
                }
                TimerKind::RequestTimeout => {
                    let referring = d.state == State::Referring;
                    d.generation += 1;
                    if referring {
                        d.state = State::Confirmed;
                        self.out.push(Effect::Referred(id, Referred::Refused(408)));
                    } else {
                        d.terminate();
                        self.timer(now, Duration::ZERO, &id, TimerKind::Forget);
                    }
                }
                TimerKind::Forget => {
                    if d.live {
                        // the call task has not finished yet; look again later
                        self.timer(now, T1, &id, TimerKind::Forget);
                    } else {
                        self.dialogs.remove(&id);
                        self.out.push(Effect::Closed(id));
                        // After a burst, give the tables' room back.
                        if self.dialogs.capacity() > 4 * self.dialogs.len() + 1024 {
                            self.dialogs.shrink_to_fit();
                            self.timers.shrink();
                        }
                    }
                }
            }
        }
    }
}

/// A SIP URI for a number, at the host the call was addressed to: `sip:+7495…@host`.
fn target_uri(number: &str, request_uri: &str) -> String {
    let host = request_uri
        .split_once('@')
        .map_or_else(|| request_uri.trim_start_matches("sip:"), |(_, h)| h);
    let host = host.split(';').next().unwrap_or(host);
    format!("sip:{number}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sip::effect::split_sent;

    const PEER: &str = "127.0.0.1:5080";

    fn invite(call: &str, branch: &str) -> String {
        format!("INVITE sip:sum@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch={branch}\r\nFrom: <sip:+79001234567@127.0.0.1>;tag=caller\r\nTo: <sip:sum@127.0.0.1>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\nContact: <sip:c@{PEER}>\r\nContent-Length: 0\r\n\r\n")
    }

    fn in_dialog(method: &str, call: &str, branch: &str, cseq: u32, to_tag: &str) -> String {
        format!("{method} sip:ivrc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch={branch}\r\nFrom: <sip:+79001234567@127.0.0.1>;tag=caller\r\nTo: <sip:sum@127.0.0.1>;tag={to_tag}\r\nCall-ID: {call}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")
    }

    /// Hands a datagram over as the core does.
    fn datagram(calls: &mut IncomingCalls, bytes: &[u8], peer: SocketAddr, now: Instant) {
        match message::parse(bytes).expect("a SIP message") {
            message::Message::Request(r) => calls.request(r, peer, Transport::Udp, now),
            message::Message::Response(r) => calls.response(&r.headers, r.status, now),
        }
    }

    /// The first lines of what was sent, and the other effects.
    fn drain(calls: &mut IncomingCalls) -> (Vec<String>, Vec<Effect>) {
        split_sent(calls.effects())
    }

    fn start(calls: &mut IncomingCalls, call: &str, now: Instant) -> String {
        datagram(
            calls,
            invite(call, &format!("z9hG4bK-{call}")).as_bytes(),
            PEER.parse().expect("addr"),
            now,
        );
        let (sent, other) = drain(calls);
        assert_eq!(sent, ["SIP/2.0 100 Trying"]);
        assert!(
            matches!(&other[..], [Effect::Start(c)] if c.call_id == call && c.service.as_deref() == Some("sum") && c.caller.as_deref() == Some("+79001234567"))
        );
        calls.answer(call, b"v=0\r\n".to_vec(), now);
        let bytes = match calls.effects().pop() {
            Some(Effect::Send(b, _)) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("{other:?}"),
        };
        assert!(bytes.starts_with("SIP/2.0 200 OK"));
        bytes
            .lines()
            .find(|l| l.starts_with("To:"))
            .and_then(|l| l.split(";tag=").nth(1))
            .expect("a To tag")
            .to_string()
    }

    #[test]
    fn the_answer_is_retransmitted_on_timer_g_until_ack() {
        let t0 = Instant::now();
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        let tag = start(&mut calls, "g", t0);
        let mut resent = Vec::new();
        for ms in (100..4000).step_by(100) {
            calls.fire(t0 + Duration::from_millis(ms));
            if !drain(&mut calls).0.is_empty() {
                resent.push(ms);
            }
        }
        assert_eq!(resent, [500, 1500, 3500], "T1, then doubling");
        datagram(
            &mut calls,
            in_dialog("ACK", "g", "z9hG4bK-ack", 1, &tag).as_bytes(),
            PEER.parse().expect("addr"),
            t0 + Duration::from_secs(4),
        );
        calls.fire(t0 + Duration::from_secs(40));
        assert_eq!(
            drain(&mut calls).0,
            Vec::<String>::new(),
            "no retransmission or BYE after the ACK"
        );
        assert_eq!(calls.busy(), 0);
    }

    #[test]
    fn no_ack_ends_the_call_with_bye_and_the_dialog_is_forgotten() {
        let t0 = Instant::now();
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        start(&mut calls, "h", t0);
        calls.fire(t0 + TIMEOUT);
        let (sent, other) = drain(&mut calls);
        assert!(
            sent.iter()
                .any(|l| l.starts_with("BYE sip:c@127.0.0.1:5080 SIP/2.0")),
            "{sent:?}"
        );
        assert!(matches!(&other[..], [Effect::Gone(c, Gone::NoAck)] if c == "h"));
        calls.call_ended("h");
        calls.fire(t0 + TIMEOUT * 3);
        let (_, other) = drain(&mut calls);
        assert!(
            other
                .iter()
                .any(|e| matches!(e, Effect::Closed(c) if c == "h")),
            "{other:?}"
        );
        assert_eq!(calls.busy(), 0);
    }

    #[test]
    fn cancel_before_the_answer_and_bye_after_it() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        datagram(&mut calls, invite("c", "z9hG4bK-c").as_bytes(), peer, t0);
        drain(&mut calls);
        let cancel = invite("c", "z9hG4bK-c")
            .replace("INVITE sip", "CANCEL sip")
            .replace("1 INVITE", "1 CANCEL");
        datagram(&mut calls, cancel.as_bytes(), peer, t0);
        let (sent, other) = drain(&mut calls);
        assert_eq!(sent, ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]);
        assert!(matches!(&other[..], [Effect::Gone(_, Gone::Cancel)]));
        // a CANCEL for another branch matches nothing
        datagram(
            &mut calls,
            cancel.replace("z9hG4bK-c", "z9hG4bK-x").as_bytes(),
            peer,
            t0,
        );
        assert_eq!(
            drain(&mut calls).0,
            ["SIP/2.0 481 Call/Transaction Does Not Exist"]
        );

        let tag = start(&mut calls, "b", t0);
        datagram(
            &mut calls,
            in_dialog("BYE", "b", "z9hG4bK-bye", 2, "wrong").as_bytes(),
            peer,
            t0,
        );
        assert_eq!(
            drain(&mut calls).0,
            ["SIP/2.0 481 Call/Transaction Does Not Exist"],
            "tags must match"
        );
        datagram(
            &mut calls,
            in_dialog("BYE", "b", "z9hG4bK-bye", 2, &tag).as_bytes(),
            peer,
            t0,
        );
        let (sent, other) = drain(&mut calls);
        assert_eq!(sent, ["SIP/2.0 200 OK"]);
        assert!(matches!(&other[..], [Effect::Gone(c, Gone::Bye)] if c == "b"));
        datagram(
            &mut calls,
            in_dialog("BYE", "b", "z9hG4bK-bye", 2, &tag).as_bytes(),
            peer,
            t0,
        );
        let (sent, other) = drain(&mut calls);
        assert_eq!(
            (sent.len(), other.len()),
            (1, 0),
            "a retransmitted BYE is answered again, once"
        );
    }

    #[test]
    fn an_rfc_2543_invite_is_cancelled_and_retransmitted_by_its_fields() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        let invite = invite("old", "x").replace(";branch=x", "");
        datagram(&mut calls, invite.as_bytes(), peer, t0);
        assert_eq!(drain(&mut calls).0, ["SIP/2.0 100 Trying"]);
        datagram(&mut calls, invite.as_bytes(), peer, t0);
        assert_eq!(
            drain(&mut calls),
            (vec!["SIP/2.0 100 Trying".to_string()], vec![])
        );
        let cancel = invite
            .replace("INVITE sip", "CANCEL sip")
            .replace("1 INVITE", "1 CANCEL");
        let other = cancel.replace("UDP 127.0.0.1:5080", "UDP 127.0.0.1:5081");
        datagram(&mut calls, other.as_bytes(), peer, t0);
        assert_eq!(
            drain(&mut calls).0,
            ["SIP/2.0 481 Call/Transaction Does Not Exist"],
            "another top Via is another transaction"
        );
        datagram(&mut calls, cancel.as_bytes(), peer, t0);
        assert_eq!(
            drain(&mut calls).0,
            ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
        );
    }

    #[test]
    fn a_body_that_is_not_sdp_gets_415_and_an_accept_without_sdp_406() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        let xml = invite("ut", "z9hG4bK-ut").replace(
            "Content-Length: 0\r\n\r\n",
            "Content-Type: application/unknownformat\r\nContent-Length: 2\r\n\r\n<>",
        );
        datagram(&mut calls, xml.as_bytes(), peer, t0);
        assert_eq!(drain(&mut calls).0, ["SIP/2.0 415 Unsupported Media Type"]);
        let accept = invite("ac", "z9hG4bK-ac").replace(
            "Content-Length: 0",
            "Accept: text/plain\r\nContent-Length: 0",
        );
        datagram(&mut calls, accept.as_bytes(), peer, t0);
        assert_eq!(drain(&mut calls).0, ["SIP/2.0 406 Not Acceptable"]);
    }

    #[test]
    fn a_broken_contact_does_not_break_our_bye() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        let broken = invite("k", "z9hG4bK-k")
            .replace(
                &format!("Contact: <sip:c@{PEER}>"),
                "Contact: <sip:+7900 oops",
            )
            .replace(
                "From: <sip:+79001234567@127.0.0.1>",
                "From: \"x\" <tel:+7900>",
            );
        datagram(&mut calls, broken.as_bytes(), peer, t0);
        drain(&mut calls);
        calls.answer("k", b"v=0\r\n".to_vec(), t0);
        calls.hangup("k", t0);
        let bye = calls
            .effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(b, _) if b.starts_with(b"BYE ") => Some(b),
                _ => None,
            })
            .next()
            .expect("a BYE");
        assert!(String::from_utf8_lossy(&bye).starts_with("BYE sip:127.0.0.1:5080 SIP/2.0"));
        assert!(message::parse(&bye).is_ok());
    }

    #[test]
    fn transfer_redirects_before_the_answer_and_refers_after() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        datagram(&mut calls, invite("r", "z9hG4bK-r").as_bytes(), peer, t0);
        drain(&mut calls);
        calls.transfer("r", "+74951234567", t0);
        let redirect = match calls.effects().pop() {
            Some(Effect::Send(b, _)) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("{other:?}"),
        };
        assert!(redirect.starts_with("SIP/2.0 302 Moved Temporarily"));
        assert!(
            redirect.contains("Contact: <sip:+74951234567@127.0.0.1>"),
            "{redirect}"
        );

        let tag = start(&mut calls, "f", t0);
        datagram(
            &mut calls,
            in_dialog("ACK", "f", "z9hG4bK-ack", 1, &tag).as_bytes(),
            peer,
            t0,
        );
        calls.transfer("f", "+74951234567", t0);
        let (sent, _) = drain(&mut calls);
        assert_eq!(sent, ["REFER sip:c@127.0.0.1:5080 SIP/2.0"]);
        let accepted = format!("SIP/2.0 202 Accepted\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\r\nFrom: <sip:sum@127.0.0.1>;tag={tag}\r\nTo: <sip:+79001234567@127.0.0.1>;tag=caller\r\nCall-ID: f\r\nCSeq: 1 REFER\r\nContent-Length: 0\r\n\r\n");
        datagram(&mut calls, accepted.as_bytes(), peer, t0);
        let (sent, other) = drain(&mut calls);
        assert_eq!(
            sent,
            ["BYE sip:c@127.0.0.1:5080 SIP/2.0"],
            "BYE once the REFER is accepted"
        );
        assert_eq!(other, [Effect::Referred("f".into(), Referred::Accepted)]);
    }

    #[test]
    fn a_refused_refer_keeps_the_call_and_says_so() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut calls = IncomingCalls::new("127.0.0.1:5060".parse().expect("addr"));
        let tag = start(&mut calls, "n", t0);
        datagram(
            &mut calls,
            in_dialog("ACK", "n", "z9hG4bK-ack", 1, &tag).as_bytes(),
            peer,
            t0,
        );
        calls.transfer("n", "+74951234567", t0);
        drain(&mut calls);
        let refused = format!("SIP/2.0 501 Not Implemented\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\r\nFrom: <sip:sum@127.0.0.1>;tag={tag}\r\nTo: <sip:+79001234567@127.0.0.1>;tag=caller\r\nCall-ID: n\r\nCSeq: 1 REFER\r\nContent-Length: 0\r\n\r\n");
        datagram(&mut calls, refused.as_bytes(), peer, t0);
        let (sent, other) = drain(&mut calls);
        assert!(sent.is_empty(), "no BYE after a refusal: {sent:?}");
        assert_eq!(
            other,
            [Effect::Referred("n".into(), Referred::Refused(501))]
        );
        // The call is still up: our BYE goes out when the flow hangs up.
        calls.hangup("n", t0);
        assert_eq!(drain(&mut calls).0, ["BYE sip:c@127.0.0.1:5080 SIP/2.0"]);
    }
}

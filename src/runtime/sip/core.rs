//! The SIP user-agent core of the runtime: server transactions for INVITE (100 Trying, the
//! final response retransmitted with timer G until ACK or timer H, RFC 3261 §17.2.1), BYE,
//! CANCEL, OPTIONS and INFO; dialogs; and the client transactions of the BYE and REFER we send
//! (timers E and F, §17.1.2). It does no I/O: datagrams in, [`Effect`]s out, and time passes
//! only through [`Core::fire`], so every rule here is tested without sockets.
//!
//! It decides how to answer requests; it does not run flows. A new INVITE becomes
//! [`Effect::Start`] for the server to create a call, which later asks the core to answer,
//! reject, redirect, transfer or hang up (`Core::answer`, …).

use super::message::{
    self, branch, cseq, tag, uri_user, ErrorKind, Headers, Message, Method, Request,
};
use super::timers::{token, Timers};
use super::uac::{Dial, Dialed, Outbound, Trunk};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// RFC 3261 T1: the round-trip estimate.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261 T2: the longest retransmit interval of non-INVITE requests and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// Timer H, F and J: 64·T1.
pub const TIMEOUT: Duration = Duration::from_secs(32);
/// What we allow, for OPTIONS and 405.
const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE";

/// What the core asks its server to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a datagram.
    Send(Vec<u8>, SocketAddr),
    /// A new call: the server checks capacity and the flow, then creates it or rejects it.
    Start(Box<NewCall>),
    /// A key pressed with SIP INFO.
    Key(String, char),
    /// The caller left (BYE or CANCEL), or the dialog failed (no ACK): stop the call.
    Gone(String, Gone),
    /// The dialog is over and forgotten; its call slot is free.
    Closed(String),
    /// How an outbound leg placed with [`Core::dial`] got on.
    Dialed(String, Dialed),
    /// A text message came (out of dialog MESSAGE); the server answers it with
    /// [`Core::reply`].
    Text(Box<IncomingText>),
    /// The final status of a text sent with [`Core::message`].
    Texted(String, u16),
}

/// A text message that came.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingText {
    /// The request's headers (for the reply).
    pub headers: Headers,
    /// Where it came from.
    pub peer: SocketAddr,
    /// Its Call-ID.
    pub id: String,
    /// The request-URI user (which flow).
    pub service: Option<String>,
    /// The sender (From user).
    pub from: Option<String>,
    /// The text.
    pub text: String,
}

/// Why a call's caller is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// BYE from the caller.
    Bye,
    /// CANCEL before the answer.
    Cancel,
    /// Our 200 OK was never acknowledged (timer H).
    NoAck,
}

/// An INVITE that starts a dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    /// Its Call-ID.
    pub call_id: String,
    /// The request-URI user (which flow).
    pub service: Option<String>,
    /// The From user (the caller's number).
    pub caller: Option<String>,
    /// The SDP offer.
    pub offer: Vec<u8>,
    /// Where it came from.
    pub peer: SocketAddr,
}

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
    invite: Headers,
    invite_branch: String,
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

/// The core: dialogs by Call-ID and pending timers.
pub struct Core {
    /// Our SIP address, for Contact and Via.
    local: SocketAddr,
    dialogs: HashMap<String, Dialog>,
    timers: Timers<TimerKind>,
    next_seq: u64,
    out: Vec<Effect>,
    /// The calls we place.
    outbound: Outbound,
    /// Text messages seen lately by branch, with our reply (empty until given), so a
    /// retransmitted MESSAGE is answered again instead of starting its flow twice.
    texts: HashMap<String, (Instant, Vec<u8>)>,
}

impl Core {
    /// A core listening at `local`, placing calls through `trunk`.
    pub fn new(local: SocketAddr, trunk: Option<Trunk>) -> Core {
        Core {
            local,
            dialogs: HashMap::new(),
            timers: Timers::default(),
            next_seq: 0,
            out: Vec::new(),
            outbound: Outbound::new(local, trunk),
            texts: HashMap::new(),
        }
    }

    /// Places an outbound call; its progress comes back as [`Effect::Dialed`].
    pub fn dial(&mut self, dial: Dial, now: Instant) {
        self.outbound.dial(dial, now);
    }

    /// Dialogs a shutdown waits for: an answer not yet acknowledged, our BYE or REFER not yet
    /// answered. (Refusals waiting for their ACK and terminated dialogs only absorb
    /// retransmissions.)
    pub fn busy_dialogs(&self) -> usize {
        self.outbound.busy()
            + self
                .dialogs
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
        let ours = self.timers.next();
        match (ours, self.outbound.next_timer()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether effects wait to be taken.
    pub fn effects_pending(&self) -> bool {
        !self.out.is_empty() || self.outbound.effects_pending()
    }

    /// Takes the effects produced so far.
    pub fn effects(&mut self) -> Vec<Effect> {
        let mut out = std::mem::take(&mut self.out);
        out.extend(self.outbound.effects());
        out
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

    /// Handles one datagram from `peer`.
    pub fn datagram(&mut self, bytes: &[u8], peer: SocketAddr, now: Instant) {
        match message::parse(bytes) {
            Ok(m) => {
                // Our outbound legs' dialogs are the client side's; the rest are ours.
                let outbound = m
                    .headers()
                    .get("Call-ID")
                    .is_some_and(|id| self.outbound.owns(id));
                match (m, outbound) {
                    (Message::Request(r), true) => self.outbound.request(&r, peer, now),
                    (Message::Request(r), false) => self.request(r, peer, now),
                    (Message::Response(r), true) => self.outbound.response(&r, now),
                    (Message::Response(r), false) => self.response(&r.headers, r.status, now),
                }
            }
            Err(e) => {
                if let Some(h) = e.respond_to {
                    let (status, reason) = match e.kind {
                        ErrorKind::UnknownMethod => (501, "Not Implemented"),
                        ErrorKind::Version => (505, "Version Not Supported"),
                        ErrorKind::Malformed => (400, "Bad Request"),
                    };
                    // ACK gets no response, whatever its shape.
                    if !matches!(cseq(&h), Some((_, Method::Ack))) {
                        self.respond(&h, peer, status, reason);
                    }
                }
            }
        }
    }

    fn request(&mut self, r: Request, peer: SocketAddr, now: Instant) {
        let Some(call_id) = r.headers.get("Call-ID").map(str::to_string) else {
            return;
        };
        match r.method {
            Method::Invite => self.invite(r, call_id, peer),
            Method::Ack => self.ack(&call_id, now),
            Method::Bye => self.bye(&r, &call_id, peer, now),
            Method::Cancel => self.cancel(&r, &call_id, peer, now),
            Method::Options => {
                let extra = [
                    ("Allow", ALLOW.to_string()),
                    ("Accept", "application/sdp".into()),
                ];
                let bytes = message::response(&r.headers, 200, "OK", Some("opt"), &extra, b"");
                self.send(bytes, peer);
            }
            Method::Info => {
                if !self.in_dialog(&r, &call_id) {
                    self.respond(&r.headers, peer, 481, "Call/Transaction Does Not Exist");
                    return;
                }
                let kind = r.headers.get("Content-Type").unwrap_or_default();
                if let Some(key) = crate::runtime::media::dtmf::key_of_info(kind, &r.body) {
                    self.out.push(Effect::Key(call_id, key));
                }
                self.respond(&r.headers, peer, 200, "OK");
            }
            Method::Message => self.text(r, call_id, peer, now),
            Method::Other(_) => self.respond(&r.headers, peer, 501, "Not Implemented"),
        }
    }

    /// A MESSAGE: plain text (UTF-8) goes to the server; other bodies are refused here.
    fn text(&mut self, r: Request, call_id: String, peer: SocketAddr, now: Instant) {
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
        let from = r.headers.get("From").and_then(uri_user).map(str::to_string);
        let service = uri_user(&r.uri).map(str::to_string);
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

    fn invite(&mut self, r: Request, call_id: String, peer: SocketAddr) {
        let branch = branch(&r.headers).unwrap_or_default().to_string();
        if let Some(d) = self.dialogs.get(&call_id) {
            if d.invite_branch == branch {
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
        let scheme = r
            .uri
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !matches!(scheme.as_str(), "sip" | "sips" | "tel") {
            self.respond(&r.headers, peer, 416, "Unsupported URI Scheme");
            return;
        }
        if r.headers.get("To").and_then(tag).is_some() {
            // A re-INVITE for a dialog we do not have.
            self.respond(&r.headers, peer, 481, "Call/Transaction Does Not Exist");
            return;
        }
        let local_tag = self.token();
        let trying = message::response(&r.headers, 100, "Trying", None, &[], b"");
        self.send(trying.clone(), peer);
        let caller = r.headers.get("From").and_then(uri_user).map(str::to_string);
        let service = uri_user(&r.uri).map(str::to_string);
        self.dialogs.insert(
            call_id.clone(),
            Dialog {
                peer,
                invite_branch: branch,
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
            caller,
            offer: r.body,
            peer,
        })));
    }

    /// A re-INVITE in the dialog (hold, unhold, session refresh): the same answer again.
    fn reinvite(&mut self, r: &Request, call_id: &str, peer: SocketAddr) {
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        if d.state != State::Confirmed {
            self.respond(&r.headers, peer, 491, "Request Pending");
            return;
        }
        let contact = self.contact();
        let extra = [
            ("Contact", contact),
            ("Content-Type", "application/sdp".into()),
        ];
        let answer = d.answer.clone();
        let bytes = message::response(&r.headers, 200, "OK", None, &extra, &answer);
        self.send(bytes, peer);
    }

    fn contact(&self) -> String {
        format!("<sip:ivrc@{}>", self.local)
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
            .is_some_and(|d| Some(d.invite_branch.as_str()) == branch(&r.headers));
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

    fn response(&mut self, headers: &Headers, status: u16, now: Instant) {
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
                self.send_bye(&call_id, now);
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
        self.send(bytes, peer);
        self.timer(now, T1, call_id, TimerKind::Response);
        self.timer(now, TIMEOUT, call_id, TimerKind::AckTimeout);
    }

    /// Answers the call with our SDP.
    pub fn answer(&mut self, call_id: &str, sdp: Vec<u8>, now: Instant) {
        let contact = self.contact();
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
    pub fn redirect(&mut self, call_id: &str, number: &str, now: Instant) {
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

    /// Hands the answered call to `number` with REFER (a blind transfer), then hangs up.
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

    /// Ends the call from our side: BYE when answered, 480 before (an outbound leg: CANCEL
    /// before the answer, BYE after).
    pub fn hangup(&mut self, call_id: &str, now: Instant) {
        if self.outbound.owns(call_id) {
            self.outbound.hangup(call_id, now);
            return;
        }
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
        let local = self.local;
        let contact = self.contact();
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
        // The transport the caller used (their top Via), for our Via.
        let transport = if d
            .invite
            .get("Via")
            .is_some_and(|v| v.to_ascii_uppercase().starts_with("SIP/2.0/TCP"))
        {
            "TCP"
        } else {
            "UDP"
        };
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
        let peer = d.peer;
        self.send(bytes, peer);
        self.timer(now, T1, call_id, TimerKind::Request);
        self.timer(now, TIMEOUT, call_id, TimerKind::RequestTimeout);
    }

    /// Runs the timers due at `now`.
    pub fn fire(&mut self, now: Instant) {
        self.outbound.fire(now);
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
                        self.send_bye(&id, now);
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

/// A text message's transaction: its Call-ID and top Via branch.
fn text_key(headers: &Headers) -> String {
    format!(
        "{} {}",
        headers.get("Call-ID").unwrap_or_default(),
        branch(headers).unwrap_or_default()
    )
}

/// A SIP URI for a number, at the host the call was addressed to: `sip:+7495…@host`.
fn target_uri(number: &str, request_uri: &str) -> String {
    let host = request_uri
        .split_once('@')
        .map_or_else(|| request_uri.trim_start_matches("sip:"), |(_, h)| h);
    let host = host.split(';').next().unwrap_or(host);
    format!("sip:{number}@{host}")
}

pub(super) fn strip_angle(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "127.0.0.1:5080";

    fn invite(call: &str, branch: &str) -> String {
        format!("INVITE sip:sum@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch={branch}\r\nFrom: <sip:+79001234567@127.0.0.1>;tag=caller\r\nTo: <sip:sum@127.0.0.1>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\nContact: <sip:c@{PEER}>\r\nContent-Length: 0\r\n\r\n")
    }

    fn in_dialog(method: &str, call: &str, branch: &str, cseq: u32, to_tag: &str) -> String {
        format!("{method} sip:ivrc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch={branch}\r\nFrom: <sip:+79001234567@127.0.0.1>;tag=caller\r\nTo: <sip:sum@127.0.0.1>;tag={to_tag}\r\nCall-ID: {call}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")
    }

    /// The first lines of what was sent, and the other effects.
    fn drain(core: &mut Core) -> (Vec<String>, Vec<Effect>) {
        let mut sent = Vec::new();
        let mut other = Vec::new();
        for e in core.effects() {
            match e {
                Effect::Send(b, _) => sent.push(
                    String::from_utf8_lossy(&b)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                ),
                e => other.push(e),
            }
        }
        (sent, other)
    }

    fn start(core: &mut Core, call: &str, now: Instant) -> String {
        core.datagram(
            invite(call, &format!("z9hG4bK-{call}")).as_bytes(),
            PEER.parse().expect("addr"),
            now,
        );
        let (sent, other) = drain(core);
        assert_eq!(sent, ["SIP/2.0 100 Trying"]);
        assert!(
            matches!(&other[..], [Effect::Start(c)] if c.call_id == call && c.service.as_deref() == Some("sum") && c.caller.as_deref() == Some("+79001234567"))
        );
        core.answer(call, b"v=0\r\n".to_vec(), now);
        let bytes = match core.effects().pop() {
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
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        let tag = start(&mut core, "g", t0);
        let mut resent = Vec::new();
        for ms in (100..4000).step_by(100) {
            core.fire(t0 + Duration::from_millis(ms));
            if !drain(&mut core).0.is_empty() {
                resent.push(ms);
            }
        }
        assert_eq!(resent, [500, 1500, 3500], "T1, then doubling");
        core.datagram(
            in_dialog("ACK", "g", "z9hG4bK-ack", 1, &tag).as_bytes(),
            PEER.parse().expect("addr"),
            t0 + Duration::from_secs(4),
        );
        core.fire(t0 + Duration::from_secs(40));
        assert_eq!(
            drain(&mut core).0,
            Vec::<String>::new(),
            "no retransmission or BYE after the ACK"
        );
        assert_eq!(core.busy_dialogs(), 0);
    }

    #[test]
    fn no_ack_ends_the_call_with_bye_and_the_dialog_is_forgotten() {
        let t0 = Instant::now();
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        start(&mut core, "h", t0);
        core.fire(t0 + TIMEOUT);
        let (sent, other) = drain(&mut core);
        assert!(
            sent.iter()
                .any(|l| l.starts_with("BYE sip:c@127.0.0.1:5080 SIP/2.0")),
            "{sent:?}"
        );
        assert!(matches!(&other[..], [Effect::Gone(c, Gone::NoAck)] if c == "h"));
        core.call_ended("h");
        core.fire(t0 + TIMEOUT * 3);
        let (_, other) = drain(&mut core);
        assert!(
            other
                .iter()
                .any(|e| matches!(e, Effect::Closed(c) if c == "h")),
            "{other:?}"
        );
        assert_eq!(core.busy_dialogs(), 0);
    }

    #[test]
    fn cancel_before_the_answer_and_bye_after_it() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        core.datagram(invite("c", "z9hG4bK-c").as_bytes(), peer, t0);
        drain(&mut core);
        let cancel = invite("c", "z9hG4bK-c")
            .replace("INVITE sip", "CANCEL sip")
            .replace("1 INVITE", "1 CANCEL");
        core.datagram(cancel.as_bytes(), peer, t0);
        let (sent, other) = drain(&mut core);
        assert_eq!(sent, ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]);
        assert!(matches!(&other[..], [Effect::Gone(_, Gone::Cancel)]));
        // a CANCEL for another branch matches nothing
        core.datagram(
            cancel.replace("z9hG4bK-c", "z9hG4bK-x").as_bytes(),
            peer,
            t0,
        );
        assert_eq!(
            drain(&mut core).0,
            ["SIP/2.0 481 Call/Transaction Does Not Exist"]
        );

        let tag = start(&mut core, "b", t0);
        core.datagram(
            in_dialog("BYE", "b", "z9hG4bK-bye", 2, "wrong").as_bytes(),
            peer,
            t0,
        );
        assert_eq!(
            drain(&mut core).0,
            ["SIP/2.0 481 Call/Transaction Does Not Exist"],
            "tags must match"
        );
        core.datagram(
            in_dialog("BYE", "b", "z9hG4bK-bye", 2, &tag).as_bytes(),
            peer,
            t0,
        );
        let (sent, other) = drain(&mut core);
        assert_eq!(sent, ["SIP/2.0 200 OK"]);
        assert!(matches!(&other[..], [Effect::Gone(c, Gone::Bye)] if c == "b"));
        core.datagram(
            in_dialog("BYE", "b", "z9hG4bK-bye", 2, &tag).as_bytes(),
            peer,
            t0,
        );
        let (sent, other) = drain(&mut core);
        assert_eq!(
            (sent.len(), other.len()),
            (1, 0),
            "a retransmitted BYE is answered again, once"
        );
    }

    #[test]
    fn a_broken_contact_does_not_break_our_bye() {
        let t0 = Instant::now();
        let peer = PEER.parse().expect("addr");
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        let broken = invite("k", "z9hG4bK-k")
            .replace(
                &format!("Contact: <sip:c@{PEER}>"),
                "Contact: <sip:+7900 oops",
            )
            .replace(
                "From: <sip:+79001234567@127.0.0.1>",
                "From: \"x\" <tel:+7900>",
            );
        core.datagram(broken.as_bytes(), peer, t0);
        drain(&mut core);
        core.answer("k", b"v=0\r\n".to_vec(), t0);
        core.hangup("k", t0);
        let bye = core
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
        let mut core = Core::new("127.0.0.1:5060".parse().expect("addr"), None);
        core.datagram(invite("r", "z9hG4bK-r").as_bytes(), peer, t0);
        drain(&mut core);
        core.transfer("r", "+74951234567", t0);
        let redirect = match core.effects().pop() {
            Some(Effect::Send(b, _)) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("{other:?}"),
        };
        assert!(redirect.starts_with("SIP/2.0 302 Moved Temporarily"));
        assert!(
            redirect.contains("Contact: <sip:+74951234567@127.0.0.1>"),
            "{redirect}"
        );

        let tag = start(&mut core, "f", t0);
        core.datagram(
            in_dialog("ACK", "f", "z9hG4bK-ack", 1, &tag).as_bytes(),
            peer,
            t0,
        );
        core.transfer("f", "+74951234567", t0);
        let (sent, _) = drain(&mut core);
        assert_eq!(sent, ["REFER sip:c@127.0.0.1:5080 SIP/2.0"]);
        let accepted = format!("SIP/2.0 202 Accepted\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\r\nFrom: <sip:sum@127.0.0.1>;tag={tag}\r\nTo: <sip:+79001234567@127.0.0.1>;tag=caller\r\nCall-ID: f\r\nCSeq: 1 REFER\r\nContent-Length: 0\r\n\r\n");
        core.datagram(accepted.as_bytes(), peer, t0);
        assert_eq!(
            drain(&mut core).0,
            ["BYE sip:c@127.0.0.1:5080 SIP/2.0"],
            "BYE once the REFER is accepted"
        );
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
}

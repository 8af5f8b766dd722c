//! Outbound legs: the client side of the calls a flow places through the trunk. The INVITE
//! client transaction (timer A retransmissions, timer B, RFC 3261 §17.1.1), digest challenges
//! answered once (401/407, [`super::digest`]), ACK for every final response (the same branch
//! for errors, a new transaction for 2xx, §13.2.2.4), CANCEL before the answer (§9.1: only
//! after a provisional response), BYE both ways, and re-INVITEs answered in kind (hold) so a
//! hold does not drop the call. Text messages go out the same way as MESSAGE requests (RFC
//! 3428: a non-INVITE transaction, timers E and F, challenges answered). No I/O: the UA
//! core hands it datagrams and takes its effects. The calls we answer are [`super::uas`]'s.

use super::digest::Challenge;
use super::effect::{Dialed, Effect, Gone, Referred};
use super::info::key_of_info;
use super::message::{self, cseq, strip_angle, tag, Method, Request, Response};
use super::timers::{token, Timers, T1, T2, TIMEOUT};
use super::transport::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where outbound calls go and how we authenticate there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// The trunk's address.
    pub addr: SocketAddr,
    /// The host part of the URIs we call (`sip:NUMBER@host`).
    pub host: String,
    /// The digest user name (also our From user when the flow sets no caller id).
    pub user: Option<String>,
    /// The digest password.
    pub password: Option<String>,
    /// How it is reached: over TCP or TLS (`;transport=tcp`, `sips:`) Via names the transport,
    /// nothing is retransmitted (RFC 3261 §17.1.1.2: timers A and E are for unreliable
    /// transports) and our Contact asks for it.
    pub transport: Transport,
}

/// A call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    /// The new leg's Call-ID.
    pub call_id: String,
    /// The number to call.
    pub number: String,
    /// The number shown.
    pub caller_id: Option<String>,
    /// Our SDP offer.
    pub offer: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// INVITE sent, nothing back yet.
    Calling,
    /// A provisional response came.
    Proceeding,
    /// 2xx acknowledged: the call is up.
    Confirmed,
    /// Up, with our REFER out (a blind transfer).
    Referring,
    /// Our BYE is out.
    Closing,
    /// Over; kept until timer J to absorb retransmissions.
    Terminated,
}

#[derive(Debug, Clone)]
struct Leg {
    /// INVITE for a call, MESSAGE for a text.
    method: Method,
    state: State,
    /// Bumped to cancel the previous state's timers.
    generation: u64,
    request_uri: String,
    /// From (with our tag), To (their tag once known), and the Call-ID.
    from: String,
    to: String,
    /// Our SDP offer (also our answer to a re-INVITE), or a text's words.
    body: Vec<u8>,
    /// The callee's SDP answer: the codec in use, which a re-INVITE must keep.
    answer: Vec<u8>,
    caller_user: String,
    /// The INVITE's (or MESSAGE's) CSeq number and Via branch.
    first_cseq: u32,
    branch: String,
    /// The request being retransmitted (INVITE, CANCEL or BYE) and the interval.
    retransmit: Vec<u8>,
    interval: Duration,
    /// Challenges answered so far (one, and one more when the nonce was stale).
    challenges: u8,
    /// The flow gave up on this leg (dial timeout, hang-up before the answer).
    cancelled: bool,
    /// Our ACK for the 2xx, resent when the 2xx is retransmitted.
    ack: Vec<u8>,
    /// The callee's Contact and the route set (Record-Route reversed), after the answer.
    remote_target: String,
    routes: Vec<String>,
    cseq: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// A: retransmit the INVITE (CANCEL and BYE use E).
    Retransmit,
    /// B (INVITE) or F (CANCEL, BYE): no answer.
    GiveUp,
    /// J: forget the leg.
    Forget,
}

/// The outbound legs (calls and texts we place) by Call-ID.
pub struct OutboundLegs {
    local: SocketAddr,
    /// Our TLS listener's address, when we listen on TLS.
    tls_local: Option<SocketAddr>,
    trunk: Option<Trunk>,
    legs: HashMap<String, Leg>,
    timers: Timers<TimerKind>,
    next_seq: u64,
    out: Vec<Effect>,
}

/// Whether `number` can go into a URI as it is: digits, `+`, `*` and `#` only.
fn dialable(number: &str) -> bool {
    !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'))
}

impl OutboundLegs {
    /// Outbound legs from `local` through `trunk` (none: every dial fails with 503).
    pub fn new(local: SocketAddr, trunk: Option<Trunk>) -> OutboundLegs {
        OutboundLegs {
            local,
            tls_local: None,
            trunk,
            legs: HashMap::new(),
            timers: Timers::default(),
            next_seq: 0,
            out: Vec::new(),
        }
    }

    /// Whether `call_id` is one of our legs.
    pub fn owns(&self, call_id: &str) -> bool {
        self.legs.contains_key(call_id)
    }

    /// Legs a shutdown waits for: up, or with our BYE out.
    pub fn busy(&self) -> usize {
        self.legs
            .values()
            .filter(|l| !matches!(l.state, State::Terminated))
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
        token(&mut self.next_seq, 0x2545_f491)
    }

    fn timer(&mut self, now: Instant, after: Duration, call_id: &str, kind: TimerKind) {
        let Some(l) = self.legs.get(call_id) else {
            return;
        };
        self.timers.set(now, after, call_id, l.generation, kind);
    }

    fn dialed(&mut self, call_id: &str, what: Dialed) {
        self.out.push(Effect::Dialed(call_id.to_string(), what));
    }

    fn send(&mut self, bytes: Vec<u8>) {
        if let Some(t) = &self.trunk {
            self.out.push(Effect::Send(bytes, t.addr));
        }
    }

    /// Places a call.
    pub fn dial(&mut self, dial: Dial, now: Instant) {
        let Some(trunk) = self.trunk.clone() else {
            self.dialed(&dial.call_id, Dialed::Failed(503));
            return;
        };
        if !dialable(&dial.number) || self.legs.contains_key(&dial.call_id) {
            self.dialed(&dial.call_id, Dialed::Failed(484));
            return;
        }
        let leg = self.leg(
            Method::Invite,
            &dial.number,
            dial.caller_id.as_deref(),
            dial.offer,
            &trunk,
        );
        self.legs.insert(dial.call_id.clone(), leg);
        self.send_first(&dial.call_id, None, now);
    }

    /// A new leg (or text) to `number` at the trunk, carrying `body`, from `caller_id` (else
    /// the trunk user, else `ivrc`).
    fn leg(
        &mut self,
        method: Method,
        number: &str,
        caller_id: Option<&str>,
        body: Vec<u8>,
        trunk: &Trunk,
    ) -> Leg {
        let caller_user = caller_id
            .filter(|c| dialable(c))
            .map(str::to_string)
            .or_else(|| trunk.user.clone().filter(|u| dialable(u)))
            .unwrap_or_else(|| "ivrc".into());
        let local_tag = self.token();
        Leg {
            method,
            state: State::Calling,
            generation: 0,
            request_uri: format!("sip:{number}@{}", trunk.host),
            from: format!("<sip:{caller_user}@{}>;tag={local_tag}", trunk.host),
            to: format!("<sip:{number}@{}>", trunk.host),
            body,
            answer: Vec::new(),
            caller_user,
            first_cseq: 0,
            branch: String::new(),
            retransmit: Vec::new(),
            interval: T1,
            challenges: 0,
            cancelled: false,
            ack: Vec::new(),
            remote_target: String::new(),
            routes: Vec::new(),
            cseq: 0,
        }
    }

    /// Our Via: over a stream with `;alias` (RFC 5923), so the trunk sends what it has for our
    /// Contact back on our connection rather than opening one to us.
    fn via(&self, branch: &str) -> String {
        let transport = self.transport();
        let alias = if transport.reliable() { ";alias" } else { "" };
        format!(
            "SIP/2.0/{} {};branch={branch};rport{alias}",
            transport.via_name(),
            self.local()
        )
    }

    fn transport(&self) -> Transport {
        self.trunk.as_ref().map(|t| t.transport).unwrap_or_default()
    }

    /// Whether the trunk is reached over a stream (no retransmissions).
    fn reliable(&self) -> bool {
        self.transport().reliable()
    }

    /// Our address on the trunk's transport: the TLS listener's for a TLS trunk, when we
    /// listen on TLS.
    fn local(&self) -> SocketAddr {
        match (self.transport(), self.tls_local) {
            (Transport::Tls, Some(tls)) => tls,
            _ => self.local,
        }
    }

    /// Tells the legs our TLS address (`--tls-listen`), for Via and Contact over a TLS trunk.
    pub fn set_tls(&mut self, local: SocketAddr) {
        self.tls_local = Some(local);
    }

    /// Our Contact as `user`: `<sip:user@local>`, asking for the trunk's transport.
    fn contact(&self, user: &str) -> String {
        format!(
            "<sip:{user}@{}{}>",
            self.local(),
            self.transport().uri_param()
        )
    }

    /// Sends a text message: MESSAGE with a text/plain body; how it went comes back as
    /// [`Effect::Texted`].
    pub fn message(
        &mut self,
        call_id: &str,
        number: &str,
        from: Option<&str>,
        text: &str,
        now: Instant,
    ) {
        let Some(trunk) = self.trunk.clone() else {
            self.out.push(Effect::Texted(call_id.to_string(), 503));
            return;
        };
        if !dialable(number) || self.legs.contains_key(call_id) {
            self.out.push(Effect::Texted(call_id.to_string(), 484));
            return;
        }
        let leg = self.leg(
            Method::Message,
            number,
            from,
            text.as_bytes().to_vec(),
            &trunk,
        );
        self.legs.insert(call_id.to_string(), leg);
        self.send_first(call_id, None, now);
    }

    /// Sends (or re-sends with credentials) the INVITE, or the MESSAGE of a text.
    fn send_first(&mut self, call_id: &str, credentials: Option<(&str, String)>, now: Instant) {
        let branch = format!("z9hG4bK{}", self.token());
        let via = self.via(&branch);
        let Some(l) = self.legs.get(call_id) else {
            return;
        };
        let contact = self.contact(&l.caller_user);
        let Some(l) = self.legs.get_mut(call_id) else {
            return;
        };
        l.cseq += 1;
        l.first_cseq = l.cseq;
        l.branch = branch;
        let mut headers: Vec<(&str, String)> = vec![
            ("Via", via),
            ("Max-Forwards", "70".into()),
            ("From", l.from.clone()),
            ("To", l.to.clone()),
            ("Call-ID", call_id.to_string()),
            ("CSeq", format!("{} {}", l.cseq, l.method.as_str())),
        ];
        if l.method == Method::Invite {
            headers.push(("Contact", contact));
            headers.push((
                "Allow",
                "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY".into(),
            ));
            headers.push(("Content-Type", "application/sdp".into()));
        } else {
            headers.push(("Content-Type", "text/plain;charset=UTF-8".into()));
        }
        if let Some((name, value)) = credentials {
            headers.push((name, value));
        }
        let bytes = message::request(&l.method, &l.request_uri, &headers, &l.body);
        l.state = State::Calling;
        // Timer A for INVITE (the interval is not capped in `fire` while calling), E for
        // MESSAGE; B or F gives up.
        self.retransmit(call_id, bytes, now);
    }

    /// A request of the INVITE's own transaction (its branch, URI and CSeq number): the ACK
    /// of a final error response, with their To (§17.1.1.3), or our CANCEL (§9.1).
    fn same_transaction(&self, call_id: &str, method: &Method, to: Option<&str>) -> Vec<u8> {
        let Some(l) = self.legs.get(call_id) else {
            return Vec::new();
        };
        let headers = [
            ("Via", self.via(&l.branch)),
            ("Max-Forwards", "70".into()),
            ("From", l.from.clone()),
            ("To", to.unwrap_or(&l.to).to_string()),
            ("Call-ID", call_id.to_string()),
            ("CSeq", format!("{} {}", l.first_cseq, method.as_str())),
        ];
        message::request(method, &l.request_uri, &headers, b"")
    }

    /// ACKs a final error response to the INVITE.
    fn ack_error(&mut self, call_id: &str, response: &Response) {
        let ack = self.same_transaction(call_id, &Method::Ack, response.headers.get("To"));
        self.send(ack);
    }

    /// A request within the established dialog (ACK of the 2xx, BYE, REFER with `extra`).
    fn in_dialog(
        &mut self,
        call_id: &str,
        method: &Method,
        cseq_number: u32,
        extra: &[(&str, String)],
    ) -> Vec<u8> {
        let branch = format!("z9hG4bK{}", self.token());
        let via = self.via(&branch);
        let Some(l) = self.legs.get(call_id) else {
            return Vec::new();
        };
        let mut headers: Vec<(&str, String)> = vec![
            ("Via", via),
            ("Max-Forwards", "70".into()),
            ("From", l.from.clone()),
            ("To", l.to.clone()),
            ("Call-ID", call_id.to_string()),
            ("CSeq", format!("{cseq_number} {}", method.as_str())),
        ];
        for r in &l.routes {
            headers.push(("Route", r.clone()));
        }
        headers.extend(extra.iter().cloned());
        message::request(method, &l.remote_target, &headers, b"")
    }

    /// A response to one of our requests.
    pub fn response(&mut self, response: &Response, now: Instant) {
        let Some(call_id) = response.headers.get("Call-ID").map(str::to_string) else {
            return;
        };
        let Some((n, method)) = cseq(&response.headers) else {
            return;
        };
        let Some(l) = self.legs.get_mut(&call_id) else {
            return;
        };
        match method {
            Method::Invite if n == l.first_cseq => self.invite_response(&call_id, response, now),
            Method::Message if n == l.first_cseq => self.message_response(&call_id, response, now),
            // The CANCEL is answered: no more retransmissions (the INVITE's 487 follows).
            Method::Cancel if response.status >= 200 => l.generation += 1,
            Method::Bye if response.status >= 200 && l.state == State::Closing => {
                self.forget_later(&call_id, now);
            }
            Method::Other(m)
                if m == "REFER"
                    && n == l.cseq
                    && l.state == State::Referring
                    && response.status >= 200 =>
            {
                l.generation += 1;
                if response.status < 300 {
                    self.out
                        .push(Effect::Referred(call_id.clone(), Referred::Accepted));
                    self.send_bye(&call_id, now);
                } else {
                    l.state = State::Confirmed;
                    let refused = Referred::Refused(response.status);
                    self.out.push(Effect::Referred(call_id, refused));
                }
            }
            _ => {}
        }
    }

    fn invite_response(&mut self, call_id: &str, response: &Response, now: Instant) {
        let Some(l) = self.legs.get_mut(call_id) else {
            return;
        };
        let status = response.status;
        if status < 200 {
            if l.state == State::Calling {
                l.state = State::Proceeding;
                l.generation += 1; // no more INVITE retransmissions, no timer B
                if l.cancelled {
                    self.send_cancel(call_id, now);
                    return;
                }
            }
            if matches!(status, 180 | 183) && !l.cancelled {
                self.dialed(call_id, Dialed::Ringing);
            }
            return;
        }
        if status < 300 {
            if matches!(l.state, State::Confirmed | State::Closing) {
                // A retransmitted 2xx: our ACK went missing.
                let ack = l.ack.clone();
                self.send(ack);
                return;
            }
            if l.state == State::Terminated {
                return;
            }
            l.to = response.headers.get("To").unwrap_or(&l.to).to_string();
            l.remote_target = response
                .headers
                .get("Contact")
                .map(strip_angle)
                .filter(|u| message::is_sendable_uri(u))
                .map_or_else(|| l.request_uri.clone(), str::to_string);
            l.routes = response
                .headers
                .all("Record-Route")
                .flat_map(|v| v.split(','))
                .map(|v| v.trim().to_string())
                .collect();
            l.routes.reverse();
            l.state = State::Confirmed;
            l.generation += 1;
            l.answer.clone_from(&response.body);
            let cancelled = l.cancelled;
            let first_cseq = l.first_cseq;
            let ack = self.in_dialog(call_id, &Method::Ack, first_cseq, &[]);
            if let Some(l) = self.legs.get_mut(call_id) {
                l.ack = ack.clone();
            }
            self.send(ack);
            if cancelled {
                // The answer crossed our CANCEL: the flow has moved on.
                self.send_bye(call_id, now);
            } else {
                self.dialed(call_id, Dialed::Answered(response.body.clone()));
            }
            return;
        }
        let again = l.state == State::Terminated; // a retransmission of the final response
        let cancelled = l.cancelled;
        self.ack_error(call_id, response);
        if again {
            return;
        }
        if matches!(status, 401 | 407) && !cancelled {
            if let Some(answer) = self.answer_challenge(call_id, response, "INVITE") {
                self.send_first(call_id, Some(answer), now);
                return;
            }
        }
        if !cancelled {
            self.dialed(call_id, Dialed::Failed(status));
        }
        self.forget_later(call_id, now);
    }

    fn message_response(&mut self, call_id: &str, response: &Response, now: Instant) {
        if response.status < 200
            || self
                .legs
                .get(call_id)
                .is_none_or(|l| l.state != State::Calling)
        {
            return;
        }
        if matches!(response.status, 401 | 407) {
            if let Some(answer) = self.answer_challenge(call_id, response, "MESSAGE") {
                self.send_first(call_id, Some(answer), now);
                return;
            }
        }
        self.out
            .push(Effect::Texted(call_id.to_string(), response.status));
        self.forget_later(call_id, now);
    }

    /// The credentials for a 401/407, when we have them and have not answered this one yet.
    fn answer_challenge(
        &mut self,
        call_id: &str,
        response: &Response,
        method: &str,
    ) -> Option<(&'static str, String)> {
        let trunk = self.trunk.as_ref()?;
        let (user, password) = (trunk.user.as_ref()?, trunk.password.as_ref()?);
        let (ask, give) = if response.status == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let challenge = Challenge::parse(response.headers.get(ask)?).ok()?;
        let cnonce = format!("{:x}", self.next_seq.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let l = self.legs.get_mut(call_id)?;
        let allowed = l.challenges == 0 || (l.challenges == 1 && challenge.stale);
        if !allowed {
            return None;
        }
        l.challenges += 1;
        Some((
            give,
            challenge.answer(user, password, method, &l.request_uri, &cnonce),
        ))
    }

    fn send_cancel(&mut self, call_id: &str, now: Instant) {
        let cancel = self.same_transaction(call_id, &Method::Cancel, None);
        self.retransmit(call_id, cancel, now);
    }

    /// Sends a request and retransmits it until an answer: timer A for the INVITE, E for the
    /// others; timer B or F gives up.
    /// Sends a request of a new transaction: again on timer A or E over UDP, once over TCP;
    /// given up on at timer B or F.
    fn retransmit(&mut self, call_id: &str, bytes: Vec<u8>, now: Instant) {
        let reliable = self.reliable();
        let Some(l) = self.legs.get_mut(call_id) else {
            return;
        };
        l.retransmit = bytes.clone();
        l.interval = T1;
        l.generation += 1;
        self.send(bytes);
        if !reliable {
            self.timer(now, T1, call_id, TimerKind::Retransmit);
        }
        self.timer(now, TIMEOUT, call_id, TimerKind::GiveUp);
    }

    fn send_bye(&mut self, call_id: &str, now: Instant) {
        let Some(l) = self.legs.get_mut(call_id) else {
            return;
        };
        l.cseq += 1;
        l.state = State::Closing;
        let n = l.cseq;
        let bytes = self.in_dialog(call_id, &Method::Bye, n, &[]);
        self.retransmit(call_id, bytes, now);
    }

    /// The flow is done with the leg: CANCEL while it rings (after a provisional response),
    /// BYE once it is up. No outcome is reported for a leg given up before its answer.
    ///
    /// Given up before any response, the INVITE is not sent again: there is nothing to CANCEL
    /// yet (§9.1), and a retransmission reaching the callee later — after a network cut, when
    /// a fenced campaign instance hung up and the lead may be another instance's by then —
    /// must not ring it. A late provisional response still gets its CANCEL and a late answer
    /// its ACK and BYE until timer B forgets the leg.
    /// Hands the answered party to `number` with REFER (a blind transfer, RFC 3515): the
    /// target at the trunk's host, the request retransmitted by timer E. Its fate comes back
    /// as [`Effect::Referred`] — accepted: we send BYE; refused or unanswered: the leg goes on.
    pub fn transfer(&mut self, call_id: &str, number: &str, now: Instant) {
        let Some(host) = self.trunk.as_ref().map(|t| t.host.clone()) else {
            return;
        };
        let Some(us) = self.legs.get(call_id).map(|l| self.contact(&l.caller_user)) else {
            return;
        };
        let Some(l) = self.legs.get_mut(call_id) else {
            return;
        };
        if l.state != State::Confirmed {
            return;
        }
        if !dialable(number) {
            let refused = Referred::Refused(484);
            self.out
                .push(Effect::Referred(call_id.to_string(), refused));
            return;
        }
        l.cseq += 1;
        l.state = State::Referring;
        let n = l.cseq;
        let extra = [
            ("Refer-To", format!("<sip:{number}@{host}>")),
            ("Referred-By", us.clone()),
            ("Contact", us),
        ];
        let bytes = self.in_dialog(call_id, &Method::Other("REFER".into()), n, &extra);
        self.retransmit(call_id, bytes, now);
    }

    /// Ends the leg from our side: CANCEL before the answer (once a provisional response
    /// came), BYE after it.
    pub fn hangup(&mut self, call_id: &str, now: Instant) {
        let Some(l) = self.legs.get_mut(call_id) else {
            return;
        };
        match l.state {
            State::Calling => {
                l.cancelled = true;
                l.generation += 1;
                self.timer(now, TIMEOUT, call_id, TimerKind::GiveUp);
            }
            State::Proceeding => {
                l.cancelled = true;
                self.send_cancel(call_id, now);
            }
            State::Confirmed | State::Referring => self.send_bye(call_id, now),
            State::Closing | State::Terminated => {}
        }
    }

    /// A request from the callee in one of our dialogs.
    pub fn request(&mut self, r: &Request, peer: SocketAddr, now: Instant) {
        let Some(call_id) = r.headers.get("Call-ID").map(str::to_string) else {
            return;
        };
        let ours = self.legs.get(&call_id).is_some_and(|l| {
            let our_tag = tag(&l.from);
            r.headers.get("To").and_then(tag) == our_tag
                && matches!(
                    l.state,
                    State::Confirmed | State::Referring | State::Closing | State::Terminated
                )
        });
        let respond = |status: u16, reason: &str, extra: &[(&str, String)], body: &[u8]| {
            Effect::Send(
                message::response(&r.headers, status, reason, None, extra, body),
                peer,
            )
        };
        if r.method == Method::Ack {
            return; // of our 200 to a re-INVITE
        }
        if !ours {
            self.out
                .push(respond(481, "Call/Transaction Does Not Exist", &[], b""));
            return;
        }
        match &r.method {
            Method::Bye => {
                self.out.push(respond(200, "OK", &[], b""));
                let Some(l) = self.legs.get_mut(&call_id) else {
                    return;
                };
                if matches!(l.state, State::Confirmed | State::Referring) {
                    l.state = State::Terminated;
                    l.generation += 1;
                    self.out.push(Effect::Gone(call_id.clone(), Gone::Bye));
                    self.forget_later(&call_id, now);
                }
            }
            Method::Invite => {
                // A new offer (hold, resume) is answered in kind, as for a caller (uas.rs); a
                // session refresh gets our offer again.
                if !r.body.is_empty() {
                    let keeps = self.legs.get(&call_id).is_some_and(|l| {
                        let ours = if l.answer.is_empty() {
                            &l.body
                        } else {
                            &l.answer
                        };
                        super::hold::keeps_codec(ours, &r.body)
                    });
                    if !keeps {
                        self.out.push(respond(488, "Not Acceptable Here", &[], b""));
                        return;
                    }
                    let ours = super::hold::Direction::of_offer(&r.body).answered();
                    if let Some(l) = self.legs.get_mut(&call_id) {
                        l.body = super::hold::answer_again(&l.body, ours);
                    }
                    self.out
                        .push(Effect::Sending(call_id.clone(), ours.we_send()));
                    if let Some(to) = super::hold::media_address(&r.body) {
                        self.out.push(Effect::MediaMoved(call_id.clone(), to));
                    }
                    let crypto = super::hold::crypto_lines(&r.body);
                    if !crypto.is_empty() {
                        self.out.push(Effect::Crypto(call_id.clone(), crypto));
                    }
                }
                let (offer, contact) = match self.legs.get(&call_id) {
                    Some(l) => (l.body.clone(), self.contact(&l.caller_user)),
                    None => return,
                };
                let extra = [
                    ("Contact", contact),
                    ("Content-Type", "application/sdp".to_string()),
                ];
                self.out.push(respond(200, "OK", &extra, &offer));
            }
            Method::Info => {
                let kind = r.headers.get("Content-Type").unwrap_or_default();
                if let Some(key) = key_of_info(kind, &r.body) {
                    self.out.push(Effect::Key(call_id.clone(), key));
                }
                self.out.push(respond(200, "OK", &[], b""));
            }
            // OPTIONS, and the progress of our REFER (RFC 3515 §2.4.4): acknowledged.
            Method::Options => self.out.push(respond(200, "OK", &[], b"")),
            Method::Other(m) if m == "NOTIFY" => self.out.push(respond(200, "OK", &[], b"")),
            _ => self.out.push(respond(501, "Not Implemented", &[], b"")),
        }
    }

    fn forget_later(&mut self, call_id: &str, now: Instant) {
        if let Some(l) = self.legs.get_mut(call_id) {
            l.state = State::Terminated;
            l.generation += 1;
            l.body = Vec::new();
            l.retransmit = Vec::new();
        }
        self.timer(now, TIMEOUT, call_id, TimerKind::Forget);
    }

    /// Runs the timers due at `now`.
    pub fn fire(&mut self, now: Instant) {
        while let Some(t) = self.timers.pop_due(now) {
            let Some(l) = self.legs.get_mut(&t.call_id) else {
                continue;
            };
            if l.generation != t.generation {
                continue;
            }
            let id = t.call_id;
            match t.kind {
                TimerKind::Retransmit => {
                    // INVITE doubles without limit (timer A); CANCEL, BYE and MESSAGE stop at
                    // T2 (E).
                    let invite =
                        l.method == Method::Invite && l.state == State::Calling && !l.cancelled;
                    l.interval = if invite {
                        l.interval * 2
                    } else {
                        (l.interval * 2).min(T2)
                    };
                    let (bytes, after) = (l.retransmit.clone(), l.interval);
                    self.send(bytes);
                    self.timer(now, after, &id, TimerKind::Retransmit);
                }
                TimerKind::GiveUp if l.state == State::Referring => {
                    l.state = State::Confirmed;
                    l.generation += 1;
                    let refused = Referred::Refused(408);
                    self.out.push(Effect::Referred(id, refused));
                }
                TimerKind::GiveUp => {
                    let report = l.state == State::Calling && !l.cancelled;
                    let text = l.method == Method::Message;
                    self.forget_later(&id, now);
                    if report && text {
                        self.out.push(Effect::Texted(id, 408));
                    } else if report {
                        self.dialed(&id, Dialed::Failed(408));
                    }
                }
                TimerKind::Forget => {
                    self.legs.remove(&id);
                    self.out.push(Effect::Closed(id));
                    if self.legs.capacity() > 4 * self.legs.len() + 1024 {
                        self.legs.shrink_to_fit();
                        self.timers.shrink();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(auth: bool) -> Trunk {
        Trunk {
            addr: "127.0.0.1:5080".parse().unwrap(),
            host: "127.0.0.1:5080".into(),
            user: auth.then(|| "100".into()),
            password: auth.then(|| "secret".into()),
            transport: Transport::Udp,
        }
    }

    fn sent(o: &mut OutboundLegs) -> Vec<String> {
        o.effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(b, _) => Some(String::from_utf8(b).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn reply(invite: &str, status: u16, extra: &str) -> Response {
        let head = |name: &str| {
            invite
                .lines()
                .find(|l| l.starts_with(&format!("{name}:")))
                .unwrap()
                .to_string()
        };
        let text = format!(
            "SIP/2.0 {status} X\r\n{}\r\n{}\r\n{};tag=callee\r\n{}\r\n{}\r\n{extra}Content-Length: 0\r\n\r\n",
            head("Via"),
            head("From"),
            head("To"),
            head("Call-ID"),
            head("CSeq")
        );
        match message::parse(text.as_bytes()).unwrap() {
            message::Message::Response(r) => r,
            message::Message::Request(_) => unreachable!(),
        }
    }

    fn dial(o: &mut OutboundLegs, now: Instant) -> String {
        o.dial(
            Dial {
                call_id: "leg1".into(),
                number: "+79001234567".into(),
                caller_id: Some("+74950000001".into()),
                offer: b"v=0\r\nm=audio 5000 RTP/AVP 0 8 101\r\n".to_vec(),
            },
            now,
        );
        sent(o).remove(0)
    }

    #[test]
    fn answered_call_is_acked_and_hung_up_with_bye() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        assert!(invite.starts_with("INVITE sip:+79001234567@127.0.0.1:5080 SIP/2.0\r\n"));
        assert!(invite.contains("From: <sip:+74950000001@127.0.0.1:5080>;tag="));
        o.response(&reply(&invite, 180, ""), now);
        assert_eq!(
            o.effects(),
            vec![Effect::Dialed("leg1".into(), Dialed::Ringing)]
        );
        o.response(
            &reply(&invite, 200, "Contact: <sip:callee@127.0.0.1:5090>\r\n"),
            now,
        );
        let effects = o.effects();
        let ack = match &effects[0] {
            Effect::Send(b, _) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(ack.starts_with("ACK sip:callee@127.0.0.1:5090 SIP/2.0"));
        assert!(ack.contains("tag=callee"));
        assert!(ack.contains("CSeq: 1 ACK"));
        assert!(matches!(
            &effects[1],
            Effect::Dialed(_, Dialed::Answered(_))
        ));
        o.hangup("leg1", now);
        let bye = sent(&mut o).remove(0);
        assert!(bye.starts_with("BYE sip:callee@127.0.0.1:5090 SIP/2.0"));
        assert!(bye.contains("CSeq: 2 BYE"));
    }

    /// A dialled leg that is up, its effects taken.
    fn answered(o: &mut OutboundLegs, now: Instant) {
        let invite = dial(o, now);
        o.response(
            &reply(&invite, 200, "Contact: <sip:callee@127.0.0.1:5090>\r\n"),
            now,
        );
        o.effects();
    }

    #[test]
    fn a_dialled_party_is_referred_and_hung_up_once_it_accepts() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        answered(&mut o, now);
        o.transfer("leg1", "+74242490764", now);
        let refer = sent(&mut o).remove(0);
        assert!(
            refer.starts_with("REFER sip:callee@127.0.0.1:5090 SIP/2.0"),
            "{refer}"
        );
        assert!(refer.contains("CSeq: 2 REFER"), "{refer}");
        assert!(
            refer.contains("Refer-To: <sip:+74242490764@127.0.0.1:5080>"),
            "{refer}"
        );
        assert!(refer.contains("tag=callee"), "in the dialog: {refer}");
        assert!(message::parse(refer.as_bytes()).is_ok());
        // The referee's NOTIFY is acknowledged.
        let notify = "NOTIFY sip:+74950000001@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-n\r\nFrom: <sip:+79001234567@127.0.0.1:5080>;tag=callee\r\nTo: TO\r\nCall-ID: leg1\r\nCSeq: 1 NOTIFY\r\nEvent: refer\r\nContent-Length: 0\r\n\r\n";
        let from = refer.lines().find(|l| l.starts_with("From:")).unwrap();
        let notify = notify.replace("To: TO", &from.replacen("From:", "To:", 1));
        let message::Message::Request(r) = message::parse(notify.as_bytes()).unwrap() else {
            unreachable!()
        };
        o.request(&r, "127.0.0.1:5090".parse().unwrap(), now);
        assert!(sent(&mut o)[0].starts_with("SIP/2.0 200 OK"));
        o.response(&reply(&refer, 202, ""), now);
        let effects = o.effects();
        assert!(effects.contains(&Effect::Referred("leg1".into(), Referred::Accepted)));
        let bye = effects.iter().find_map(|e| match e {
            Effect::Send(b, _) if b.starts_with(b"BYE ") => Some(String::from_utf8_lossy(b)),
            _ => None,
        });
        assert!(bye.is_some_and(|b| b.contains("CSeq: 3 BYE")));
    }

    #[test]
    fn a_refused_or_unanswered_refer_keeps_the_leg_up() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        answered(&mut o, now);
        o.transfer("leg1", "+74242490764", now);
        let refer = sent(&mut o).remove(0);
        o.response(&reply(&refer, 405, ""), now);
        assert_eq!(
            o.effects(),
            vec![Effect::Referred("leg1".into(), Referred::Refused(405))]
        );
        // Unanswered: retransmitted (timer E), then given up (timer F) with the leg still up.
        o.transfer("leg1", "+74242490764", now);
        let again = sent(&mut o).remove(0);
        assert!(again.contains("CSeq: 3 REFER"));
        o.fire(now + T1);
        assert!(sent(&mut o)[0].starts_with("REFER "), "retransmitted");
        o.fire(now + TIMEOUT);
        let effects = o.effects();
        assert!(effects.contains(&Effect::Referred("leg1".into(), Referred::Refused(408))));
        o.hangup("leg1", now + TIMEOUT);
        assert!(
            sent(&mut o)[0].starts_with("BYE "),
            "the leg is still ours to end"
        );
        // A number that cannot go into a URI is refused at once.
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        answered(&mut o, now);
        o.transfer("leg1", "+7 (424) 249", now);
        assert_eq!(
            o.effects(),
            vec![Effect::Referred("leg1".into(), Referred::Refused(484))]
        );
    }

    #[test]
    fn a_contact_we_could_not_send_to_gives_way_to_the_request_uri() {
        // Found by the fuzzer: a port that does not fit made our ACK unreadable.
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        o.response(
            &reply(
                &invite,
                200,
                "Contact: <sip:callee@127.0.0.1:509127.0.0.1>\r\n",
            ),
            now,
        );
        let ack = sent(&mut o).remove(0);
        assert!(
            ack.starts_with("ACK sip:+79001234567@127.0.0.1:5080 SIP/2.0"),
            "{ack}"
        );
        assert!(message::parse(ack.as_bytes()).is_ok());
    }

    #[test]
    fn busy_and_unanswered_invites_report_their_status() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        o.response(&reply(&invite, 486, ""), now);
        let effects = o.effects();
        assert!(
            matches!(&effects[0], Effect::Send(b, _) if b.starts_with(b"ACK sip:+79001234567@"))
        );
        assert_eq!(
            effects[1],
            Effect::Dialed("leg1".into(), Dialed::Failed(486))
        );

        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        dial(&mut o, now);
        // Timer A doubles: 0.5, 1, 2, 4, 8, 16 s; timer B at 32 s gives up with 408.
        o.fire(now + Duration::from_millis(500));
        o.fire(now + Duration::from_millis(1500));
        assert_eq!(sent(&mut o).len(), 2);
        o.fire(now + TIMEOUT);
        let effects = o.effects();
        assert!(effects.contains(&Effect::Dialed("leg1".into(), Dialed::Failed(408))));
    }

    #[test]
    fn cancel_waits_for_a_provisional_response() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        o.hangup("leg1", now);
        assert!(sent(&mut o).is_empty());
        o.response(&reply(&invite, 100, ""), now);
        let cancel = sent(&mut o).remove(0);
        assert!(cancel.starts_with("CANCEL sip:+79001234567@127.0.0.1:5080 SIP/2.0"));
        assert!(cancel.contains("CSeq: 1 CANCEL"));
        let branch = |m: &str| {
            m.lines()
                .find(|l| l.starts_with("Via:"))
                .unwrap()
                .to_string()
        };
        assert_eq!(branch(&cancel), branch(&invite));
        o.response(&reply(&invite, 487, ""), now);
        let effects = o.effects();
        // ACKed, and no outcome: the flow already took its own (no_answer).
        assert_eq!(effects.len(), 1);
        assert!(matches!(&effects[0], Effect::Send(b, _) if b.starts_with(b"ACK ")));
    }

    #[test]
    fn an_invite_given_up_before_any_response_is_not_sent_again() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        o.fire(now + Duration::from_millis(500));
        assert_eq!(sent(&mut o).len(), 1, "retransmitted while wanted");
        o.hangup("leg1", now + Duration::from_secs(1));
        for s in 2..20 {
            o.fire(now + Duration::from_secs(s));
        }
        assert!(sent(&mut o).is_empty(), "retransmitted after the hangup");
        // It reached the callee after all: its ringing is cancelled, its answer hung up.
        o.response(&reply(&invite, 180, ""), now + Duration::from_secs(20));
        assert!(sent(&mut o)[0].starts_with("CANCEL "));
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        o.hangup("leg1", now);
        o.response(&reply(&invite, 200, ""), now + Duration::from_secs(20));
        let out = sent(&mut o);
        assert!(
            out[0].starts_with("ACK ") && out[1].starts_with("BYE "),
            "{out:?}"
        );
        assert!(o.effects().is_empty(), "no outcome for a leg given up");
    }

    #[test]
    fn an_answer_crossing_our_cancel_is_acked_and_hung_up() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        o.response(&reply(&invite, 180, ""), now);
        o.effects();
        o.hangup("leg1", now);
        o.effects();
        o.response(&reply(&invite, 200, ""), now);
        let out = sent(&mut o);
        assert!(out[0].starts_with("ACK "));
        assert!(out[1].starts_with("BYE "));
    }

    #[test]
    fn a_407_is_answered_once_with_proxy_authorization() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(true)));
        let invite = dial(&mut o, now);
        let challenge =
            "Proxy-Authenticate: Digest realm=\"trunk\", nonce=\"abc\", qop=\"auth\"\r\n";
        o.response(&reply(&invite, 407, challenge), now);
        let out = sent(&mut o);
        assert!(out[0].starts_with("ACK "));
        let again = &out[1];
        assert!(again.starts_with("INVITE "));
        assert!(again.contains("CSeq: 2 INVITE"));
        assert!(again.contains("Proxy-Authorization: Digest username=\"100\", realm=\"trunk\""));
        // A second challenge for the same credentials: they are wrong.
        o.response(&reply(again, 407, challenge), now);
        let effects = o.effects();
        assert!(effects.contains(&Effect::Dialed("leg1".into(), Dialed::Failed(407))));
    }

    #[test]
    fn requests_from_the_callee_in_the_dialog() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        let invite = dial(&mut o, now);
        o.response(&reply(&invite, 200, ""), now);
        o.effects();
        let our_tag = invite
            .lines()
            .find(|l| l.starts_with("From:"))
            .and_then(|l| l.split("tag=").nth(1))
            .unwrap()
            .to_string();
        let request = |method: &str, to_tag: &str| {
            let text = format!(
                "{method} sip:ivrc@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKx\r\nFrom: <sip:+79001234567@127.0.0.1>;tag=callee\r\nTo: <sip:ivrc@127.0.0.1>;tag={to_tag}\r\nCall-ID: leg1\r\nCSeq: 7 {method}\r\nContent-Length: 0\r\n\r\n"
            );
            match message::parse(text.as_bytes()).unwrap() {
                message::Message::Request(r) => r,
                message::Message::Response(_) => unreachable!(),
            }
        };
        let peer: SocketAddr = "127.0.0.1:5080".parse().unwrap();
        o.request(&request("INVITE", &our_tag), peer, now);
        let ok = sent(&mut o).remove(0);
        assert!(ok.starts_with("SIP/2.0 200 OK") && ok.ends_with("RTP/AVP 0 8 101\r\n"));
        // The callee puts us on hold: answered recvonly, and the call told to send nothing.
        let hold_offer = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
        let hold = message::Request {
            body: hold_offer.as_bytes().to_vec(),
            ..request("INVITE", &our_tag)
        };
        o.request(&hold, peer, now);
        let effects = o.effects();
        assert!(effects.contains(&Effect::Sending("leg1".into(), false)));
        let ok = effects
            .iter()
            .find_map(|e| match e {
                Effect::Send(b, _) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .expect("an answer");
        assert!(
            ok.starts_with("SIP/2.0 200 OK") && ok.ends_with("a=recvonly\r\n"),
            "{ok}"
        );
        o.request(&request("BYE", "wrong"), peer, now);
        assert!(sent(&mut o)[0].starts_with("SIP/2.0 481"));
        o.request(&request("BYE", &our_tag), peer, now);
        let effects = o.effects();
        assert!(effects.contains(&Effect::Gone("leg1".into(), Gone::Bye)));
        assert_eq!(o.busy(), 0);
    }

    #[test]
    fn a_text_goes_out_as_message_and_answers_a_challenge() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(true)));
        o.message("t1", "+79001234567", Some("+74950000001"), "Спасибо!", now);
        let msg = sent(&mut o).remove(0);
        assert!(msg.starts_with("MESSAGE sip:+79001234567@127.0.0.1:5080 SIP/2.0\r\n"));
        assert!(
            msg.contains("CSeq: 1 MESSAGE")
                && msg.contains("Content-Type: text/plain;charset=UTF-8")
        );
        assert!(msg.ends_with("Спасибо!"));
        let challenge = "WWW-Authenticate: Digest realm=\"trunk\", nonce=\"n1\"\r\n";
        o.response(&reply(&msg, 401, challenge), now);
        let again = sent(&mut o).remove(0);
        assert!(
            again.contains("CSeq: 2 MESSAGE")
                && again.contains("Authorization: Digest username=\"100\"")
        );
        // No answer at all: retransmitted on E, 408 on F.
        o.fire(now + Duration::from_millis(500));
        assert_eq!(sent(&mut o).len(), 1);
        o.response(&reply(&again, 202, ""), now);
        assert_eq!(o.effects(), vec![Effect::Texted("t1".into(), 202)]);
        let mut lost = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        lost.message("t2", "+79001234567", None, "x", now);
        lost.fire(now + TIMEOUT);
        assert!(lost.effects().contains(&Effect::Texted("t2".into(), 408)));
    }

    #[test]
    fn no_trunk_or_a_bad_number_fails_at_once() {
        let now = Instant::now();
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), None);
        o.dial(
            Dial {
                call_id: "x".into(),
                number: "100".into(),
                caller_id: None,
                offer: Vec::new(),
            },
            now,
        );
        assert_eq!(
            o.effects(),
            vec![Effect::Dialed("x".into(), Dialed::Failed(503))]
        );
        let mut o = OutboundLegs::new("127.0.0.1:5060".parse().unwrap(), Some(trunk(false)));
        o.dial(
            Dial {
                call_id: "x".into(),
                number: "1@evil".into(),
                caller_id: None,
                offer: Vec::new(),
            },
            now,
        );
        assert_eq!(
            o.effects(),
            vec![Effect::Dialed("x".into(), Dialed::Failed(484))]
        );
    }
}

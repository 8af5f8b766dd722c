//! The runtime's server: one task owns the SIP socket and the [`Core`], creates a call task
//! per accepted INVITE (with its RTP socket from the port range), carries requests between
//! calls and the core, writes call records, and shuts down gracefully: 503 to new calls, a
//! grace period for the others, then BYE to the rest.

use super::call::{self, CallInput, CallRequest, CallSetup, Inbound};
use super::media::ports::RtpPorts;
use super::media::prompts::Prompts;
use super::now_ms;
use super::sdp::{self, SdpError};
use super::sip::core::Core;
use super::sip::effect::{Effect, NewCall, Registration};
use super::sip::register::Account;
use super::sip::uas::Load;
use super::Config;
use crate::ir;
use crate::store::{CallRecord, Entry, EntryKind, RegistrationState, Writer};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// How long a shutdown waits, after the grace period, for BYEs to be answered.
const AFTER_GRACE: Duration = Duration::from_secs(4);

/// What a server run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Calls accepted.
    pub calls: u64,
    /// INVITEs refused (capacity, no flow, no codec, shutdown).
    pub refused: u64,
    /// Calls still up at the end of the grace period, hung up by us.
    pub cut: u64,
    /// INVITEs refused with 404 because no route, flow or default flow takes their number
    /// (among `refused`; no flow ran for them).
    pub unroutable: u64,
    /// What the defences at the intake turned away.
    pub guard: super::sip::guard::Counts,
}

/// A call the runtime places itself (a campaign's attempt): the flow runs once the lead's
/// phone answers, or at once when the flow dials its own legs.
#[derive(Debug)]
pub struct Placement {
    /// The call's id (unique; the campaign's attempts name theirs).
    pub call_id: String,
    /// Which flow.
    pub flow: usize,
    /// The flow's parameters (the lead).
    pub params: Vec<(String, String)>,
    /// The number to call first; it becomes the flow's caller leg.
    pub dial: Option<String>,
    /// The number shown.
    pub caller_id: Option<String>,
    /// Whether the party of `dial` is checked for an answering machine (the campaign's
    /// `detect_machine`): a machine ends the call before the flow runs.
    pub detect_machine: bool,
    /// The campaign's `record_calls`: the call is recorded whole, this many milliseconds cut
    /// from its start.
    pub record_calls_trim_ms: Option<u64>,
    /// Told the call's record when it is over.
    pub done: tokio::sync::oneshot::Sender<CallRecord>,
    /// Turns true when the call must end now (its dialer fenced itself: its lease may not
    /// outlive the call); the call then ends as at shutdown.
    pub hangup: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Everything calls share.
pub struct Shared {
    /// The program.
    pub program: Arc<ir::Program>,
    /// Settings.
    pub config: Config,
    /// Prompt audio.
    pub prompts: Arc<Prompts>,
    /// Where records go.
    pub records: Option<Writer>,
    /// The numbers not to call and whose calls to decline (`block`).
    pub blocked: Arc<super::blocklist::BlockList>,
    /// For `fetch`.
    pub http: Arc<crate::fetch::Fetcher>,
    /// For `listen`, when a flow listens.
    pub asr: Option<Arc<dyn super::asr::Recognizer>>,
    /// Sends every call's RTP.
    pub clock: Arc<super::media::clock::Clock>,
    /// The RTP port range.
    pub ports: Arc<RtpPorts>,
}

/// Serves calls on `socket` (UDP) and the stream listeners (TCP, TLS), and places the calls
/// `placements` asks for, until `shutdown` completes and the calls are over.
///
/// # Errors
///
/// The socket's errors other than a peer's ICMP refusal.
pub async fn run(
    socket: UdpSocket,
    streams: super::sip::stream::Listeners,
    shared: Shared,
    mut placements: mpsc::UnboundedReceiver<Placement>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<Summary> {
    let connections = super::sip::stream::Connections::default();
    let (stream_messages, mut from_stream) = mpsc::unbounded_channel();
    let (reconnected_tx, mut reconnected) = mpsc::unbounded_channel();
    // A TCP or TLS trunk is reached on a connection of ours, opened when first needed.
    let stream_trunk = shared
        .config
        .trunk
        .as_ref()
        .filter(|t| t.transport.reliable())
        .map(|t| t.addr);
    let trunk_tls = streams.trunk_tls.clone();
    let tls_local = match &streams.tls {
        Some((listener, _)) => Some(listener.local_addr()?),
        None => None,
    };
    streams.spawn(&connections, &stream_messages);
    let local = socket.local_addr()?;
    // Behind NAT, Via, Contact and the registration carry the public address.
    let mut core = Core::new(
        shared.config.public.unwrap_or(local),
        shared.config.trunk.clone(),
    );
    core.set_guard(super::sip::guard::Guard::new(shared.config.guard.clone()));
    if let Some(mut tls) = tls_local {
        if let Some(public) = shared.config.public {
            tls.set_ip(public.ip());
        }
        core.listen_tls(tls);
    }
    if let Some(account) = shared.config.register.clone() {
        core.register(account, Instant::now());
    }
    let shared = Arc::new(shared);
    let (requests_tx, mut requests) = mpsc::unbounded_channel::<CallRequest>();
    // Running calls (inbound, placed, `on sms` runs) by id, and the legs they dialled.
    let mut calls: HashMap<String, mpsc::UnboundedSender<CallInput>> = HashMap::new();
    let mut legs: HashMap<String, String> = HashMap::new();
    let mut placed: HashMap<String, tokio::sync::oneshot::Sender<CallRecord>> = HashMap::new();
    let mut texts_out: HashMap<String, Entry> = HashMap::new();
    let mut texts_in: u64 = 0;
    let mut summary = Summary::default();
    let mut buf = vec![0u8; 65_535];
    tokio::pin!(shutdown);
    let mut stopping = false;
    let mut grace_ends: Option<Instant> = None;
    let mut cut = false;
    let far = Instant::now() + Duration::from_secs(86_400);
    loop {
        let now = Instant::now();
        while core.effects_pending() {
            for effect in core.effects() {
                match effect {
                    Effect::Send(bytes, to) => {
                        // On the peer's TCP or TLS connection when it has one (a TCP or TLS
                        // trunk gets one), else by UDP.
                        if let Err(bytes) = connections.send(to, bytes) {
                            if stream_trunk == Some(to) {
                                connections.connect(
                                    to,
                                    bytes,
                                    trunk_tls.clone(),
                                    stream_messages.clone(),
                                    reconnected_tx.clone(),
                                );
                            } else {
                                let _ = socket.send_to(&bytes, to).await;
                            }
                        }
                    }
                    Effect::Start(new) => {
                        match start(&shared, &new, stopping, calls.len(), local, &requests_tx) {
                            Ok(call) => launch(&mut calls, &mut summary, call),
                            Err((status, reason)) => {
                                summary.refused += 1;
                                summary.unroutable += u64::from(status == 404);
                                if matches!(status, 403 | 404 | 603) {
                                    if let Some(w) = &shared.records {
                                        w.add_call(refused_record(&new, status, reason));
                                    }
                                }
                                core.call_ended(&new.call_id);
                                core.reject(&new.call_id, status, reason, now);
                            }
                        }
                    }
                    Effect::Key(id, key) => {
                        if let Some(c) = owner(&calls, &legs, &id) {
                            let _ = c.send(CallInput::Key(id, key));
                        }
                    }
                    Effect::Sending(id, sending) => {
                        if let Some(c) = owner(&calls, &legs, &id) {
                            let _ = c.send(CallInput::Sending(id, sending));
                        }
                    }
                    Effect::MediaMoved(id, to) => {
                        if let Some(c) = owner(&calls, &legs, &id) {
                            let _ = c.send(CallInput::MediaMoved(id, to));
                        }
                    }
                    Effect::Crypto(id, lines) => {
                        if let Some(c) = owner(&calls, &legs, &id) {
                            let _ = c.send(CallInput::Crypto(id, lines));
                        }
                    }
                    Effect::Gone(id, why) => {
                        if let Some(c) = owner(&calls, &legs, &id) {
                            let _ = c.send(CallInput::Gone(id, why));
                        }
                    }
                    Effect::Dialed(id, what) => {
                        if let Some(c) = owner(&calls, &legs, &id) {
                            let _ = c.send(CallInput::Dialed(id, what));
                        }
                    }
                    Effect::Referred(id, what) => {
                        if let Some(c) = owner(&calls, &legs, &id) {
                            let _ = c.send(CallInput::Referred(id, what));
                        }
                    }
                    Effect::Closed(_) => {}
                    Effect::Text(t) => match text_flow(&shared, t.service.as_deref(), stopping) {
                        Err((status, reason)) => core.reply(&t.headers, t.peer, status, reason),
                        Ok(flow) => {
                            core.reply(&t.headers, t.peer, 200, "OK");
                            let from = t.from.clone().unwrap_or_default();
                            if let Some(w) = &shared.records {
                                w.add(Entry {
                                    at_ms: now_ms(),
                                    kind: EntryKind::SmsIn,
                                    contact: from.clone(),
                                    our_number: t.service.clone().unwrap_or_default(),
                                    flow: shared.program.flows[flow].name.clone(),
                                    sid: t.id.clone(),
                                    body: Some(t.text.clone()),
                                    url: None,
                                });
                            }
                            // Its own id: a MESSAGE may carry the Call-ID of a call.
                            texts_in += 1;
                            let run_id = format!("{}#sms{texts_in}", t.id);
                            let mut call = base_setup(&shared, flow, run_id, local, &requests_tx);
                            call.0.text = Some((from, t.text.clone()));
                            launch(&mut calls, &mut summary, call);
                        }
                    },
                    Effect::Registration(r) => {
                        report_registration(&r);
                        if let (Some(w), Some(account)) = (&shared.records, &shared.config.register)
                        {
                            w.set_registration(registration_state(account, &r, now_ms()));
                        }
                    }
                    Effect::Texted(id, status) => {
                        if let Some(entry) = texts_out.remove(&id) {
                            if (200..300).contains(&status) {
                                if let Some(w) = &shared.records {
                                    w.add(entry);
                                }
                            } else {
                                crate::errln!(
                                    "ivrc: the text to {} was refused: SIP {status}",
                                    entry.contact
                                );
                            }
                        }
                    }
                }
            }
        }
        if stopping && calls.is_empty() && core.busy_dialogs() == 0 {
            break;
        }
        if cut && calls.is_empty() && grace_ends.is_some_and(|g| now > g + AFTER_GRACE) {
            break; // peers that never answer our BYE
        }
        core.set_load(Load {
            calls: calls.len(),
            max_calls: shared.config.max_calls,
            draining: stopping,
        });
        let next_timer = core.next_timer();
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, peer)) => core.datagram(&buf[..n], peer, Instant::now()),
                // An ICMP port-unreachable from a peer that went away surfaces here on Linux.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => return Err(e),
            },
            Some((bytes, peer, transport)) = from_stream.recv() => {
                core.received(&bytes, peer, transport, Instant::now());
            }
            Some(_) = reconnected.recv() => core.reconnected(Instant::now()),
            Some(request) = requests.recv() => {
                let now = Instant::now();
                match request {
                    CallRequest::Answer(id, sdp) => core.answer(&id, sdp, now),
                    CallRequest::Hangup(id) => core.hangup(&id, now),
                    CallRequest::Transfer(id, number) => core.transfer(&id, &number, now),
                    CallRequest::Entry(entry) => {
                        if let Some(w) = &shared.records {
                            w.add(entry);
                        }
                    }
                    CallRequest::Block { flow, call_id, number } => {
                        shared.blocked.add(&number);
                        if let Some(w) = &shared.records {
                            w.add(Entry {
                                at_ms: now_ms(),
                                kind: EntryKind::Blocked,
                                contact: number,
                                our_number: String::new(),
                                flow,
                                sid: call_id,
                                body: None,
                                url: None,
                            });
                        }
                    }
                    CallRequest::Text(flow, text) => {
                        core.message(&text.id, &text.to, text.from.as_deref(), &text.text, now);
                        texts_out.insert(text.id.clone(), Entry {
                            at_ms: now_ms(),
                            kind: EntryKind::SmsOut,
                            contact: text.to,
                            our_number: text.from.unwrap_or_default(),
                            flow,
                            sid: text.id,
                            body: Some(text.text),
                            url: None,
                        });
                    }
                    CallRequest::Dial(owner, dial) => {
                        if calls.contains_key(&owner) {
                            legs.insert(dial.call_id.clone(), owner);
                            core.dial(dial, now);
                        }
                    }
                    CallRequest::Started(mut record) => {
                        if let Some(w) = &shared.records {
                            record.instance.clone_from(&shared.config.instance);
                            w.add_call(*record);
                        }
                    }
                    CallRequest::Ended(mut record, ids) => {
                        record.instance.clone_from(&shared.config.instance);
                        calls.remove(&record.call_id);
                        for id in &ids {
                            legs.remove(id);
                            core.call_ended(id);
                        }
                        if let Some(done) = placed.remove(&record.call_id) {
                            let _ = done.send((*record).clone());
                        }
                        if let Some(w) = &shared.records {
                            w.add(Entry {
                                at_ms: record.started_ms,
                                kind: EntryKind::Call,
                                contact: record.caller.clone(),
                                our_number: record.called.clone(),
                                flow: record.flow.clone(),
                                sid: record.call_id.clone(),
                                body: None,
                                url: None,
                            });
                            if let Some(report) = &record.report {
                                w.add(Entry {
                                    at_ms: record.ended_ms,
                                    kind: EntryKind::Report,
                                    contact: record.caller.clone(),
                                    our_number: record.called.clone(),
                                    flow: record.flow.clone(),
                                    sid: record.call_id.clone(),
                                    body: Some(report.to_string()),
                                    url: None,
                                });
                            }
                            w.add_call(*record);
                        }
                    }
                }
            },
            Some(p) = placements.recv(), if !stopping => {
                // A number on the block list is not called: the attempt ends at once.
                if let Some(number) = p.dial.as_deref().filter(|n| shared.blocked.contains(n)) {
                    let record = blocked_record(&shared, &p, number);
                    if let Some(w) = &shared.records {
                        w.add_call(record.clone());
                    }
                    let _ = p.done.send(record);
                    continue;
                }
                let mut call = base_setup(&shared, p.flow, p.call_id.clone(), local, &requests_tx);
                call.0.dial_first = p.dial;
                call.0.params = p.params;
                call.0.caller_id = p.caller_id;
                call.0.detect_machine_first = p.detect_machine;
                call.0.record_calls_trim_ms = p.record_calls_trim_ms;
                placed.insert(p.call_id, p.done);
                if let Some(mut hangup) = p.hangup {
                    let input = call.1.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            fenced = hangup.wait_for(|now| *now) => if fenced.is_ok() {
                                let _ = input.send(CallInput::Shutdown);
                            },
                            () = input.closed() => {}
                        }
                    });
                }
                launch(&mut calls, &mut summary, call);
            },
            () = tokio::time::sleep_until(next_timer.unwrap_or(far).into()), if next_timer.is_some() => {
                core.fire(Instant::now());
            },
            () = &mut shutdown, if !stopping => {
                stopping = true;
                core.unregister(Instant::now());
                grace_ends = Some(Instant::now() + shared.config.grace);
                crate::errln!("ivrc: shutting down: new calls get 503; {} calls have {:?} to finish", calls.len(), shared.config.grace);
            },
            () = tokio::time::sleep_until(grace_ends.map_or(far, |g| g + AFTER_GRACE).into()), if cut => {}
            () = tokio::time::sleep_until(grace_ends.unwrap_or(far).into()), if grace_ends.is_some() && !cut => {
                cut = true;
                summary.cut = calls.len() as u64;
                for c in calls.values() {
                    let _ = c.send(CallInput::Shutdown);
                }
            },
        }
    }
    summary.guard = core.guard_counts();
    Ok(summary)
}

/// Starts a call's task and keeps the way to it.
fn launch(
    calls: &mut HashMap<String, mpsc::UnboundedSender<CallInput>>,
    summary: &mut Summary,
    (setup, input): (CallSetup, mpsc::UnboundedSender<CallInput>),
) {
    summary.calls += 1;
    calls.insert(setup.call_id.clone(), input);
    tokio::spawn(call::run(setup));
}

/// The call a SIP Call-ID belongs to: its own, or the call that dialled that leg.
fn owner<'a>(
    calls: &'a HashMap<String, mpsc::UnboundedSender<CallInput>>,
    legs: &HashMap<String, String>,
    id: &str,
) -> Option<&'a mpsc::UnboundedSender<CallInput>> {
    calls
        .get(id)
        .or_else(|| legs.get(id).and_then(|call| calls.get(call)))
}

/// The flow whose `on sms` takes a text sent to `service`: that flow, else the default flow,
/// else the only flow with `on sms`; or the refusal.
fn text_flow(
    shared: &Shared,
    service: Option<&str>,
    stopping: bool,
) -> Result<usize, (u16, &'static str)> {
    if stopping {
        return Err((503, "Service Unavailable"));
    }
    let flows = &shared.program.flows;
    let takes = |i: &usize| flows[*i].handlers.sms.is_some();
    let by_name = service.and_then(|s| flows.iter().position(|f| f.name == s));
    let default = shared
        .config
        .default_flow
        .as_deref()
        .and_then(|d| flows.iter().position(|f| f.name == d));
    let mut with_sms = (0..flows.len()).filter(takes);
    let only = match (with_sms.next(), with_sms.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    };
    by_name
        .filter(takes)
        .or(default.filter(takes))
        .or(only)
        .ok_or((404, "Not Found"))
}

/// A run of `flow` as `call_id` with nothing to dial, no caller and no parameters yet, and
/// the way to send it inputs; inbound calls, placed calls and `on sms` runs fill in theirs.
fn base_setup(
    shared: &Arc<Shared>,
    flow: usize,
    call_id: String,
    local: SocketAddr,
    requests: &mpsc::UnboundedSender<CallRequest>,
) -> (CallSetup, mpsc::UnboundedSender<CallInput>) {
    let (input_tx, inputs) = mpsc::unbounded_channel();
    let setup = CallSetup {
        program: shared.program.clone(),
        flow,
        call_id,
        inbound: None,
        dial_first: None,
        text: None,
        params: Vec::new(),
        caller_id: None,
        started_ms: now_ms(),
        inputs,
        requests: requests.clone(),
        prompts: shared.prompts.clone(),
        audio: shared.config.audio.clone(),
        recordings: shared.config.recordings.clone(),
        detect_machine_first: false,
        record_calls_trim_ms: None,
        http: shared.http.clone(),
        asr: shared.asr.clone(),
        clock: shared.clock.clone(),
        ports: shared.ports.clone(),
        rtp_ip: shared.config.rtp_ip.unwrap_or(local.ip()),
        sdp_ip: shared.config.public.map(|p| p.ip()),
        symmetric_rtp: shared.config.symmetric_rtp,
        srtp: shared.config.srtp,
        rtp_timeout: shared.config.rtp_timeout,
        time_scale: shared.config.time_scale,
        amd: shared.config.amd,
    };
    (setup, input_tx)
}

/// Accepts a new call: a flow, a codec and an RTP port, or the response that refuses it.
fn start(
    shared: &Arc<Shared>,
    new: &NewCall,
    stopping: bool,
    running: usize,
    local: SocketAddr,
    requests: &mpsc::UnboundedSender<CallRequest>,
) -> Result<(CallSetup, mpsc::UnboundedSender<CallInput>), (u16, &'static str)> {
    if stopping {
        return Err((503, "Service Unavailable"));
    }
    // Full: 503, as for a server out of capacity (RFC 3261 §21.5.4), so that a proxy in front
    // tries another instance; 486 would tell the caller the callee is busy.
    if running >= shared.config.max_calls {
        return Err((503, "Service Unavailable"));
    }
    if let Some(trusted) = &shared.config.trusted {
        if !trusted.contains(&new.peer.ip()) {
            return Err((403, "Forbidden"));
        }
    }
    // A caller a flow blocked: 603 Decline, "does not wish to participate" (RFC 3261
    // §21.6.2), so a provider does not try elsewhere.
    if new
        .caller
        .as_deref()
        .is_some_and(|c| shared.blocked.contains(c))
    {
        return Err((603, "Decline"));
    }
    let flow = route(shared, new).ok_or((404, "Not Found"))?;
    let negotiated = sdp::negotiate(&new.offer, shared.config.srtp).map_err(|e| match e {
        SdpError::NoCommonCodec | SdpError::Malformed(_) | SdpError::Srtp(_) => {
            (488, "Not Acceptable Here")
        }
    })?;
    let ip = shared.config.rtp_ip.unwrap_or(local.ip());
    let bound = shared.ports.bind(ip).ok_or((503, "Service Unavailable"))?;
    let mut shown = bound.local;
    if let Some(public) = shared.config.public {
        shown.set_ip(public.ip());
    }
    let answer_sdp = sdp::answer(shown, &negotiated, now_ms());
    let (mut setup, input_tx) = base_setup(shared, flow, new.call_id.clone(), local, requests);
    setup.inbound = Some(Inbound {
        bound,
        answer_sdp,
        negotiated,
        caller: new.caller.clone(),
        called: new.service.clone(),
    });
    Ok((setup, input_tx))
}

/// The flow of a new call: a `--route` for the number dialled (the To user, a provider's
/// DID) or the request-URI user, normalized like phones; then the flow the request-URI user
/// names; then `--default-flow`; then, without routes, the only flow.
fn route(shared: &Shared, new: &NewCall) -> Option<usize> {
    let program = &shared.program;
    let routes = &shared.config.routes;
    let routed = [new.dialed.as_deref(), new.service.as_deref()]
        .into_iter()
        .flatten()
        .map(route_digits)
        .filter(|d| !d.is_empty())
        .find_map(|d| {
            routes
                .iter()
                .find(|(n, _)| route_digits(n) == d)
                .map(|(_, f)| *f)
        });
    let by_name = || {
        new.service
            .as_deref()
            .and_then(|s| program.flows.iter().position(|f| f.name == s))
    };
    let default = || {
        shared
            .config
            .default_flow
            .as_deref()
            .and_then(|d| program.flows.iter().position(|f| f.name == d))
    };
    routed
        .or_else(by_name)
        .or_else(default)
        .or_else(|| (routes.is_empty() && program.flows.len() == 1).then_some(0))
}

/// A number as written in a route or a SIP user, in one form for comparing: by the Russian
/// rules first (`8 (495) 000-00-01`, `74950000001`, `+7 495 000-00-01` and `4950000001` are one
/// number), else as an international number, else its digits. Both sides go through here, so
/// any number compares the same way.
fn route_digits(number: &str) -> String {
    use crate::phone::{normalize, Normalization};
    normalize(number, Normalization::Ru)
        .or_else(|_| normalize(number, Normalization::E164))
        .map(|p| p.digits().to_string())
        .unwrap_or_else(|_| number.chars().filter(char::is_ascii_digit).collect())
}

/// The record of a call refused before it started (no route, an untrusted source).
fn refused_record(new: &NewCall, status: u16, reason: &str) -> CallRecord {
    let now = now_ms();
    CallRecord {
        call_id: new.call_id.clone(),
        caller: new.caller.clone().unwrap_or_default(),
        called: new
            .dialed
            .clone()
            .or_else(|| new.service.clone())
            .unwrap_or_default(),
        started_ms: now,
        ended_ms: now,
        ended_by: if status == 603 { "blocked" } else { "refused" }.into(),
        errors: vec![format!(
            "{status} {reason}: {}",
            match status {
                403 => format!("{} is not the provider's address", new.peer.ip()),
                603 => "the caller's number is on the block list".to_string(),
                _ => "no route, flow or default flow for the number".to_string(),
            }
        )],
        ..CallRecord::default()
    }
}

/// The record of a placed call not made because its number is on the block list.
fn blocked_record(shared: &Shared, p: &Placement, number: &str) -> CallRecord {
    let now = now_ms();
    CallRecord {
        call_id: p.call_id.clone(),
        flow: shared.program.flows[p.flow].name.clone(),
        caller: number.to_string(),
        called: number.to_string(),
        started_ms: now,
        ended_ms: now,
        ended_by: "blocked".into(),
        errors: vec![format!("{number} is on the block list: not called")],
        instance: shared.config.instance.clone(),
        ..CallRecord::default()
    }
}

/// The store's row for a change of our registration of `account` at `now` (ms since the
/// epoch), for `ivrc calls`.
fn registration_state(account: &Account, r: &Registration, now: u64) -> RegistrationState {
    let after = |d: &Duration| now.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let (state, detail, until_ms) = match r {
        Registration::Registered { expires } => ("registered", "", Some(after(expires))),
        Registration::Failed { reason, retry_in } => {
            ("failed", reason.as_str(), Some(after(retry_in)))
        }
        Registration::Refused(reason) => ("refused", reason.as_str(), None),
        Registration::Unregistered => ("unregistered", "", None),
        Registration::NotUnregistered(reason) => ("not_unregistered", reason.as_str(), None),
    };
    RegistrationState {
        account: format!("sip:{}@{}", account.user, account.domain),
        state: state.to_string(),
        detail: detail.to_string(),
        at_ms: now,
        until_ms,
    }
}

/// A log line per change of our registration at the provider.
fn report_registration(r: &Registration) {
    match r {
        Registration::Registered { expires } => {
            crate::errln!(
                "ivrc: registered at the provider for {} s",
                expires.as_secs()
            );
        }
        Registration::Failed { reason, retry_in } => crate::errln!(
            "ivrc: registration failed: {reason}; trying again in {} s",
            retry_in.as_secs()
        ),
        Registration::Refused(reason) => {
            crate::errln!("ivrc: registration refused: {reason}; not trying again")
        }
        Registration::Unregistered => crate::errln!("ivrc: unregistered at the provider"),
        Registration::NotUnregistered(reason) => crate::errln!(
            "ivrc: the unregistration was not confirmed ({reason}); the binding lapses by itself"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::route_digits;

    #[test]
    fn routes_match_numbers_as_people_write_them() {
        let did = route_digits("+74950000001");
        for written in [
            "8 (495) 000-00-01",
            "74950000001",
            "+7 495 000-00-01",
            "4950000001",
        ] {
            assert_eq!(route_digits(written), did, "{written}");
        }
        assert_eq!(route_digits("+1 514 630-0808"), route_digits("15146300808"));
        assert_ne!(route_digits("+74950000002"), did);
        assert_eq!(route_digits("ivrc"), "");
    }
}

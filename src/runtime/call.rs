//! One call on the runtime: a task that drives the engine in real time. Engine timers become
//! tokio sleeps, prompts are rendered off the async threads and sent as RTP on a 20 ms clock
//! (silence between them), keys come from RFC 4733 and SIP INFO, the legs the flow dials are
//! placed through the server's trunk and bridged by relaying their RTP ([`super::leg`]), and
//! the SIP side (answer, hang-up, transfer, dial) is asked of the core through the server. It
//! ends with the call record.

use super::asr::{Listening, Recognizer};
use super::leg::{Leg, LegState, MediaEvent};
use super::media::clock::Clock;
use super::media::ports::{Bound, RtpPorts};
use super::media::prompts::{Prompts, Voice};
use super::media::Samples;
use super::now_ms;
use super::sdp::{self, Negotiated};
use super::sip::effect::{Dialed, Gone};
use super::sip::uac::Dial;
use crate::engine::{Audio, Command, Engine, Event, TimerId};
use crate::ir::{self, LegId, Outcome};
use crate::store::{CallRecord, LegRecord};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::sleep_until;

/// The caller's leg.
const CALLER: LegId = LegId(0);

/// What reaches a call from the SIP side, by the leg's SIP Call-ID.
#[derive(Debug, Clone, PartialEq)]
pub enum CallInput {
    /// A key sent with SIP INFO.
    Key(String, char),
    /// A party is gone.
    Gone(String, Gone),
    /// How a dialled leg got on.
    Dialed(String, Dialed),
    /// The server shuts down: end the call now.
    Shutdown,
}

/// What a call asks of the SIP side.
#[derive(Debug, Clone, PartialEq)]
pub enum CallRequest {
    /// Answer the inbound leg with this SDP.
    Answer(String, Vec<u8>),
    /// Hang up a leg (BYE; 480 or CANCEL before the answer).
    Hangup(String),
    /// Hand the inbound leg to a number (302 before the answer, REFER after).
    Transfer(String, String),
    /// Place a leg for the call whose id comes first.
    Dial(String, Dial),
    /// Send a text for the flow named first.
    Text(String, OutgoingText),
    /// The call is over; its record, and the SIP Call-IDs of all its legs.
    Ended(Box<CallRecord>, Vec<String>),
}

/// A text message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingText {
    /// Its id (the MESSAGE's Call-ID).
    pub id: String,
    /// The number it goes to.
    pub to: String,
    /// The number it comes from.
    pub from: Option<String>,
    /// The text.
    pub text: String,
}

/// The inbound leg of a call that came in.
pub struct Inbound {
    /// Its RTP socket.
    pub bound: Bound,
    /// Our SDP answer.
    pub answer_sdp: Vec<u8>,
    /// What the offer settled.
    pub negotiated: Negotiated,
    /// The caller's number.
    pub caller: Option<String>,
    /// The called number.
    pub called: Option<String>,
}

/// Everything a call needs.
pub struct CallSetup {
    /// The program.
    pub program: Arc<ir::Program>,
    /// Which flow.
    pub flow: usize,
    /// The call's id: the inbound leg's SIP Call-ID, or one made up for a placed call.
    pub call_id: String,
    /// The caller's leg, for a call that came in.
    pub inbound: Option<Inbound>,
    /// For a call we place: the number called first, whose answer starts the flow with it as
    /// the caller leg.
    pub dial_first: Option<String>,
    /// For a text message that came: its sender and text, for the flow's `on sms`.
    pub text: Option<(String, String)>,
    /// The flow's parameters (a campaign's lead).
    pub params: Vec<(String, String)>,
    /// The number shown on dialled legs when the flow sets none.
    pub caller_id: Option<String>,
    /// When the call started, ms since the epoch.
    pub started_ms: u64,
    /// From the SIP side.
    pub inputs: mpsc::UnboundedReceiver<CallInput>,
    /// To the SIP side.
    pub requests: mpsc::UnboundedSender<CallRequest>,
    /// Prompt audio.
    pub prompts: Arc<Prompts>,
    /// Where the flow file is (for `play` of local files).
    pub flow_dir: PathBuf,
    /// For `fetch`.
    pub http: Arc<crate::fetch::Fetcher>,
    /// For `listen`.
    pub asr: Option<Arc<dyn Recognizer>>,
    /// The media clock that sends our RTP.
    pub clock: Arc<Clock>,
    /// RTP ports for dialled legs, on this address.
    pub ports: Arc<RtpPorts>,
    /// Our media address.
    pub rtp_ip: IpAddr,
    /// A party that sends no RTP this long is hung up.
    pub rtp_timeout: Duration,
    /// Timers and dial timeouts run this many times faster.
    pub time_scale: f64,
}

/// How long a placed call rings before it counts as not answered.
const PLACED_RING: Duration = Duration::from_secs(30);

/// Waits for a task when there is one, forever otherwise (a disabled `select!` branch).
async fn join_or_wait<T>(task: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(t) => t.await,
        None => std::future::pending().await,
    }
}

/// The next phrase of a listening when there is one, forever otherwise.
async fn heard_or_wait(
    listening: &mut Option<(LegId, Listening)>,
) -> Option<(LegId, super::asr::Heard)> {
    match listening {
        Some((leg, l)) => l.heard.recv().await.map(|h| (*leg, h)),
        None => std::future::pending().await,
    }
}

/// A number that differs between calls without a random-number crate: the clock's
/// nanoseconds mixed with the call id.
fn seed(call_id: &str) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    call_id
        .bytes()
        .fold(nanos ^ 0x9e37_79b9, |h, b| h.rotate_left(5) ^ u32::from(b))
}

/// The engine's outcome for a dial's final SIP status.
fn dial_outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Answered,
        486 | 600 => Outcome::Busy,
        408 | 480 | 487 => Outcome::NoAnswer,
        _ => Outcome::Failed,
    }
}

/// The running call.
struct Call<'f> {
    engine: Engine<'f>,
    flow: &'f ir::Flow,
    call_id: String,
    requests: mpsc::UnboundedSender<CallRequest>,
    prompts: Arc<Prompts>,
    flow_dir: PathBuf,
    http: Arc<crate::fetch::Fetcher>,
    voice: Option<Voice>,
    /// The number shown on dialled legs and texts when a `dial` sets none: the flow's
    /// `caller_id`, else the campaign's.
    caller_id: Option<String>,
    /// The inbound leg's SDP answer and what its offer settled, until the answer is sent.
    answer_sdp: Option<(Vec<u8>, Negotiated)>,
    legs: Vec<Option<Leg>>,
    /// Records of the legs, by leg id.
    leg_records: BTreeMap<u32, LegRecord>,
    /// Dialled legs not answered yet, and when the flow stops waiting for them.
    dialing: BTreeMap<u32, Instant>,
    timers: BTreeMap<TimerId, Instant>,
    /// Events the call causes itself, handled after the current one.
    deferred: std::collections::VecDeque<Event>,
    /// A prompt being rendered (and for which leg), until the loop takes it.
    new_render: Option<(LegId, JoinHandle<Result<Samples, String>>)>,
    /// Barge-in: the prompt being rendered must be dropped.
    stop_render: bool,
    /// A fetch started, until the loop takes it.
    new_fetch: Option<JoinHandle<Result<serde_json::Value, String>>>,
    asr: Option<Arc<dyn Recognizer>>,
    /// A listening started, until the loop takes it; `stop_listening` ends the current one.
    new_listening: Option<(LegId, Listening)>,
    stop_listening: bool,
    clock: Arc<Clock>,
    ports: Arc<RtpPorts>,
    rtp_ip: IpAddr,
    rtp_timeout: Duration,
    time_scale: f64,
    /// The flow's start, held until the first dialled party answers (a placed call).
    pending_start: Option<Event>,
    /// A placed call whose party was not reached: the flow never runs.
    unreached: bool,
    done: mpsc::UnboundedSender<(u32, u64)>,
    media_events: mpsc::UnboundedSender<MediaEvent>,
    record: CallRecord,
}

impl<'f> Call<'f> {
    fn leg(&self, id: LegId) -> Option<&Leg> {
        self.legs.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn leg_mut(&mut self, id: LegId) -> Option<&mut Leg> {
        self.legs.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    fn leg_by_sip(&self, sip_id: &str) -> Option<LegId> {
        self.legs
            .iter()
            .flatten()
            .find(|l| l.sip_id == sip_id)
            .map(|l| l.id)
    }

    fn is_up(&self, id: LegId) -> bool {
        self.leg(id).is_some_and(|l| l.state == LegState::Up)
    }

    /// Answers the inbound leg (once) and starts its media.
    fn answer(&mut self) {
        let Some((sdp, negotiated)) = self.answer_sdp.take() else {
            return;
        };
        self.record.answered_ms = Some(now_ms());
        let _ = self
            .requests
            .send(CallRequest::Answer(self.call_id.clone(), sdp));
        self.start_media(CALLER, negotiated);
    }

    /// Starts a connected leg's media: its stream on the clock, its reader.
    fn start_media(&mut self, leg: LegId, negotiated: Negotiated) {
        let seed = seed(&self.call_id) ^ leg.0;
        let (clock, done, events, timeout) = (
            self.clock.clone(),
            self.done.clone(),
            self.media_events.clone(),
            self.rtp_timeout,
        );
        if let Some(l) = self.leg_mut(leg) {
            l.state = LegState::Up;
            l.start_media(negotiated, &clock, done, events, timeout, seed);
        }
    }

    fn set_prompt(&mut self, leg: LegId, samples: Option<Samples>) {
        if let Some(l) = self.leg(leg) {
            let mut play = l.play.lock().unwrap_or_else(|p| p.into_inner());
            play.generation += 1;
            play.prompt = samples.map(|s| (s, 0));
        }
    }

    fn prompt_generation(&self, leg: LegId) -> Option<u64> {
        self.leg(leg)
            .map(|l| l.play.lock().unwrap_or_else(|p| p.into_inner()).generation)
    }

    fn handle(&mut self, event: Event) {
        self.deferred.push_back(event);
        while let Some(event) = self.deferred.pop_front() {
            for o in self.engine.handle(event) {
                let line = self
                    .flow
                    .nodes
                    .get(o.node.0 as usize)
                    .map_or(0, |n| n.span.line);
                if self.record.path.last() != Some(&line) {
                    self.record.path.push(line);
                }
                self.command(o.command);
            }
        }
    }

    /// A prompt to a leg that is not up ends at once.
    fn prompt_to_nobody(&mut self, leg: LegId) -> bool {
        let nobody = if leg == CALLER && self.answer_sdp.is_some() {
            false // the inbound leg is answered by its first prompt
        } else {
            !self.is_up(leg)
        };
        if nobody {
            self.deferred.push_back(Event::PromptDone { leg });
        }
        nobody
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Answer { leg } => {
                if leg == CALLER {
                    self.answer();
                }
            }
            Command::Say { leg, text, .. } => {
                self.record.prompts.push(text.clone());
                if self.prompt_to_nobody(leg) {
                    return;
                }
                if leg == CALLER {
                    self.answer();
                }
                let known = self
                    .voice
                    .as_ref()
                    .and_then(|v| self.prompts.speech_in_memory(&text, v));
                if let Some(samples) = known.filter(|s| !s.is_empty()) {
                    // heard before: no render task
                    self.cancel_render();
                    self.set_prompt(leg, Some(samples));
                    return;
                }
                let (prompts, voice) = (self.prompts.clone(), self.voice.clone());
                self.start_render(leg, move || match voice {
                    Some(v) => prompts.speech(&text, &v).map_err(|e| e.to_string()),
                    None => Err("the flow's voice has no espeak-ng voice".into()),
                });
            }
            Command::Play { leg, audio } => {
                if self.prompt_to_nobody(leg) {
                    return;
                }
                if leg == CALLER {
                    self.answer();
                }
                match audio {
                    Audio::File(path) => {
                        self.record.prompts.push(format!("play {path}"));
                        let (prompts, full) = (self.prompts.clone(), self.flow_dir.join(&path));
                        self.start_render(leg, move || {
                            prompts.file(&full).map_err(|e| e.to_string())
                        });
                    }
                    other => {
                        self.record
                            .errors
                            .push(format!("cannot play {other:?} on the runtime"));
                        self.start_render(leg, || Ok(Samples::from(Vec::new())));
                    }
                }
            }
            Command::StopPrompt { leg } => {
                self.set_prompt(leg, None);
                self.cancel_render();
            }
            Command::StartTimer { id, ms } => {
                let at = Instant::now() + self.scaled(Duration::from_millis(ms));
                self.timers.insert(id, at);
            }
            Command::CancelTimer { id } => {
                self.timers.remove(&id);
            }
            Command::Fetch {
                method,
                url,
                params,
                headers,
                timeout_ms,
            } => {
                let http = self.http.clone();
                let request = crate::fetch::FetchRequest {
                    method,
                    url,
                    params,
                    headers,
                    timeout_ms,
                };
                self.new_fetch = Some(tokio::spawn(async move { http.fetch(&request).await }));
            }
            Command::Report { ok, data, reason } => {
                let data: serde_json::Map<String, serde_json::Value> = data.into_iter().collect();
                self.record.report =
                    Some(serde_json::json!({ "ok": ok, "reason": reason, "data": data }));
            }
            Command::Transfer { leg, number } => {
                if leg == CALLER {
                    self.record.ended_by = "transfer".into();
                    self.leg_gone(leg, "transfer");
                    let _ = self
                        .requests
                        .send(CallRequest::Transfer(self.call_id.clone(), number));
                } else {
                    self.record.errors.push(format!(
                        "transfer of a dialled leg is not available on the runtime (to {number})"
                    ));
                    self.hang_up(leg, "flow");
                }
            }
            Command::Hangup { leg } => self.hang_up(leg.unwrap_or(CALLER), "flow"),
            Command::End => {
                for id in 0..self.legs.len() {
                    self.hang_up(LegId(id as u32), "flow");
                }
            }
            Command::Listen { leg, phrases, .. } => {
                if leg == CALLER {
                    self.answer();
                }
                self.stop_listening = true;
                match self.asr.as_ref().map(|a| a.listen(&phrases)) {
                    Some(Ok(l)) => self.new_listening = Some((leg, l)),
                    Some(Err(e)) => self.record.errors.push(format!("listen: {e}")),
                    None => self.record.errors.push("listen: no recognizer".into()),
                }
            }
            Command::StopListening { .. } => {
                self.stop_listening = true;
                self.new_listening = None;
            }
            Command::Error { reason } => self.record.errors.push(reason),
            Command::Dial {
                leg,
                number,
                caller_id,
                timeout_ms,
                ..
            } => self.dial(leg, number, caller_id, timeout_ms),
            Command::Bridge { a, b } => {
                let seed = seed(&self.call_id);
                let bridged = match (self.leg(a), self.leg(b)) {
                    (Some(la), Some(lb)) => Leg::bridge(la, lb, seed),
                    _ => false,
                };
                if !bridged {
                    self.record
                        .errors
                        .push("bridge: a leg has no media".to_string());
                }
            }
            Command::Sms { to, text } => {
                let from = self.caller_id.clone();
                let id = format!("{}-sms-{}", self.call_id, seed(&text));
                self.record.texts.push(format!("to {to}: {text}"));
                let _ = self.requests.send(CallRequest::Text(
                    self.flow.name.clone(),
                    OutgoingText { id, to, from, text },
                ));
            }
            // Refused before the runtime starts (runtime::capabilities).
            Command::Record { .. } | Command::Block { .. } => {
                self.record
                    .errors
                    .push(format!("not available on the runtime: {command:?}"));
            }
        }
    }

    fn dial(&mut self, leg: LegId, number: String, caller_id: Option<String>, timeout_ms: u64) {
        let sip_id = format!("{}-{}-{}", self.call_id, leg.0, seed(&number));
        let name = self
            .flow
            .legs
            .get(leg.0 as usize)
            .map_or_else(String::new, |l| l.name.clone());
        self.leg_records.insert(
            leg.0,
            LegRecord {
                leg: name,
                number: number.clone(),
                sip_id: sip_id.clone(),
                started_ms: now_ms(),
                ..LegRecord::default()
            },
        );
        let Some(bound) = self.ports.bind(self.rtp_ip) else {
            self.dial_result(leg, "no RTP port free", Outcome::Failed);
            return;
        };
        let offer = sdp::offer(bound.local, now_ms());
        let l = Leg::new(leg, sip_id.clone(), bound, LegState::Dialing);
        if let Some(slot) = self.legs.get_mut(leg.0 as usize) {
            *slot = Some(l);
        }
        let ring = self.scaled(Duration::from_millis(timeout_ms.max(1)));
        self.dialing.insert(leg.0, Instant::now() + ring);
        let _ = self.requests.send(CallRequest::Dial(
            self.call_id.clone(),
            Dial {
                call_id: sip_id,
                number,
                caller_id: caller_id.or_else(|| self.caller_id.clone()),
                offer,
            },
        ));
    }

    /// A duration of the flow at the call's time scale.
    fn scaled(&self, d: Duration) -> Duration {
        d.div_f64(self.time_scale.max(1.0))
    }

    /// A dial is decided: the leg record and the engine learn it (a placed call's first leg
    /// starts the flow, or ends the call unreached).
    fn dial_result(&mut self, leg: LegId, detail: &str, outcome: Outcome) {
        self.dialing.remove(&leg.0);
        if let Some(r) = self.leg_records.get_mut(&leg.0) {
            r.outcome = String::from(outcome.clone());
            r.detail = detail.to_string();
            if outcome == Outcome::Answered {
                r.answered_ms = Some(now_ms());
            } else {
                r.ended_ms = Some(now_ms());
            }
        }
        if outcome != Outcome::Answered {
            if let Some(l) = self.leg_mut(leg) {
                l.state = LegState::Gone;
                l.stop();
            }
        }
        if leg == CALLER {
            if let Some(start) = self.pending_start.take() {
                if outcome == Outcome::Answered {
                    self.record.answered_ms = Some(now_ms());
                    self.handle(start);
                } else {
                    self.unreached = true;
                    self.record.ended_by = String::from(outcome);
                }
                return;
            }
        }
        self.handle(Event::DialResult { leg, outcome });
    }

    fn dialed(&mut self, leg: LegId, what: Dialed) {
        if !self.dialing.contains_key(&leg.0) {
            return; // the flow gave up on it; the core cancels or hangs up
        }
        match what {
            Dialed::Ringing => {}
            Dialed::Failed(status) => {
                self.dial_result(leg, &format!("SIP {status}"), dial_outcome(status));
            }
            Dialed::Answered(sdp) => match sdp::negotiate(&sdp) {
                Ok(negotiated) => {
                    self.start_media(leg, negotiated);
                    self.dial_result(leg, "SIP 200", Outcome::Answered);
                }
                Err(e) => {
                    self.record
                        .errors
                        .push(format!("dial: the answer's SDP: {e}"));
                    self.hang_up(leg, "flow");
                    self.dial_result(leg, "unusable SDP answer", Outcome::Failed);
                }
            },
        }
    }

    fn cancel_render(&mut self) {
        self.stop_render = true;
        if let Some((_, r)) = self.new_render.take() {
            r.abort();
        }
    }

    fn start_render(
        &mut self,
        leg: LegId,
        job: impl FnOnce() -> Result<Samples, String> + Send + 'static,
    ) {
        self.cancel_render();
        self.new_render = Some((leg, tokio::task::spawn_blocking(job)));
    }

    /// Ends a leg from our side (BYE, CANCEL, or 480 for an unanswered inbound call).
    fn hang_up(&mut self, leg: LegId, by: &str) {
        let Some(l) = self.leg(leg) else {
            return;
        };
        if l.state == LegState::Gone {
            return;
        }
        let sip_id = l.sip_id.clone();
        if self.dialing.remove(&leg.0).is_some() {
            if let Some(r) = self.leg_records.get_mut(&leg.0) {
                r.outcome = "cancelled".into();
                r.ended_ms = Some(now_ms());
            }
        }
        self.leg_gone(leg, by);
        let _ = self.requests.send(CallRequest::Hangup(sip_id));
    }

    /// A leg is over on the SIP side: its media stops, a bridge with it ends.
    fn leg_gone(&mut self, leg: LegId, by: &str) {
        if leg == CALLER && self.record.ended_by.is_empty() {
            self.record.ended_by = by.into();
        }
        if let Some(r) = self.leg_records.get_mut(&leg.0) {
            if r.ended_by.is_empty() {
                r.ended_by = by.into();
                r.ended_ms = Some(now_ms());
            }
        }
        let Some(l) = self.leg_mut(leg) else {
            return;
        };
        let bridged = l.bridged();
        l.state = LegState::Gone;
        l.stop();
        if bridged {
            for other in self.legs.iter().flatten() {
                if other.bridged() {
                    other.unbridge();
                }
            }
        }
    }

    /// The other side ended a leg (BYE, CANCEL, no ACK, media timeout).
    fn gone(&mut self, leg: LegId, why: &str) {
        if self.leg(leg).is_none_or(|l| l.state == LegState::Gone) {
            return;
        }
        if self.dialing.contains_key(&leg.0) {
            self.dial_result(leg, why, Outcome::Failed);
            return;
        }
        self.leg_gone(leg, why);
        if !self.engine.ended() {
            self.handle(Event::Hangup { leg });
        }
    }

    /// Whether any leg still needs the call task.
    fn any_leg_live(&self) -> bool {
        self.legs
            .iter()
            .flatten()
            .any(|l| l.state != LegState::Gone)
    }
}

/// Runs a call to its end and sends its record.
pub async fn run(setup: CallSetup) {
    let CallSetup {
        program,
        flow,
        call_id,
        inbound,
        dial_first,
        text,
        params,
        caller_id,
        started_ms,
        mut inputs,
        requests,
        prompts,
        flow_dir,
        http,
        asr,
        clock,
        ports,
        rtp_ip,
        rtp_timeout,
        time_scale,
    } = setup;
    let (done_tx, mut prompt_done) = mpsc::unbounded_channel::<(u32, u64)>();
    let (media_tx, mut media_events) = mpsc::unbounded_channel::<MediaEvent>();
    let Some(flow) = program.flows.get(flow) else {
        return;
    };
    let (caller, called) = inbound
        .as_ref()
        .map_or((None, None), |i| (i.caller.clone(), i.called.clone()));
    let mut call = Call {
        engine: Engine::new(flow),
        flow,
        call_id: call_id.clone(),
        requests: requests.clone(),
        prompts,
        flow_dir,
        http,
        voice: Voice::of(
            flow.settings.lang.as_deref(),
            flow.settings.voice.as_deref(),
        ),
        caller_id: flow
            .settings
            .caller_id_number()
            .map(str::to_string)
            .or(caller_id),
        answer_sdp: None,
        legs: (0..flow.legs.len().max(1)).map(|_| None).collect(),
        leg_records: BTreeMap::new(),
        dialing: BTreeMap::new(),
        timers: BTreeMap::new(),
        deferred: std::collections::VecDeque::new(),
        new_render: None,
        stop_render: false,
        new_fetch: None,
        asr,
        new_listening: None,
        stop_listening: false,
        clock: clock.clone(),
        ports,
        rtp_ip,
        rtp_timeout,
        time_scale,
        pending_start: None,
        unreached: false,
        done: done_tx,
        media_events: media_tx,
        record: CallRecord {
            call_id: call_id.clone(),
            flow: flow.name.clone(),
            caller: caller.clone().unwrap_or_default(),
            called: called.clone().unwrap_or_default(),
            started_ms,
            ..CallRecord::default()
        },
    };
    let has_caller = inbound.is_some();
    if let Some(i) = inbound {
        // Its media starts with the answer.
        call.legs[0] = Some(Leg::new(CALLER, call_id.clone(), i.bound, LegState::Up));
        call.answer_sdp = Some((i.answer_sdp, i.negotiated));
    }
    let start = Event::Start {
        has_caller: has_caller || dial_first.is_some(),
        caller,
        called,
        call_id: call_id.clone(),
        params,
    };
    let start = match text {
        Some((from, text)) => Event::StartSms {
            from,
            text,
            params: Vec::new(),
        },
        None => start,
    };
    match dial_first {
        Some(number) => {
            call.record.called.clone_from(&number);
            call.pending_start = Some(start);
            let ring = PLACED_RING.as_millis() as u64;
            call.dial(CALLER, number, None, ring);
        }
        None => call.handle(start),
    }
    let mut render_leg = CALLER;
    let mut fetching: Option<JoinHandle<Result<serde_json::Value, String>>> = None;
    let mut listening: Option<(LegId, Listening)> = None;
    let mut render_task: Option<JoinHandle<Result<Samples, String>>> = None;
    loop {
        if call.stop_listening {
            call.stop_listening = false;
            if let Some((leg, _)) = listening.take() {
                if let Some(l) = call.leg(leg) {
                    l.listen(None);
                }
            }
        }
        if let Some((leg, l)) = call.new_listening.take() {
            if let Some(leg_media) = call.leg(leg) {
                leg_media.listen(Some(l.audio.clone()));
            }
            listening = Some((leg, l));
        }
        if call.stop_render {
            call.stop_render = false;
            if let Some(r) = render_task.take() {
                r.abort();
            }
        }
        if let Some((leg, r)) = call.new_render.take() {
            render_task = Some(r);
            render_leg = leg;
        }
        if let Some(f) = call.new_fetch.take() {
            fetching = Some(f);
        }
        let finished = call.engine.ended() || call.unreached;
        if finished {
            for id in 0..call.legs.len() {
                call.hang_up(LegId(id as u32), "flow");
            }
        }
        if finished && !call.any_leg_live() {
            break;
        }
        let timer = call
            .timers
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(id, at)| (*id, *at));
        let dial_deadline = call
            .dialing
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(leg, at)| (*leg, *at));
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            input = inputs.recv() => match input {
                Some(CallInput::Key(sip, k)) => {
                    if let Some(leg) = call.leg_by_sip(&sip) {
                        call.record.keys.push(k);
                        call.handle(Event::Key { leg, key: k });
                    }
                }
                Some(CallInput::Gone(sip, g)) => {
                    if let Some(leg) = call.leg_by_sip(&sip) {
                        call.gone(leg, match (g, leg == CALLER) {
                            (Gone::Bye, true) => "caller",
                            (Gone::Bye, false) => "callee",
                            (Gone::Cancel, _) => "cancel",
                            (Gone::NoAck, _) => "no_ack",
                        });
                    }
                }
                Some(CallInput::Dialed(sip, what)) => {
                    if let Some(leg) = call.leg_by_sip(&sip) {
                        call.dialed(leg, what);
                    }
                }
                Some(CallInput::Shutdown) => {
                    call.record.ended_by = "shutdown".into();
                    for id in 0..call.legs.len() {
                        call.hang_up(LegId(id as u32), "shutdown");
                    }
                    break;
                }
                None => break,
            },
            Some(event) = media_events.recv() => match event {
                MediaEvent::Key(leg, k) => {
                    call.record.keys.push(k);
                    call.handle(Event::Key { leg, key: k });
                }
                MediaEvent::Silent(leg) => {
                    call.record.errors.push(format!("no RTP from leg {} for {:?}", leg.0, call.rtp_timeout));
                    call.hang_up(leg, "rtp_timeout");
                    if !call.engine.ended() {
                        call.handle(Event::Hangup { leg });
                    }
                }
            },
            Some((tag, generation)) = prompt_done.recv() => {
                let leg = LegId(tag);
                if Some(generation) == call.prompt_generation(leg) && call.is_up(leg) {
                    call.handle(Event::PromptDone { leg });
                }
            },
            () = sleep_until(timer.map_or(far, |(_, at)| at).into()), if timer.is_some() => {
                if let Some((id, _)) = timer {
                    call.timers.remove(&id);
                    call.handle(Event::Timer { id });
                }
            },
            () = sleep_until(dial_deadline.map_or(far, |(_, at)| at).into()), if dial_deadline.is_some() => {
                if let Some((leg, _)) = dial_deadline {
                    let leg = LegId(leg);
                    call.hang_up(leg, "dial_timeout");
                    call.dial_result(leg, "no answer in time", Outcome::NoAnswer);
                }
            },
            rendered = join_or_wait(&mut render_task) => {
                render_task = None;
                let leg = render_leg;
                match rendered {
                    Ok(Ok(samples)) if !samples.is_empty() => call.set_prompt(leg, Some(samples)),
                    Ok(Ok(_)) => call.handle(Event::PromptDone { leg }),
                    Ok(Err(e)) => {
                        call.record.errors.push(format!("prompt: {e}"));
                        call.handle(Event::PromptDone { leg });
                    }
                    Err(_) => {} // aborted by barge-in
                }
            },
            heard = heard_or_wait(&mut listening) => {
                match heard {
                    Some((leg, h)) => {
                        call.record.phrases.push(h.text.clone());
                        call.handle(Event::Speech { leg, text: h.text, confidence: h.confidence });
                    }
                    None => listening = None,
                }
            },
            fetched = join_or_wait(&mut fetching) => {
                fetching = None;
                let result = fetched.unwrap_or_else(|e| Err(e.to_string()));
                call.handle(Event::FetchDone { result });
            },
        }
    }
    if let Some(r) = render_task.take() {
        r.abort();
    }
    if let Some(f) = fetching.take() {
        f.abort();
    }
    let mut sip_ids = Vec::new();
    for l in call.legs.iter_mut().flatten() {
        l.stop();
        sip_ids.push(l.sip_id.clone());
    }
    call.record.values = call
        .engine
        .variables()
        .map(|(name, v)| {
            (
                name.to_string(),
                v.render().unwrap_or_else(|_| "null".into()),
            )
        })
        .collect();
    call.record.legs = std::mem::take(&mut call.leg_records)
        .into_values()
        .collect();
    call.record.ended_ms = now_ms();
    if call.record.ended_by.is_empty() {
        call.record.ended_by = "flow".into();
    }
    if !sip_ids.contains(&call_id) {
        sip_ids.push(call_id);
    }
    let _ = requests.send(CallRequest::Ended(Box::new(call.record), sip_ids));
}

//! One call on the runtime: a task that drives the engine in real time. Engine timers become
//! tokio sleeps, prompts are rendered off the async threads and sent as RTP on a 20 ms clock
//! (silence between them), keys come from RFC 4733 and SIP INFO, the legs the flow dials are
//! placed through the server's trunk and bridged by relaying their RTP ([`super::leg`]), and
//! the SIP side (answer, hang-up, transfer, dial) is asked of the core through the server. It
//! ends with the call record.
//!
//! The task waits on one inbox per source: the SIP side ([`CallInput`]), the legs' media
//! ([`MediaEvent`]), the work it started itself (`Done`: rendered prompts, fetches, phrases
//! heard) and its timers. `mod.rs` holds the setup and the loop, `command.rs` carries out the
//! engine's commands, `legs.rs` the legs' lives, `record.rs` builds the call record.

mod command;
mod legs;
mod machine;
mod record;
mod recording;
mod transfer;

use super::asr::{Heard, Recognizer};
use super::leg::{Leg, LegState, MediaEvent};
use super::media::clock::Clock;
use super::media::ports::{Bound, RtpPorts};
use super::media::prompts::{AudioFiles, PromptError, Prompts};
use super::media::Samples;
use super::sdp::Negotiated;
use super::sip::effect::{Dialed, Gone, Referred};
use super::sip::uac::Dial;
use crate::engine::{Engine, Event, TimerId};
use crate::ir::{self, LegId, Outcome};
use crate::store::CallRecord;
use command::Tasks;
use record::Recorder;
use recording::Recordings;
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::sleep_until;

/// What reaches a call from the SIP side, by the leg's SIP Call-ID.
#[derive(Debug, Clone, PartialEq)]
pub enum CallInput {
    /// A key sent with SIP INFO.
    Key(String, char),
    /// Whether we may send media to a party (false: it put us on hold).
    Sending(String, bool),
    /// A party wants our media at a new address.
    MediaMoved(String, std::net::SocketAddr),
    /// A party's re-offer has these SDES crypto lines.
    Crypto(String, Vec<String>),
    /// A party is gone.
    Gone(String, Gone),
    /// How a dialled leg got on.
    Dialed(String, Dialed),
    /// How a party took our REFER.
    Referred(String, Referred),
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
    /// Hand a party to a number (a caller 302 before the answer; REFER after it, or to a
    /// leg we placed).
    Transfer(String, String),
    /// Place a leg for the call whose id comes first.
    Dial(String, Dial),
    /// Send a text for the flow named first.
    Text(String, OutgoingText),
    /// A flow's `block` put a number on the block list.
    Block {
        /// The flow.
        flow: String,
        /// The call's id.
        call_id: String,
        /// The number.
        number: String,
    },
    /// An entry of a contact's timeline (a recording) to write.
    Entry(crate::store::Entry),
    /// The call started; its record so far (written at once, replaced when it ends).
    Started(Box<CallRecord>),
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
    /// Where the audio `play` names is.
    pub audio: AudioFiles,
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
    /// The media address written in our SDP when it differs from `rtp_ip` (behind NAT).
    pub sdp_ip: Option<IpAddr>,
    /// Send each party's RTP where its RTP comes from (`--symmetric-rtp`).
    pub symmetric_rtp: bool,
    /// SRTP for dialled legs (`--srtp`).
    pub srtp: crate::runtime::sdp::SrtpPolicy,
    /// A party that sends no RTP this long is hung up.
    pub rtp_timeout: Duration,
    /// Timers and dial timeouts run this many times faster.
    pub time_scale: f64,
    /// Where `record` writes its files (`--recordings`).
    pub recordings: Option<std::path::PathBuf>,
    /// Whether the party dialled first (`dial_first`) is checked for an answering machine
    /// (a campaign's `detect_machine`): a machine ends the call before the flow runs.
    pub detect_machine_first: bool,
    /// A campaign's `record_calls`: the call is recorded whole from the party's answer, this
    /// many milliseconds cut from its start.
    pub record_calls_trim_ms: Option<u64>,
    /// Answering-machine detection's settings.
    pub amd: crate::runtime::media::amd::Settings,
}

/// How long a placed call rings before it counts as not answered.
const PLACED_RING: Duration = Duration::from_secs(30);

/// Why a prompt has no audio.
#[derive(Debug, thiserror::Error)]
enum RenderError {
    /// The audio could not be made.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The flow's voice is not one espeak-ng has.
    #[error("the flow's voice has no espeak-ng voice")]
    NoVoice,
    /// The render task failed.
    #[error("the render task failed: {0}")]
    Task(String),
}

/// Work the call started that has come back; `generation` tells a result of the current task
/// from one of a task given up on (barge-in, a new listen).
enum Done {
    /// A prompt's audio.
    Rendered {
        generation: u64,
        result: Result<Samples, RenderError>,
    },
    /// A `fetch`'s answer.
    Fetched {
        generation: u64,
        result: Result<serde_json::Value, String>,
    },
    /// A phrase the recognizer heard.
    Heard { generation: u64, heard: Heard },
    /// The answering-machine detector's verdict on a dialled party.
    Detected {
        leg: LegId,
        verdict: crate::runtime::media::amd::Verdict,
    },
    /// A recording's file is finished; `to_flow`: the `record` waits for it.
    Recorded {
        leg: LegId,
        to_flow: bool,
        result: Result<crate::runtime::media::recording::Recorded, String>,
    },
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

/// What the call's legs need to start their media.
struct MediaPlant {
    /// The media clock that sends our RTP.
    clock: Arc<Clock>,
    /// RTP ports for dialled legs.
    ports: Arc<RtpPorts>,
    /// Our media address.
    rtp_ip: IpAddr,
    /// The media address written in our SDP, when not `rtp_ip`.
    sdp_ip: Option<IpAddr>,
    /// Symmetric RTP.
    symmetric_rtp: bool,
    /// SRTP for dialled legs.
    srtp: crate::runtime::sdp::SrtpPolicy,
    /// A party silent this long is hung up.
    rtp_timeout: Duration,
    /// Where the legs report keys, silence and prompt ends.
    events: mpsc::UnboundedSender<MediaEvent>,
}

/// The running call.
struct Call<'f> {
    engine: Engine<'f>,
    flow: &'f ir::Flow,
    call_id: String,
    requests: mpsc::UnboundedSender<CallRequest>,
    /// The number shown on dialled legs and texts when a `dial` sets none: the flow's
    /// `caller_id`, else the campaign's.
    caller_id: Option<String>,
    /// The inbound leg's SDP answer and what its offer settled, until the answer is sent.
    answer_sdp: Option<(Vec<u8>, Negotiated)>,
    legs: Vec<Option<Leg>>,
    /// Dialled legs not answered yet, and when the flow stops waiting for them.
    dialing: BTreeMap<u32, Instant>,
    timers: BTreeMap<TimerId, Instant>,
    /// Events the call causes itself, handled after the current one.
    deferred: VecDeque<Event>,
    /// Prompts, fetches and listening in flight.
    tasks: Tasks,
    media: MediaPlant,
    /// Engine timers and dial timeouts run this many times faster.
    time_scale: f64,
    /// The flow's start, held until the first dialled party answers (a placed call).
    pending_start: Option<Event>,
    /// A placed call whose party was not reached: the flow never runs.
    unreached: bool,
    record: Recorder,
    /// `record` in progress.
    recordings: Recordings,
    /// Answering-machine detection of dialled parties.
    detection: machine::Detection,
    /// Parties being handed to another number, by leg.
    handovers: BTreeMap<u32, transfer::Handover>,
}

impl Call<'_> {
    /// Hands an event to the engine, and carries out what it asks (and the events that
    /// causes, in order).
    fn handle(&mut self, event: Event) {
        self.deferred.push_back(event);
        while let Some(event) = self.deferred.pop_front() {
            self.record.event(&event);
            for output in self.engine.handle(event) {
                self.record.output(self.flow, &output);
                self.command(output.command);
            }
        }
    }

    /// A duration of the flow at the call's time scale.
    fn scaled(&self, d: Duration) -> Duration {
        d.div_f64(self.time_scale.max(1.0))
    }

    fn input(&mut self, input: CallInput) {
        match input {
            CallInput::Key(sip, key) => {
                if let Some(leg) = self.leg_by_sip(&sip).filter(|l| !self.handed_over(*l)) {
                    if !self.recording_key(leg, key) {
                        self.handle(Event::Key { leg, key });
                    }
                }
            }
            CallInput::Gone(sip, gone) => {
                if let Some(leg) = self.leg_by_sip(&sip) {
                    let why = match (gone, leg == LegId::CALLER) {
                        (Gone::Bye, true) => "caller",
                        (Gone::Bye, false) => "callee",
                        (Gone::Cancel, _) => "cancel",
                        (Gone::NoAck, _) => "no_ack",
                    };
                    self.gone(leg, why);
                }
            }
            CallInput::Sending(sip, sending) => {
                if let Some(leg) = self.leg_by_sip(&sip) {
                    if let Some(l) = self.leg(leg) {
                        l.hold(!sending);
                    }
                }
            }
            CallInput::MediaMoved(sip, to) => {
                if let Some(l) = self.leg_by_sip(&sip).and_then(|leg| self.leg(leg)) {
                    l.move_media(to);
                }
            }
            CallInput::Crypto(sip, lines) => {
                if let Some(l) = self.leg_by_sip(&sip).and_then(|leg| self.leg_mut(leg)) {
                    l.rekey(&lines);
                }
            }
            CallInput::Dialed(sip, what) => {
                if let Some(leg) = self.leg_by_sip(&sip) {
                    self.dialed(leg, what);
                }
            }
            CallInput::Referred(sip, what) => {
                if let Some(leg) = self.leg_by_sip(&sip) {
                    self.referred(leg, what);
                }
            }
            CallInput::Shutdown => {
                self.record.ended_by_now("shutdown");
                self.handovers.clear();
                self.hang_up_all("shutdown");
            }
        }
    }

    fn media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Key(leg, key) => {
                if !self.handed_over(leg) && !self.recording_key(leg, key) {
                    self.handle(Event::Key { leg, key });
                }
            }
            MediaEvent::Silent(leg) => {
                self.record.error(format!(
                    "no RTP from leg {} for {:?}",
                    leg.0, self.media.rtp_timeout
                ));
                self.hang_up(leg, "rtp_timeout");
                if self.transfer_leg_gone(leg, "rtp_timeout") {
                    return;
                }
                if !self.engine.ended() {
                    self.handle(Event::Hangup { leg });
                }
            }
            MediaEvent::PromptEnded { leg, generation } => {
                if Some(generation) == self.prompt_generation(leg) && self.is_up(leg) {
                    self.handle(Event::PromptDone { leg });
                }
            }
        }
    }

    /// The variables' values, rendered for the record.
    fn values(&self) -> Vec<(String, String)> {
        self.engine
            .variables()
            .map(|(name, v)| {
                (
                    name.to_string(),
                    v.render().unwrap_or_else(|_| "null".into()),
                )
            })
            .collect()
    }
}

/// The earliest of some deadlines.
fn earliest<K: Copy>(deadlines: &BTreeMap<K, Instant>) -> Option<(K, Instant)> {
    deadlines
        .iter()
        .min_by_key(|(_, at)| **at)
        .map(|(k, at)| (*k, *at))
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
        audio,
        http,
        asr,
        clock,
        ports,
        rtp_ip,
        sdp_ip,
        symmetric_rtp,
        srtp,
        rtp_timeout,
        time_scale,
        recordings,
        detect_machine_first,
        record_calls_trim_ms,
        amd,
    } = setup;
    let (media_tx, mut media_events) = mpsc::unbounded_channel::<MediaEvent>();
    let (done_tx, mut done) = mpsc::unbounded_channel::<Done>();
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
        caller_id: flow
            .settings
            .caller_id_number()
            .map(str::to_string)
            .or(caller_id),
        answer_sdp: None,
        legs: (0..flow.legs.len().max(1)).map(|_| None).collect(),
        dialing: BTreeMap::new(),
        timers: BTreeMap::new(),
        deferred: VecDeque::new(),
        tasks: Tasks::new(done_tx, prompts, audio, http, asr),
        media: MediaPlant {
            clock,
            ports,
            rtp_ip,
            sdp_ip,
            symmetric_rtp,
            srtp,
            rtp_timeout,
            events: media_tx,
        },
        time_scale,
        pending_start: None,
        unreached: false,
        recordings: Recordings::new(recordings, record_calls_trim_ms),
        detection: machine::Detection::new(amd),
        handovers: BTreeMap::new(),
        record: Recorder::new(
            &call_id,
            &flow.name,
            caller.as_deref().unwrap_or_default(),
            called.as_deref().unwrap_or_default(),
            started_ms,
        ),
    };
    let _ = requests.send(CallRequest::Started(Box::new(call.record.running())));
    let has_caller = inbound.is_some();
    if let Some(i) = inbound {
        // Its media starts with the answer.
        call.legs[0] = Some(Leg::new(
            LegId::CALLER,
            call_id.clone(),
            i.bound,
            LegState::Up,
        ));
        call.answer_sdp = Some((i.answer_sdp, i.negotiated));
    }
    let start = match text {
        Some((from, text)) => Event::StartSms {
            from,
            text,
            params: Vec::new(),
        },
        None => Event::Start {
            has_caller: has_caller || dial_first.is_some(),
            // A placed call's caller leg is the party it called: `sms` and `block` without a
            // number go to them.
            caller: caller.or_else(|| dial_first.clone()),
            called,
            call_id: call_id.clone(),
            params,
        },
    };
    match dial_first {
        Some(number) => {
            call.record.placed(&number);
            call.pending_start = Some(start);
            let ring = PLACED_RING.as_millis() as u64;
            call.dial(LegId::CALLER, number, None, ring, detect_machine_first);
        }
        None => call.handle(start),
    }
    loop {
        let finished = call.engine.ended() || call.unreached;
        if finished {
            call.hang_up_all("flow");
            if !call.any_leg_live() {
                break;
            }
        }
        let timer = earliest(&call.timers);
        let dial_deadline = earliest(&call.dialing);
        let recorded_until = call.recordings.deadline();
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            input = inputs.recv() => match input {
                Some(CallInput::Shutdown) => {
                    call.input(CallInput::Shutdown);
                    break;
                }
                Some(input) => call.input(input),
                None => break,
            },
            Some(event) = media_events.recv() => call.media_event(event),
            Some(done) = done.recv() => call.done(done),
            () = sleep_until(timer.map_or(far, |(_, at)| at).into()), if timer.is_some() => {
                if let Some((id, _)) = timer {
                    call.timers.remove(&id);
                    call.handle(Event::Timer { id });
                }
            },
            () = sleep_until(recorded_until.unwrap_or(far).into()), if recorded_until.is_some() => {
                call.end_recording(true);
            },
            () = sleep_until(dial_deadline.map_or(far, |(_, at)| at).into()), if dial_deadline.is_some() => {
                if let Some((leg, _)) = dial_deadline {
                    let leg = LegId(leg);
                    call.hang_up(leg, "dial_timeout");
                    call.dial_result(leg, "no answer in time", Outcome::NoAnswer);
                }
            },
        }
    }
    // A recording still going (the call ended under it) is kept.
    call.end_recording(false);
    call.end_call_recording();
    call.tasks.stop_all();
    let mut sip_ids = Vec::new();
    for l in call.legs.iter_mut().flatten() {
        l.stop();
        sip_ids.push(l.sip_id.clone());
        if let Some(q) = l.quality() {
            call.record.media(l.id, q);
        }
    }
    let values = call.values();
    let record = call.record.finish(values);
    if !sip_ids.contains(&call_id) {
        sip_ids.push(call_id);
    }
    let _ = requests.send(CallRequest::Ended(Box::new(record), sip_ids));
}

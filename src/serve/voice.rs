//! One webhook turn of a voice call: the engine is resumed from the state the request carries,
//! fed what Twilio reports (keys, speech, a recording, a dial status, a timeout), and run until
//! it waits again; what it did becomes TwiML verbs and what it waits for becomes the closing
//! verb (`<Gather>`, `<Record>`, `<Dial>`) whose action URL carries the new state.
//!
//! Time is virtual, as in `ivrc test`: prompts take none, and the engine's timers are due
//! against a clock kept in the state. A `<Gather>` waits until the next timer is due (its
//! `timeout`); when Twilio reports no input, that timer fires. A pause becomes `<Pause>` and
//! the turn goes on. Twilio runs one leg per document: a call's documents speak to its own
//! party (the caller, or the leg a flow without a caller dials first), and a dial followed by
//! statements on the dialled party gets a `<Number url>` step whose documents speak to that
//! party until the flow bridges it with the call, hangs it up or ends; `serve::capabilities`
//! refuses flows that need anything else. This module does no I/O and
//! reads no clock: the server seals the state and builds the URLs ([`Links`]), makes the HTTP
//! request a `fetch` waits for ([`Step::Fetch`], then [`resume`]) and sends the text messages
//! a turn asks for ([`Turn::sms`]).

use crate::codegen::twiml::{self, build, GatherInput, Verb};
use crate::engine::{Audio, Awaiting, Command, Engine, Event, Output, Snapshot, TimerId};
pub use crate::fetch::FetchRequest;
use crate::ir::{self, LegId, Op, Outcome};
use std::collections::VecDeque;

/// What the server keeps about a call between webhooks, sealed into the next action URL.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallState {
    /// Twilio's id of the call; a state is only accepted back from the same call.
    pub call_sid: String,
    /// The number that was called (the sender of the call's text messages).
    called: String,
    /// The caller's number.
    caller: String,
    snapshot: Snapshot,
    /// Virtual milliseconds since the call started.
    now_ms: u64,
    /// Pending engine timers: when each is due.
    timers: Vec<(u64, TimerId)>,
    /// The leg this Twilio call is: the caller, or the leg a flow without one dials first.
    home: LegId,
    /// The leg the documents of this state speak to: `home`, or a dialled party during its
    /// `<Number url>` step (a request of that party's call, whose `ParentCallSid` is ours).
    on: LegId,
    /// For a flow that places its own calls: what became of the call Twilio placed, given
    /// to the flow's first dial (then `None`).
    first_dial: Option<Outcome>,
    /// Turns taken so far: of a call's states, the latest has the most.
    pub turn: u32,
    /// A dialled party's step ended by hanging the party up, and the flow went on for the
    /// call: its `<Dial>` action goes on from here, with these verbs first.
    step_done: bool,
    /// Verbs for the call's next document, made during a dialled party's step after it hung
    /// the party up.
    held: Vec<(ir::NodeId, Verb)>,
}

impl CallState {
    /// The caller's number.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// The number that was called.
    pub fn called(&self) -> &str {
        &self.called
    }

    /// Whether the state's documents speak to a dialled party (its `<Number url>` step)
    /// rather than to this Twilio call.
    pub fn on_dialled_party(&self) -> bool {
        self.on != self.home
    }

    /// Whether the call's next request will not carry this state in its URL: a dialled
    /// party's step, or one that has just ended, goes on in the call's `<Dial>` action.
    pub fn continues_elsewhere(&self) -> bool {
        self.on != self.home || self.step_done
    }
}

/// What a webhook request reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The call starts (the first webhook, without state): an inbound call, or one placed
    /// through the REST API for a campaign lead.
    Start {
        /// `CallSid`.
        call_sid: String,
        /// The party the flow talks to: `From` of an inbound call, `To` of a placed one.
        caller: String,
        /// Our number: `To` of an inbound call, `From` of a placed one.
        called: String,
        /// The flow's parameters (from the webhook URL of a placed call), by name.
        params: Vec<(String, String)>,
        /// For a flow without a caller (it places its own calls, the first one through the
        /// REST API): what became of that call — answered for its webhook, how it failed
        /// for the status callback of a call that never connected. Other flows ignore it.
        first_dial: Outcome,
    },
    /// The party of this Twilio call hung up (its status callback says `completed`).
    Hangup,
    /// A `<Gather>` ended with keys (`Digits`).
    Digits(String),
    /// A `<Gather>` ended with speech (`SpeechResult`, `Confidence`).
    Speech {
        /// What was heard.
        text: String,
        /// 0–1.
        confidence: f32,
    },
    /// A `<Gather>` heard nothing and the document went on to its `<Redirect>`.
    NoInput,
    /// A `<Record>` ended (`RecordingUrl`).
    Recorded(String),
    /// A `<Dial>` ended (`DialCallStatus`).
    DialStatus(String),
}

/// Builds the action URL that carries a state (the server seals it).
pub trait Links {
    /// The URL of the next request of this call.
    fn next(&mut self, state: &CallState) -> String;
    /// Where the server serves the flow's audio files (`…/audio/FLOW`).
    fn audio_base(&self) -> String;
    /// Where the server serves platform records (`…/records`, `play record ID` as
    /// `…/records/ID.wav`), when it has them (`--records`).
    fn records_base(&self) -> Option<String> {
        None
    }
}

/// What a turn produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The TwiML document.
    pub twiml: String,
    /// The call's state after the turn.
    pub state: CallState,
    /// What the engine did, in order (for the call's record).
    pub log: Vec<Output>,
    /// Text messages to send (the call goes on without waiting for them).
    pub sms: Vec<OutgoingSms>,
}

/// A text message a call sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// The sender: the flow's `caller_id`, else the number that was called.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The text.
    pub body: String,
}

/// A turn that waits for a fetch before it can answer.
#[derive(Debug, Clone)]
pub struct PendingFetch {
    /// The request to make.
    pub request: FetchRequest,
    state: CallState,
    verbs: Vec<(ir::NodeId, Verb)>,
    log: Vec<Output>,
    sms: Vec<OutgoingSms>,
}

/// Where a turn got to.
#[derive(Debug, Clone)]
pub enum Step {
    /// The answer to the webhook.
    Answer(Box<Turn>),
    /// A fetch to make; then [`resume`] with its result.
    Fetch(Box<PendingFetch>),
}

/// Why a request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// The state belongs to another flow or version.
    #[error("the state does not belong to this flow: {0}")]
    Mismatch(String),
    /// The request reports something the call is not waiting for.
    #[error("the call is not waiting for {0}")]
    Unexpected(&'static str),
    /// `DialCallStatus` is not one Twilio sends.
    #[error("unknown DialCallStatus `{0}`")]
    DialStatus(String),
    /// The flow acts on a party the document does not speak to (`serve::capabilities`
    /// refuses such flows before the server starts).
    #[error("the flow acts on a party this document does not speak to: {0}")]
    OtherParty(String),
}

/// A flow's file path as the tail of its audio URL: each segment percent-encoded.
pub fn file_url_path(path: &str) -> String {
    path.split('/')
        .map(build::percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// Runs one webhook turn of `flow`.
pub fn turn(
    flow: &ir::Flow,
    state: Option<CallState>,
    input: Input,
    links: &mut dyn Links,
) -> Result<Step, TurnError> {
    let mut driver = match state {
        None => Driver::new(Engine::new(flow), TwilioCall::default(), 0, Vec::new()),
        Some(s) => Driver::from_state(flow, s)?,
    };
    driver.audio_base = links.audio_base();
    driver.records_base = links.records_base();
    driver.apply(input)?;
    driver.finish(links)
}

/// Goes on with a turn once its fetch has a result: the JSON answer, or why it failed.
pub fn resume(
    flow: &ir::Flow,
    pending: Box<PendingFetch>,
    result: Result<serde_json::Value, String>,
    links: &mut dyn Links,
) -> Result<Step, TurnError> {
    let s = pending.state;
    let mut driver = Driver::from_state(flow, s)?;
    driver.audio_base = links.audio_base();
    driver.records_base = links.records_base();
    driver.verbs = pending.verbs;
    driver.log = pending.log;
    driver.sms = pending.sms;
    if driver.engine.awaiting() != Awaiting::Fetch {
        return Err(TurnError::Unexpected("a fetch result"));
    }
    driver.feed(Event::FetchDone { result });
    driver.finish(links)
}

/// The Twilio call a turn is for: its id and the numbers it is between.
#[derive(Default)]
struct TwilioCall {
    /// `CallSid`.
    sid: String,
    /// Our number.
    called: String,
    /// The party the flow talks to.
    caller: String,
}

struct Driver<'f> {
    engine: Engine<'f>,
    call: TwilioCall,
    /// The leg this Twilio call is.
    home: LegId,
    /// The leg this document speaks to.
    on: LegId,
    /// What the flow's first dial is told (a flow without a caller), until it dials.
    first_dial: Option<Outcome>,
    /// This turn's number.
    turn: u32,
    /// The document ends by connecting its party to the call that dialled it.
    connect: bool,
    /// The step's party was hung up: verbs from then on are `held` for the call.
    step_done: bool,
    held: Vec<(ir::NodeId, Verb)>,
    /// Something the flow did that this document cannot carry out.
    other_party: Option<String>,
    /// No document is played: the turn runs for a status callback.
    detached: bool,
    now: u64,
    timers: Vec<(u64, TimerId)>,
    /// Verbs so far, each with the node that produced it.
    verbs: Vec<(ir::NodeId, Verb)>,
    log: Vec<Output>,
    /// The leg a `<Dial>` connected in this turn (its bridge has already happened).
    dialled: Option<LegId>,
    sms: Vec<OutgoingSms>,
    /// Whether this is the call's first webhook.
    first: bool,
    /// Where the flow's audio files are served.
    audio_base: String,
    /// Where platform records are served, if they are.
    records_base: Option<String>,
}

impl<'f> Driver<'f> {
    fn from_state(flow: &'f ir::Flow, s: CallState) -> Result<Driver<'f>, TurnError> {
        let engine =
            Engine::resume(flow, s.snapshot).map_err(|e| TurnError::Mismatch(e.to_string()))?;
        let call = TwilioCall {
            sid: s.call_sid,
            called: s.called,
            caller: s.caller,
        };
        let mut driver = Driver::new(engine, call, s.now_ms, s.timers);
        driver.home = s.home;
        driver.on = s.on;
        driver.first_dial = s.first_dial;
        driver.turn = s.turn.saturating_add(1);
        driver.step_done = s.step_done;
        driver.held = s.held;
        Ok(driver)
    }

    fn new(
        engine: Engine<'f>,
        call: TwilioCall,
        now: u64,
        timers: Vec<(u64, TimerId)>,
    ) -> Driver<'f> {
        Driver {
            engine,
            call,
            home: LegId::CALLER,
            on: LegId::CALLER,
            first_dial: None,
            turn: 1,
            connect: false,
            step_done: false,
            held: Vec::new(),
            other_party: None,
            detached: false,
            now,
            timers,
            verbs: Vec::new(),
            log: Vec::new(),
            dialled: None,
            sms: Vec::new(),
            first: false,
            audio_base: String::new(),
            records_base: None,
        }
    }

    fn apply(&mut self, input: Input) -> Result<(), TurnError> {
        let awaiting = self.engine.awaiting();
        match input {
            Input::Start {
                call_sid,
                caller,
                called,
                params,
                first_dial,
            } => {
                if awaiting != Awaiting::Nothing || self.engine.ended() {
                    return Err(TurnError::Unexpected("a new call"));
                }
                self.call = TwilioCall {
                    sid: call_sid.clone(),
                    called: called.clone(),
                    caller: caller.clone(),
                };
                self.first = true;
                let has_caller = self.engine.flow().uses_caller();
                if !has_caller {
                    self.detached = first_dial != Outcome::Answered;
                    self.first_dial = Some(first_dial);
                }
                self.feed(Event::Start {
                    has_caller,
                    caller: has_caller.then_some(caller),
                    called: Some(called),
                    call_id: call_sid,
                    params,
                });
            }
            Input::Hangup => {
                self.detached = true;
                self.on = self.home;
                self.feed(Event::Hangup { leg: self.home });
            }
            Input::Digits(digits) => {
                let Awaiting::Keys(leg) = awaiting else {
                    return Err(TurnError::Unexpected("keys"));
                };
                // Nothing but the finish key: the engine hears the end key on its own (and
                // waits on), not a timeout.
                let end_key = match &self.engine.current().op {
                    Op::Collect { end_key, .. } => end_key.as_ref().and_then(|k| k.chars().next()),
                    _ => None,
                };
                if let (true, Some(key)) = (digits.is_empty(), end_key) {
                    self.feed(Event::Key { leg, key });
                    return Ok(());
                }
                // Still the same gather: the same statement, and nothing said since (a retry
                // or the next statement would have prompted).
                let node = self.engine.current().id;
                let same_gather = |d: &Driver| {
                    d.engine.awaiting() == Awaiting::Keys(leg)
                        && d.engine.current().id == node
                        && d.verbs.is_empty()
                };
                for key in digits
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
                {
                    if !same_gather(self) {
                        break;
                    }
                    self.feed(Event::Key { leg, key });
                }
                // The gather ended by its finish key or its timeout, which both end the wait
                // for the next key the same way.
                if same_gather(self) {
                    self.fire_next_timer();
                }
            }
            Input::Speech { text, confidence } => {
                let Awaiting::Speech(leg) = awaiting else {
                    return Err(TurnError::Unexpected("speech"));
                };
                if text.trim().is_empty() {
                    self.fire_next_timer();
                } else {
                    self.feed(Event::Speech {
                        leg,
                        text,
                        confidence,
                    });
                }
            }
            Input::NoInput => {
                if awaiting == Awaiting::Dial(self.on) && self.on != self.home {
                    // The first request of a dialled party's `<Number url>` step: it answered.
                    self.feed(Event::DialResult {
                        leg: self.on,
                        outcome: Outcome::Answered,
                    });
                    return Ok(());
                }
                if !matches!(awaiting, Awaiting::Keys(_) | Awaiting::Speech(_)) {
                    return Err(TurnError::Unexpected("the end of a gather"));
                }
                self.fire_next_timer();
            }
            Input::Recorded(url) => {
                let Awaiting::Record(leg) = awaiting else {
                    return Err(TurnError::Unexpected("a recording"));
                };
                self.feed(Event::RecordDone { leg, url });
            }
            Input::DialStatus(status) => {
                let outcome = match status.as_str() {
                    "completed" | "answered" => Outcome::Answered,
                    "busy" => Outcome::Busy,
                    "no-answer" => Outcome::NoAnswer,
                    "failed" | "canceled" => Outcome::Failed,
                    _ => return Err(TurnError::DialStatus(status)),
                };
                // Back on this call; the state may be the last one of the dialled party's
                // `<Number url>` step.
                let party = std::mem::replace(&mut self.on, self.home);
                if self.step_done {
                    // The step hung its party up and the flow went on for this call.
                    self.step_done = false;
                    self.verbs = std::mem::take(&mut self.held);
                    return Ok(());
                }
                match awaiting {
                    Awaiting::Dial(leg) => {
                        if outcome == Outcome::Answered {
                            self.dialled = Some(leg);
                        }
                        self.feed(Event::DialResult { leg, outcome });
                    }
                    _ if self.engine.ended() => {}
                    // The step connected the parties and their bridge is over, or the party
                    // hung up during its step.
                    _ if party != self.home => self.feed(Event::Hangup { leg: party }),
                    _ => return Err(TurnError::Unexpected("a dial status")),
                }
            }
        }
        Ok(())
    }

    /// Where verbs go now: this document, or — once a dialled party's step has hung up its
    /// party — the call's next document.
    fn document(&mut self) -> &mut Vec<(ir::NodeId, Verb)> {
        if self.step_done {
            &mut self.held
        } else {
            &mut self.verbs
        }
    }

    /// Notes that the flow did `what` on a party this document does not speak to.
    fn not_here(&mut self, leg: LegId, what: &str) {
        let name = self
            .engine
            .flow()
            .legs
            .get(leg.0 as usize)
            .map_or("?", |l| l.name.as_str());
        self.other_party
            .get_or_insert_with(|| format!("{what} on `{name}`"));
    }

    /// A flow without a caller: its first dial is the call Twilio placed, which answered
    /// (this is its webhook) or never connected (its status callback).
    fn first_dial_placed(&mut self) {
        if let (Some(outcome), Awaiting::Dial(leg)) =
            (self.first_dial.clone(), self.engine.awaiting())
        {
            self.first_dial = None;
            self.home = leg;
            self.on = leg;
            self.feed(Event::DialResult { leg, outcome });
        }
    }

    /// Lets virtual time pass until the next engine timer and fires it.
    fn fire_next_timer(&mut self) {
        let Some(&(at, id)) = self.timers.iter().min_by_key(|(at, id)| (*at, id.0)) else {
            return;
        };
        self.timers.retain(|(_, t)| *t != id);
        self.now = self.now.max(at);
        self.feed(Event::Timer { id });
    }

    fn feed(&mut self, event: Event) {
        let mut queue = VecDeque::from([event]);
        while let Some(e) = queue.pop_front() {
            for out in self.engine.handle(e) {
                if let Some(next) = self.carry_out(&out) {
                    queue.push_back(next);
                }
                self.log.push(out);
            }
        }
    }

    /// Turns one command into verbs and bookkeeping; returns the event it causes at once.
    fn carry_out(&mut self, out: &Output) -> Option<Event> {
        let node = out.node;
        match &out.command {
            Command::Say { leg, .. } | Command::Play { leg, .. } if *leg != self.on => {
                self.not_here(*leg, "a prompt");
                Some(Event::PromptDone { leg: *leg })
            }
            Command::Say {
                leg,
                text,
                lang,
                voice,
            } => {
                self.document().push((
                    node,
                    Verb::Say {
                        text: text.clone(),
                        voice: twiml::voice_name(lang, voice),
                        language: Some(lang.clone()),
                    },
                ));
                Some(Event::PromptDone { leg: *leg })
            }
            Command::Play { leg, audio } => {
                let url = match audio {
                    Audio::Url(url) => Some(url.clone()),
                    Audio::File(path) => {
                        Some(format!("{}/{}", self.audio_base, file_url_path(path)))
                    }
                    Audio::Record(id) => self
                        .records_base
                        .as_ref()
                        .map(|base| format!("{base}/{id}.wav")),
                };
                if let Some(url) = url {
                    self.document().push((node, Verb::Play { url }));
                }
                Some(Event::PromptDone { leg: *leg })
            }
            Command::StartTimer { id, ms } => {
                self.timers.push((self.now.saturating_add(*ms), *id));
                None
            }
            Command::CancelTimer { id } => {
                self.timers.retain(|(_, t)| t != id);
                None
            }
            Command::Sms { to, text } => {
                let from = self
                    .engine
                    .flow()
                    .settings
                    .caller_id_number()
                    .map_or_else(|| self.call.called.clone(), str::to_string);
                self.sms.push(OutgoingSms {
                    from,
                    to: to.clone(),
                    body: text.clone(),
                });
                None
            }
            Command::Transfer { leg, .. } if *leg != self.on => {
                self.not_here(*leg, "a transfer");
                None
            }
            Command::Transfer { number, .. } => {
                self.document().push((
                    node,
                    Verb::Dial {
                        action: None,
                        caller_id: None,
                        timeout_secs: 30,
                        number: number.clone(),
                        url: None,
                    },
                ));
                None
            }
            Command::Hangup { leg: None } | Command::End => {
                if !matches!(self.document().last(), Some((_, Verb::Hangup))) {
                    self.document().push((node, Verb::Hangup));
                }
                None
            }
            Command::Hangup { leg: Some(leg) } if *leg == self.on => {
                self.document().push((node, Verb::Hangup));
                if self.on != self.home {
                    // The step is over; what follows is for the call, once Twilio asks its
                    // `<Dial>` action how to go on.
                    self.step_done = true;
                    self.on = self.home;
                }
                None
            }
            Command::Bridge { a, b } => {
                let other = match (*a == self.home, *b == self.home) {
                    (true, _) => *b,
                    (_, true) => *a,
                    _ => {
                        self.not_here(*a, "a bridge without this call");
                        return None;
                    }
                };
                if other == self.on {
                    // The end of a `<Number url>` step that connects its party.
                    self.connect = true;
                    return None;
                }
                // A bridge right after `<Dial>` answered has happened and ended inside the dial.
                (self.dialled == Some(other)).then_some(Event::Hangup { leg: other })
            }
            _ => None,
        }
    }

    /// Closes the document with what the engine waits for, after letting pauses pass.
    fn finish(mut self, links: &mut dyn Links) -> Result<Step, TurnError> {
        loop {
            self.first_dial_placed();
            if self.engine.awaiting() != Awaiting::Time {
                break;
            }
            let Some(at) = self.timers.iter().map(|(at, _)| *at).min() else {
                break;
            };
            let seconds = at.saturating_sub(self.now).div_ceil(1000);
            let node = self.engine.current().id;
            self.document().push((node, Verb::Pause { seconds }));
            self.fire_next_timer();
        }
        if self.engine.awaiting() == Awaiting::Fetch {
            let request = self.log.iter().rev().find_map(|o| match &o.command {
                Command::Fetch {
                    method,
                    url,
                    params,
                    headers,
                    timeout_ms,
                } => Some(FetchRequest {
                    method: *method,
                    url: url.clone(),
                    params: params.clone(),
                    headers: headers.clone(),
                    timeout_ms: *timeout_ms,
                }),
                _ => None,
            });
            if let Some(request) = request {
                return Ok(Step::Fetch(Box::new(PendingFetch {
                    request,
                    state: self.state(),
                    verbs: self.verbs,
                    log: self.log,
                    sms: self.sms,
                })));
            }
        }
        let closing = match self.engine.awaiting() {
            // The call's next document says what comes next, not this step's.
            _ if self.detached || self.step_done => None,
            Awaiting::Keys(leg) | Awaiting::Speech(leg) | Awaiting::Record(leg)
                if leg != self.on =>
            {
                self.not_here(leg, "input");
                None
            }
            Awaiting::Dial(leg) if self.on != self.home => {
                self.not_here(leg, "a dial (a `<Number url>` step cannot dial)");
                None
            }
            Awaiting::Bridge(..) if self.connect => Some(Vec::new()),
            Awaiting::Keys(_) | Awaiting::Speech(_) => Some(self.gather(links)),
            Awaiting::Record(_) => {
                let record = self.log.iter().rev().find_map(|o| match &o.command {
                    Command::Record {
                        max_ms, end_key, ..
                    } => Some((*max_ms, end_key.clone())),
                    _ => None,
                });
                record.map(|(max_ms, end_key)| {
                    vec![Verb::Record {
                        action: links.next(&self.state()),
                        max_length_secs: max_ms.div_ceil(1000),
                        finish_on_key: end_key.unwrap_or_default(),
                    }]
                })
            }
            Awaiting::Dial(leg) => {
                let dial = self.log.iter().rev().find_map(|o| match &o.command {
                    Command::Dial {
                        number,
                        caller_id,
                        timeout_ms,
                        ..
                    } => Some((number.clone(), caller_id.clone(), *timeout_ms)),
                    _ => None,
                });
                // Statements on the party before it is bridged with this call run as its
                // `<Number url>` step, on its own call.
                let step =
                    (!answered_into_bridge(self.engine.flow(), self.engine.current(), self.home))
                        .then(|| {
                            let mut s = self.state();
                            s.on = leg;
                            links.next(&s)
                        });
                dial.map(|(number, caller_id, timeout_ms)| {
                    vec![Verb::Dial {
                        action: Some(links.next(&self.state())),
                        caller_id,
                        timeout_secs: timeout_ms.div_ceil(1000),
                        number,
                        url: step,
                    }]
                })
            }
            _ => None,
        };
        if let (Some(problem), false) = (&self.other_party, self.detached) {
            return Err(TurnError::OtherParty(problem.clone()));
        }
        let state = self.state();
        let mut verbs: Vec<Verb> = self.verbs.into_iter().map(|(_, v)| v).collect();
        match closing {
            Some(mut c) => verbs.append(&mut c),
            None => {
                if !matches!(verbs.last(), Some(Verb::Hangup)) {
                    verbs.push(Verb::Hangup);
                }
            }
        }
        // A call the flow hangs up before answering or saying anything is rejected: the
        // caller hears it refused, and Twilio does not answer (or bill) it.
        let answered = self
            .log
            .iter()
            .any(|o| matches!(o.command, Command::Answer { .. }));
        if self.first && !answered && verbs == [Verb::Hangup] {
            verbs = vec![Verb::Reject];
        }
        Ok(Step::Answer(Box::new(Turn {
            twiml: twiml::voice_response(&verbs),
            state,
            log: self.log,
            sms: self.sms,
        })))
    }

    /// How many of the last verbs the node produced (its prompt).
    fn verbs_after(&self, node: ir::NodeId) -> usize {
        self.verbs
            .iter()
            .rev()
            .take_while(|(n, _)| *n == node)
            .count()
    }

    /// A `<Gather>` for the keys or speech the current statement waits for, with its prompt
    /// nested (or before it, without barge-in), then a `<Redirect>` for no input.
    fn gather(&mut self, links: &mut dyn Links) -> Vec<Verb> {
        let node = self.engine.current();
        let timeout = self
            .timers
            .iter()
            .map(|(at, _)| at.saturating_sub(self.now))
            .min()
            .unwrap_or(5_000);
        let prompt_len = self.verbs_after(node.id);
        let prompt: Vec<Verb> = self
            .verbs
            .split_off(self.verbs.len() - prompt_len)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let url = links.next(&self.state());
        let lang = self.engine.flow().settings.lang.clone();
        let (input, num_digits, finish_on_key, hints, barge_in) = match &node.op {
            Op::Collect {
                max_digits,
                end_key,
                barge_in,
                ..
            } => (
                GatherInput::Dtmf,
                Some(*max_digits),
                end_key.clone().unwrap_or_default(),
                Vec::new(),
                *barge_in,
            ),
            Op::Menu { barge_in, .. } => (
                GatherInput::Dtmf,
                Some(1),
                String::new(),
                Vec::new(),
                *barge_in,
            ),
            Op::Listen {
                phrases, barge_in, ..
            } => (
                GatherInput::Speech,
                None,
                String::new(),
                phrases.iter().flatten().cloned().collect(),
                *barge_in,
            ),
            _ => (GatherInput::Dtmf, None, String::new(), Vec::new(), true),
        };
        let (before, nested) = if barge_in {
            (Vec::new(), prompt)
        } else {
            (prompt, Vec::new())
        };
        let mut verbs = before;
        verbs.push(Verb::Gather {
            input,
            action: url.clone(),
            num_digits,
            finish_on_key,
            timeout_secs: timeout.div_ceil(1000),
            hints,
            language: if input == GatherInput::Speech {
                Some(lang)
            } else {
                None
            },
            prompt: nested,
        });
        verbs.push(Verb::Redirect { url });
        verbs
    }

    fn state(&self) -> CallState {
        CallState {
            call_sid: self.call.sid.clone(),
            called: self.call.called.clone(),
            caller: self.call.caller.clone(),
            snapshot: self.engine.snapshot(),
            now_ms: self.now,
            timers: self.timers.clone(),
            home: self.home,
            on: self.on,
            first_dial: self.first_dial.clone(),
            turn: self.turn,
            step_done: self.step_done,
            held: self.held.clone(),
        }
    }
}

/// Whether a dial's `answered` edge goes straight to bridging `home` with the dialled leg,
/// which one `<Dial>` does by itself (no `<Number url>` step).
pub fn answered_into_bridge(flow: &ir::Flow, dial: &ir::Node, home: LegId) -> bool {
    let Op::Dial { leg, .. } = &dial.op else {
        return false;
    };
    dial.edge(&Outcome::Answered)
        .and_then(|to| flow.nodes.get(to.0 as usize))
        .is_some_and(|n| {
            matches!(n.op, Op::Bridge { a, b, .. } if (a, b) == (home, *leg) || (a, b) == (*leg, home))
        })
}

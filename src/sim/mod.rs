//! A call in virtual time: the engine driven without a phone line, for `ivrc sim` and
//! `ivrc test`.
//!
//! Prompts take no time (each `say`/`play` ends at once), timers fire when virtual time is
//! advanced with [`VirtualCall::wait`], a dial rings until its outcome is given or its timeout
//! passes (then `no_answer`), a fetch waits for its response or its timeout (then `error`),
//! and a recording runs until its end key is pressed (the key is not passed on) or its
//! longest length passes; a hangup of the recorded party drops it. Everything the engine asks for is kept in a log with the
//! virtual time it happened at.

pub mod console;

use crate::engine::{Command, Engine, Event, Output, TimerId};
use crate::ir::{self, LegId, Outcome};
use std::collections::{BTreeMap, VecDeque};

/// The most events handled at one virtual instant before the call is declared stuck.
pub const MAX_EVENTS_AT_ONCE: usize = 100_000;

/// One command the engine issued, at a virtual time.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// Milliseconds since the call started.
    pub at_ms: u64,
    /// The command and its node.
    pub output: Output,
}

/// What a timer in the virtual clock stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// An engine timer.
    Engine(TimerId),
    /// A dial's ring time ran out.
    DialTimeout(LegId),
    /// A fetch's time limit ran out.
    FetchTimeout,
    /// A recording reached its longest length.
    RecordLimit,
}

/// The recording in progress: the recorded leg and the key that ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recording {
    leg: LegId,
    end_key: Option<char>,
}

/// A call run by the engine in virtual time.
pub struct VirtualCall<'f> {
    engine: Engine<'f>,
    now: u64,
    seq: u64,
    due: BTreeMap<(u64, u64), Due>,
    events: VecDeque<Event>,
    dialing: Vec<LegId>,
    fetching: bool,
    recordings: u32,
    recording: Option<Recording>,
    stuck: bool,
    /// Every command so far.
    pub log: Vec<Logged>,
}

impl<'f> VirtualCall<'f> {
    /// A call of `flow`, not started yet.
    pub fn new(flow: &'f ir::Flow) -> VirtualCall<'f> {
        VirtualCall {
            engine: Engine::new(flow),
            now: 0,
            seq: 0,
            due: BTreeMap::new(),
            events: VecDeque::new(),
            dialing: Vec::new(),
            fetching: false,
            recordings: 0,
            recording: None,
            stuck: false,
            log: Vec::new(),
        }
    }

    /// The flow.
    pub fn flow(&self) -> &'f ir::Flow {
        self.engine.flow()
    }

    /// Virtual milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    /// Whether the flow has ended (or was stopped as stuck).
    pub fn ended(&self) -> bool {
        self.stuck || self.engine.ended()
    }

    /// Whether a dial of `leg` is ringing.
    pub fn is_dialing(&self, leg: LegId) -> bool {
        self.dialing.contains(&leg)
    }

    /// Whether a fetch is waiting for its response.
    pub fn is_fetching(&self) -> bool {
        self.fetching
    }

    /// The leg with this name.
    pub fn leg(&self, name: &str) -> Option<LegId> {
        self.flow()
            .legs
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.id)
    }

    /// The leg input goes to when none is named: the caller while connected, else the last
    /// connected dialled leg.
    pub fn default_leg(&self) -> LegId {
        if self.engine.connected(LegId::CALLER) {
            return LegId::CALLER;
        }
        self.flow()
            .legs
            .iter()
            .rev()
            .map(|l| l.id)
            .find(|id| self.engine.connected(*id))
            .unwrap_or(LegId::CALLER)
    }

    /// Starts a call from `caller`, with parameter values. A flow that never acts on its
    /// caller leg places its own calls (a campaign without `dial`), so it starts without one.
    pub fn start_call(&mut self, caller: Option<String>, params: Vec<(String, String)>) {
        let has_caller = self.flow().uses_caller();
        self.feed(Event::Start {
            has_caller,
            caller,
            called: Some("+70000000000".into()),
            call_id: "sim-1".into(),
            params,
        });
    }

    /// Starts the flow's `on sms` handler with an inbound message.
    pub fn start_sms(&mut self, from: String, text: String, params: Vec<(String, String)>) {
        self.feed(Event::StartSms { from, text, params });
    }

    /// Keys pressed on a leg, one event per key; the end key of a recording of that leg
    /// ends the recording instead.
    pub fn press(&mut self, leg: LegId, keys: &str) {
        for key in keys.chars() {
            let ends_recording = self
                .recording
                .as_ref()
                .is_some_and(|r| r.leg == leg && r.end_key == Some(key));
            if ends_recording {
                self.finish_recording();
            } else {
                self.feed(Event::Key { leg, key });
            }
        }
    }

    /// Ends the recording in progress and hands its address to the engine.
    fn finish_recording(&mut self) {
        let Some(r) = self.recording.take() else {
            return;
        };
        self.due.retain(|_, d| *d != Due::RecordLimit);
        self.recordings += 1;
        let url = format!("recording-{}.wav", self.recordings);
        self.feed(Event::RecordDone { leg: r.leg, url });
    }

    /// Speech heard on a leg.
    pub fn speak(&mut self, leg: LegId, text: &str) {
        self.feed(Event::Speech {
            leg,
            text: text.to_string(),
            confidence: 1.0,
        });
    }

    /// A party hangs up.
    pub fn hangup(&mut self, leg: LegId) {
        self.dialing.retain(|l| *l != leg);
        if self.recording.as_ref().is_some_and(|r| r.leg == leg) {
            self.recording = None;
            self.due.retain(|_, d| *d != Due::RecordLimit);
        }
        self.feed(Event::Hangup { leg });
    }

    /// A ringing dial ends with `outcome`. Returns false when no dial of `leg` is ringing.
    pub fn dial_result(&mut self, leg: LegId, outcome: Outcome) -> bool {
        if !self.dialing.contains(&leg) {
            return false;
        }
        self.dialing.retain(|l| *l != leg);
        self.due.retain(|_, d| *d != Due::DialTimeout(leg));
        self.feed(Event::DialResult { leg, outcome });
        true
    }

    /// The pending fetch answers. Returns false when none is pending.
    pub fn respond(&mut self, result: Result<serde_json::Value, String>) -> bool {
        if !self.fetching {
            return false;
        }
        self.fetching = false;
        self.due.retain(|_, d| *d != Due::FetchTimeout);
        self.feed(Event::FetchDone { result });
        true
    }

    /// Lets `ms` of virtual time pass, firing what falls due.
    pub fn wait(&mut self, ms: u64) {
        let target = self.now.saturating_add(ms);
        while let Some((&(at, seq), &due)) = self.due.iter().next() {
            if at > target || self.ended() {
                break;
            }
            self.due.remove(&(at, seq));
            self.now = at;
            match due {
                Due::Engine(id) => self.feed(Event::Timer { id }),
                Due::DialTimeout(leg) => {
                    self.dialing.retain(|l| *l != leg);
                    self.feed(Event::DialResult {
                        leg,
                        outcome: Outcome::NoAnswer,
                    });
                }
                Due::FetchTimeout => {
                    self.fetching = false;
                    self.feed(Event::FetchDone {
                        result: Err("timed out".into()),
                    });
                }
                Due::RecordLimit => self.finish_recording(),
            }
        }
        self.now = target;
    }

    fn schedule(&mut self, ms: u64, due: Due) {
        self.seq += 1;
        self.due
            .insert((self.now.saturating_add(ms), self.seq), due);
    }

    /// Gives an event to the engine and carries out what it asks, until nothing is left.
    /// Prompts take no virtual time, so a loop of prompts alone would never let time pass:
    /// after [`MAX_EVENTS_AT_ONCE`] events at one instant the call is stopped with an error.
    fn feed(&mut self, event: Event) {
        self.events.push_back(event);
        let mut handled = 0;
        while let Some(e) = self.events.pop_front() {
            handled += 1;
            if handled > MAX_EVENTS_AT_ONCE {
                self.events.clear();
                self.stuck = true;
                let node = self.log.last().map_or(self.flow().entry, |l| l.output.node);
                let reason = format!("{MAX_EVENTS_AT_ONCE} events without virtual time passing (a loop of prompts only?)");
                self.log.push(Logged {
                    at_ms: self.now,
                    output: Output {
                        node,
                        command: Command::Error { reason },
                    },
                });
                self.log.push(Logged {
                    at_ms: self.now,
                    output: Output {
                        node,
                        command: Command::End,
                    },
                });
                self.due.clear();
                return;
            }
            for output in self.engine.handle(e) {
                self.carry_out(&output);
                self.log.push(Logged {
                    at_ms: self.now,
                    output,
                });
            }
        }
    }

    fn carry_out(&mut self, output: &Output) {
        match &output.command {
            Command::Say { leg, .. } | Command::Play { leg, .. } => {
                self.events.push_back(Event::PromptDone { leg: *leg })
            }
            Command::StartTimer { id, ms } => self.schedule(*ms, Due::Engine(*id)),
            Command::CancelTimer { id } => self.due.retain(|_, d| *d != Due::Engine(*id)),
            Command::Dial {
                leg, timeout_ms, ..
            } => {
                self.dialing.push(*leg);
                self.schedule(*timeout_ms, Due::DialTimeout(*leg));
            }
            Command::Fetch { timeout_ms, .. } => {
                self.fetching = true;
                self.schedule(*timeout_ms, Due::FetchTimeout);
            }
            Command::Record {
                leg,
                max_ms,
                end_key,
            } => {
                self.recording = Some(Recording {
                    leg: *leg,
                    end_key: end_key.as_ref().and_then(|k| k.chars().next()),
                });
                self.schedule(*max_ms, Due::RecordLimit);
            }
            Command::End => {
                self.recording = None;
                self.due.clear();
                self.dialing.clear();
                self.fetching = false;
            }
            _ => {}
        }
    }

    /// A one-line description of a command as a person would say it, or `None` for the
    /// engine's bookkeeping (timers, prompt control, recognition): [`crate::engine::describe`].
    pub fn describe(&self, command: &Command) -> Option<String> {
        crate::engine::describe(self.flow(), command)
    }
}

//! The engine: the single definition of how a flow behaves.
//!
//! A pure, deterministic interpreter of an [`ir::Flow`]: it takes [`Event`]s (call started,
//! prompt finished, key pressed, phrase heard, timer fired, dial outcome, hangup, fetch
//! result, …) and returns [`Output`]s — commands for whoever drives it (say, play, start a
//! timer, dial, bridge, fetch, report, hang up, …). It does no I/O and has no clock: time
//! passes only through the timers it asks for. The SIP runtime, the webhook server, the
//! simulator and the test runner are all drivers of this engine.

mod input;
mod protocol;
mod state;
pub mod value;

use crate::ir::{self, LegId, NodeId, Op, Outcome, VarId};
pub use protocol::{describe, Audio, Command, Event, Output, TimerId};
pub use state::{Awaiting, Snapshot, SnapshotMismatch};
use state::{Handler, LegStatus, Wait};
pub use value::{EvalError, Value};

/// The most nodes run for one event without waiting; more is a runtime error (a loop that
/// never waits, e.g. `repeat within 1m` over statements that take no time).
const MAX_STEPS_PER_EVENT: u32 = 100_000;

/// One run of a flow.
pub struct Engine<'f> {
    flow: &'f ir::Flow,
    /// The state of the call; everything but the flow and the pending output.
    state: Snapshot,
    out: Vec<Output>,
}

impl<'f> Engine<'f> {
    /// A fresh run of `flow`, waiting for `Start` or `StartSms`.
    pub fn new(flow: &'f ir::Flow) -> Engine<'f> {
        Engine {
            flow,
            state: Snapshot {
                flow: flow.name.clone(),
                ir_version: ir::IR_VERSION,
                vars: vec![None; flow.vars.len()],
                leg_status: vec![LegStatus::Idle; flow.legs.len()],
                leg_numbers: vec![None; flow.legs.len()],
                loop_counts: vec![0; flow.loops.len()],
                loop_expired: vec![None; flow.loops.len()],
                called: None,
                call_id: String::new(),
                sms: None,
                node: flow.entry,
                wait: Wait::Nothing,
                handler: None,
                next_timer: 0,
            },
            out: Vec::new(),
        }
    }

    /// The state of the call, to resume it later with [`Engine::resume`].
    pub fn snapshot(&self) -> Snapshot {
        self.state.clone()
    }

    /// An engine that continues the call a snapshot was taken of.
    pub fn resume(flow: &'f ir::Flow, s: Snapshot) -> Result<Engine<'f>, SnapshotMismatch> {
        let fits = s.flow == flow.name
            && s.ir_version == ir::IR_VERSION
            && s.vars.len() == flow.vars.len()
            && s.leg_status.len() == flow.legs.len()
            && s.leg_numbers.len() == flow.legs.len()
            && s.loop_counts.len() == flow.loops.len()
            && s.loop_expired.len() == flow.loops.len()
            && (s.node.0 as usize) < flow.nodes.len();
        if !fits {
            return Err(SnapshotMismatch {
                snapshot: s.flow,
                snapshot_ir: s.ir_version,
                flow: flow.name.clone(),
                flow_ir: ir::IR_VERSION,
            });
        }
        Ok(Engine {
            flow,
            state: s,
            out: Vec::new(),
        })
    }

    /// The flow being run.
    pub fn flow(&self) -> &'f ir::Flow {
        self.flow
    }

    /// The call a flow without a caller places first, for these parameter values: the
    /// `Command::Dial` it starts with, when it dials before waiting for anything else.
    pub fn first_dial(flow: &ir::Flow, params: Vec<(String, String)>) -> Option<Command> {
        let mut engine = Engine::new(flow);
        let out = engine.handle(Event::Start {
            has_caller: false,
            caller: None,
            called: None,
            call_id: String::new(),
            params,
        });
        matches!(engine.awaiting(), Awaiting::Dial(_))
            .then(|| out.into_iter().map(|o| o.command))
            .and_then(|mut c| c.find(|c| matches!(c, Command::Dial { .. })))
    }

    /// Whether the flow has ended.
    pub fn ended(&self) -> bool {
        self.state.wait == Wait::Ended
    }

    /// What the call waits for now.
    pub fn awaiting(&self) -> Awaiting {
        let leg = match &self.node(self.state.node).op {
            Op::Collect { leg, .. } | Op::Menu { leg, .. } | Op::Listen { leg, .. } => *leg,
            _ => LegId::CALLER,
        };
        match &self.state.wait {
            Wait::Nothing => Awaiting::Nothing,
            Wait::Prompt { leg } => Awaiting::Prompt(*leg),
            Wait::Pause { .. } => Awaiting::Time,
            Wait::Collect(_) | Wait::Menu(_) => Awaiting::Keys(leg),
            Wait::Listen(_) => Awaiting::Speech(leg),
            Wait::Dial { leg } => Awaiting::Dial(*leg),
            Wait::Bridge { a, b, .. } => Awaiting::Bridge(*a, *b),
            Wait::Fetch => Awaiting::Fetch,
            Wait::Record { leg } => Awaiting::Record(*leg),
            Wait::Ended => Awaiting::Ended,
        }
    }

    /// The statement the call is at (the one it waits in, while it waits).
    pub fn current(&self) -> &'f ir::Node {
        self.node(self.state.node)
    }

    /// Every variable that has a value, by name, in declaration order (for call records).
    pub fn variables(&self) -> impl Iterator<Item = (&'f str, &Value)> + '_ {
        let flow = self.flow;
        self.state
            .vars
            .iter()
            .zip(&flow.vars)
            .filter_map(|(value, var)| value.as_ref().map(|v| (var.name.as_str(), v)))
    }

    /// Whether a leg is connected now.
    pub fn connected(&self, leg: LegId) -> bool {
        self.state.leg_status.get(leg.0 as usize) == Some(&LegStatus::Connected)
    }

    /// Handles one event and returns the commands it causes.
    pub fn handle(&mut self, event: Event) -> Vec<Output> {
        self.out.clear();
        if self.state.wait == Wait::Ended {
            return Vec::new();
        }
        match event {
            Event::Start {
                has_caller,
                caller,
                called,
                call_id,
                params,
            } => {
                self.state.leg_numbers[0] = caller;
                if has_caller {
                    self.state.leg_status[0] = LegStatus::Connected;
                }
                self.state.called = called;
                self.state.call_id = call_id;
                if self.bind_params(&params) {
                    self.run(self.flow.entry);
                }
            }
            Event::StartSms { from, text, params } => {
                self.state.sms = Some((from, text));
                self.state.handler = Some(Handler::Sms);
                match self.flow.handlers.sms {
                    Some(entry) => {
                        if self.bind_params(&params) {
                            self.run(entry);
                        }
                    }
                    None => self.end(),
                }
            }
            Event::Hangup { leg } => self.on_hangup(leg),
            other => self.on_input(other),
        }
        std::mem::take(&mut self.out)
    }

    fn bind_params(&mut self, params: &[(String, String)]) -> bool {
        for id in &self.flow.params {
            let var = &self.flow.vars[id.0 as usize];
            let Some((_, text)) = params.iter().find(|(n, _)| *n == var.name) else {
                self.error(format!("no value for parameter `{}`", var.name));
                return false;
            };
            match Value::parse_as(text, var.ty) {
                Ok(v) => self.state.vars[id.0 as usize] = Some(v),
                Err(e) => {
                    self.error(format!("parameter `{}`: {e}", var.name));
                    return false;
                }
            }
        }
        true
    }

    fn emit(&mut self, command: Command) {
        self.out.push(Output {
            node: self.state.node,
            command,
        });
    }

    fn timer(&mut self, ms: u64) -> TimerId {
        self.state.next_timer += 1;
        let id = TimerId(self.state.next_timer);
        self.emit(Command::StartTimer { id, ms });
        id
    }

    fn node(&self, id: NodeId) -> &'f ir::Node {
        &self.flow.nodes[id.0 as usize]
    }

    /// Follows the edge of the current node for `outcome`, or raises when there is none.
    fn follow(&mut self, outcome: &Outcome) {
        match self.node(self.state.node).edge(outcome) {
            Some(next) => self.run(next),
            None => self.raise(format!("no edge for `{}`", String::from(outcome.clone()))),
        }
    }

    fn end(&mut self) {
        self.state.wait = Wait::Ended;
        self.emit(Command::End);
    }

    fn error(&mut self, reason: String) {
        self.emit(Command::Error { reason });
        self.end();
    }

    /// A failure without an arm or a runtime error: the `on error` handler, else the end.
    fn raise(&mut self, reason: String) {
        self.emit(Command::Error { reason });
        match (self.flow.handlers.error, self.state.handler) {
            (Some(entry), None | Some(Handler::Hangup) | Some(Handler::Sms)) => {
                self.state.handler = Some(Handler::Error);
                self.run(entry);
            }
            _ => self.end(),
        }
    }

    /// Stops whatever the current node waits for (prompts, recognition, timers).
    fn cancel_wait(&mut self) {
        match std::mem::replace(&mut self.state.wait, Wait::Nothing) {
            Wait::Prompt { leg } => self.emit(Command::StopPrompt { leg }),
            Wait::Pause { timer } => self.emit(Command::CancelTimer { id: timer }),
            Wait::Collect(c) => c.cancel(&mut self.out, self.state.node),
            Wait::Menu(m) => m.cancel(&mut self.out, self.state.node),
            Wait::Listen(l) => l.cancel(&mut self.out, self.state.node),
            Wait::Ended => self.state.wait = Wait::Ended,
            _ => {}
        }
    }

    fn on_hangup(&mut self, leg: LegId) {
        let Some(status) = self.state.leg_status.get(leg.0 as usize).copied() else {
            return;
        };
        if matches!(status, LegStatus::Gone | LegStatus::Idle) {
            return;
        }
        self.state.leg_status[leg.0 as usize] = LegStatus::Gone;
        match self.state.wait.clone() {
            Wait::Bridge { a, b, timer } if leg == a || leg == b => {
                // The normal end of a bridge: the other party stays for what follows.
                self.state.wait = Wait::Nothing;
                self.emit(Command::CancelTimer { id: timer });
                self.follow(&Outcome::Next);
            }
            Wait::Dial { leg: dialing } if leg == dialing => {
                self.state.wait = Wait::Nothing;
                self.follow(&Outcome::Failed);
            }
            _ => {
                self.cancel_wait();
                match (self.flow.handlers.hangup, self.state.handler) {
                    (Some(entry), None) => {
                        self.state.handler = Some(Handler::Hangup);
                        self.run(entry);
                    }
                    _ => self.end(),
                }
            }
        }
    }

    fn on_input(&mut self, event: Event) {
        // A loop's deadline may fire while any statement waits; it only marks the loop.
        if let Event::Timer { id } = &event {
            if let Some(slot) = self
                .state
                .loop_expired
                .iter_mut()
                .find(|slot| **slot == Some(*id))
            {
                *slot = Some(TimerId(0));
                return;
            }
        }
        match (self.state.wait.clone(), event) {
            (Wait::Prompt { leg }, Event::PromptDone { leg: l }) if leg == l => {
                self.state.wait = Wait::Nothing;
                self.follow(&Outcome::Next);
            }
            (Wait::Bridge { a, b, timer }, Event::Timer { id }) if timer == id => {
                // The bridge's time limit: both parties are hung up and the flow goes on.
                self.state.wait = Wait::Nothing;
                for leg in [a, b] {
                    self.emit(Command::Hangup { leg: Some(leg) });
                    self.state.leg_status[leg.0 as usize] = LegStatus::Gone;
                }
                self.follow(&Outcome::Next);
            }
            (Wait::Pause { timer }, Event::Timer { id }) if timer == id => {
                self.state.wait = Wait::Nothing;
                self.follow(&Outcome::Next);
            }
            (Wait::Collect(c), e) => self.collect_event(c, e),
            (Wait::Menu(m), e) => self.menu_event(m, e),
            (Wait::Listen(l), e) => self.listen_event(l, e),
            (Wait::Dial { leg }, Event::DialResult { leg: l, outcome }) if leg == l => {
                if matches!(outcome, Outcome::Answered | Outcome::Machine) {
                    self.state.leg_status[leg.0 as usize] = LegStatus::Connected;
                } else {
                    self.state.leg_status[leg.0 as usize] = LegStatus::Gone;
                }
                self.state.wait = Wait::Nothing;
                self.follow(&outcome);
            }
            (Wait::Fetch, Event::FetchDone { result }) => {
                self.state.wait = Wait::Nothing;
                match result {
                    Ok(json) => {
                        if let Op::Fetch { var, .. } = &self.node(self.state.node).op {
                            self.state.vars[var.0 as usize] = Some(Value::Json(json));
                        }
                        self.follow(&Outcome::Ok);
                    }
                    Err(reason) => {
                        self.emit(Command::Error {
                            reason: format!("fetch failed: {reason}"),
                        });
                        self.follow(&Outcome::Error);
                    }
                }
            }
            (Wait::Record { leg }, Event::RecordDone { leg: l, url }) if leg == l => {
                if let Op::Record { var, .. } = &self.node(self.state.node).op {
                    self.state.vars[var.0 as usize] = Some(Value::Text(url));
                }
                self.state.wait = Wait::Nothing;
                self.follow(&Outcome::Next);
            }
            // Anything else is stale (a cancelled timer) or early (input nobody waits for).
            _ => {}
        }
    }

    /// Runs nodes from `start` until one waits or the flow ends.
    fn run(&mut self, start: NodeId) {
        let mut id = start;
        for _ in 0..MAX_STEPS_PER_EVENT {
            self.state.node = id;
            let node = self.node(id);
            let next = |o: &Outcome| node.edge(o);
            match &node.op {
                Op::Answer { leg } => self.emit(Command::Answer { leg: *leg }),
                Op::Say { leg, text } => {
                    let Some(text) = self.render(text) else {
                        return;
                    };
                    self.say(*leg, text);
                    self.state.wait = Wait::Prompt { leg: *leg };
                    return;
                }
                Op::Play { leg, audio } => {
                    let Some(audio) = self.audio(audio) else {
                        return;
                    };
                    self.emit(Command::Play { leg: *leg, audio });
                    self.state.wait = Wait::Prompt { leg: *leg };
                    return;
                }
                Op::Pause { ms } => {
                    let timer = self.timer(*ms);
                    self.state.wait = Wait::Pause { timer };
                    return;
                }
                Op::Collect { .. } => {
                    self.start_collect();
                    return;
                }
                Op::Menu { .. } => {
                    self.start_menu();
                    return;
                }
                Op::Listen { .. } => {
                    self.start_listen();
                    return;
                }
                Op::Dial {
                    leg,
                    target,
                    timeout_ms,
                    caller_id,
                    detect_machine,
                } => {
                    let Some(number) = self.phone(target) else {
                        return;
                    };
                    let caller_id = match caller_id {
                        Some(e) => match self.phone(e) {
                            Some(n) => Some(n),
                            None => return,
                        },
                        None => None,
                    };
                    self.state.leg_status[leg.0 as usize] = LegStatus::Dialing;
                    self.state.leg_numbers[leg.0 as usize] = Some(number.clone());
                    self.emit(Command::Dial {
                        leg: *leg,
                        number,
                        caller_id,
                        timeout_ms: *timeout_ms,
                        detect_machine: *detect_machine,
                    });
                    self.state.wait = Wait::Dial { leg: *leg };
                    return;
                }
                Op::Bridge {
                    a,
                    b,
                    max_length_ms,
                } => {
                    if !(self.connected(*a) && self.connected(*b)) {
                        self.raise("bridge of a leg that is not connected".into());
                        return;
                    }
                    self.emit(Command::Bridge { a: *a, b: *b });
                    let timer = self.timer(*max_length_ms);
                    self.state.wait = Wait::Bridge {
                        a: *a,
                        b: *b,
                        timer,
                    };
                    return;
                }
                Op::Transfer { leg, target } => {
                    let Some(number) = self.phone(target) else {
                        return;
                    };
                    self.emit(Command::Transfer { leg: *leg, number });
                    self.state.leg_status[leg.0 as usize] = LegStatus::Gone;
                    if node.edges.is_empty() {
                        self.end();
                        return;
                    }
                }
                Op::Record {
                    leg,
                    max_length_ms,
                    end_key,
                    ..
                } => {
                    self.emit(Command::Record {
                        leg: *leg,
                        max_ms: *max_length_ms,
                        end_key: end_key.clone(),
                    });
                    self.state.wait = Wait::Record { leg: *leg };
                    return;
                }
                Op::Sms { to, text } => {
                    let Some(to) = self.phone(to) else { return };
                    let Some(text) = self.render(text) else {
                        return;
                    };
                    self.emit(Command::Sms { to, text });
                }
                Op::Fetch {
                    method,
                    url,
                    params,
                    headers,
                    timeout_ms,
                    ..
                } => {
                    let url = match value::render_url(url, &*self) {
                        Ok(u) => u,
                        Err(err) => return self.raise(err.0),
                    };
                    let mut p = Vec::new();
                    for (k, e) in params {
                        let Some(v) = self.value(e) else { return };
                        p.push((k.clone(), v.as_json()));
                    }
                    let mut h = Vec::new();
                    for (k, t) in headers {
                        let Some(v) = self.render(t) else { return };
                        h.push((k.clone(), v));
                    }
                    self.emit(Command::Fetch {
                        method: *method,
                        url,
                        params: p,
                        headers: h,
                        timeout_ms: *timeout_ms,
                    });
                    self.state.wait = Wait::Fetch;
                    return;
                }
                Op::Assign { var, value } => {
                    let Some(v) = self.value(value) else { return };
                    self.state.vars[var.0 as usize] = Some(v);
                }
                Op::Branch { cond } => {
                    let Some(v) = self.value(cond) else { return };
                    let outcome = if v.truthy() {
                        Outcome::True
                    } else {
                        Outcome::False
                    };
                    match next(&outcome) {
                        Some(n) => {
                            id = n;
                            continue;
                        }
                        None => return self.raise("branch without a target".into()),
                    }
                }
                Op::LoopStart { id: l } => {
                    let i = l.0 as usize;
                    self.state.loop_counts[i] = 0;
                    if let Some(old) = self.state.loop_expired[i].take() {
                        self.emit(Command::CancelTimer { id: old });
                    }
                    if let Some(ms) = self.flow.loops[i].within_ms {
                        let t = self.timer(ms);
                        self.state.loop_expired[i] = Some(t);
                    }
                }
                Op::LoopCheck { id: l } => {
                    let i = l.0 as usize;
                    let spec = &self.flow.loops[i];
                    let expired = self.state.loop_expired[i] == Some(TimerId(0));
                    let within_count = spec.max_count.is_none_or(|m| self.state.loop_counts[i] < m);
                    let outcome = if within_count && !expired {
                        self.state.loop_counts[i] += 1;
                        Outcome::Body
                    } else {
                        Outcome::Done
                    };
                    match next(&outcome) {
                        Some(n) => {
                            id = n;
                            continue;
                        }
                        None => return self.raise("loop without a target".into()),
                    }
                }
                Op::Label { .. } => {}
                Op::Report { ok, data, reason } => {
                    let mut d = Vec::new();
                    for (k, e) in data {
                        let Some(v) = self.value(e) else { return };
                        d.push((k.clone(), v.as_json()));
                    }
                    let reason = match reason {
                        Some(t) => match self.render(t) {
                            Some(r) => Some(r),
                            None => return,
                        },
                        None => None,
                    };
                    self.emit(Command::Report {
                        ok: *ok,
                        data: d,
                        reason,
                    });
                    self.end();
                    return;
                }
                Op::Block { leg } => match self.state.leg_numbers[leg.0 as usize].clone() {
                    Some(number) => self.emit(Command::Block { number }),
                    None => return self.raise("the number to block is not known".into()),
                },
                Op::Hangup { leg } => {
                    self.emit(Command::Hangup { leg: *leg });
                    match leg {
                        None => {
                            self.end();
                            return;
                        }
                        Some(l) => {
                            self.state.leg_status[l.0 as usize] = LegStatus::Gone;
                            if node.edges.is_empty() {
                                self.end();
                                return;
                            }
                        }
                    }
                }
                Op::Raise { reason } => return self.raise(reason.clone()),
                Op::End => return self.end(),
            }
            match next(&Outcome::Next) {
                Some(n) => id = n,
                None => return self.raise("statement without a next step".into()),
            }
        }
        self.raise(format!(
            "the flow ran {MAX_STEPS_PER_EVENT} steps without waiting for anything"
        ));
    }

    fn say(&mut self, leg: LegId, text: String) {
        let s = &self.flow.settings;
        let (lang, voice) = (s.lang.clone(), s.voice.clone());
        self.emit(Command::Say {
            leg,
            text,
            lang,
            voice,
        });
    }

    fn audio(&mut self, audio: &ir::Audio) -> Option<Audio> {
        Some(match audio {
            ir::Audio::File { path } => Audio::File(self.render(path)?),
            ir::Audio::Url { url } => Audio::Url(self.render(url)?),
            ir::Audio::Record { id } => Audio::Record(*id),
        })
    }

    /// Evaluates, raising on error.
    fn value(&mut self, e: &ir::Expr) -> Option<Value> {
        match value::eval(e, &*self) {
            Ok(v) => Some(v),
            Err(err) => {
                self.raise(err.0);
                None
            }
        }
    }

    fn render(&mut self, t: &ir::Template) -> Option<String> {
        match value::render(t, &*self) {
            Ok(s) => Some(s),
            Err(err) => {
                self.raise(err.0);
                None
            }
        }
    }

    fn phone(&mut self, e: &ir::Expr) -> Option<String> {
        match self.value(e)? {
            Value::Phone(p) => Some(p),
            other => match other
                .render()
                .and_then(|t| Value::parse_as(&t, ir::Type::Phone))
            {
                Ok(Value::Phone(p)) => Some(p),
                Ok(_) => None,
                Err(e) => {
                    self.raise(e.0);
                    None
                }
            },
        }
    }
}

impl value::Scope for Engine<'_> {
    fn var(&self, id: VarId) -> Option<&Value> {
        self.state.vars.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn leg_number(&self, leg: LegId) -> Option<&str> {
        self.state
            .leg_numbers
            .get(leg.0 as usize)
            .and_then(|n| n.as_deref())
    }

    fn builtin(&self, name: ir::Builtin) -> Option<Value> {
        match name {
            ir::Builtin::CalledNumber => self.state.called.clone().map(Value::Phone),
            ir::Builtin::CallId => Some(Value::Text(self.state.call_id.clone())),
            ir::Builtin::SmsText => self.state.sms.as_ref().map(|(_, t)| Value::Text(t.clone())),
            ir::Builtin::SmsFrom => self
                .state
                .sms
                .as_ref()
                .map(|(f, _)| Value::Phone(f.clone())),
        }
    }
}

//! The call record, built in one place: the call feeds the recorder every event it hands the
//! engine and every output the engine gives back, and tells it what happened to the legs; at
//! the end the recorder gives the [`CallRecord`] the server stores.

use crate::engine::{Audio, Command, Event, Output};
use crate::ir::{self, LegId, Outcome};
use crate::runtime::now_ms;
use crate::store::calls::TransferRecord;
use crate::store::{CallRecord, LegRecord, MediaQuality};
use std::collections::BTreeMap;

/// Builds one call's record as the call runs.
pub(super) struct Recorder {
    record: CallRecord,
    /// Records of the dialled legs, by leg id.
    legs: BTreeMap<u32, LegRecord>,
}

impl Recorder {
    /// A record for a call that starts now.
    pub(super) fn new(
        call_id: &str,
        flow: &str,
        caller: &str,
        called: &str,
        started_ms: u64,
    ) -> Self {
        Recorder {
            record: CallRecord {
                call_id: call_id.into(),
                flow: flow.into(),
                caller: caller.into(),
                called: called.into(),
                started_ms,
                ..CallRecord::default()
            },
            legs: BTreeMap::new(),
        }
    }

    /// An event handed to the engine: keys and phrases are kept.
    pub(super) fn event(&mut self, event: &Event) {
        match event {
            Event::Key { key, .. } => self.record.keys.push(*key),
            Event::Speech { text, .. } => self.record.phrases.push(text.clone()),
            _ => {}
        }
    }

    /// What the engine asked for: the statement's line, and what the flow said, played, sent,
    /// reported or failed at.
    pub(super) fn output(&mut self, flow: &ir::Flow, output: &Output) {
        let line = flow
            .nodes
            .get(output.node.0 as usize)
            .map_or(0, |n| n.span.line);
        if self.record.path.last() != Some(&line) {
            self.record.path.push(line);
        }
        if !matches!(output.command, Command::Error { .. }) {
            if let Some(said) = crate::engine::describe(flow, &output.command) {
                self.record.commands.push(said);
            }
        }
        match &output.command {
            Command::Say { text, .. } => self.record.prompts.push(text.clone()),
            Command::Play {
                audio: Audio::File(path),
                ..
            } => self.record.prompts.push(format!("play {path}")),
            Command::Sms { to, text } => self.record.texts.push(format!("to {to}: {text}")),
            Command::Report { ok, data, reason } => {
                let data: serde_json::Map<String, serde_json::Value> =
                    data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                self.record.report =
                    Some(serde_json::json!({ "ok": ok, "reason": reason, "data": data }));
            }
            Command::Error { reason } => self.record.errors.push(reason.clone()),
            _ => {}
        }
    }

    /// A runtime failure: a prompt that could not be rendered, a listen without a recognizer …
    pub(super) fn error(&mut self, error: String) {
        self.record.errors.push(error);
    }

    /// The number of the party on `leg` and the number of ours it talks to (the called
    /// number of a call that came in; none for a placed call), for its entries.
    pub(super) fn party(&self, leg: LegId) -> (String, String) {
        let r = &self.record;
        if leg != LegId::CALLER {
            let number = self.legs.get(&leg.0).map(|l| l.number.clone());
            return (number.unwrap_or_default(), r.caller.clone());
        }
        if r.caller.is_empty() {
            (r.called.clone(), String::new())
        } else {
            (r.caller.clone(), r.called.clone())
        }
    }

    /// The call's first party answered (or was answered).
    pub(super) fn answered(&mut self) {
        self.record.answered_ms = Some(now_ms());
    }

    /// A placed call: the number dialled first is the called number.
    pub(super) fn placed(&mut self, number: &str) {
        number.clone_into(&mut self.record.called);
    }

    /// Who ended the call, unless someone already did.
    pub(super) fn ended_by(&mut self, by: &str) {
        if self.record.ended_by.is_empty() {
            self.record.ended_by = by.into();
        }
    }

    /// Who ended the call, whoever was said before (a transfer, a shutdown, an unreached party).
    pub(super) fn ended_by_now(&mut self, by: &str) {
        self.record.ended_by = by.into();
    }

    /// A leg is being dialled.
    pub(super) fn leg_dialed(&mut self, leg: LegId, name: String, number: String, sip_id: String) {
        self.legs.insert(
            leg.0,
            LegRecord {
                leg: name,
                number,
                sip_id,
                started_ms: now_ms(),
                ..LegRecord::default()
            },
        );
    }

    /// A dialled leg's dial is decided.
    pub(super) fn leg_result(&mut self, leg: LegId, outcome: &Outcome, detail: &str) {
        if let Some(r) = self.legs.get_mut(&leg.0) {
            r.outcome = String::from(outcome.clone());
            r.detail = detail.to_string();
            if *outcome == Outcome::Answered {
                r.answered_ms = Some(now_ms());
            } else {
                r.ended_ms = Some(now_ms());
            }
        }
    }

    /// The flow gave up on a leg before it answered.
    pub(super) fn leg_cancelled(&mut self, leg: LegId) {
        if let Some(r) = self.legs.get_mut(&leg.0) {
            r.outcome = "cancelled".into();
            r.ended_ms = Some(now_ms());
        }
    }

    /// A dialled leg ended (the first reason counts).
    pub(super) fn leg_ended(&mut self, leg: LegId, by: &str) {
        if let Some(r) = self.legs.get_mut(&leg.0) {
            if r.ended_by.is_empty() {
                r.ended_by = by.into();
                r.ended_ms = Some(now_ms());
            }
        }
    }

    /// A party is being handed to `number` (`transfer`).
    pub(super) fn transfer_started(&mut self, leg: &str, number: &str) {
        self.record.transfers.push(TransferRecord {
            leg: leg.into(),
            number: number.into(),
            how: "pending".into(),
            detail: String::new(),
        });
    }

    /// A step of the transfer of `leg` (`REFER 501`), and how it ended when it has.
    pub(super) fn transfer_step(&mut self, leg: &str, step: &str, how: Option<&str>) {
        let Some(t) = self
            .record
            .transfers
            .iter_mut()
            .rev()
            .find(|t| t.leg == leg)
        else {
            return;
        };
        if !t.detail.is_empty() {
            t.detail.push_str(", ");
        }
        t.detail.push_str(step);
        if let Some(how) = how {
            t.how = how.into();
        }
    }

    /// A leg's media quality as it stands (the last one given is kept): the caller's goes
    /// in the call's record, a dialled leg's in its own.
    pub(super) fn media(&mut self, leg: LegId, quality: MediaQuality) {
        if leg == LegId::CALLER {
            self.record.media = Some(quality.clone());
        }
        if let Some(r) = self.legs.get_mut(&leg.0) {
            r.media = Some(quality);
        }
    }

    /// The record as it stands while the call goes on (written when the call starts, so that a
    /// crash leaves a trace of it).
    pub(super) fn running(&self) -> CallRecord {
        CallRecord {
            ended_by: crate::store::calls::RUNNING.to_string(),
            ended_ms: self.record.started_ms,
            ..self.record.clone()
        }
    }

    /// The record of the ended call, with the flow's variables as they were at the end.
    pub(super) fn finish(mut self, values: Vec<(String, String)>) -> CallRecord {
        self.ended_by("flow");
        self.record.values = values;
        self.record.legs = self.legs.into_values().collect();
        self.record.ended_ms = now_ms();
        self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_are_what_the_flow_did_in_order_without_bookkeeping_or_errors() {
        let text = "flow f {\n  answer\n  say \"Добрый день.\"\n  transfer +74951234567\n}\n";
        let program = crate::compile("f.ivr", text).program.expect("compiles");
        let flow = &program.flows[0];
        let mut recorder = Recorder::new("id", "f", "+79001234567", "f", 0);
        let caller = LegId::CALLER;
        for command in [
            Command::Answer { leg: caller },
            Command::Say {
                leg: caller,
                text: "Добрый день.".into(),
                lang: "ru-RU".into(),
                voice: "female".into(),
            },
            Command::Error {
                reason: "a failed prompt".into(),
            },
            Command::Transfer {
                leg: caller,
                number: "+74951234567".into(),
            },
            Command::End,
        ] {
            let output = Output {
                node: ir::NodeId(0),
                command,
            };
            recorder.output(flow, &output);
        }
        let record = recorder.finish(Vec::new());
        assert_eq!(
            record.commands,
            [
                "say to caller \"Добрый день.\"",
                "transfer caller to +74951234567",
                "end of the call"
            ]
        );
        assert_eq!(record.errors, ["a failed prompt"]);
    }
}

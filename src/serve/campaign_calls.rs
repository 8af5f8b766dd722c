//! The calls `ivrc serve --campaign` placed through Twilio, by CallSid, until their end is
//! known: the call's webhooks note what its flow reported and whether a machine answered, its
//! status callback brings the final `CallStatus`; the placer that placed the call waits here
//! for the end. Twilio may post before the placer has read the `Calls.json` answer, so either
//! side may come first; ends nobody waits for are forgotten after an hour.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long an end nobody waits for is kept.
const UNCLAIMED: Duration = Duration::from_secs(3600);

/// How a placed call ended, as its webhooks and status callback told.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ended {
    /// The final `CallStatus`: `completed`, `busy`, `no-answer`, `failed`, `canceled`.
    pub status: String,
    /// The flow's `report` (`{"ok", "data", "reason"}`), the last one when several.
    pub report: Option<serde_json::Value>,
    /// `AnsweredBy` said a machine or a fax (`MachineDetection`).
    pub machine: bool,
}

#[derive(Default)]
struct Call {
    /// What came so far.
    ended: Ended,
    /// The final status came.
    over: bool,
    /// The placer waiting for the end.
    waiter: Option<oneshot::Sender<Ended>>,
    /// When this entry was made.
    since: Option<Instant>,
}

/// The campaign's calls under way.
#[derive(Default)]
pub struct CampaignCalls(Mutex<HashMap<String, Call>>);

impl CampaignCalls {
    fn with(&self, sid: &str, f: impl FnOnce(&mut Call)) {
        let mut calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        calls.retain(|_, c| c.waiter.is_some() || c.since.is_none_or(|t| now - t < UNCLAIMED));
        let call = calls.entry(sid.to_string()).or_default();
        call.since.get_or_insert(now);
        f(call);
        if call.over {
            if let Some(w) = call.waiter.take() {
                let _ = w.send(call.ended.clone());
                calls.remove(sid);
            }
        }
    }

    /// The placer waits for the end of `sid`.
    pub fn wait(&self, sid: &str) -> oneshot::Receiver<Ended> {
        let (tx, rx) = oneshot::channel();
        self.with(sid, |c| c.waiter = Some(tx));
        rx
    }

    /// The placer gives up on `sid` (its end will not be used).
    pub fn forget(&self, sid: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(sid);
    }

    /// The flow of `sid` reported.
    pub fn reported(&self, sid: &str, report: serde_json::Value) {
        self.with(sid, |c| c.ended.report = Some(report));
    }

    /// A machine (or a fax) answered `sid`.
    pub fn machine(&self, sid: &str) {
        self.with(sid, |c| c.ended.machine = true);
    }

    /// The final status of `sid` came (`completed`, `busy`, `no-answer`, `failed`, `canceled`).
    pub fn ended(&self, sid: &str, status: &str) {
        self.with(sid, |c| {
            c.ended.status = status.to_string();
            c.over = true;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_reaches_the_placer_whichever_comes_first() {
        let calls = CampaignCalls::default();
        let mut early = calls.wait("CA1");
        calls.reported("CA1", serde_json::json!({"ok": true}));
        assert!(early.try_recv().is_err(), "not over yet");
        calls.ended("CA1", "completed");
        let end = early.try_recv().expect("the end");
        assert_eq!(
            (end.status.as_str(), end.report, end.machine),
            ("completed", Some(serde_json::json!({"ok": true})), false)
        );
        // Twilio's status callback before the placer read the Calls.json answer.
        calls.machine("CA2");
        calls.ended("CA2", "completed");
        let end = calls.wait("CA2").try_recv().expect("at once");
        assert!(end.machine);
        assert!(calls.0.lock().unwrap().is_empty(), "nothing kept");
    }
}

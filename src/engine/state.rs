//! The state of a call as a value ([`Snapshot`]): what the engine knows besides the flow,
//! which a driver may keep between events and resume from exactly; and what a call waits for.

use super::{input, TimerId, Value};
use crate::ir::{LegId, NodeId};

/// Where a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum LegStatus {
    Idle,
    Dialing,
    Connected,
    Gone,
}

/// What the current node waits for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) enum Wait {
    /// Running, or not started.
    Nothing,
    /// A say or play to end.
    Prompt { leg: LegId },
    /// A pause.
    Pause { timer: TimerId },
    /// Keys for `collect`.
    Collect(input::Collect),
    /// A key for `menu`.
    Menu(input::Menu),
    /// A phrase for `listen`.
    Listen(input::Listen),
    /// A dial outcome.
    Dial { leg: LegId },
    /// A hangup of either bridged leg, or the end of the bridge's time limit.
    Bridge { a: LegId, b: LegId, timer: TimerId },
    /// The fetch result.
    Fetch,
    /// The end of a recording.
    Record { leg: LegId },
    /// The flow ended.
    Ended,
}

/// What a call waits for: what a driver must ask its platform for so that the call goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// Not started, or a handler just ran out of statements.
    Nothing,
    /// The end of a prompt on a leg.
    Prompt(LegId),
    /// Only time: a pause.
    Time,
    /// Keys on a leg (`collect`, `menu`).
    Keys(LegId),
    /// Speech on a leg (`listen`).
    Speech(LegId),
    /// The outcome of dialling a leg.
    Dial(LegId),
    /// The end of a bridge of two legs.
    Bridge(LegId, LegId),
    /// The answer to a fetch.
    Fetch,
    /// The end of a recording on a leg.
    Record(LegId),
    /// Nothing more: the flow ended.
    Ended,
}

/// Which handler is running, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum Handler {
    Hangup,
    Error,
    Sms,
}

/// Everything an engine knows about a call, apart from the flow: what a driver keeps between
/// requests when it cannot keep the engine in memory (the webhook server puts it, signed,
/// into the next request's URL). Resuming from it continues exactly where the call was.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The flow it belongs to.
    pub(super) flow: String,
    /// The IR version it was taken with.
    pub(super) ir_version: u32,
    pub(super) vars: Vec<Option<Value>>,
    pub(super) leg_status: Vec<LegStatus>,
    pub(super) leg_numbers: Vec<Option<String>>,
    pub(super) loop_counts: Vec<u32>,
    pub(super) loop_expired: Vec<Option<TimerId>>,
    pub(super) called: Option<String>,
    pub(super) call_id: String,
    pub(super) sms: Option<(String, String)>,
    pub(super) node: NodeId,
    pub(super) wait: Wait,
    pub(super) handler: Option<Handler>,
    pub(super) next_timer: u64,
}

/// Why a snapshot cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the snapshot is of flow `{snapshot}` (IR {snapshot_ir}), not of `{flow}` (IR {flow_ir}) or its shape changed")]
pub struct SnapshotMismatch {
    /// The snapshot's flow.
    pub snapshot: String,
    /// The snapshot's IR version.
    pub snapshot_ir: u32,
    /// The flow given.
    pub flow: String,
    /// This build's IR version.
    pub flow_ir: u32,
}

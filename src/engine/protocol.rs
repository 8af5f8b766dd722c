//! The engine's face: what every driver hands it ([`Event`]) and what it asks of them
//! ([`Command`], in an [`Output`] with the node that issued it).

use crate::ir::{self, LegId, NodeId, Outcome};

/// Identifies a timer the engine asked for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TimerId(pub u64);

/// Something that happened to the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A call starts: inbound (the caller's and called numbers) or placed by a campaign.
    /// Parameters are given as text and converted to the flow's declared types.
    Start {
        /// Whether there is a caller leg: an inbound call, or a campaign call the dialer
        /// placed. A flow that places its own calls starts without one.
        has_caller: bool,
        /// The caller leg's number, when known.
        caller: Option<String>,
        /// The number that was called.
        called: Option<String>,
        /// The platform's call id.
        call_id: String,
        /// Parameter values by name.
        params: Vec<(String, String)>,
    },
    /// An inbound text message starts the flow's `on sms` handler.
    StartSms {
        /// The sender.
        from: String,
        /// The message.
        text: String,
        /// Parameter values by name.
        params: Vec<(String, String)>,
    },
    /// The prompt playing on a leg ended.
    PromptDone {
        /// The leg.
        leg: LegId,
    },
    /// A key was pressed.
    Key {
        /// The leg.
        leg: LegId,
        /// `0`–`9`, `*` or `#`.
        key: char,
    },
    /// Speech was recognized.
    Speech {
        /// The leg.
        leg: LegId,
        /// What was heard.
        text: String,
        /// The recognizer's confidence, 0–1.
        confidence: f32,
    },
    /// A timer fired.
    Timer {
        /// Which.
        id: TimerId,
    },
    /// A dial ended ringing: answered, busy, no_answer, failed or machine.
    DialResult {
        /// The leg.
        leg: LegId,
        /// The outcome (one of the dial outcomes).
        outcome: Outcome,
    },
    /// A party hung up.
    Hangup {
        /// The leg.
        leg: LegId,
    },
    /// The pending fetch finished.
    FetchDone {
        /// The JSON answer, or why it failed.
        result: Result<serde_json::Value, String>,
    },
    /// The recording in progress finished.
    RecordDone {
        /// The leg.
        leg: LegId,
        /// Where the recording is.
        url: String,
    },
}

/// How a prompt's audio is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audio {
    /// A file path, relative to the flow file.
    File(String),
    /// An http(s) URL.
    Url(String),
    /// A platform record id.
    Record(u64),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Answer the leg.
    Answer {
        /// The leg.
        leg: LegId,
    },
    /// Speak text; report `PromptDone` when it ends.
    Say {
        /// The leg.
        leg: LegId,
        /// The text.
        text: String,
        /// The flow's language.
        lang: String,
        /// The flow's voice.
        voice: String,
    },
    /// Play audio; report `PromptDone` when it ends.
    Play {
        /// The leg.
        leg: LegId,
        /// The audio.
        audio: Audio,
    },
    /// Stop the prompt playing on a leg (barge-in); no `PromptDone` follows.
    StopPrompt {
        /// The leg.
        leg: LegId,
    },
    /// Start a timer; report `Timer` when it fires.
    StartTimer {
        /// Its id.
        id: TimerId,
        /// Milliseconds from now.
        ms: u64,
    },
    /// Forget a timer.
    CancelTimer {
        /// Its id.
        id: TimerId,
    },
    /// Start recognizing these phrases on a leg.
    Listen {
        /// The leg.
        leg: LegId,
        /// Every phrase, normalized (hints for the recognizer).
        phrases: Vec<String>,
        /// The flow's language.
        lang: String,
    },
    /// Stop recognizing.
    StopListening {
        /// The leg.
        leg: LegId,
    },
    /// Call a number as a new leg; report `DialResult` (the driver enforces the timeout).
    Dial {
        /// The new leg.
        leg: LegId,
        /// The number.
        number: String,
        /// The number shown.
        caller_id: Option<String>,
        /// Ring time.
        timeout_ms: u64,
        /// Answering-machine detection.
        detect_machine: bool,
    },
    /// Connect two legs' media.
    Bridge {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
    },
    /// Hand a leg over to a number.
    Transfer {
        /// The leg.
        leg: LegId,
        /// The number.
        number: String,
    },
    /// Record a party; report `RecordDone`.
    Record {
        /// The leg.
        leg: LegId,
        /// Longest recording.
        max_ms: u64,
        /// Ends recording.
        end_key: Option<String>,
    },
    /// Send a text message.
    Sms {
        /// The number.
        to: String,
        /// The message.
        text: String,
    },
    /// Make an HTTP request; report `FetchDone` (the driver enforces the timeout).
    Fetch {
        /// GET or POST.
        method: ir::Method,
        /// The URL.
        url: String,
        /// Query or body parameters.
        params: Vec<(String, serde_json::Value)>,
        /// Headers.
        headers: Vec<(String, String)>,
        /// Time limit.
        timeout_ms: u64,
    },
    /// Report the campaign attempt.
    Report {
        /// Done, or retry.
        ok: bool,
        /// Data of `report ok with`.
        data: Vec<(String, serde_json::Value)>,
        /// Reason of `report retry`.
        reason: Option<String>,
    },
    /// Blacklist a number.
    Block {
        /// The number.
        number: String,
    },
    /// Hang up one leg, or every leg.
    Hangup {
        /// The leg, or all.
        leg: Option<LegId>,
    },
    /// A runtime error (an outcome without an arm, an overflow, a missing value).
    Error {
        /// What went wrong.
        reason: String,
    },
    /// The flow is over: hang up whatever is still connected.
    End,
}

/// A command and the node that issued it (for messages that point at source).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The node.
    pub node: NodeId,
    /// The command.
    pub command: Command,
}

/// A one-line description of a command as a person would say it (`say to caller "…"`,
/// `transfer caller to +7…`), or `None` for the engine's bookkeeping (timers, prompt
/// control, recognition): the words of test failures, the simulator and call records.
pub fn describe(flow: &ir::Flow, command: &Command) -> Option<String> {
    let leg = |id: &LegId| {
        flow.legs
            .get(id.0 as usize)
            .map_or("?".to_string(), |l| l.name.clone())
    };
    Some(match command {
        Command::Say { leg: l, text, .. } => format!("say to {} \"{text}\"", leg(l)),
        Command::Play { leg: l, audio, .. } => match audio {
            Audio::Record(id) => format!("play to {} record {id}", leg(l)),
            Audio::File(p) | Audio::Url(p) => {
                format!("play to {} \"{p}\"", leg(l))
            }
        },
        Command::Dial { leg: l, number, .. } => format!("dial {number} as {}", leg(l)),
        Command::Bridge { a, b } => format!("bridge {} and {}", leg(a), leg(b)),
        Command::Transfer { leg: l, number } => format!("transfer {} to {number}", leg(l)),
        Command::Sms { to, text } => format!("sms to {to} \"{text}\""),
        Command::Fetch { method, url, .. } => format!(
            "fetch {} {url}",
            if *method == ir::Method::Get {
                "GET"
            } else {
                "POST"
            }
        ),
        Command::Report { ok: true, data, .. } if data.is_empty() => "report ok".to_string(),
        Command::Report { ok: true, data, .. } => {
            format!(
                "report ok with {{ {} }}",
                data.iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Command::Report {
            ok: false, reason, ..
        } => match reason {
            Some(r) => format!("report retry \"{r}\""),
            None => "report retry".to_string(),
        },
        Command::Block { number } => format!("block {number}"),
        Command::Hangup { leg: None } => "hangup".to_string(),
        Command::Hangup { leg: Some(l) } => format!("hangup {}", leg(l)),
        Command::Error { reason } => format!("error: {reason}"),
        Command::End => "end of the call".to_string(),
        Command::Answer { .. }
        | Command::Record { .. }
        | Command::StopPrompt { .. }
        | Command::StartTimer { .. }
        | Command::CancelTimer { .. }
        | Command::Listen { .. }
        | Command::StopListening { .. } => return None,
    })
}

//! The IR: every flow as an explicit graph that all targets, the engine and the runtime share.
//!
//! Nodes have ids and spans; edges are labelled by outcome; every outcome a node can have
//! has an edge (the defaults of missing arms are already applied by `lower`), so consumers
//! never re-derive language rules. Variables and legs are declared with types and ids.
//! Serialized with serde; `docs/ir.md` describes it and `docs/ir.schema.json` is its JSON
//! Schema, generated from these types. Bump [`IR_VERSION`] on any incompatible change.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of this IR's shape.
pub const IR_VERSION: u32 = 3;

/// Writes milliseconds the way durations are written in source: `2h`, `1m`, `10s`, `500ms`.
pub fn format_duration(ms: u64) -> String {
    const SEC: u64 = 1000;
    const MIN: u64 = 60 * SEC;
    const HOUR: u64 = 60 * MIN;
    if ms % HOUR == 0 && ms > 0 {
        format!("{}h", ms / HOUR)
    } else if ms % MIN == 0 && ms > 0 {
        format!("{}m", ms / MIN)
    } else if ms % SEC == 0 {
        format!("{}s", ms / SEC)
    } else {
        format!("{ms}ms")
    }
}

/// Value types of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    /// A 64-bit signed integer; overflow is a runtime error.
    Number,
    /// A string of phone keys; leading zeros kept.
    Digits,
    /// UTF-8 text.
    Text,
    /// An E.164 phone number.
    Phone,
    /// Milliseconds.
    Duration,
    /// `true` or `false`.
    Bool,
    /// A JSON value (a `fetch` result).
    Json,
}

impl Type {
    /// The type's name as written in source.
    pub fn name(self) -> &'static str {
        match self {
            Type::Number => "number",
            Type::Digits => "digits",
            Type::Text => "text",
            Type::Phone => "phone",
            Type::Duration => "duration",
            Type::Bool => "bool",
            Type::Json => "json",
        }
    }

    /// The type named `name` in source.
    pub fn from_name(name: &str) -> Option<Type> {
        Some(match name {
            "number" => Type::Number,
            "digits" => Type::Digits,
            "text" => Type::Text,
            "phone" => Type::Phone,
            "duration" => Type::Duration,
            "bool" => Type::Bool,
            "json" => Type::Json,
            _ => return None,
        })
    }

    /// All type names, for suggestions.
    pub const NAMES: [&'static str; 7] = [
        "number", "digits", "text", "phone", "duration", "bool", "json",
    ];
}

/// A source location: file name and byte range, plus 1-based line for readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SrcSpan {
    /// The file as named on the command line or in an import.
    pub file: String,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
    /// 1-based line of `start`.
    pub line: u32,
}

/// A whole compilation: every flow, campaign and test of a file and its imports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Program {
    /// Always [`IR_VERSION`] when produced by this build.
    pub ir_version: u32,
    /// Flows in source order.
    pub flows: Vec<Flow>,
    /// Campaigns in source order.
    pub campaigns: Vec<Campaign>,
    /// Tests in source order.
    pub tests: Vec<Test>,
}

/// Index of a node within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct NodeId(pub u32);

/// Index of a variable within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct VarId(pub u32);

/// Index of a leg within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct LegId(pub u32);

impl LegId {
    /// The call's own party: the caller of an inbound call, the first party of a placed one.
    pub const CALLER: LegId = LegId(0);
}

/// Index of a loop counter within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct LoopId(pub u32);

/// One flow as a graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Flow {
    /// The flow's name.
    pub name: String,
    /// Parameters, in order, as variable ids.
    pub params: Vec<VarId>,
    /// Language, voice and caller id.
    pub settings: FlowSettings,
    /// Every variable, parameters included.
    pub vars: Vec<Var>,
    /// Every leg; the first is `caller`.
    pub legs: Vec<Leg>,
    /// Loop counters (`repeat`, `goto … max`).
    pub loops: Vec<Loop>,
    /// Where the call starts.
    pub entry: NodeId,
    /// Flow-wide handlers' entries.
    pub handlers: Handlers,
    /// All nodes; `nodes[i].id == NodeId(i)`.
    pub nodes: Vec<Node>,
    /// The whole flow in source.
    pub span: SrcSpan,
}

/// Flow settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct FlowSettings {
    /// BCP 47 language of prompts and recognition, e.g. `ru-RU`; the language's default when
    /// the flow sets none.
    pub lang: String,
    /// `female`, `male`, or a platform voice name; the language's default when the flow sets
    /// none.
    pub voice: String,
    /// The number shown to called parties.
    pub caller_id: Option<Expr>,
    /// Where each setting is written (`lang`, `voice`, `caller_id`), for diagnostics on one
    /// setting.
    #[serde(default)]
    pub at: Vec<SettingAt>,
}

impl FlowSettings {
    /// Where the setting `key` is written, or `flow` (the whole flow) when it is not.
    pub fn span_or<'a>(&'a self, key: &str, flow: &'a SrcSpan) -> &'a SrcSpan {
        self.at
            .iter()
            .find(|s| s.key == key)
            .map_or(flow, |s| &s.span)
    }

    /// The `caller_id` when it is a literal number (the form every target can use as is).
    pub fn caller_id_number(&self) -> Option<&str> {
        match &self.caller_id {
            Some(Expr::Phone { value }) => Some(value),
            _ => None,
        }
    }
}

/// Where a variable comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VarOrigin {
    /// A flow parameter.
    Param,
    /// `let`.
    Let,
    /// `collect`.
    Collect,
    /// `fetch`.
    Fetch,
    /// `record`.
    Record,
}

/// A typed variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Var {
    /// Its id.
    pub id: VarId,
    /// Its name in source (unique within the flow after renaming shadowed names with `#n`).
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// How it gets its value.
    pub origin: VarOrigin,
    /// Its definition.
    pub span: SrcSpan,
}

/// Whether a leg is the inbound party or dialled by the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegKind {
    /// The party the call is with: the inbound caller, or the lead a campaign dialled.
    Caller,
    /// A leg created by `dial`.
    Dialed,
}

/// A call party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Leg {
    /// Its id.
    pub id: LegId,
    /// Its name.
    pub name: String,
    /// Caller or dialled.
    pub kind: LegKind,
}

/// A loop counter and its bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Loop {
    /// Its id.
    pub id: LoopId,
    /// The most passes.
    pub max_count: Option<u32>,
    /// The longest total time, milliseconds from the first pass.
    pub within_ms: Option<u64>,
}

/// Entries of flow-wide handlers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Handlers {
    /// A party hung up outside a bridge.
    pub hangup: Option<NodeId>,
    /// A failure outcome without an arm, or a runtime error.
    pub error: Option<NodeId>,
    /// An inbound text message.
    pub sms: Option<NodeId>,
}

/// A node: one step of the flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// Its id.
    pub id: NodeId,
    /// What it does.
    pub op: Op,
    /// Where each outcome goes. Terminal nodes have none.
    pub edges: Vec<Edge>,
    /// The statement it comes from.
    pub span: SrcSpan,
}

impl Flow {
    /// Whether any statement of the flow acts on, or reads, the caller leg. A flow without
    /// one places its own calls: its first dial is the call.
    pub fn uses_caller(&self) -> bool {
        let caller = LegId::CALLER;
        self.nodes.iter().any(|n| match &n.op {
            Op::Answer { leg }
            | Op::Say { leg, .. }
            | Op::Play { leg, .. }
            | Op::Collect { leg, .. }
            | Op::Menu { leg, .. }
            | Op::Listen { leg, .. }
            | Op::Transfer { leg, .. }
            | Op::Record { leg, .. }
            | Op::Block { leg } => *leg == caller,
            Op::Bridge { a, b, .. } => *a == caller || *b == caller,
            Op::Hangup { leg } => *leg == Some(caller),
            Op::Sms { to, .. } => reads_caller(to),
            _ => false,
        })
    }
}

/// Whether an expression reads the caller's number.
fn reads_caller(e: &Expr) -> bool {
    match e {
        Expr::LegNumber { leg } => *leg == LegId::CALLER,
        Expr::Field { base, .. } => reads_caller(base),
        Expr::Call { arg, .. } | Expr::Unary { arg, .. } => reads_caller(arg),
        Expr::Binary { lhs, rhs, .. } => reads_caller(lhs) || reads_caller(rhs),
        Expr::Text { template } => template.exprs().into_iter().any(reads_caller),
        _ => false,
    }
}

impl Node {
    /// The target of the edge for `outcome`.
    pub fn edge(&self, outcome: &Outcome) -> Option<NodeId> {
        self.edges.iter().find(|e| &e.on == outcome).map(|e| e.to)
    }
}

/// An edge from one node to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Edge {
    /// The outcome that takes it.
    pub on: Outcome,
    /// The next node.
    pub to: NodeId,
}

/// Outcomes that label edges. In JSON an outcome is a string: `next`, `ok`, `timeout`,
/// `invalid`, `key:1`, `phrase:0`, `nomatch`, `answered`, `busy`, `no_answer`, `failed`,
/// `machine`, `error`, `true`, `false`, `body`, `done`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Outcome {
    /// The step finished.
    Next,
    /// Input was collected / the request succeeded.
    Ok,
    /// No (complete) input in time.
    Timeout,
    /// Input failed validation.
    Invalid,
    /// A menu key.
    Key(String),
    /// The phrase group with this index was heard.
    Phrase(u32),
    /// Speech that matched no phrase (only when an arm names it).
    NoMatch,
    /// The dialled party answered.
    Answered,
    /// The dialled party was busy.
    Busy,
    /// The dialled party did not answer.
    NoAnswer,
    /// The call failed.
    Failed,
    /// An answering machine answered.
    Machine,
    /// The request failed.
    Error,
    /// The condition held.
    True,
    /// The condition did not hold.
    False,
    /// Another pass of a loop.
    Body,
    /// The loop is over.
    Done,
}

/// The plain outcomes and their names.
const OUTCOME_NAMES: [(Outcome, &str); 15] = [
    (Outcome::Next, "next"),
    (Outcome::Ok, "ok"),
    (Outcome::Timeout, "timeout"),
    (Outcome::Invalid, "invalid"),
    (Outcome::NoMatch, "nomatch"),
    (Outcome::Answered, "answered"),
    (Outcome::Busy, "busy"),
    (Outcome::NoAnswer, "no_answer"),
    (Outcome::Failed, "failed"),
    (Outcome::Machine, "machine"),
    (Outcome::Error, "error"),
    (Outcome::True, "true"),
    (Outcome::False, "false"),
    (Outcome::Body, "body"),
    (Outcome::Done, "done"),
];

impl From<Outcome> for String {
    fn from(o: Outcome) -> String {
        match o {
            Outcome::Key(k) => format!("key:{k}"),
            Outcome::Phrase(i) => format!("phrase:{i}"),
            plain => OUTCOME_NAMES
                .iter()
                .find(|(x, _)| *x == plain)
                .map_or_else(String::new, |(_, n)| (*n).to_string()),
        }
    }
}

impl TryFrom<String> for Outcome {
    type Error = String;

    fn try_from(s: String) -> Result<Outcome, String> {
        if let Some(k) = s.strip_prefix("key:") {
            return Ok(Outcome::Key(k.to_string()));
        }
        if let Some(i) = s.strip_prefix("phrase:") {
            return i
                .parse()
                .map(Outcome::Phrase)
                .map_err(|_| format!("bad phrase index in `{s}`"));
        }
        OUTCOME_NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(o, _)| o.clone())
            .ok_or_else(|| format!("unknown outcome `{s}`"))
    }
}

impl JsonSchema for Outcome {
    fn schema_name() -> String {
        "Outcome".into()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let names: Vec<&str> = OUTCOME_NAMES.iter().map(|(_, n)| *n).collect();
        let pattern = format!("^(?:{}|key:[0-9*#]|phrase:[0-9]+)$", names.join("|"));
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            string: Some(Box::new(schemars::schema::StringValidation {
                pattern: Some(pattern),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

/// Kinds of collected input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectKind {
    /// Parsed as a 64-bit integer.
    Number,
    /// Kept as typed.
    Digits,
}

/// An audio source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Audio {
    /// A local file.
    File {
        /// Path relative to the flow file.
        path: Template,
    },
    /// An http(s) URL.
    Url {
        /// The address.
        url: Template,
    },
    /// A platform record id.
    Record {
        /// The id.
        id: u64,
    },
}

/// A prompt of `collect`, `menu` or `listen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Prompt {
    /// What is said.
    pub text: Template,
    /// Repeat until input or the time limit.
    pub looped: bool,
    /// Silence between repetitions.
    pub pause_ms: u64,
}

/// What the HTTP request of a `fetch` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Parameters in the query string.
    Get,
    /// Parameters as a JSON body.
    Post,
}

/// What a node does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Op {
    /// Answer the leg. Edges: next.
    Answer {
        /// The leg.
        leg: LegId,
    },
    /// Speak text. Edges: next.
    Say {
        /// The leg.
        leg: LegId,
        /// The text.
        text: Template,
    },
    /// Play audio. Edges: next.
    Play {
        /// The leg.
        leg: LegId,
        /// The audio.
        audio: Audio,
    },
    /// Silence. Edges: next.
    Pause {
        /// How long.
        ms: u64,
    },
    /// Collect keys. Edges: ok, timeout, invalid.
    Collect {
        /// The leg.
        leg: LegId,
        /// Receives the value on `ok`.
        var: VarId,
        /// Number or digits.
        kind: CollectKind,
        /// Said before waiting.
        prompt: Option<Prompt>,
        /// Said before each retry instead of the prompt.
        reprompt: Option<Template>,
        /// Retries after timeout or invalid input before the outcome is taken.
        retries: u32,
        /// Fewest keys.
        min_digits: u32,
        /// Most keys; input ends when reached.
        max_digits: u32,
        /// Ends input; not part of the value.
        end_key: Option<String>,
        /// Wait for the first key.
        timeout_ms: u64,
        /// Wait between keys.
        digit_timeout_ms: u64,
        /// Validation over `var`; false → invalid.
        valid_if: Option<Expr>,
        /// Whether a key stops the prompt.
        barge_in: bool,
    },
    /// One key chooses. Edges: key(k) for each key, timeout, invalid.
    Menu {
        /// The leg.
        leg: LegId,
        /// Said before waiting.
        prompt: Option<Prompt>,
        /// Said before each retry.
        reprompt: Option<Template>,
        /// Retries after timeout or a wrong key.
        retries: u32,
        /// Wait for the key.
        timeout_ms: u64,
        /// The keys that have arms.
        keys: Vec<String>,
        /// Whether a key stops the prompt.
        barge_in: bool,
    },
    /// Listen for phrases. Edges: phrase(i) for each group, timeout, and nomatch when an
    /// arm handles it (otherwise unmatched speech keeps listening).
    Listen {
        /// The leg.
        leg: LegId,
        /// Said (possibly in a loop) while listening.
        prompt: Option<Prompt>,
        /// Phrase groups; each group's phrases are synonyms, normalized.
        phrases: Vec<Vec<String>>,
        /// The overall time limit.
        within_ms: u64,
        /// Whether speech stops the prompt.
        barge_in: bool,
    },
    /// Call a number as a new leg. Edges: answered, busy, no_answer, failed (and machine
    /// when detection is on).
    Dial {
        /// The new leg.
        leg: LegId,
        /// The number.
        target: Expr,
        /// Ring time.
        timeout_ms: u64,
        /// The number shown.
        caller_id: Option<Expr>,
        /// Answering-machine detection.
        detect_machine: bool,
    },
    /// Connect two legs until one hangs up, or until `max_length_ms` passes and both are
    /// hung up. Edges: next.
    Bridge {
        /// One leg.
        a: LegId,
        /// The other.
        b: LegId,
        /// The longest the bridge lasts.
        max_length_ms: u64,
    },
    /// Hand a leg over to a number. Terminal when the leg is the caller; else edges: next.
    Transfer {
        /// The leg.
        leg: LegId,
        /// The number.
        target: Expr,
    },
    /// Record a party. Edges: next.
    Record {
        /// The leg.
        leg: LegId,
        /// Receives the recording's address.
        var: VarId,
        /// Longest recording.
        max_length_ms: u64,
        /// Ends recording.
        end_key: Option<String>,
    },
    /// Send a text message. Edges: next.
    Sms {
        /// The number.
        to: Expr,
        /// The text.
        text: Template,
    },
    /// HTTP request with a JSON answer. Edges: ok, error.
    Fetch {
        /// Receives the JSON.
        var: VarId,
        /// The method.
        method: Method,
        /// The URL.
        url: Template,
        /// Query or body parameters.
        params: Vec<(String, Expr)>,
        /// Request headers.
        headers: Vec<(String, Template)>,
        /// Time limit.
        timeout_ms: u64,
    },
    /// Assign a variable. Edges: next.
    Assign {
        /// The variable.
        var: VarId,
        /// The value.
        value: Expr,
    },
    /// Branch. Edges: true, false.
    Branch {
        /// The condition.
        cond: Expr,
    },
    /// Start a loop: reset its counter and clock. Edges: next.
    LoopStart {
        /// The loop.
        id: LoopId,
    },
    /// Count a pass of a loop. Edges: body (within bounds), done.
    LoopCheck {
        /// The loop.
        id: LoopId,
    },
    /// A `label`, kept so that gotos have a visible target. Edges: next.
    Label {
        /// The label's name.
        name: String,
    },
    /// Report the campaign attempt and end the flow. Terminal.
    Report {
        /// `ok` or retry.
        ok: bool,
        /// Data of `report ok with {…}`.
        data: Vec<(String, Expr)>,
        /// Reason of `report retry`.
        reason: Option<Template>,
    },
    /// Blacklist the leg's number. Edges: next.
    Block {
        /// The leg.
        leg: LegId,
    },
    /// Hang up one leg (edges: next), or every leg and end (terminal).
    Hangup {
        /// The leg, or all.
        leg: Option<LegId>,
    },
    /// A failure outcome without an arm: run `on error` if present, else end. Terminal.
    Raise {
        /// What failed, e.g. `collect timeout`.
        reason: String,
    },
    /// The end of the flow (or of a handler): hang up every leg. Terminal.
    End,
}

impl Op {
    /// The statement as named in source (`say`, `let`, `if`, `repeat` …), for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            Op::Answer { .. } => "answer",
            Op::Say { .. } => "say",
            Op::Play { .. } => "play",
            Op::Pause { .. } => "pause",
            Op::Collect { .. } => "collect",
            Op::Menu { .. } => "menu",
            Op::Listen { .. } => "listen",
            Op::Dial { .. } => "dial",
            Op::Bridge { .. } => "bridge",
            Op::Transfer { .. } => "transfer",
            Op::Record { .. } => "record",
            Op::Sms { .. } => "sms",
            Op::Fetch { .. } => "fetch",
            Op::Assign { .. } => "let",
            Op::Branch { .. } => "if",
            Op::LoopStart { .. } | Op::LoopCheck { .. } => "repeat",
            Op::Label { .. } => "label",
            Op::Report { .. } => "report",
            Op::Block { .. } => "block",
            Op::Hangup { .. } => "hangup",
            Op::Raise { .. } => "an outcome without an arm",
            Op::End => "end",
        }
    }
}

/// Text with values put in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Template {
    /// The pieces in order.
    pub parts: Vec<TemplatePart>,
}

impl Template {
    /// The text when the template has no values (nor blocks), else `None`.
    pub fn fixed_text(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every expression the template reads, blocks' conditions and branches included.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        parts_exprs(&self.parts, &mut out);
        out
    }
}

fn parts_exprs<'t>(parts: &'t [TemplatePart], out: &mut Vec<&'t Expr>) {
    for p in parts {
        match p {
            TemplatePart::Text(_) => {}
            TemplatePart::Value(e) => out.push(e),
            TemplatePart::If {
                cond,
                then,
                otherwise,
                ..
            } => {
                out.push(cond);
                parts_exprs(then, out);
                parts_exprs(otherwise, out);
            }
            TemplatePart::Helper { helper, .. } => out.extend(helper.exprs()),
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// A value rendered as text.
    Value(Expr),
    /// `{{#if}}` / `{{#unless}}`: `then` when the value is present (a true bool, a text or
    /// digits that are not empty, a json value that is there and not `false`, `0`, `""` or
    /// `[]`), else `otherwise`; `negated` swaps them.
    If {
        /// The value tested.
        cond: Expr,
        /// `#unless`.
        negated: bool,
        /// Said when the value is present.
        then: Vec<TemplatePart>,
        /// Said when it is not.
        otherwise: Vec<TemplatePart>,
    },
    /// A speech helper (docs/speech.md), in the flow's language.
    Helper {
        /// The flow's language (`ru-RU`, `en-US`, …).
        lang: String,
        /// Which helper, with its arguments.
        helper: Helper,
    },
}

/// A speech helper and its arguments, checked: names of genders, cases, styles and currencies
/// are ones `crate::speech` knows, and the forms fit the language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Helper {
    /// The form of a noun for the number `n`: one/few/many in Russian, one/other in English.
    Plural {
        /// A number.
        n: Expr,
        /// The forms, in the language's order.
        forms: Vec<String>,
    },
    /// The number `n` in words.
    Words {
        /// A number.
        n: Expr,
        /// `masculine`, `feminine` or `neuter`.
        gender: String,
        /// One of the six Russian cases, by its English name.
        case: String,
    },
    /// The digits of a value read one by one, in groups.
    Digits {
        /// A value rendered as text.
        text: Expr,
        /// Group sizes from the left, the last repeating; empty for one group.
        groups: Vec<u32>,
    },
    /// An amount of money and its currency.
    Money {
        /// A decimal amount, rendered as text.
        amount: Expr,
        /// `RUB`, `USD` or `EUR`.
        currency: String,
        /// `words` or `digits`.
        style: String,
    },
    /// The date of a timestamp in a time zone.
    Date {
        /// An RFC 3339 timestamp or Unix seconds, rendered as text.
        when: Expr,
        /// An IANA time zone or a fixed offset, rendered as text.
        zone: Expr,
    },
    /// The time of day of a timestamp in a time zone.
    Time {
        /// An RFC 3339 timestamp or Unix seconds, rendered as text.
        when: Expr,
        /// An IANA time zone or a fixed offset, rendered as text.
        zone: Expr,
    },
}

impl Helper {
    /// The helper's name as written in templates.
    pub fn name(&self) -> &'static str {
        match self {
            Helper::Plural { .. } => "plural",
            Helper::Words { .. } => "words",
            Helper::Digits { .. } => "digits",
            Helper::Money { .. } => "money",
            Helper::Date { .. } => "date",
            Helper::Time { .. } => "time",
        }
    }

    /// The values the helper reads.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Helper::Plural { n, .. } | Helper::Words { n, .. } => vec![n],
            Helper::Digits { text, .. } => vec![text],
            Helper::Money { amount, .. } => vec![amount],
            Helper::Date { when, zone } | Helper::Time { when, zone } => vec![when, zone],
        }
    }
}

/// Built-in values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// The number that was called (ours), phone.
    CalledNumber,
    /// The platform's call id, text.
    CallId,
    /// The inbound message's text (in `on sms`).
    SmsText,
    /// The inbound message's sender (in `on sms`), phone.
    SmsFrom,
}

/// Conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Func {
    /// To number; a runtime error if not an integer.
    Number,
    /// To text.
    Text,
    /// To digits; a runtime error if not only keys.
    Digits,
    /// To phone; a runtime error if not E.164.
    Phone,
    /// Length in characters of text or digits.
    Len,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    /// Integer negation (overflow is an error).
    Neg,
    /// Boolean not.
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// Integer or duration addition (overflow is an error).
    Add,
    /// Subtraction.
    Sub,
    /// Multiplication.
    Mul,
    /// Division, truncating; by zero is an error.
    Div,
    /// Remainder; by zero is an error.
    Rem,
    /// Text concatenation.
    Concat,
    /// Equality.
    Eq,
    /// Inequality.
    Ne,
    /// Less than.
    Lt,
    /// At most.
    Le,
    /// Greater than.
    Gt,
    /// At least.
    Ge,
    /// Short-circuit and.
    And,
    /// Short-circuit or.
    Or,
}

impl BinaryOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add | BinaryOp::Concat => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "expr")]
pub enum Expr {
    /// A number.
    Number {
        /// The value.
        value: i64,
    },
    /// Text (possibly with values).
    Text {
        /// The template.
        template: Template,
    },
    /// A phone in E.164.
    Phone {
        /// `+7…`.
        value: String,
    },
    /// A duration.
    Duration {
        /// Milliseconds.
        ms: u64,
    },
    /// A boolean.
    Bool {
        /// The value.
        value: bool,
    },
    /// A variable.
    Var {
        /// Its id.
        id: VarId,
    },
    /// A leg's number.
    LegNumber {
        /// The leg.
        leg: LegId,
    },
    /// A built-in value.
    Builtin {
        /// Which.
        name: Builtin,
    },
    /// A field path inside a JSON value; a missing field is JSON null.
    Field {
        /// The JSON value.
        base: Box<Expr>,
        /// Keys, outermost first.
        path: Vec<String>,
    },
    /// A conversion.
    Call {
        /// Which.
        func: Func,
        /// Its argument.
        arg: Box<Expr>,
        /// The result type.
        ty: Type,
    },
    /// A unary operation.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        arg: Box<Expr>,
    },
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
}

/// A campaign: a call list bound to a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Campaign {
    /// Its name.
    pub name: String,
    /// The flow each call runs.
    pub flow: String,
    /// The leads file path as written (relative to the flow file).
    pub leads: String,
    /// The CSV delimiter.
    pub delimiter: String,
    /// The parameter whose number the dialer calls; `None` when the flow dials itself.
    pub dial: Option<String>,
    /// Most attempts per lead.
    pub attempts: u32,
    /// Pause before another attempt.
    pub retry_after_ms: u64,
    /// Calls at once.
    pub lines: u32,
    /// Call starts per period.
    pub rate: Option<Rate>,
    /// Calling window in the recipient's local time, minutes after midnight.
    pub window: Option<Window>,
    /// The recipients' offset from UTC in minutes (`timezone`), for platforms that take
    /// windows in UTC.
    pub utc_offset_minutes: Option<i32>,
    /// Redial rules per outcome.
    pub redial: Vec<Redial>,
    /// Phone normalization.
    pub normalize: crate::phone::Normalization,
    /// What happens to a lead whose phone cannot be normalized.
    pub on_bad_phone: BadPhoneAction,
    /// Record calls, trimming this much of the start.
    pub record_calls: Option<RecordCalls>,
    /// Answering-machine detection.
    pub detect_machine: bool,
    /// Where results are POSTed.
    pub result_webhook: Option<String>,
    /// The number shown.
    pub caller_id: Option<String>,
    /// Leads read at compile time (empty when the file was not found).
    pub leads_rows: Vec<Lead>,
    /// Where each setting is written, for diagnostics on one setting.
    #[serde(default)]
    pub settings: Vec<SettingAt>,
    /// The campaign in source.
    pub span: SrcSpan,
}

impl Campaign {
    /// Where the setting `key` (`rate`, `redial busy`, …) is written, or the whole campaign
    /// when it is not.
    pub fn setting_span(&self, key: &str) -> &SrcSpan {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .map_or(&self.span, |s| &s.span)
    }
}

/// A campaign setting's place in source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SettingAt {
    /// The setting as named in source, with the outcome for `redial`: `rate`, `redial busy`.
    pub key: String,
    /// The whole setting.
    pub span: SrcSpan,
}

/// A call rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rate {
    /// Calls.
    pub calls: u32,
    /// Per this many milliseconds.
    pub per_ms: u64,
}

/// A daily calling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Window {
    /// Start, minutes after local midnight.
    pub from_minute: u32,
    /// End, minutes after local midnight.
    pub to_minute: u32,
}

/// Outcomes a redial rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedialOutcome {
    /// Busy.
    Busy,
    /// No answer.
    NoAnswer,
    /// Answering machine.
    Machine,
    /// Network failure.
    Failed,
    /// Answered but reported `retry`.
    Unproductive,
}

/// One redial rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Redial {
    /// The outcome.
    pub outcome: RedialOutcome,
    /// `None` for `off`: no redial after this outcome.
    pub every_ms: Option<u64>,
    /// Most redials after this outcome.
    pub max: u32,
}

/// What to do with a lead whose phone cannot be normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BadPhoneAction {
    /// Leave the lead out (and report it).
    Skip,
    /// Keep it, flagged as an error.
    Flag,
}

/// Call recording settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordCalls {
    /// Milliseconds cut from the start.
    pub trim_ms: u64,
}

/// A test block, kept as source-level steps for the test runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Test {
    /// The test's name.
    pub name: String,
    /// The flow under test.
    pub flow: String,
    /// The caller's number.
    pub from: Option<String>,
    /// Parameter values.
    pub params: Vec<(String, Expr)>,
    /// Steps in order.
    pub steps: Vec<TestStep>,
    /// The test in source.
    pub span: SrcSpan,
}

/// A test step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestStep {
    /// What happens.
    pub kind: TestStepKind,
    /// The step in source.
    pub span: SrcSpan,
}

/// Test steps. Patterns may contain `*` wildcards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum TestStepKind {
    /// The flow says text matching `pattern`.
    ExpectSay {
        /// The leg, when named.
        leg: Option<String>,
        /// The pattern.
        pattern: String,
    },
    /// The flow plays audio.
    ExpectPlay {
        /// The leg, when named.
        leg: Option<String>,
        /// The audio.
        audio: Audio,
    },
    /// The flow dials a leg.
    ExpectDial {
        /// The leg.
        leg: String,
    },
    /// The flow bridges two legs.
    ExpectBridge {
        /// One leg.
        a: String,
        /// The other.
        b: String,
    },
    /// The flow transfers.
    ExpectTransfer {
        /// The number, when given.
        to: Option<String>,
    },
    /// The flow sends a text message.
    ExpectSms {
        /// The pattern.
        pattern: String,
    },
    /// The flow fetches.
    ExpectFetch {
        /// A URL pattern, when given.
        url: Option<String>,
    },
    /// The flow reports.
    ExpectReport {
        /// `ok` or retry.
        ok: bool,
        /// A reason pattern, when given.
        reason: Option<String>,
    },
    /// The flow hangs up.
    ExpectHangup,
    /// The flow blacklists.
    ExpectBlock,
    /// Keys are pressed.
    Press {
        /// The keys.
        keys: String,
        /// The leg, when named.
        leg: Option<String>,
    },
    /// Speech is heard.
    Speak {
        /// The utterance.
        text: String,
        /// The leg, when named.
        leg: Option<String>,
    },
    /// Virtual time passes.
    Wait {
        /// Milliseconds.
        ms: u64,
    },
    /// The pending fetch answers.
    Respond {
        /// The JSON.
        json: serde_json::Value,
    },
    /// The pending fetch fails.
    RespondFail,
    /// An inbound text message arrives.
    ReceiveSms {
        /// Its text.
        text: String,
    },
    /// A dialled party answers, is busy, does not answer or fails.
    DialOutcome {
        /// The leg.
        leg: String,
        /// What happens: answered, busy, no_answer, failed.
        outcome: Outcome,
    },
    /// A party hangs up (the caller when no leg is named).
    Hangup {
        /// The leg, when named.
        leg: Option<String>,
    },
}

/// One valid row of a campaign's leads file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Lead {
    /// The 1-based line the row starts on (the header is line 1).
    pub line: usize,
    /// Every named header column and its value; phones in E.164 form.
    pub values: std::collections::BTreeMap<String, String>,
}

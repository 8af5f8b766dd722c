//! The syntax tree of one `.ivr` file, exactly as written, with a span on every node.
//!
//! Built by `from_pairs`; read by `check`, `lower` and the formatter. It holds no meaning
//! beyond the text: names are not resolved and values are not validated here.

use crate::span::Span;

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A string literal: its decoded text split into literal parts and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The pieces in order.
    pub parts: Vec<TemplatePart>,
    /// The whole literal including quotes.
    pub span: Span,
}

impl Template {
    /// The text when the template has no tags, else `None`.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }

    /// The literal text with its tags written back (`{{path}}`, `{{helper a 'b' k=v}}`,
    /// `{{#if x}}…{{else}}…{{/if}}`).
    pub fn source_text(&self) -> String {
        let mut out = String::new();
        write_parts(&self.parts, &mut out);
        out
    }
}

impl Placeholder {
    /// The path as written: `crm.hint`.
    pub fn dotted(&self) -> String {
        self.path
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn write_parts(parts: &[TemplatePart], out: &mut String) {
    let arg = |a: &HelperArg| match a {
        HelperArg::Path(p) => p.dotted(),
        HelperArg::Text(t) => format!("'{t}'"),
        HelperArg::Number(n) => n.to_string(),
        HelperArg::Bool(b) => b.to_string(),
    };
    for part in parts {
        match part {
            TemplatePart::Text(t) => out.push_str(t),
            TemplatePart::Placeholder(p) => {
                out.push_str("{{");
                out.push_str(&p.dotted());
                out.push_str("}}");
            }
            TemplatePart::Helper(h) => {
                out.push_str("{{");
                out.push_str(&h.name.name);
                for a in &h.args {
                    out.push(' ');
                    out.push_str(&arg(a));
                }
                for (k, v) in &h.options {
                    out.push_str(&format!(" {}={}", k.name, arg(v)));
                }
                out.push_str("}}");
            }
            TemplatePart::Block(b) => {
                let kind = if b.negated { "unless" } else { "if" };
                out.push_str(&format!("{{{{#{kind} {}}}}}", b.cond.dotted()));
                write_parts(&b.then, out);
                if !b.otherwise.is_empty() {
                    out.push_str("{{else}}");
                    write_parts(&b.otherwise, out);
                }
                out.push_str(&format!("{{{{/{kind}}}}}"));
            }
        }
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text, escapes decoded.
    Text(String),
    /// A `{{path}}` placeholder.
    Placeholder(Placeholder),
    /// A `{{helper arg … key=value …}}` call.
    Helper(HelperCall),
    /// An `{{#if path}}…{{else}}…{{/if}}` or `{{#unless path}}…{{/unless}}` block.
    Block(Block),
}

/// A helper called in a template: `{{plural n 'рубль' 'рубля' 'рублей'}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperCall {
    /// The helper's name.
    pub name: Ident,
    /// The arguments in order.
    pub args: Vec<HelperArg>,
    /// The `key=value` options, in source order.
    pub options: Vec<(Ident, HelperArg)>,
    /// From `{{` to `}}`.
    pub span: Span,
}

/// An argument of a helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperArg {
    /// A value: `n`, `crm.total`.
    Path(Placeholder),
    /// A quoted text.
    Text(String),
    /// A whole number.
    Number(i64),
    /// `true` or `false`.
    Bool(bool),
}

/// A block said only when its condition holds (or, negated, does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `#unless` rather than `#if`.
    pub negated: bool,
    /// The value tested.
    pub cond: Placeholder,
    /// Said when the test passes.
    pub then: Vec<TemplatePart>,
    /// Said otherwise (`{{else}}`), possibly nothing.
    pub otherwise: Vec<TemplatePart>,
    /// The opening tag.
    pub span: Span,
}

/// A `{{crm.hint}}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The dotted path, at least one segment.
    pub path: Vec<Ident>,
    /// From `{{` to `}}`.
    pub span: Span,
}

/// A whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Module {
    /// Items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `import "file.ivr"`.
    Import(Import),
    /// `flow name { … }`.
    Flow(Flow),
    /// `campaign name for flow { … }`.
    Campaign(Campaign),
    /// `test "name" for flow { … }`.
    Test(Test),
}

/// `import "common.ivr"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The path as written.
    pub path: Template,
    /// The whole item.
    pub span: Span,
}

/// A flow definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Its name.
    pub name: Ident,
    /// Typed parameters.
    pub params: Vec<Param>,
    /// `lang`, `voice`, `caller_id`.
    pub settings: Vec<Setting>,
    /// `on hangup`, `on error`, `on sms`.
    pub handlers: Vec<Handler>,
    /// The statements, in order.
    pub body: Vec<Stmt>,
    /// The whole flow.
    pub span: Span,
}

/// A flow parameter `name: type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// Its type name as written.
    pub ty: Ident,
}

/// A flow setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// What is set.
    pub kind: SettingKind,
    /// The whole setting.
    pub span: Span,
}

/// The kinds of flow settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingKind {
    /// `lang ru-RU`.
    Lang(Ident),
    /// `voice female` or `voice "name"`.
    Voice(Ident),
    /// `caller_id +7…`.
    CallerId(Expr),
}

/// A flow-wide handler `on NAME -> action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    /// `hangup`, `error` or `sms`.
    pub event: Ident,
    /// What runs.
    pub action: Vec<Stmt>,
    /// The whole handler.
    pub span: Span,
}

/// A statement with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt {
    /// What it does.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// How an audio prompt names its audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audio {
    /// A file path or an `http(s)://` URL.
    Location(Template),
    /// A platform record id: `record 1484915`.
    Record {
        /// The id.
        id: u64,
        /// Where it is written.
        span: Span,
    },
}

/// HTTP methods of `fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `get`: parameters go into the query string.
    Get,
    /// `post`: parameters go into a JSON body.
    Post,
}

/// The statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StmtKind {
    /// `answer`.
    Answer,
    /// `say [to LEG] "text"`.
    Say {
        /// The leg, if named.
        leg: Option<Ident>,
        /// What is said.
        text: Template,
    },
    /// `play [to LEG] AUDIO`.
    Play {
        /// The leg, if named.
        leg: Option<Ident>,
        /// What is played.
        audio: Audio,
    },
    /// `pause 2s`.
    Pause(Duration),
    /// `collect VAR: TYPE [from LEG] { … }`.
    Collect {
        /// The variable that receives the keys.
        var: Ident,
        /// `number` or `digits`.
        ty: Ident,
        /// The leg, if named.
        leg: Option<Ident>,
        /// Options and arms.
        body: Body,
    },
    /// `menu [from LEG] { … }`.
    Menu {
        /// The leg, if named.
        leg: Option<Ident>,
        /// Options and arms.
        body: Body,
    },
    /// `listen [to LEG] within D { … }`.
    Listen {
        /// The leg, if named.
        leg: Option<Ident>,
        /// The overall time limit.
        within: Duration,
        /// Options and arms.
        body: Body,
    },
    /// `dial EXPR as LEG { … }`.
    Dial {
        /// The number.
        target: Expr,
        /// The new leg's name.
        leg: Ident,
        /// Options and arms.
        body: Body,
    },
    /// `bridge A and B [{ max_length D }]`.
    Bridge {
        /// One leg.
        a: Ident,
        /// The other.
        b: Ident,
        /// Options (and, refused by the checker, arms).
        body: Body,
    },
    /// `transfer [LEG to] EXPR`.
    Transfer {
        /// The leg handed over, if named.
        leg: Option<Ident>,
        /// The number.
        target: Expr,
    },
    /// `record VAR [from LEG] { … }`.
    Record {
        /// The variable that receives the recording's address.
        var: Ident,
        /// The leg, if named.
        leg: Option<Ident>,
        /// Options and arms.
        body: Body,
    },
    /// `sms [to EXPR] "text"`.
    Sms {
        /// The number, if given.
        to: Option<Expr>,
        /// The message.
        text: Template,
    },
    /// `fetch VAR = get|post "url" [with { … }] { … }`.
    Fetch {
        /// The variable that receives the JSON answer.
        var: Ident,
        /// The method.
        method: Method,
        /// The URL template.
        url: Template,
        /// Query or body parameters.
        params: Vec<MapEntry>,
        /// Options and arms.
        body: Body,
    },
    /// `let NAME [: TYPE] = EXPR`.
    Let {
        /// The new variable.
        name: Ident,
        /// The declared type, if written.
        ty: Option<Ident>,
        /// Its value.
        value: Expr,
    },
    /// `set NAME = EXPR`.
    Set {
        /// The variable.
        name: Ident,
        /// Its new value.
        value: Expr,
    },
    /// `if … else if … else …`.
    If {
        /// Conditions and their blocks, in order.
        branches: Vec<(Expr, Vec<Stmt>)>,
        /// The final `else` block.
        otherwise: Option<Vec<Stmt>>,
    },
    /// `goto LABEL [max N]`.
    Goto {
        /// The label.
        label: Ident,
        /// How many times the jump may be taken.
        max: Option<Int>,
    },
    /// `label NAME`.
    Label(Ident),
    /// `repeat [N times] [within D] { … }`.
    Repeat {
        /// The most iterations.
        count: Option<Int>,
        /// The longest total time.
        within: Option<Duration>,
        /// The loop body.
        body: Vec<Stmt>,
    },
    /// `break`.
    Break,
    /// `next`.
    Next,
    /// `report ok [with { … }]`.
    ReportOk(Vec<MapEntry>),
    /// `report retry ["reason"]`.
    ReportRetry(Option<Template>),
    /// `block`.
    Block,
    /// `hangup [LEG]`.
    Hangup(Option<Ident>),
}

/// The options and arms of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// Options in order.
    pub options: Vec<Opt>,
    /// Arms in order.
    pub arms: Vec<Arm>,
}

/// An outcome arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    /// What it matches; empty for `else`.
    pub patterns: Vec<Pattern>,
    /// `else` arm.
    pub is_else: bool,
    /// What it does.
    pub action: Vec<Stmt>,
    /// The whole arm.
    pub span: Span,
}

/// What an arm matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// An outcome name: `timeout`.
    Outcome(Ident),
    /// A key or phrase: `"1"`, `"да"`.
    Text(Template),
}

/// A statement option with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// Which option.
    pub kind: OptKind,
    /// The whole option.
    pub span: Span,
}

/// Statement options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptKind {
    /// `prompt [loop [pause D]] "text"`.
    Prompt {
        /// Repeat until input.
        looped: bool,
        /// Pause between repetitions.
        pause: Option<Duration>,
        /// What is said.
        text: Template,
    },
    /// `reprompt "text"`.
    Reprompt(Template),
    /// `retries N`.
    Retries(Int),
    /// `min_digits N`.
    MinDigits(Int),
    /// `max_digits N`.
    MaxDigits(Int),
    /// `end_key "#"`.
    EndKey(Template),
    /// `timeout D`.
    Timeout(Duration),
    /// `digit_timeout D`.
    DigitTimeout(Duration),
    /// `where EXPR`.
    Where(Expr),
    /// `barge_in off`.
    BargeInOff,
    /// `caller_id EXPR`.
    CallerId(Expr),
    /// `detect_machine`.
    DetectMachine,
    /// `header "Name" "value"`.
    Header(Template, Template),
    /// `max_length D`.
    MaxLength(Duration),
}

impl OptKind {
    /// The option's keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            OptKind::Prompt { .. } => "prompt",
            OptKind::Reprompt(_) => "reprompt",
            OptKind::Retries(_) => "retries",
            OptKind::MinDigits(_) => "min_digits",
            OptKind::MaxDigits(_) => "max_digits",
            OptKind::EndKey(_) => "end_key",
            OptKind::Timeout(_) => "timeout",
            OptKind::DigitTimeout(_) => "digit_timeout",
            OptKind::Where(_) => "where",
            OptKind::BargeInOff => "barge_in",
            OptKind::CallerId(_) => "caller_id",
            OptKind::DetectMachine => "detect_machine",
            OptKind::Header(..) => "header",
            OptKind::MaxLength(_) => "max_length",
        }
    }
}

/// A `name: expr` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// The key.
    pub key: Ident,
    /// The value.
    pub value: Expr,
}

/// A whole number literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int {
    /// Its value.
    pub value: i64,
    /// Where it is written.
    pub span: Span,
}

/// A duration literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    /// Milliseconds.
    pub ms: u64,
    /// Where it is written.
    pub span: Span,
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// The whole expression.
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`.
    Neg,
    /// `not`.
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `and`.
    And,
    /// `or`.
    Or,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
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

/// Expression forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// `42`.
    Int(i64),
    /// `"text {{x}}"`.
    Text(Template),
    /// `+74951234567`, as written.
    Phone(String),
    /// `10s`.
    Duration(u64),
    /// `true`.
    Bool(bool),
    /// `a.b.c`.
    Path(Vec<Ident>),
    /// `number(x)`.
    Call {
        /// The conversion's name.
        func: Ident,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// `-a`, `not a`.
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

/// A campaign definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    /// Its name.
    pub name: Ident,
    /// The flow each call runs.
    pub flow: Ident,
    /// Settings in order.
    pub settings: Vec<CampaignSetting>,
    /// The whole campaign.
    pub span: Span,
}

/// A campaign setting with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSetting {
    /// Which setting.
    pub kind: CampaignSettingKind,
    /// The whole setting.
    pub span: Span,
}

/// Campaign settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignSettingKind {
    /// `leads "file.csv"`.
    Leads(Template),
    /// `delimiter ","`.
    Delimiter(Template),
    /// `dial phone`.
    Dial(Ident),
    /// `attempts 4`.
    Attempts(Int),
    /// `retry_after 1m`.
    RetryAfter(Duration),
    /// `lines 1`.
    Lines(Int),
    /// `rate 3/s` (calls per period).
    Rate {
        /// Calls.
        calls: Int,
        /// Per this period; `None` when the unit word was not understood.
        per: RatePeriod,
    },
    /// `window 09:00-21:00`, minutes from midnight.
    Window {
        /// Start, minutes after midnight, with its span.
        from: (u32, Span),
        /// End, minutes after midnight, with its span.
        to: (u32, Span),
    },
    /// `timezone "+03:00"`.
    Timezone(Template),
    /// `redial OUTCOME every D max N` or `redial OUTCOME off`.
    Redial {
        /// The outcome word.
        outcome: Ident,
        /// `None` for `off`.
        rule: Option<(Duration, Int)>,
    },
    /// `normalize ru [else skip|flag]`.
    Normalize {
        /// `ru` or `e164`.
        scheme: Ident,
        /// `skip` or `flag`.
        on_error: Option<Ident>,
    },
    /// `record_calls [trim D]`.
    RecordCalls(Option<(Ident, Duration)>),
    /// `detect_machine`.
    DetectMachine,
    /// `result_webhook "url"`.
    ResultWebhook(Template),
    /// `caller_id EXPR`.
    CallerId(Expr),
}

impl CampaignSettingKind {
    /// The setting's name as written, the outcome included for `redial`: `rate`,
    /// `redial busy`. Each may be given once per campaign.
    pub fn key(&self) -> String {
        match self {
            Self::Leads(_) => "leads".into(),
            Self::Delimiter(_) => "delimiter".into(),
            Self::Dial(_) => "dial".into(),
            Self::Attempts(_) => "attempts".into(),
            Self::RetryAfter(_) => "retry_after".into(),
            Self::Lines(_) => "lines".into(),
            Self::Rate { .. } => "rate".into(),
            Self::Window { .. } => "window".into(),
            Self::Timezone(_) => "timezone".into(),
            Self::Redial { outcome, .. } => format!("redial {}", outcome.name),
            Self::Normalize { .. } => "normalize".into(),
            Self::RecordCalls(_) => "record_calls".into(),
            Self::DetectMachine => "detect_machine".into(),
            Self::ResultWebhook(_) => "result_webhook".into(),
            Self::CallerId(_) => "caller_id".into(),
        }
    }
}

/// The period of a `rate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatePeriod {
    /// `3/10s`.
    Duration(Duration),
    /// `3/s`, `3/m`: the unit word as written.
    Unit(Ident),
}

/// A test block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// The test's name.
    pub name: Template,
    /// The flow under test.
    pub flow: Ident,
    /// The caller's number, if given.
    pub from: Option<(String, Span)>,
    /// Parameter values.
    pub params: Vec<MapEntry>,
    /// The steps in order.
    pub steps: Vec<TestStep>,
    /// The whole test.
    pub span: Span,
}

/// A test step with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestStep {
    /// What happens.
    pub kind: TestStepKind,
    /// The whole step.
    pub span: Span,
}

/// Test steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestStepKind {
    /// `expect say [to LEG] "pattern"`.
    ExpectSay(Option<Ident>, Template),
    /// `expect play [to LEG] AUDIO`.
    ExpectPlay(Option<Ident>, Audio),
    /// `expect dial LEG`.
    ExpectDial(Ident),
    /// `expect bridge A and B`.
    ExpectBridge(Ident, Ident),
    /// `expect transfer [+7…]`.
    ExpectTransfer(Option<(String, Span)>),
    /// `expect sms "pattern"`.
    ExpectSms(Template),
    /// `expect fetch ["url pattern"]`.
    ExpectFetch(Option<Template>),
    /// `expect report ok`.
    ExpectReportOk,
    /// `expect report retry ["pattern"]`.
    ExpectReportRetry(Option<Template>),
    /// `expect hangup`.
    ExpectHangup,
    /// `expect block`.
    ExpectBlock,
    /// `press "12#" [by LEG]`.
    Press(Template, Option<Ident>),
    /// `speak "да" [by LEG]`.
    Speak(Template, Option<Ident>),
    /// `wait 30s`.
    Wait(Duration),
    /// `respond {json}`.
    Respond(serde_json::Value),
    /// `respond fail`.
    RespondFail,
    /// `receive sms "text"`.
    ReceiveSms(Template),
    /// `answer LEG`, `busy LEG`, `no_answer LEG`, `fail LEG`.
    DialOutcome(PartyOutcome, Ident),
    /// `hangup [LEG]`.
    PartyHangup(Option<Ident>),
}

/// What a called party does in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyOutcome {
    /// Picks up.
    Answer,
    /// Is busy.
    Busy,
    /// Does not pick up.
    NoAnswer,
    /// The call fails.
    Fail,
    /// An answering machine picks up.
    Machine,
}

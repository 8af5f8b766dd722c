//! Reads a flow as the one call Zvonobot can place: one record (an id, or text read by its
//! TTS), then at most a one-key menu whose keys each run one action. Anything else is
//! refused on the construct, with the nearest thing Zvonobot has in the help.

use crate::codegen::Unsupported;
use crate::ir::{self, Audio, Expr, LegId, NodeId, Op, Outcome, Template};

/// What the lead hears first.
#[derive(Debug, Clone, PartialEq)]
pub enum Audio1 {
    /// A moderated record of the account.
    Record(u64),
    /// Text the platform reads, in order (`say`s and the menu's prompt).
    Text(Vec<Template>),
}

/// What a key does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Play another record.
    Record(u64),
    /// Transfer the call to this number (a phone literal or parameter).
    Transfer(Expr),
    /// Text this to the lead.
    Sms(Template),
    /// Put the lead's number on the blacklist.
    Block,
}

/// The call a flow describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The first audio.
    pub audio: Audio1,
    /// Where the first audio is in source.
    pub audio_span: ir::SrcSpan,
    /// Digit and action of every key that does something, in key order.
    pub keys: Vec<(u8, Action)>,
}

/// Reads `flow` as a Zvonobot call; every construct that does not fit is in the error.
pub fn read(flow: &ir::Flow, target: &'static str) -> Result<Call, Vec<Unsupported>> {
    let mut r = Reader {
        flow,
        target,
        refused: Vec::new(),
    };
    let call = r.call();
    match call {
        Some(call) if r.refused.is_empty() => Ok(call),
        None if r.refused.is_empty() => {
            r.refuse(&flow.span, "a call without a record", "a Zvonobot call plays a record: start the flow with `play record ID` or `say \"…\"`");
            Err(r.refused)
        }
        _ => Err(r.refused),
    }
}

struct Reader<'a> {
    flow: &'a ir::Flow,
    target: &'static str,
    refused: Vec<Unsupported>,
}

impl Reader<'_> {
    fn refuse(&mut self, span: &ir::SrcSpan, construct: &str, help: &str) {
        self.refused
            .push(Unsupported::new(self.target, span, construct, help));
    }

    fn node(&self, id: NodeId) -> &ir::Node {
        &self.flow.nodes[id.0 as usize]
    }

    fn next(&self, node: &ir::Node) -> Option<NodeId> {
        node.edge(&Outcome::Next)
    }

    fn call(&mut self) -> Option<Call> {
        self.handlers();
        let mut texts: Vec<Template> = Vec::new();
        let mut record: Option<u64> = None;
        let mut audio_span: Option<ir::SrcSpan> = None;
        let mut at = Some(self.flow.entry);
        let mut keys = Vec::new();
        let mut steps = 0;
        while let Some(id) = at {
            steps += 1;
            if steps > self.flow.nodes.len() {
                break;
            }
            let node = self.node(id).clone();
            at = match &node.op {
                Op::Answer { .. } | Op::Label { .. } => self.next(&node),
                Op::Say { text, .. } => {
                    if record.is_some() {
                        self.refuse(&node.span, "`say` after a record", MIXED_HELP);
                    }
                    self.template(text, &node.span);
                    texts.push(text.clone());
                    audio_span.get_or_insert(node.span.clone());
                    self.next(&node)
                }
                Op::Play {
                    audio: Audio::Record { id },
                    ..
                } => {
                    if record.is_some() {
                        self.refuse(&node.span, "a second record before the menu", "a Zvonobot call starts with one record; play others from menu keys (`on \"0\" -> play record ID`)");
                    } else if !texts.is_empty() {
                        self.refuse(&node.span, "a record after spoken text", MIXED_HELP);
                    }
                    record = Some(*id);
                    audio_span.get_or_insert(node.span.clone());
                    self.next(&node)
                }
                Op::Menu { .. } => {
                    keys = self.menu(&node, record.is_some(), &mut texts);
                    None
                }
                Op::End | Op::Hangup { leg: None } => None,
                Op::Raise { .. } => None,
                _ => {
                    self.unsupported(&node);
                    node.edges.first().map(|e| e.to)
                }
            };
        }
        let audio_span = audio_span?;
        let audio = match record {
            Some(id) => Audio1::Record(id),
            None => Audio1::Text(texts),
        };
        Some(Call {
            audio,
            audio_span,
            keys,
        })
    }

    fn handlers(&mut self) {
        let handlers = [
            (
                self.flow.handlers.hangup,
                "`on hangup`",
                "Zvonobot runs nothing after a hang-up; its call reports say how each call ended",
            ),
            (
                self.flow.handlers.error,
                "`on error`",
                "a Zvonobot call has no error path; remove `on error`",
            ),
            (
                self.flow.handlers.sms,
                "`on sms`",
                "Zvonobot does not receive SMS; use the Twilio target (`ivrc serve`)",
            ),
        ];
        for (entry, construct, help) in handlers {
            if let Some(id) = entry {
                let span = self.node(id).span.clone();
                self.refuse(&span, construct, help);
            }
        }
    }

    /// The keys of a menu; its prompt joins the text record.
    fn menu(
        &mut self,
        node: &ir::Node,
        after_record: bool,
        texts: &mut Vec<Template>,
    ) -> Vec<(u8, Action)> {
        let Op::Menu {
            prompt,
            reprompt,
            retries,
            keys,
            ..
        } = &node.op
        else {
            return Vec::new();
        };
        if let Some(p) = prompt {
            if after_record {
                self.refuse(&node.span, "a menu `prompt` after a record", "Zvonobot plays the record and then waits for a key: say the menu's choices in the record and drop `prompt`");
            } else if p.looped {
                self.refuse(
                    &node.span,
                    "`prompt loop`",
                    "Zvonobot reads the text once; drop `loop`",
                );
            }
            self.template(&p.text, &node.span);
            texts.push(p.text.clone());
        }
        if *retries > 0 || reprompt.is_some() {
            self.refuse(&node.span, "menu retries", "Zvonobot asks once and ends the call when no key is pressed: write `retries 0` in the menu");
        }
        let mut out = Vec::new();
        for key in keys {
            let Some(to) = node.edge(&Outcome::Key(key.clone())) else {
                continue;
            };
            let digit = match key.as_bytes() {
                [d @ b'0'..=b'9'] => d - b'0',
                _ => {
                    self.refuse(
                        &node.span,
                        &format!("the key `{key}`"),
                        "Zvonobot menus take the digits 0–9",
                    );
                    continue;
                }
            };
            if let Some(action) = self.arm(to) {
                out.push((digit, action));
            }
        }
        for outcome in [Outcome::Timeout, Outcome::Invalid] {
            if let Some(to) = node.edge(&outcome) {
                if let Some(action_span) = self.first_action(to) {
                    self.refuse(&action_span, &format!("an action on `{}`", String::from(outcome)), "Zvonobot ends the call when no key or a key without an action is pressed: `on timeout | invalid -> hangup`");
                }
            }
        }
        out
    }

    /// The one action of a key's arm, refusing more than one and anything else.
    fn arm(&mut self, mut at: NodeId) -> Option<Action> {
        let mut action: Option<Action> = None;
        for _ in 0..=self.flow.nodes.len() {
            let node = self.node(at).clone();
            let found = match &node.op {
                Op::Label { .. } => None,
                Op::End | Op::Hangup { leg: None } | Op::Raise { .. } => return action,
                Op::Play {
                    audio: Audio::Record { id },
                    ..
                } => Some(Action::Record(*id)),
                Op::Transfer { leg, target } if *leg == LegId::CALLER => {
                    self.expr(target, &node.span);
                    Some(Action::Transfer(target.clone()))
                }
                Op::Sms {
                    to: Expr::LegNumber { leg },
                    text,
                } if *leg == LegId::CALLER => {
                    self.template(text, &node.span);
                    Some(Action::Sms(text.clone()))
                }
                Op::Sms { .. } => {
                    self.refuse(
                        &node.span,
                        "`sms` to another number",
                        "Zvonobot texts the called number only: `sms \"…\"` without `to`",
                    );
                    None
                }
                Op::Block { leg } if *leg == LegId::CALLER => Some(Action::Block),
                Op::Say { .. } => {
                    self.refuse(
                        &node.span,
                        "`say` on a menu key",
                        "a Zvonobot key plays another moderated record: `play record ID`",
                    );
                    None
                }
                Op::Menu { .. } => {
                    self.refuse(
                        &node.span,
                        "a nested menu",
                        "Zvonobot has one menu per call; each key runs one action",
                    );
                    return action;
                }
                _ => {
                    self.unsupported(&node);
                    None
                }
            };
            if let Some(a) = found {
                if action.is_some() {
                    self.refuse(&node.span, "a second action on one key", "Zvonobot runs one action per key: another record, a transfer, an SMS or the blacklist");
                } else {
                    action = Some(a);
                }
            }
            // a transfer ends the call for the lead
            at = match node.edge(&Outcome::Next) {
                Some(next) => next,
                None => return action,
            };
        }
        action
    }

    /// Where the first statement that does something is on a path that should just end.
    fn first_action(&self, mut at: NodeId) -> Option<ir::SrcSpan> {
        for _ in 0..=self.flow.nodes.len() {
            let node = self.node(at);
            match &node.op {
                Op::End | Op::Hangup { leg: None } | Op::Raise { .. } => return None,
                Op::Label { .. } => at = self.next(node)?,
                _ => return Some(node.span.clone()),
            }
        }
        None
    }

    /// Refuses a statement Zvonobot has nothing for.
    fn unsupported(&mut self, node: &ir::Node) {
        let (construct, help) = match &node.op {
            Op::Collect { .. } => ("`collect`", "Zvonobot takes one key per call: use a `menu` whose keys each run one action"),
            Op::Listen { .. } => ("`listen`", "Zvonobot does not recognize speech: use a one-key `menu`"),
            Op::Dial { .. } => ("`dial` of a second leg", "Zvonobot transfers the call to a manager: `on \"1\" -> transfer +7…`"),
            Op::Bridge { .. } => ("`bridge`", "Zvonobot transfers the call to a manager: `on \"1\" -> transfer +7…`"),
            Op::Fetch { .. } => ("`fetch`", "Zvonobot calls make no HTTP requests; put the data in lead columns"),
            Op::Assign { .. } => ("a variable", "Zvonobot calls compute nothing; use lead columns in texts (`{{name}}`)"),
            Op::Branch { .. } => ("`if`", "Zvonobot calls have no conditions; build one campaign per case"),
            Op::LoopStart { .. } | Op::LoopCheck { .. } => ("a loop", "Zvonobot plays the record once"),
            Op::Record { .. } => ("`record`", "Zvonobot does not record callers"),
            Op::Pause { .. } => ("`pause`", "put the silence into the record itself"),
            Op::Report { .. } => ("`report`", "Zvonobot's call reports carry each call's status and pressed digit (`ivrDigit`); drop `report`"),
            Op::Play { .. } => ("`play` of a file or URL", "Zvonobot plays records of your account: upload the audio, have it moderated, and `play record ID`"),
            Op::Transfer { .. } | Op::Block { .. } | Op::Sms { .. } => ("this action before the menu", "Zvonobot runs actions on menu keys only: `on \"1\" -> …`"),
            Op::Hangup { .. } => ("`hangup` of a leg", "Zvonobot calls have one leg"),
            _ => ("this statement", "Zvonobot calls play a record and then take one key"),
        };
        self.refuse(&node.span, construct, help);
    }

    /// Refuses values that are not lead columns (Zvonobot texts are fixed per call).
    /// Blocks and helpers are rendered per lead at build time, so a template fits when every
    /// value it reads is known then.
    fn template(&mut self, t: &Template, span: &ir::SrcSpan) {
        for e in t.exprs() {
            self.expr(e, span);
        }
    }

    fn expr(&mut self, e: &Expr, span: &ir::SrcSpan) {
        let fits = match e {
            Expr::Phone { .. } | Expr::Number { .. } => true,
            Expr::Text { template } => {
                self.template(template, span);
                true
            }
            Expr::Var { id } => self.flow.params.contains(id),
            Expr::LegNumber { leg } => *leg == LegId::CALLER,
            _ => false,
        };
        if !fits {
            self.refuse(span, "a value computed during the call", "Zvonobot texts and numbers are fixed per call: use literals or the lead's columns (`{{name}}`)");
        }
    }
}

const MIXED_HELP: &str =
    "a Zvonobot call starts with one record: either a record id (`play record ID`) or text (`say`), not both";

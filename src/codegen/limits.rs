//! The platforms' documented limits on the length of the texts a flow sends them (what is
//! said, what is texted), each with its source, checked when a flow is built for a target.
//!
//! Owns the table of limits and the measure of a text; it does not know how a target writes
//! the text out. A text with placeholders is measured by its fixed part only (placeholders
//! count as nothing), a lower bound of its length at run time: a text is refused only when
//! it is certain to be too long. Lengths are counted in characters (Unicode scalar values;
//! the same as the platforms' UTF-16 units for Cyrillic and Latin text).

use crate::ir::{self, Op, Template, TemplatePart};

/// A kind of text a flow sends to a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Spoken: `say`, and the prompts and reprompts of `collect`, `menu` and `listen`.
    Spoken,
    /// An `sms` body.
    Sms,
}

/// One platform limit on a kind of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimit {
    /// The platform's field, in words: "VoxEngine `call.say` text".
    pub field: &'static str,
    /// The most characters it takes.
    pub max: usize,
    /// Where the limit is documented.
    pub source: &'static str,
}

const VOXENGINE_SAY: TextLimit = TextLimit {
    field: "VoxEngine `call.say` text",
    max: 1500,
    source: "voxengine.d.ts (voximplant/voxengine-ci 28.0.0), `Call.say`: longer text ends the playback with an error",
};

const VOXIMPLANT_SMS: TextLimit = TextLimit {
    field: "Voximplant `SMS.sendSmsMessage` body",
    max: 765,
    source: "voxengine.d.ts (voximplant/voxengine-ci 28.0.0), `SendSmsMessageRequest.smsBody`: \"up to 765 characters\"",
};

const TWILIO_SAY_POLLY: TextLimit = TextLimit {
    field: "Twilio `<Say>` text with an Amazon Polly voice",
    max: 3000,
    source: "Twilio error 13521 (https://www.twilio.com/docs/api/errors/13521)",
};

const TWILIO_SAY_GOOGLE: TextLimit = TextLimit {
    field: "Twilio `<Say>` text with a Google voice",
    max: 5000,
    source: "Twilio error 13521 (https://www.twilio.com/docs/api/errors/13521)",
};

const TWILIO_SAY_BASIC: TextLimit = TextLimit {
    field: "Twilio `<Say>` text with a basic voice",
    max: 4096,
    source: "Twilio error 13521 (https://www.twilio.com/docs/api/errors/13521)",
};

const TWILIO_SMS: TextLimit = TextLimit {
    field: "Twilio message body",
    max: 1600,
    source: "Twilio error 21617 (https://www.twilio.com/docs/api/errors/21617)",
};

/// The limit a target sets on a kind of text in `flow` (the voice can decide it), if one is
/// documented. Targets are named as on the command line (`voximplant`, `twiml`, …).
pub fn limit(target: &str, flow: &ir::Flow, kind: TextKind) -> Option<TextLimit> {
    match (target, kind) {
        ("voximplant", TextKind::Spoken) => Some(VOXENGINE_SAY),
        ("voximplant", TextKind::Sms) => Some(VOXIMPLANT_SMS),
        ("twiml", TextKind::Spoken) => Some(twilio_say(&flow.settings.voice)),
        ("twiml", TextKind::Sms) => Some(TWILIO_SMS),
        _ => None,
    }
}

/// Twilio's `<Say>` limit for a flow's `voice`: `female`/`male` are Polly voices on this
/// target, a named voice goes by its prefix, anything else is a basic voice.
fn twilio_say(voice: &str) -> TextLimit {
    match voice {
        "female" | "male" => TWILIO_SAY_POLLY,
        v if v.starts_with("Polly.") => TWILIO_SAY_POLLY,
        v if v.starts_with("Google.") => TWILIO_SAY_GOOGLE,
        _ => TWILIO_SAY_BASIC,
    }
}

/// The characters of a template's fixed text: its length at run time when it has no
/// placeholders, and a lower bound of it when it has.
pub fn fixed_len(t: &Template) -> usize {
    fixed_len_parts(&t.parts)
}

fn fixed_len_parts(parts: &[TemplatePart]) -> usize {
    parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text(s) => s.chars().count(),
            TemplatePart::Value(_) | TemplatePart::Helper { .. } => 0,
            TemplatePart::If {
                then, otherwise, ..
            } => fixed_len_parts(then).min(fixed_len_parts(otherwise)),
        })
        .sum()
}

/// A text longer than the target takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong {
    /// The target.
    pub target: &'static str,
    /// The statement or option: `say`, `prompt`, `reprompt`, `sms`.
    pub what: &'static str,
    /// The characters of its fixed text.
    pub length: usize,
    /// Whether the text has placeholders (then `length` is a lower bound).
    pub placeholders: bool,
    /// The limit.
    pub limit: TextLimit,
    /// The statement.
    pub span: ir::SrcSpan,
}

/// The diagnostic of a [`TooLong`] text.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{what} text of {length} characters is longer than the {target} target takes ({max})")]
#[diagnostic(code(ivrc::codegen::text_too_long), help("{help}"))]
pub struct TextTooLong {
    /// The statement or option.
    pub what: String,
    /// The length, as shown.
    pub length: String,
    /// The target.
    pub target: String,
    /// The limit.
    pub max: usize,
    /// The limit's field and source, and what to do.
    pub help: String,
    /// Where.
    #[label("{length} characters")]
    pub at: miette::SourceSpan,
}

impl TooLong {
    /// The diagnostic to show.
    pub fn diagnostic(&self) -> TextTooLong {
        let length = if self.placeholders {
            format!("at least {}", self.length)
        } else {
            self.length.to_string()
        };
        TextTooLong {
            what: format!("`{}`", self.what),
            length,
            target: self.target.to_string(),
            max: self.limit.max,
            help: format!(
                "the {} takes at most {} characters ({}); split the text into several statements",
                self.limit.field, self.limit.max, self.limit.source
            ),
            at: (
                self.span.start as usize,
                (self.span.end - self.span.start) as usize,
            )
                .into(),
        }
    }
}

/// Every text of `program` longer than `target` takes.
pub fn check(program: &ir::Program, target: &'static str) -> Vec<TooLong> {
    let mut out = Vec::new();
    for flow in &program.flows {
        for n in &flow.nodes {
            for (what, kind, text) in texts(&n.op) {
                let Some(limit) = limit(target, flow, kind) else {
                    continue;
                };
                let length = fixed_len(text);
                if length > limit.max {
                    out.push(TooLong {
                        target,
                        what,
                        length,
                        placeholders: !text.exprs().is_empty(),
                        limit,
                        span: n.span.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The texts a node sends: what it is, its kind, the text.
fn texts(op: &Op) -> Vec<(&'static str, TextKind, &Template)> {
    let (prompt, reprompt) = match op {
        Op::Say { text, .. } => return vec![("say", TextKind::Spoken, text)],
        Op::Sms { text, .. } => return vec![("sms", TextKind::Sms, text)],
        Op::Collect {
            prompt, reprompt, ..
        }
        | Op::Menu {
            prompt, reprompt, ..
        } => (prompt, reprompt.as_ref()),
        Op::Listen { prompt, .. } => (prompt, None),
        _ => return Vec::new(),
    };
    let prompt = prompt.iter().map(|p| ("prompt", TextKind::Spoken, &p.text));
    let reprompt = reprompt.map(|r| ("reprompt", TextKind::Spoken, r));
    prompt.chain(reprompt).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(parts: Vec<TemplatePart>) -> Template {
        Template { parts }
    }

    #[test]
    fn placeholders_count_as_nothing() {
        let t = text(vec![
            TemplatePart::Text("Здравствуйте, ".into()),
            TemplatePart::Value(ir::Expr::Phone {
                value: "+74950000000".into(),
            }),
            TemplatePart::Text("!".into()),
        ]);
        assert_eq!(fixed_len(&t), 15);
    }

    #[test]
    fn twilio_limits_go_by_voice() {
        assert_eq!(twilio_say("female").max, 3000);
        assert_eq!(twilio_say("Google.ru-RU-Wavenet-A").max, 5000);
        assert_eq!(twilio_say("alice").max, 4096);
    }
}

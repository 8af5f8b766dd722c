//! The one table of the language's statement rules: the options each statement with a
//! `{ … }` body takes, the outcomes its arms may name (which go on without an arm, which
//! see the statement's new name), the built-in values and the conversions.
//!
//! The checker, `lower` and the language server read it instead of keeping lists of their
//! own. It does not define the syntax: `grammar/ivr.pest` does, and tests keep this table in
//! step with the grammar and with docs/language.md.

use crate::ir::{Builtin, Type};
use crate::syntax::ast::{Body, Pattern};

/// The rules of a statement with a `{ … }` body of options and arms.
#[derive(Debug, PartialEq, Eq)]
pub struct Statement {
    /// Its keyword.
    pub word: &'static str,
    /// The options it takes, in the order of docs/language.md.
    pub options: &'static [Opt],
    /// The outcomes its arms may name, in the order messages list them.
    pub outcomes: &'static [Outcome],
    /// What its arms name in quotes besides outcomes (`keys`, `phrases`), if anything.
    pub texts: Option<&'static str>,
}

/// An option of a statement.
#[derive(Debug, PartialEq, Eq)]
pub struct Opt {
    /// Its keyword.
    pub name: &'static str,
    /// The value it takes, as docs/language.md writes it (`D`, `N`, `"TEXT"`; empty for a
    /// flag).
    pub value: &'static str,
}

impl Opt {
    /// The option as written: `timeout D`.
    pub fn syntax(&self) -> String {
        if self.value.is_empty() {
            self.name.to_string()
        } else {
            format!("{} {}", self.name, self.value)
        }
    }
}

/// An outcome a statement's arm may name.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Its name, as arms and the IR (`ir::Outcome`) write it.
    pub name: &'static str,
    /// Whether the statement goes on when the outcome has no arm (a success); the others
    /// raise.
    pub goes_on: bool,
    /// Whether its arm sees the statement's new variable or leg.
    pub binds: bool,
    /// When the statement can take it at all.
    pub when: When,
}

/// When a statement can take an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// Only when the statement has this option (`machine` needs `detect_machine`).
    With(&'static str),
    /// Only when an arm names it, or an `else` arm takes it (`nomatch`); otherwise what it
    /// stands for is ignored.
    Named,
}

/// A plain option of the table.
const fn opt(name: &'static str, value: &'static str) -> Opt {
    Opt { name, value }
}

/// An outcome taken in every run of its statement.
const fn outcome(name: &'static str, goes_on: bool, binds: bool) -> Outcome {
    Outcome {
        name,
        goes_on,
        binds,
        when: When::Always,
    }
}

/// `collect NAME: number|digits`.
pub const COLLECT: Statement = Statement {
    word: "collect",
    options: &[
        opt("prompt", "\"TEXT\""),
        opt("reprompt", "\"TEXT\""),
        opt("retries", "N"),
        opt("min_digits", "N"),
        opt("max_digits", "N"),
        opt("end_key", "\"K\""),
        opt("timeout", "D"),
        opt("digit_timeout", "D"),
        opt("where", "EXPR"),
        opt("barge_in", "off"),
    ],
    outcomes: &[
        outcome("ok", true, true),
        outcome("timeout", false, false),
        outcome("invalid", false, false),
    ],
    texts: None,
};

/// `menu`.
pub const MENU: Statement = Statement {
    word: "menu",
    options: &[
        opt("prompt", "\"TEXT\""),
        opt("reprompt", "\"TEXT\""),
        opt("retries", "N"),
        opt("timeout", "D"),
        opt("barge_in", "off"),
    ],
    outcomes: &[
        outcome("timeout", false, false),
        outcome("invalid", false, false),
    ],
    texts: Some("keys"),
};

/// `listen within D`.
pub const LISTEN: Statement = Statement {
    word: "listen",
    options: &[opt("prompt", "\"TEXT\""), opt("barge_in", "off")],
    outcomes: &[
        Outcome {
            name: "nomatch",
            goes_on: false,
            binds: false,
            when: When::Named,
        },
        outcome("timeout", false, false),
    ],
    texts: Some("phrases"),
};

/// `dial EXPR as NAME`.
pub const DIAL: Statement = Statement {
    word: "dial",
    options: &[
        opt("timeout", "D"),
        opt("caller_id", "EXPR"),
        opt("detect_machine", ""),
    ],
    outcomes: &[
        outcome("answered", true, true),
        outcome("busy", false, false),
        outcome("no_answer", false, false),
        outcome("failed", false, false),
        Outcome {
            name: "machine",
            goes_on: false,
            binds: true,
            when: When::With("detect_machine"),
        },
    ],
    texts: None,
};

/// `bridge LEG and LEG`.
pub const BRIDGE: Statement = Statement {
    word: "bridge",
    options: &[opt("max_length", "D")],
    outcomes: &[],
    texts: None,
};

/// `record NAME`.
pub const RECORD: Statement = Statement {
    word: "record",
    options: &[opt("max_length", "D"), opt("end_key", "\"K\"")],
    outcomes: &[],
    texts: None,
};

/// `fetch NAME = get|post "URL"`.
pub const FETCH: Statement = Statement {
    word: "fetch",
    options: &[opt("timeout", "D"), opt("header", "\"NAME\" \"VALUE\"")],
    outcomes: &[outcome("ok", true, true), outcome("error", false, false)],
    texts: None,
};

/// Every statement with a body, in the order of docs/language.md.
pub const STATEMENTS: [&Statement; 7] = [&COLLECT, &MENU, &LISTEN, &DIAL, &BRIDGE, &RECORD, &FETCH];

/// The rules of the statement `word`, if it takes a body.
pub fn statement(word: &str) -> Option<&'static Statement> {
    STATEMENTS.into_iter().find(|s| s.word == word)
}

impl Statement {
    /// The names of its options.
    pub fn option_names(&self) -> impl Iterator<Item = &'static str> {
        self.options.iter().map(|o| o.name)
    }

    /// The names of its outcomes.
    pub fn outcome_names(&self) -> impl Iterator<Item = &'static str> {
        self.outcomes.iter().map(|o| o.name)
    }

    /// Whether it has arms at all.
    pub fn has_arms(&self) -> bool {
        !self.outcomes.is_empty() || self.texts.is_some()
    }

    /// The outcomes it can take with `body`: those it always takes, those whose option the
    /// body has, and those an arm names (or an `else` arm takes).
    pub fn taken<'b>(&self, body: &'b Body) -> impl Iterator<Item = &'static Outcome> + 'b {
        self.outcomes.iter().filter(move |o| match o.when {
            When::Always => true,
            When::With(option) => body.options.iter().any(|x| x.kind.keyword() == option),
            When::Named => body.arms.iter().any(|a| {
                a.is_else
                    || a.patterns
                        .iter()
                        .any(|p| matches!(p, Pattern::Outcome(x) if x.name == o.name))
            }),
        })
    }
}

/// A built-in value of every flow (or of an `on sms` handler).
#[derive(Debug, PartialEq, Eq)]
pub struct BuiltinValue {
    /// The path that names it: `called.number`.
    pub name: &'static str,
    /// What the IR calls it.
    pub builtin: Builtin,
    /// Its type.
    pub ty: Type,
    /// What it holds, for an editor.
    pub doc: &'static str,
    /// Whether it is known inside `on sms` only.
    pub sms_only: bool,
}

/// The built-in values, in the order of docs/language.md.
pub const BUILTINS: [BuiltinValue; 4] = [
    BuiltinValue {
        name: "called.number",
        builtin: Builtin::CalledNumber,
        ty: Type::Phone,
        doc: "the number that was called (ours)",
        sms_only: false,
    },
    BuiltinValue {
        name: "call.id",
        builtin: Builtin::CallId,
        ty: Type::Text,
        doc: "the platform's id of the call",
        sms_only: false,
    },
    BuiltinValue {
        name: "sms.text",
        builtin: Builtin::SmsText,
        ty: Type::Text,
        doc: "the text of the message `on sms` handles",
        sms_only: true,
    },
    BuiltinValue {
        name: "sms.from",
        builtin: Builtin::SmsFrom,
        ty: Type::Phone,
        doc: "the sender of the message `on sms` handles",
        sms_only: true,
    },
];

/// The built-in value the IR calls `builtin`.
pub fn builtin(builtin: Builtin) -> &'static BuiltinValue {
    let row = match builtin {
        Builtin::CalledNumber => 0,
        Builtin::CallId => 1,
        Builtin::SmsText => 2,
        Builtin::SmsFrom => 3,
    };
    &BUILTINS[row]
}

/// A conversion, the only kind of function call.
#[derive(Debug, PartialEq, Eq)]
pub struct Conversion {
    /// Its name.
    pub name: &'static str,
    /// The type of its result.
    pub result: Type,
    /// The types of argument it accepts.
    pub accepts: &'static [Type],
}

/// The conversions, in the order of docs/language.md.
pub const CONVERSIONS: [Conversion; 5] = [
    Conversion {
        name: "number",
        result: Type::Number,
        accepts: &[Type::Number, Type::Digits, Type::Text, Type::Json],
    },
    Conversion {
        name: "text",
        result: Type::Text,
        accepts: &[
            Type::Number,
            Type::Digits,
            Type::Text,
            Type::Phone,
            Type::Duration,
            Type::Bool,
            Type::Json,
        ],
    },
    Conversion {
        name: "digits",
        result: Type::Digits,
        accepts: &[Type::Digits, Type::Number, Type::Text, Type::Json],
    },
    Conversion {
        name: "phone",
        result: Type::Phone,
        accepts: &[Type::Phone, Type::Text, Type::Digits, Type::Json],
    },
    Conversion {
        name: "len",
        result: Type::Number,
        accepts: &[Type::Text, Type::Digits],
    },
];

/// "`a`, `b` and `c`": names in backticks, for help lines.
pub fn and_list<'n>(names: impl IntoIterator<Item = &'n str>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::error::RESERVED;

    /// The text of the section `### `word`` of docs/language.md.
    fn section(docs: &str, word: &str) -> String {
        let head = format!("\n### `{word}`\n");
        let after = docs.split(head.as_str()).nth(1).unwrap_or_default();
        after.split("\n#").next().unwrap_or_default().to_string()
    }

    #[test]
    fn options_and_outcomes_are_documented_with_their_statement() {
        let docs = include_str!("../../docs/language.md");
        for s in STATEMENTS {
            let text = section(docs, s.word);
            assert!(!text.is_empty(), "docs/language.md has no `{}`", s.word);
            let has_table = text.contains("| option |");
            for o in s.options {
                assert!(RESERVED.contains(&o.name), "`{}` is not reserved", o.name);
                let row = format!("| `{}`", o.syntax());
                let mention = format!("{} {}", o.name, o.value);
                assert!(
                    if has_table {
                        text.contains(&row)
                    } else {
                        text.contains(mention.trim())
                    },
                    "the section of `{}` does not document `{}`",
                    s.word,
                    o.syntax()
                );
            }
            for o in s.outcomes {
                let row = format!("\n| `{}` |", o.name);
                let line = text
                    .split(row.as_str())
                    .nth(1)
                    .and_then(|r| r.lines().next());
                let line = line.unwrap_or_else(|| panic!("`{} {}` undocumented", s.word, o.name));
                if o.when != When::Named {
                    let without_arm = if o.goes_on { "goes on |" } else { "raise |" };
                    assert!(line.ends_with(without_arm), "`{} {}`", s.word, o.name);
                }
                assert!(crate::ir::Outcome::try_from(o.name.to_string()).is_ok());
            }
        }
    }

    #[test]
    fn the_options_are_those_of_the_grammar() {
        let grammar = include_str!("../../grammar/ivr.pest");
        let mut in_grammar: Vec<&str> = grammar
            .lines()
            .filter_map(|l| l.split_once("_opt = ").map(|(name, _)| name))
            .collect();
        in_grammar.sort_unstable();
        let mut in_table: Vec<&str> = STATEMENTS.iter().flat_map(|s| s.option_names()).collect();
        in_table.sort_unstable();
        in_table.dedup();
        assert_eq!(in_grammar, in_table);
        for s in STATEMENTS {
            for o in s.outcomes {
                if let When::With(option) = o.when {
                    assert!(s.option_names().any(|n| n == option));
                }
            }
        }
    }

    #[test]
    fn builtins_and_conversions_are_documented() {
        let docs = include_str!("../../docs/language.md");
        for b in [
            Builtin::CalledNumber,
            Builtin::CallId,
            Builtin::SmsText,
            Builtin::SmsFrom,
        ] {
            let row = builtin(b);
            assert_eq!(row.builtin, b);
            let line = format!("| `{}` | `{}` |", row.name, row.ty.name());
            assert!(docs.contains(&line), "{line}");
        }
        for c in &CONVERSIONS {
            let line = format!("| `{}(x)` |", c.name);
            let line = docs
                .split(line.as_str())
                .nth(1)
                .and_then(|r| r.lines().next());
            let line = line.unwrap_or_else(|| panic!("`{}` undocumented", c.name));
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(cells[1], format!("`{}`", c.result.name()), "`{}`", c.name);
            for t in c.accepts {
                let named = cells[0].contains(&format!("`{}`", t.name()));
                assert!(
                    named || cells[0] == "every type",
                    "`{}` of {}",
                    c.name,
                    t.name()
                );
            }
        }
        assert_eq!(and_list(["a"]), "`a`");
        assert_eq!(and_list(["a", "b", "c"]), "`a`, `b` and `c`");
    }
}

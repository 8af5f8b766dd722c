//! The language's keywords as an editor offers and explains them: every statement and
//! top-level item with its syntax and a short doc (the wording of docs/language.md), and the
//! keywords each place in a file takes. Hover and completion read this one table; the
//! options and outcomes of each statement, the built-ins and the conversions they read from
//! `check::rules`.
//!
//! It does not define the syntax: `grammar/ivr.pest` does, and a test keeps the words here
//! reserved words of the grammar and sections of docs/language.md.

/// A keyword that starts a statement or an item, with what an editor shows for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    /// The word.
    pub word: &'static str,
    /// Its syntax, as docs/language.md writes it.
    pub syntax: &'static str,
    /// What it does, in a sentence or two from docs/language.md.
    pub doc: &'static str,
}

/// The statements, in the order of docs/language.md.
pub const STATEMENTS: &[Keyword] = &[
    Keyword {
        word: "answer",
        syntax: "answer",
        doc: "Answers the inbound call (the `caller` leg). No options, no outcomes; goes on.",
    },
    Keyword {
        word: "say",
        syntax: "say [to LEG] \"TEXT\"",
        doc: "Speaks the text with the flow's `lang` and `voice`, and goes on when it has been \
              said. Placeholders are filled in when the statement runs.",
    },
    Keyword {
        word: "play",
        syntax: "play [to LEG] \"FILE-OR-URL\"\nplay [to LEG] record ID",
        doc: "Plays audio: a file path (relative to the flow file), an `http(s)://` URL, or \
              `record ID`, an audio record stored on the platform. Goes on when the audio has \
              played.",
    },
    Keyword {
        word: "pause",
        syntax: "pause DURATION",
        doc: "Silence. Range 1ms–10m. Goes on when the time has passed.",
    },
    Keyword {
        word: "collect",
        syntax: "collect NAME: number|digits [from LEG] [{ options and arms }]",
        doc: "Collects DTMF keys into a new variable of type `number` or `digits`. Outcomes: \
              `ok` (goes on), `timeout` and `invalid` (raise after the `retries`). `NAME` is \
              visible in the `on ok` arm (and in `where`) and after the statement.",
    },
    Keyword {
        word: "menu",
        syntax: "menu [from LEG] { options and arms }",
        doc: "One key chooses a branch. Arms name keys in quotes (`on \"1\" -> …`); \
              `timeout` and `invalid` raise after the `retries`.",
    },
    Keyword {
        word: "listen",
        syntax: "listen [to LEG] within DURATION { options and arms }",
        doc: "Listens for spoken keywords. Arms name phrases in quotes; `within` is the \
              overall time limit (1s–1h), after which `timeout` is taken.",
    },
    Keyword {
        word: "dial",
        syntax: "dial EXPR as NAME [{ options and arms }]",
        doc: "Calls a number and creates a new leg. Outcomes: `answered` (goes on), `busy`, \
              `no_answer`, `failed` and, with `detect_machine`, `machine` (raise). The leg is \
              usable in the `answered` and `machine` arms and after the statement.",
    },
    Keyword {
        word: "bridge",
        syntax: "bridge LEG [and] LEG [{ max_length DURATION }]",
        doc: "Connects the media of two legs (either may be `caller`) until one of them hangs \
              up, then goes on with the next statement. `max_length` is 1 minute to 24 hours, \
              4 hours by default.",
    },
    Keyword {
        word: "transfer",
        syntax: "transfer EXPR\ntransfer LEG to EXPR",
        doc: "Hands a leg over to another number (a blind transfer). `transfer NUMBER` hands \
              the caller over and ends the flow; `transfer LEG to NUMBER` for a dialled leg \
              hands that leg over and goes on.",
    },
    Keyword {
        word: "record",
        syntax: "record NAME [from LEG] [{ options }]",
        doc: "Records what a party says; `NAME` becomes a `text` variable holding the \
              recording's address. Options: `max_length` (1m by default) and `end_key`.",
    },
    Keyword {
        word: "sms",
        syntax: "sms [to EXPR] \"TEXT\"",
        doc: "Sends a text message and goes on at once. Without `to` the message goes to the \
              caller's number, and inside `on sms` to the sender of the message being handled.",
    },
    Keyword {
        word: "fetch",
        syntax: "fetch NAME = get|post \"URL\" [with { KEY: EXPR, … }] [{ options and arms }]",
        doc: "Asks an external HTTP system; the JSON answer lands in a new `json` variable. \
              Outcomes: `ok` (goes on) and `error` (raises). `NAME` is visible in the `on ok` \
              arm and after the statement.",
    },
    Keyword {
        word: "let",
        syntax: "let NAME [: TYPE] = EXPR",
        doc: "Declares a new variable. Without a type the variable takes the expression's \
              type; with a type, the value must have that type.",
    },
    Keyword {
        word: "set",
        syntax: "set NAME = EXPR",
        doc: "Changes a variable or parameter declared earlier. The value must have the \
              variable's type; legs cannot be assigned.",
    },
    Keyword {
        word: "report",
        syntax: "report ok [with { KEY: EXPR, … }]\nreport retry [\"REASON\"]",
        doc: "Tells the campaign how the attempt ended, and ends the call: `report ok` marks \
              the lead done, `report retry` asks for another attempt later.",
    },
    Keyword {
        word: "block",
        syntax: "block",
        doc: "Blacklists the caller's number and goes on.",
    },
    Keyword {
        word: "hangup",
        syntax: "hangup\nhangup LEG",
        doc: "`hangup` hangs up every leg and ends the flow. `hangup LEG` hangs up one \
              dialled leg and goes on; `hangup caller` ends the flow.",
    },
    Keyword {
        word: "next",
        syntax: "next",
        doc: "Only inside an outcome arm: goes on with the statement after the statement the \
              arm belongs to.",
    },
    Keyword {
        word: "if",
        syntax: "if EXPR { … } [else if EXPR { … }]… [else { … }]",
        doc: "Branches on a condition: a `bool`, or a `json` value tested for truthiness.",
    },
    Keyword {
        word: "goto",
        syntax: "goto NAME [max N]",
        doc: "Jumps to a label in its own block or in a block around it. A jump backwards \
              repeats the statements between, so it must say how often: `goto NAME max 3`.",
    },
    Keyword {
        word: "label",
        syntax: "label NAME",
        doc: "Marks a place for `goto`. Label names are unique within a flow, handlers \
              included.",
    },
    Keyword {
        word: "repeat",
        syntax: "repeat N [times] { … }\nrepeat within D { … }\nrepeat N [times] within D { … }",
        doc: "A bounded loop; at least one bound is required. `N` is 1–1000; `within` is \
              1s–24h, measured from the moment the `repeat` is reached.",
    },
    Keyword {
        word: "break",
        syntax: "break",
        doc: "Leaves the innermost `repeat` and goes on after it.",
    },
];

/// The top-level items.
pub const ITEMS: &[Keyword] = &[
    Keyword {
        word: "import",
        syntax: "import \"PATH\"",
        doc: "Reads another file, relative to the directory of the importing file. Its flows, \
              campaigns and tests become part of the program.",
    },
    Keyword {
        word: "flow",
        syntax:
            "flow NAME [( PARAM: TYPE, … )] {\n  settings, flow-wide handlers and statements\n}",
        doc: "A call flow: typed parameters, settings (`lang`, `voice`, `caller_id`), \
              flow-wide handlers (`on hangup`, `on error`, `on sms`) and statements.",
    },
    Keyword {
        word: "campaign",
        syntax: "campaign NAME for FLOW { settings }",
        doc: "An outbound call list bound to a flow.",
    },
    Keyword {
        word: "test",
        syntax: "test \"NAME\" for FLOW [from +PHONE] [with { PARAM: LITERAL, … }] { steps }",
        doc: "A scripted conversation with a flow, so a flow can be tested without a phone.",
    },
];

/// What may start a line directly in a flow's body besides a statement: settings and `on`.
pub const FLOW_SETTINGS: &[&str] = &["lang", "voice", "caller_id", "on"];

/// The settings of a campaign.
pub const CAMPAIGN_SETTINGS: &[&str] = &[
    "leads",
    "delimiter",
    "dial",
    "attempts",
    "retry_after",
    "lines",
    "rate",
    "window",
    "timezone",
    "redial",
    "normalize",
    "record_calls",
    "detect_machine",
    "result_webhook",
    "caller_id",
];

/// The steps of a test.
pub const TEST_STEPS: &[&str] = &[
    "expect",
    "press",
    "speak",
    "wait",
    "respond",
    "receive",
    "answer",
    "busy",
    "no_answer",
    "fail",
    "machine",
    "hangup",
];

/// What `expect` takes in a test.
pub const EXPECTATIONS: &[&str] = &[
    "say", "play", "dial", "bridge", "transfer", "sms", "fetch", "report", "hangup", "block",
];

/// Keywords that may start an expression besides a name and a conversion (whose names
/// `check::rules::CONVERSIONS` holds): the literals and `not`.
pub const EXPRESSION_WORDS: &[&str] = &["true", "false", "not"];

/// The type names.
pub const TYPES: &[&str] = &[
    "number", "digits", "text", "phone", "duration", "bool", "json",
];

/// The statement or item `word` starts, if any.
pub fn statement_or_item(word: &str) -> Option<&'static Keyword> {
    STATEMENTS.iter().chain(ITEMS).find(|k| k.word == word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::error::RESERVED;

    #[test]
    fn keywords_are_reserved_words_and_statements_are_documented() {
        let docs = include_str!("../../docs/language.md");
        for k in STATEMENTS.iter().chain(ITEMS) {
            assert!(RESERVED.contains(&k.word), "`{}` is not reserved", k.word);
            assert!(
                docs.contains(&format!("`{}`", k.word)),
                "docs/language.md does not mention `{}`",
                k.word
            );
            let first_line = k.syntax.lines().next().unwrap_or_default();
            assert!(
                first_line.starts_with(k.word),
                "the syntax of `{}` starts with another word",
                k.word
            );
        }
        for w in FLOW_SETTINGS
            .iter()
            .chain(CAMPAIGN_SETTINGS)
            .chain(TEST_STEPS)
            .chain(EXPECTATIONS)
            .chain(EXPRESSION_WORDS)
        {
            assert!(RESERVED.contains(w), "`{w}` is not reserved");
        }
        for s in crate::check::rules::STATEMENTS {
            let k = statement_or_item(s.word);
            assert!(k.is_some(), "`{}` of check::rules is no statement", s.word);
        }
        for t in TYPES {
            assert_eq!(crate::ir::Type::from_name(t).map(|t| t.name()), Some(*t));
        }
    }

    #[test]
    fn the_statements_are_those_of_the_grammar() {
        // The alternatives of the grammar's `statement` rule, `_stmt` suffixes dropped.
        let grammar = include_str!("../../grammar/ivr.pest");
        let rule = grammar
            .split("\nstatement = _{")
            .nth(1)
            .and_then(|s| s.split("\n}").next())
            .unwrap_or_default();
        let mut in_grammar: Vec<&str> = rule
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.len() > 1)
            .map(|w| w.strip_suffix("_stmt").unwrap_or(w))
            .collect();
        in_grammar.sort_unstable();
        let mut in_table: Vec<&str> = STATEMENTS.iter().map(|k| k.word).collect();
        in_table.sort_unstable();
        assert_eq!(in_grammar, in_table);
    }
}

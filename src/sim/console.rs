//! The console language of `ivrc sim`: one line of input is keys (`12#`), speech (`:да`), or
//! a command (`/wait 30s`, `/answer op`, `/busy op`, `/no_answer op`, `/fail op`,
//! `/hangup [leg]`, `/fetch {json}`, `/fetch-fail`, `/leg op`). Parsing and applying are pure;
//! the binary reads lines and prints.

use super::VirtualCall;
use crate::ir::{LegId, Outcome};

/// One line of console input.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Keys pressed.
    Keys(String),
    /// Words spoken.
    Speech(String),
    /// Virtual time passes, milliseconds.
    Wait(u64),
    /// A dialled leg's outcome.
    Dial(String, Outcome),
    /// A party hangs up (the current leg when none is named).
    Hangup(Option<String>),
    /// The pending fetch answers.
    Fetch(serde_json::Value),
    /// The pending fetch fails.
    FetchFail,
    /// Input goes to this leg from now on.
    Leg(String),
    /// Nothing (an empty line or a `#` comment).
    Nothing,
}

/// Parses one line.
pub fn parse(line: &str) -> Result<Input, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with("//") {
        return Ok(Input::Nothing);
    }
    if let Some(speech) = line.strip_prefix(':') {
        return Ok(Input::Speech(speech.trim().to_string()));
    }
    let Some(command) = line.strip_prefix('/') else {
        if line
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            return Ok(Input::Keys(line.to_string()));
        }
        return Err(format!(
            "`{line}`: keys are 0-9, * and #; start speech with `:` and commands with `/`"
        ));
    };
    let (word, rest) = command
        .split_once(char::is_whitespace)
        .map_or((command, ""), |(w, r)| (w, r.trim()));
    let leg = || {
        if rest.is_empty() {
            Err(format!("/{word} needs a leg name"))
        } else {
            Ok(rest.to_string())
        }
    };
    Ok(match word {
        "wait" => Input::Wait(duration(rest)?),
        "answer" => Input::Dial(leg()?, Outcome::Answered),
        "busy" => Input::Dial(leg()?, Outcome::Busy),
        "no_answer" => Input::Dial(leg()?, Outcome::NoAnswer),
        "fail" => Input::Dial(leg()?, Outcome::Failed),
        "machine" => Input::Dial(leg()?, Outcome::Machine),
        "hangup" => Input::Hangup((!rest.is_empty()).then(|| rest.to_string())),
        "fetch" => {
            Input::Fetch(serde_json::from_str(rest).map_err(|e| format!("/fetch takes JSON: {e}"))?)
        }
        "fetch-fail" => Input::FetchFail,
        "leg" => Input::Leg(leg()?),
        _ => return Err(format!("unknown command `/{word}`; see `ivrc sim --help`")),
    })
}

/// Reads `500ms`, `10s`, `1m`, `1h`.
fn duration(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 30s"))?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("`{text}` is not a duration such as 30s")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// The leg console input goes to, and the call it drives.
pub struct Console<'f> {
    /// The call.
    pub call: VirtualCall<'f>,
    /// The leg chosen with `/leg`, if any.
    pub leg: Option<LegId>,
}

impl Console<'_> {
    fn leg_named(&self, name: &str) -> Result<LegId, String> {
        self.call
            .leg(name)
            .ok_or_else(|| format!("the flow has no leg `{name}`"))
    }

    /// Applies one input.
    pub fn apply(&mut self, input: Input) -> Result<(), String> {
        let current = self
            .leg
            .filter(|_| true)
            .unwrap_or_else(|| self.call.default_leg());
        match input {
            Input::Nothing => {}
            Input::Keys(keys) => self.call.press(current, &keys),
            Input::Speech(text) => self.call.speak(current, &text),
            Input::Wait(ms) => self.call.wait(ms),
            Input::Dial(name, outcome) => {
                let leg = self.leg_named(&name)?;
                if !self.call.dial_result(leg, outcome) {
                    return Err(format!("no dial of `{name}` is ringing"));
                }
            }
            Input::Hangup(name) => {
                let leg = match name {
                    Some(n) => self.leg_named(&n)?,
                    None => current,
                };
                self.call.hangup(leg);
            }
            Input::Fetch(json) => {
                if !self.call.respond(Ok(json)) {
                    return Err("no fetch is waiting".into());
                }
            }
            Input::FetchFail => {
                if !self.call.respond(Err("failed on the console".into())) {
                    return Err("no fetch is waiting".into());
                }
            }
            Input::Leg(name) => self.leg = Some(self.leg_named(&name)?),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_line() {
        assert_eq!(parse("12#"), Ok(Input::Keys("12#".into())));
        assert_eq!(
            parse(":Да, конечно"),
            Ok(Input::Speech("Да, конечно".into()))
        );
        assert_eq!(parse("/wait 1m"), Ok(Input::Wait(60_000)));
        assert_eq!(
            parse("/busy client"),
            Ok(Input::Dial("client".into(), Outcome::Busy))
        );
        assert_eq!(parse("/hangup"), Ok(Input::Hangup(None)));
        assert_eq!(
            parse("/fetch {\"a\": 1}"),
            Ok(Input::Fetch(serde_json::json!({"a": 1})))
        );
        assert!(parse("hello").is_err());
        assert!(parse("/wait soon").is_err());
        assert!(parse("/answer").is_err());
    }
}

//! Value checks: phone literals, duration and count ranges, phone keys, phrases and URLs.
//!
//! The ranges here are the language's documented limits (docs/language.md); they keep every
//! wait bounded and every value representable on every target.

use super::error::CheckError;
use crate::phrase;
use crate::span::Span;
use crate::syntax::ast::{Duration, Int, Template, TemplatePart};

/// Allowed range of a duration setting, milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// Smallest.
    pub min: u64,
    /// Largest.
    pub max: u64,
}

const SEC: u64 = 1000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;

/// `pause`.
pub const PAUSE: Range = Range {
    min: 1,
    max: 10 * MIN,
};
/// `timeout` of collect and menu.
pub const INPUT_TIMEOUT: Range = Range {
    min: SEC,
    max: 2 * MIN,
};
/// `digit_timeout`.
pub const DIGIT_TIMEOUT: Range = Range { min: SEC, max: MIN };
/// `prompt loop pause`.
pub const PROMPT_PAUSE: Range = Range { min: 0, max: MIN };
/// `listen … within`.
pub const LISTEN_WITHIN: Range = Range {
    min: SEC,
    max: HOUR,
};
/// `dial` ring `timeout`.
pub const DIAL_TIMEOUT: Range = Range {
    min: 5 * SEC,
    max: 5 * MIN,
};
/// `fetch` `timeout`.
pub const FETCH_TIMEOUT: Range = Range { min: 100, max: MIN };
/// `record` `max_length`.
pub const RECORD_LENGTH: Range = Range {
    min: SEC,
    max: HOUR,
};
/// `bridge` `max_length`.
pub const BRIDGE_LENGTH: Range = Range {
    min: MIN,
    max: 24 * HOUR,
};
/// `repeat … within`.
pub const REPEAT_WITHIN: Range = Range {
    min: SEC,
    max: 24 * HOUR,
};
/// Campaign `retry_after` and redial periods.
pub const RETRY_AFTER: Range = Range {
    min: SEC,
    max: 30 * 24 * HOUR,
};
/// `record_calls trim`.
pub const RECORD_TRIM: Range = Range { min: 0, max: MIN };

/// Checks a duration against its range.
pub fn duration(what: &str, d: &Duration, range: Range, out: &mut Vec<CheckError>) {
    if d.ms < range.min || d.ms > range.max {
        out.push(CheckError::DurationOutOfRange {
            what: what.to_string(),
            value: crate::ir::format_duration(d.ms),
            min: crate::ir::format_duration(range.min),
            max: crate::ir::format_duration(range.max),
            at: d.span.into(),
        });
    }
}

/// Checks a count against `min..=max`.
pub fn count(what: &str, n: &Int, min: i64, max: i64, out: &mut Vec<CheckError>) -> bool {
    let ok = n.value >= min && n.value <= max;
    if !ok {
        out.push(CheckError::CountOutOfRange {
            what: what.to_string(),
            value: n.value,
            help: format!("use a whole number from {min} to {max}"),
            at: n.span.into(),
        });
    }
    ok
}

/// Checks a phone literal and returns its E.164 form.
pub fn phone_literal(text: &str, span: Span, out: &mut Vec<CheckError>) -> Option<String> {
    match crate::phone::parse_e164(text) {
        Ok(p) => Some(p.e164().to_string()),
        Err(e) => {
            out.push(CheckError::InvalidPhone {
                text: text.to_string(),
                reason: e.to_string(),
                at: span.into(),
            });
            None
        }
    }
}

/// Checks that a template is one phone key and returns it.
pub fn key(t: &Template, out: &mut Vec<CheckError>) -> Option<String> {
    keys(t, true, out)
}

/// Checks that a template is phone keys (`0`–`9`, `*`, `#`): exactly one when `one`, else at
/// least one. Returns the keys.
pub fn keys(t: &Template, one: bool, out: &mut Vec<CheckError>) -> Option<String> {
    let text = t.as_plain().unwrap_or_else(|| t.source_text());
    let count = text.chars().count();
    let all_keys = text
        .chars()
        .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
    if all_keys && count >= 1 && (!one || count == 1) {
        return Some(text);
    }
    let key = if text.is_empty() {
        "\"\"".to_string()
    } else {
        text
    };
    out.push(CheckError::InvalidKey {
        key,
        at: t.span.into(),
    });
    None
}

/// Checks a URL template: literal `http://` or `https://` and a host before any placeholder.
pub fn url(t: &Template, out: &mut Vec<CheckError>) {
    let lead = match t.parts.first() {
        Some(TemplatePart::Text(s)) => s.as_str(),
        _ => "",
    };
    let rest = lead
        .strip_prefix("https://")
        .or_else(|| lead.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| {
        r.chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '[')
    });
    if !host_ok {
        out.push(CheckError::InvalidUrl {
            url: t.source_text(),
            at: t.span.into(),
        });
    }
}

/// A phrase of a `listen` arm, normalized, with where it is written.
pub struct Phrase {
    /// Normalized text.
    pub text: String,
    /// Arm index it belongs to.
    pub arm: usize,
    /// Where.
    pub span: Span,
}

/// Checks the phrases of a `listen`: none empty, none twice, and warns where saying one arm's
/// phrase says another arm's (`phrase::says`: «да нет» says «да»; «не готов» does not say
/// «готов»).
pub fn phrases(list: &[Phrase], out: &mut Vec<CheckError>) {
    for (i, p) in list.iter().enumerate() {
        if p.text.is_empty() {
            out.push(CheckError::EmptyPhrase { at: p.span.into() });
            continue;
        }
        for q in &list[..i] {
            if q.text.is_empty() {
                continue;
            }
            if q.text == p.text {
                out.push(CheckError::DuplicatePhrase {
                    phrase: p.text.clone(),
                    at: p.span.into(),
                    first: Some(q.span.into()),
                });
            } else if q.arm != p.arm {
                if phrase::says(&p.text, &q.text) {
                    out.push(CheckError::OverlappingPhrases {
                        inner: q.text.clone(),
                        outer: p.text.clone(),
                        at: p.span.into(),
                        other: Some(q.span.into()),
                    });
                } else if phrase::says(&q.text, &p.text) {
                    out.push(CheckError::OverlappingPhrases {
                        inner: p.text.clone(),
                        outer: q.text.clone(),
                        at: q.span.into(),
                        other: Some(p.span.into()),
                    });
                }
            }
        }
    }
}

/// Minutes east of UTC for `+03:00` / `-05:30` (from −12:00 to +14:00), or `None`.
pub fn utc_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = sign * (h * 60 + m);
    (m < 60 && (-12 * 60..=14 * 60).contains(&minutes)).then_some(minutes)
}

#[cfg(test)]
mod tests {
    use super::utc_offset;

    #[test]
    fn utc_offsets_are_signed_hours_and_minutes_within_the_earths_zones() {
        assert_eq!(utc_offset("+03:00"), Some(180));
        assert_eq!(utc_offset("-05:30"), Some(-330));
        assert_eq!(utc_offset("+14:00"), Some(840));
        assert_eq!(utc_offset("+15:00"), None);
        assert_eq!(utc_offset("+3"), None);
        assert_eq!(utc_offset("03:00"), None);
        assert_eq!(utc_offset("+03:60"), None);
    }
}

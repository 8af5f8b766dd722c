//! Syntax: source text → AST, with every syntax error collected and worded for people.
//!
//! Owns the grammar binding, the AST types, and the translation of pest's errors. It does
//! not resolve names or judge values (that is `check`), and it never reads files: callers
//! hand in text (or bytes, through [`decode_source`]).

pub mod ast;
pub mod error;
mod from_pairs;
mod grammar;
pub mod template;

pub use error::SyntaxError;
pub use grammar::Rule;

use crate::span::{FileId, Span};
use grammar::IvrParser;
use pest::iterators::Pairs;
use pest::Parser;

/// The largest source file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// The deepest nesting of `{` and `(` accepted. Deeper input is refused before parsing so
/// that no recursive phase can exhaust the stack.
pub const MAX_NESTING: usize = 64;

/// Turns raw bytes into text, or explains why they are not a valid source file. On error the
/// returned text is a lossy copy to show the error against.
pub fn decode_source(file: FileId, bytes: Vec<u8>) -> Result<String, (String, SyntaxError)> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The lossy copy replaces the bad byte with U+FFFD at the same offset.
            let err = SyntaxError::InvalidUtf8 {
                at: Span::new(file, at, at + 1).into(),
            };
            Err((lossy, err))
        }
    }
}

/// Parses one file. Returns the module (possibly partial) and every syntax error found.
pub fn parse(file: FileId, text: &str) -> (ast::Module, Vec<SyntaxError>) {
    if text.len() > MAX_FILE_BYTES {
        let err = SyntaxError::TooLarge {
            size: text.len(),
            limit: MAX_FILE_BYTES,
            at: Span::new(file, 0, 0).into(),
        };
        return (ast::Module::default(), vec![err]);
    }
    if let Some(at) = too_deep_at(text) {
        let err = SyntaxError::TooDeep {
            limit: MAX_NESTING,
            at: Span::new(file, at, at + 1).into(),
        };
        return (ast::Module::default(), vec![err]);
    }
    match IvrParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let mut builder = from_pairs::Builder::new(file, 0);
            let module = match pairs.next() {
                Some(p) => builder.module(p),
                None => ast::Module::default(),
            };
            if module.items.is_empty() && builder.errors.is_empty() {
                let end = text.len().min(1);
                builder.errors.push(SyntaxError::EmptyFile {
                    at: Span::new(file, 0, end).into(),
                });
            }
            (module, builder.errors)
        }
        Err(_) => parse_in_chunks(file, text),
    }
}

/// The pest parse tree of a file without syntax errors, for the formatter: the AST keeps
/// neither punctuation nor the order of tokens. Any error is reported as [`parse`] reports it.
pub(crate) fn parse_tree(file: FileId, text: &str) -> Result<Pairs<'_, Rule>, Vec<SyntaxError>> {
    let (_, errors) = parse(file, text);
    if !errors.is_empty() {
        return Err(errors);
    }
    IvrParser::parse(Rule::file, text).map_err(|e| vec![translate(file, 0, text, e)])
}

/// After a failure, parses each top-level item on its own so that one error per item is
/// reported, not only the first in the file.
fn parse_in_chunks(file: FileId, text: &str) -> (ast::Module, Vec<SyntaxError>) {
    // Detailed attempts (literal tokens such as `=` or `->`) cost time, so they are only
    // collected on this error path. The switch is process-wide; another parse running
    // meanwhile only gets slower, never different.
    pest::set_error_detail(true);
    let result = parse_chunks(file, text);
    pest::set_error_detail(false);
    result
}

fn parse_chunks(file: FileId, text: &str) -> (ast::Module, Vec<SyntaxError>) {
    let mut module = ast::Module::default();
    let mut errors = Vec::new();
    for (start, end) in chunks(text) {
        let chunk = &text[start..end];
        match IvrParser::parse(Rule::file, chunk) {
            Ok(mut pairs) => {
                let mut builder = from_pairs::Builder::new(file, start);
                if let Some(p) = pairs.next() {
                    module.items.extend(builder.module(p).items);
                }
                errors.extend(builder.errors);
            }
            Err(e) => {
                let failed_at = match e.location {
                    pest::error::InputLocation::Pos(p) => p,
                    pest::error::InputLocation::Span((s, _)) => s,
                };
                match unterminated_string_at(chunk).filter(|(s, _)| *s < failed_at) {
                    // An open string swallows the rest of its line, so the parser's complaint
                    // comes later and says less; report the string instead.
                    Some(at) => errors.push(SyntaxError::UnterminatedString {
                        at: Span::new(file, start + at.0, start + at.1).into(),
                    }),
                    None => errors.push(translate(file, start, text, e)),
                }
            }
        }
    }
    (module, errors)
}

/// Byte ranges of top-level items: a new item starts at a line beginning with a top-level
/// keyword in the first column.
fn chunks(text: &str) -> Vec<(usize, usize)> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let starts_item = ["flow ", "campaign ", "test ", "import "]
            .iter()
            .any(|k| line.starts_with(k));
        if starts_item && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    let mut out = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(text.len());
        out.push((s, e));
    }
    out
}

/// The offset of the first `{` or `(` nested deeper than [`MAX_NESTING`], skipping strings
/// and comments.
fn too_deep_at(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i).saturating_sub(1),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && !is_line_break(bytes[i]) {
                    i += 1;
                }
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The byte range of the first string literal left open at the end of its line, skipping
/// comments.
fn unterminated_string_at(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i);
                if bytes.get(end.wrapping_sub(1)) != Some(&b'"') || end == i + 1 {
                    return Some((i, end));
                }
                i = end;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && !is_line_break(bytes[i]) {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether a byte ends a line (`\n`, or `\r` as in old Mac files).
fn is_line_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The offset just past the string literal starting at `start` (past its closing quote, or
/// at the line break or end of text that leaves it open). Matches the grammar's `string`:
/// an escape never swallows a line break.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return i + 1,
            b if is_line_break(b) => return i,
            b'\\' if bytes.get(i + 1).is_some_and(|b| !is_line_break(*b)) => i += 2,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Words pest's expectation lists are grouped into when several of a kind are expected.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "a statement",
        &[
            "`answer`",
            "`say`",
            "`play`",
            "`pause`",
            "`collect`",
            "`menu`",
            "`listen`",
            "`dial`",
            "`bridge`",
            "`transfer`",
            "`record`",
            "`sms`",
            "`fetch`",
            "`let`",
            "`set`",
            "`if`",
            "`goto`",
            "`label`",
            "`repeat`",
            "`break`",
            "`next`",
            "`report`",
            "`block`",
            "`hangup`",
        ],
    ),
    (
        "an option",
        &[
            "`prompt`",
            "`reprompt`",
            "`retries`",
            "`min_digits`",
            "`max_digits`",
            "`end_key`",
            "`timeout`",
            "`digit_timeout`",
            "`where`",
            "`barge_in`",
            "`detect_machine`",
            "`header`",
            "`max_length`",
        ],
    ),
    (
        "a campaign setting",
        &[
            "`leads`",
            "`delimiter`",
            "`attempts`",
            "`retry_after`",
            "`lines`",
            "`rate`",
            "`window`",
            "`redial`",
            "`normalize`",
            "`record_calls`",
            "`result_webhook`",
        ],
    ),
    (
        "a test step",
        &[
            "`expect`",
            "`press`",
            "`speak`",
            "`wait`",
            "`respond`",
            "`receive`",
            "`busy`",
            "`no_answer`",
            "`fail`",
        ],
    ),
    ("a setting", &["`lang`", "`voice`", "`caller_id`"]),
    (
        "an operator",
        &[
            "`==`", "`!=`", "`<=`", "`>=`", "`<`", "`>`", "`+`", "`-`", "`*`", "`/`", "`%`",
            "`and`", "`or`", "`.`",
        ],
    ),
];

/// Translates a pest error at `base` within `text` into our wording.
fn translate(file: FileId, base: usize, text: &str, e: pest::error::Error<Rule>) -> SyntaxError {
    let mut pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let mut names: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let add = |list: &mut Vec<String>, n: String| {
        if !list.contains(&n) {
            list.push(n);
        }
    };
    match e.parse_attempts().filter(|a| a.max_position >= pos) {
        // The furthest point any rule reached, with the rules and literal tokens that could
        // have continued there: this names `=`, `->`, `}` … which rule lists cannot.
        Some(attempts) => {
            pos = attempts.max_position;
            for stack in &attempts.call_stacks {
                if let Some(r) = stack.deepest.get_rule() {
                    if !matches!(r, Rule::WHITESPACE | Rule::COMMENT) {
                        add(&mut names, error::rule_name(*r).to_string());
                    }
                }
            }
            for token in attempts.expected_tokens() {
                // Literal tokens display as themselves. Single letters are the statement
                // dispatch's look-ahead, ranges and built-ins are character classes: skip.
                let token = token.to_string();
                let dispatch = token.len() == 1 && token.bytes().all(|b| b.is_ascii_alphabetic());
                let class = token.contains("..") || token == "BUILTIN_RULE";
                // `//` (a comment may always follow) and `_` (the end-of-word check) are noise.
                let noise = token == "//" || token == "_" || token.trim().is_empty();
                if !dispatch && !class && !noise {
                    add(&mut tokens, format!("`{token}`"));
                }
            }
            // Literal tokens say exactly what is missing (`=`, `->`, `)`); the rules around
            // them would only name the statement being written.
            if !tokens.is_empty() {
                names = tokens;
            }
        }
        None => {
            if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
                for r in positives {
                    if !matches!(r, Rule::WHITESPACE | Rule::COMMENT) {
                        add(&mut names, error::rule_name(*r).to_string());
                    }
                }
            }
        }
    }
    let pos = base + pos;
    let rest = text.get(pos..).unwrap_or("");
    let (found, len) = describe_found(rest);
    let mut expected = group(names);
    if expected.is_empty() {
        expected.push("something else".into());
    }
    let mut expected = join_or(&expected);
    if expected.contains("a name") && is_reserved(rest) {
        expected.push_str(&format!(" ({found} is a reserved word)"));
    }
    SyntaxError::UnexpectedToken {
        found,
        expected,
        at: Span::new(file, pos, pos + len).into(),
    }
}

/// Collapses groups of expected keywords into their category.
fn group(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut used = vec![false; names.len()];
    for (category, members) in GROUPS {
        let hits: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| members.contains(&n.as_str()))
            .map(|(i, _)| i)
            .collect();
        if hits.len() >= 3 {
            for i in hits {
                used[i] = true;
            }
            out.push((*category).to_string());
        }
    }
    for (i, n) in names.iter().enumerate() {
        if !used[i] && !out.iter().any(|o| o == n) {
            out.push(n.clone());
        }
    }
    out
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

fn is_reserved(rest: &str) -> bool {
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    error::RESERVED.binary_search(&word.as_str()).is_ok()
}

/// Describes the token at the start of `rest` and its length in bytes.
fn describe_found(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c.is_alphanumeric() || c == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if c == '"' {
        return ("a string".into(), 1);
    }
    if c == '\n' || c == '\r' {
        return ("end of line".into(), 1);
    }
    if c.is_control() {
        return (format!("character U+{:04X}", c as u32), c.len_utf8());
    }
    (format!("`{c}`"), c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_the_grammar_keywords() {
        let mut sorted = error::RESERVED.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            error::RESERVED,
            "RESERVED must stay sorted for binary search"
        );
        for w in error::RESERVED {
            let parsed = IvrParser::parse(Rule::keyword, w)
                .map(|mut p| p.next().map(|x| x.as_str().to_string()));
            assert_eq!(
                parsed.ok().flatten().as_deref(),
                Some(w),
                "`{w}` is not matched by the keyword rule"
            );
        }
        for w in ["client", "sayx", "records", "max_x", "op", "tom"] {
            assert!(
                IvrParser::parse(Rule::keyword, w).map_or(true, |p| p.as_str() != w),
                "`{w}` must not be a keyword"
            );
        }
    }
}

//! What surrounds an offset in the raw text, for an editor that asks while the text may not
//! parse: whether it is in code, a comment, a string or a placeholder being typed, the word
//! around it, and the words before it on its line.
//!
//! Strings and comments end at the end of their line (docs/language.md), so the line is all
//! that is read. It knows nothing of the grammar beyond that.

use crate::span::Span;

/// Where an offset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In code.
    Code,
    /// In a comment.
    Comment,
    /// In a string, outside a placeholder.
    String,
    /// In a string, after an open `{{` and a dotted name or a helper's name (`#if` with its
    /// `#`), which starts at this offset.
    Placeholder(usize),
    /// In a string, at an argument of a helper or a block (`{{plural n`, `{{#if crm.ok`):
    /// a dotted name starting at this offset.
    HelperArgument(usize),
}

/// The offset where the line holding `offset` starts.
pub fn line_start(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .and_then(|before| before.rfind(['\n', '\r']))
        .map_or(0, |i| i + 1)
}

/// Where `offset` of `text` is.
pub fn place(text: &str, offset: usize) -> Place {
    let start = line_start(text, offset);
    let Some(line) = text.get(start..offset) else {
        return Place::Code;
    };
    let mut chars = line.char_indices().peekable();
    let mut in_string = false;
    let mut placeholder: Option<usize> = None;
    while let Some((i, c)) = chars.next() {
        match (in_string, c) {
            (false, '"') => in_string = true,
            (false, '/') if chars.peek().is_some_and(|(_, c)| *c == '/') => return Place::Comment,
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => {
                in_string = false;
                placeholder = None;
            }
            (true, '{') if chars.peek().is_some_and(|(_, c)| *c == '{') => {
                chars.next();
                placeholder = Some(i + 2);
            }
            (true, '}') if chars.peek().is_some_and(|(_, c)| *c == '}') => {
                chars.next();
                placeholder = None;
            }
            _ => {}
        }
    }
    if !in_string {
        return Place::Code;
    }
    let Some(p) = placeholder else {
        return Place::String;
    };
    let tag = &line[p..];
    let dotted_name = |s: &str| s.chars().all(|c| is_word_char(c) || c == '.');
    if dotted_name(tag.strip_prefix('#').unwrap_or(tag)) {
        return Place::Placeholder(start + p);
    }
    match tag.rfind(' ') {
        // Not inside a quoted argument (`'…'`), and after a name: `{{words n `.
        Some(last) if tag.matches('\'').count() % 2 == 0 && dotted_name(&tag[last + 1..]) => {
            let head = tag.trim_start_matches('#');
            if head.starts_with(is_word_char) {
                Place::HelperArgument(start + p + last + 1)
            } else {
                Place::String
            }
        }
        _ => Place::String,
    }
}

/// `span` without the blanks at its end: the parser's spans of statements and arms may take
/// in the blanks before what follows them.
pub fn trimmed(text: &str, span: Span) -> Span {
    let covered = text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("");
    let end = span.start as usize + covered.trim_end().len();
    Span::new(span.file, span.start as usize, end)
}

/// Whether `c` may be part of a name or keyword.
pub fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The offset where the word ending at `offset` starts (`offset` itself when none does).
pub fn word_start(text: &str, offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or("");
    before
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word_char(*c))
        .last()
        .map_or(offset, |(i, _)| i)
}

/// The word `offset` is in or at the end of, as a byte range.
pub fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let start = word_start(text, offset);
    let after = text.get(offset..)?;
    let end = offset + after.find(|c| !is_word_char(c)).unwrap_or(after.len());
    (end > start).then_some((start, end))
}

/// The tokens of the line before `offset`: words, and runs of other characters that are
/// not blanks (`->`, `=`, `{`), strings skipped.
pub fn tokens_before(text: &str, offset: usize) -> Vec<&str> {
    let start = line_start(text, offset);
    let line = text.get(start..offset).unwrap_or("");
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let len = if c.is_whitespace() {
            rest.find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len())
        } else if c == '"' {
            // A string, closed or not, is one token.
            let body = &rest[1..];
            let mut end = body.len();
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            let len = 1 + end;
            out.push(&rest[..len]);
            len
        } else if is_word_char(c) {
            let len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
            out.push(&rest[..len]);
            len
        } else {
            let len = rest
                .find(|c: char| c.is_whitespace() || is_word_char(c) || c == '"')
                .unwrap_or(rest.len());
            out.push(&rest[..len]);
            len
        };
        rest = &rest[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_in_a_line() {
        let text = "say \"Привет, {{na\" // {{x\nsay \"{{a}} {{b.c";
        let at = |needle: &str| text.find(needle).unwrap() + needle.len();
        assert_eq!(place(text, at("say")), Place::Code);
        assert_eq!(place(text, at("Прив")), Place::String);
        assert_eq!(place(text, at("{{na")), Place::Placeholder(at("{{")));
        assert_eq!(place(text, at("{{na\"")), Place::Code);
        assert_eq!(place(text, at("// {{")), Place::Comment);
        assert_eq!(place(text, at("{{a}}")), Place::String);
        assert_eq!(place(text, text.len()), Place::Placeholder(text.len() - 3));
        assert_eq!(place("say \"\\{{a", 9), Place::String, "an escaped brace");
        let helper = "say \"{{#if crm.ok}} {{plural n 'a' 'b c' 'd'}}";
        let at = |s: &str| helper.find(s).expect("in text");
        assert_eq!(place(helper, at("#if") + 2), Place::Placeholder(at("#if")));
        assert_eq!(
            place(helper, at("crm.ok") + 3),
            Place::HelperArgument(at("crm.ok"))
        );
        assert_eq!(
            place(helper, at("plural n") + 8),
            Place::HelperArgument(at("n '"))
        );
        assert_eq!(
            place(helper, at(" c'")),
            Place::String,
            "inside a quoted argument"
        );
        assert_eq!(
            place(helper, at(" c'") + 1),
            Place::String,
            "inside a quoted argument"
        );
    }

    #[test]
    fn words_and_tokens() {
        let text = "  on ok -> goto ma";
        assert_eq!(word_start(text, text.len()), text.len() - 2);
        assert_eq!(word_at(text, 12), Some((11, 15)));
        assert_eq!(word_at(text, 2), Some((2, 4)));
        assert_eq!(word_at("a  b", 2), None);
        assert_eq!(
            tokens_before(text, text.len() - 2),
            ["on", "ok", "->", "goto"]
        );
        assert_eq!(
            tokens_before("let x: number = \"a \\\" b\" + (", 28),
            ["let", "x", ":", "number", "=", "\"a \\\" b\"", "+", "("]
        );
    }
}

//! Decoding of string literals: escapes and `{{placeholder}}`s, with exact source spans.
//!
//! Works on the raw literal as it appears in the file (quotes included) so that every
//! placeholder keeps the span it was written at. Placeholders are plain dotted names only
//! (a strict subset of Handlebars); whether the names resolve is the checker's business.

use super::ast::{Ident, Placeholder, Template, TemplatePart};
use super::error::SyntaxError;
use crate::span::{FileId, Span};

/// Decodes the literal `raw` (with its quotes) that starts at byte `start` of `file`.
/// Problems are pushed to `errors`; the returned template holds whatever could be read.
pub fn decode(file: FileId, raw: &str, start: usize, errors: &mut Vec<SyntaxError>) -> Template {
    let span = Span::new(file, start, start + raw.len());
    let inner_start = start + 1;
    let inner = raw
        .strip_prefix('"')
        .map(|s| s.strip_suffix('"').unwrap_or(s))
        .unwrap_or(raw);
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = inner.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '"')) => text.push('"'),
                Some((_, '\\')) => text.push('\\'),
                Some((_, 'n')) => text.push('\n'),
                Some((_, 't')) => text.push('\t'),
                Some((_, '{')) => text.push('{'),
                Some((_, '}')) => text.push('}'),
                Some((j, other)) => errors.push(SyntaxError::BadEscape {
                    escape: format!("\\{other}"),
                    at: Span::new(file, inner_start + i, inner_start + j + other.len_utf8()).into(),
                }),
                None => errors.push(SyntaxError::BadEscape {
                    escape: "\\".into(),
                    at: Span::new(file, inner_start + i, inner_start + i + 1).into(),
                }),
            },
            '{' if matches!(chars.peek(), Some((_, '{'))) => {
                chars.next();
                let open = inner_start + i;
                let body_start = i + 2;
                match inner[body_start..].find("}}") {
                    None => {
                        errors.push(SyntaxError::UnterminatedPlaceholder {
                            at: Span::new(file, open, open + 2).into(),
                        });
                        return finish(parts, text, span);
                    }
                    Some(len) => {
                        let body = &inner[body_start..body_start + len];
                        let close = inner_start + body_start + len + 2;
                        let at = Span::new(file, open, close);
                        match placeholder_path(file, body, inner_start + body_start) {
                            Some(path) => {
                                if !text.is_empty() {
                                    parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                                }
                                parts.push(TemplatePart::Placeholder(Placeholder {
                                    path,
                                    span: at,
                                }));
                            }
                            None => errors.push(SyntaxError::BadPlaceholder {
                                text: body.trim().to_string(),
                                at: at.into(),
                            }),
                        }
                        // Skip the body and the closing braces.
                        while let Some(&(k, _)) = chars.peek() {
                            if k >= body_start + len + 2 {
                                break;
                            }
                            chars.next();
                        }
                    }
                }
            }
            _ => text.push(c),
        }
    }
    finish(parts, text, span)
}

fn finish(mut parts: Vec<TemplatePart>, text: String, span: Span) -> Template {
    if !text.is_empty() || parts.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    Template { parts, span }
}

/// Reads `name.field.field` (surrounding spaces allowed) into identifiers with spans.
fn placeholder_path(file: FileId, body: &str, body_start: usize) -> Option<Vec<Ident>> {
    let lead = body.len() - body.trim_start().len();
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut path = Vec::new();
    let mut offset = body_start + lead;
    for (n, segment) in trimmed.split('.').enumerate() {
        let mut cs = segment.chars();
        let first_ok = cs
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let name = first_ok && cs.all(|c| c.is_ascii_alphanumeric() || c == '_');
        // After the first segment, digits index a JSON array: `{{crm.items.0}}`.
        let index = n > 0 && !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
        if !name && !index {
            return None;
        }
        path.push(Ident {
            name: segment.to_string(),
            span: Span::new(file, offset, offset + segment.len()),
        });
        offset += segment.len() + 1;
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(raw: &str) -> (Vec<TemplatePart>, Vec<SyntaxError>) {
        let mut errors = Vec::new();
        let t = decode(FileId(0), raw, 10, &mut errors);
        (t.parts, errors)
    }

    #[test]
    fn plain_text_with_escapes() {
        let (p, e) = parts(r#""a\"b\\c\n\{""#);
        assert!(e.is_empty());
        assert_eq!(p, vec![TemplatePart::Text("a\"b\\c\n{".into())]);
    }

    #[test]
    fn placeholder_spans_point_into_the_source() {
        let (p, e) = parts(r#""Сумма {{ crm.sum }}.""#);
        assert!(e.is_empty());
        let TemplatePart::Placeholder(ph) = &p[1] else {
            panic!("{p:?}")
        };
        assert_eq!(ph.path[0].name, "crm");
        assert_eq!(ph.path[1].name, "sum");
        // `"Сумма ` is 1 + 10 + 1 bytes; the placeholder starts after it.
        assert_eq!(ph.span.start, 10 + 1 + "Сумма ".len() as u32);
        assert_eq!(ph.path[0].span.start, ph.span.start + 3);
    }

    #[test]
    fn helpers_and_open_braces_are_errors() {
        assert!(matches!(
            parts(r#""{{#if x}}""#).1[0],
            SyntaxError::BadPlaceholder { .. }
        ));
        assert!(matches!(
            parts(r#""{{x""#).1[0],
            SyntaxError::UnterminatedPlaceholder { .. }
        ));
        assert!(matches!(
            parts(r#""\q""#).1[0],
            SyntaxError::BadEscape { .. }
        ));
    }
}

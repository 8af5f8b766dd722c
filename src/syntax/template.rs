//! String literals: escapes decoded, then Handlebars tags parsed by the `handlebars` crate's
//! own parser and mapped back onto exact source spans.
//!
//! Works on the raw literal as it appears in the file (quotes included). The literal is first
//! decoded into Handlebars source, each byte remembering the file offset it came from: text
//! outside tags has its braces and backslashes swapped for three Unicode noncharacters, so that
//! an escaped `\{` can never open a tag and Handlebars sees only the tags the author wrote.
//! A literal without `{{` never reaches Handlebars. Which names and helpers resolve is the
//! checker's business.

use super::ast::{Block, HelperArg, HelperCall, Ident, Placeholder, Template, TemplatePart};
use super::error::SyntaxError;
use crate::span::{FileId, Span};
use handlebars::template::{Parameter, Template as Tree, TemplateElement};
use handlebars::{Path, PathSeg};

/// What text braces and backslashes become in the Handlebars source (noncharacters, which
/// Unicode reserves for such internal use; a literal may not contain them).
const SWAPPED: [(char, char); 3] = [('{', '\u{FDD0}'), ('}', '\u{FDD1}'), ('\\', '\u{FDD2}')];

/// A literal decoded into Handlebars source.
struct Decoded {
    file: FileId,
    /// The Handlebars source.
    hb: String,
    /// For each byte of `hb`, the file offsets of the source text it was decoded from
    /// (an escape is two bytes of source for one character).
    at: Vec<(usize, usize)>,
    /// The file offset just past the literal's text.
    end: usize,
    /// The tags, as byte ranges of `hb`, in order.
    tags: Vec<std::ops::Range<usize>>,
}

impl Decoded {
    fn push(&mut self, c: char, from: usize, to: usize) {
        for _ in 0..c.len_utf8() {
            self.at.push((from, to));
        }
        self.hb.push(c);
    }

    /// The file span of a byte range of `hb`.
    fn span(&self, r: std::ops::Range<usize>) -> Span {
        let start = self.at.get(r.start).map_or(self.end, |a| a.0);
        let end = match r.end.checked_sub(1).and_then(|i| self.at.get(i)) {
            Some(a) if r.end > r.start => a.1,
            _ => start,
        };
        Span::new(self.file, start, end.max(start))
    }

    /// The byte offset of a 1-based line and column (in characters) of `hb`.
    fn offset_of(&self, line: usize, col: usize) -> usize {
        let mut offset = 0;
        for _ in 1..line {
            match self.hb[offset..].find('\n') {
                Some(n) => offset += n + 1,
                None => return self.hb.len(),
            }
        }
        self.hb[offset..]
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(self.hb.len(), |(i, _)| offset + i)
    }

    /// The tag that starts at byte `start` of `hb`.
    fn tag_at(&self, start: usize) -> std::ops::Range<usize> {
        self.tags
            .iter()
            .find(|t| t.start == start)
            .cloned()
            .unwrap_or(start..start)
    }
}

/// Decodes the literal `raw` (with its quotes) that starts at byte `start` of `file`.
/// Problems are pushed to `errors`; the returned template holds whatever could be read.
pub fn decode(file: FileId, raw: &str, start: usize, errors: &mut Vec<SyntaxError>) -> Template {
    let span = Span::new(file, start, start + raw.len());
    let inner_start = start + 1;
    let inner = raw
        .strip_prefix('"')
        .map(|s| s.strip_suffix('"').unwrap_or(s))
        .unwrap_or(raw);
    let mut d = Decoded {
        file,
        hb: String::new(),
        at: Vec::new(),
        end: inner_start + inner.len(),
        tags: Vec::new(),
    };
    let mut chars = inner.char_indices().peekable();
    // The open tag: where it starts in `hb` and in the file, whether it is `{{{`, and the
    // quote a string inside it is open with.
    let mut tag: Option<(usize, usize, bool, Option<char>)> = None;
    while let Some((i, c)) = chars.next() {
        let at = inner_start + i;
        let mut to = at + c.len_utf8();
        let c = if c == '\\' {
            to += 1; // every escape we know is a backslash and one ASCII character
            match chars.next() {
                Some((_, e @ ('"' | '\\' | '{' | '}'))) => e,
                Some((_, 'n')) => '\n',
                Some((_, 't')) => '\t',
                Some((j, other)) => {
                    errors.push(SyntaxError::BadEscape {
                        escape: format!("\\{other}"),
                        at: Span::new(file, at, inner_start + j + other.len_utf8()).into(),
                    });
                    continue;
                }
                None => {
                    errors.push(SyntaxError::BadEscape {
                        escape: "\\".into(),
                        at: Span::new(file, at, at + 1).into(),
                    });
                    continue;
                }
            }
        } else {
            if let Some(&(_, swapped)) = SWAPPED.iter().find(|(_, s)| *s == c) {
                errors.push(SyntaxError::ReservedCharacter {
                    code: format!("U+{:04X}", u32::from(swapped)),
                    at: Span::new(file, at, at + c.len_utf8()).into(),
                });
                continue;
            }
            if tag.is_none() && c == '{' && matches!(chars.peek(), Some((_, '{'))) {
                chars.next();
                let triple = matches!(chars.peek(), Some((_, '{')));
                let hb_start = d.hb.len();
                d.push('{', at, at + 1);
                d.push('{', at + 1, at + 2);
                if triple {
                    chars.next();
                    d.push('{', at + 2, at + 3);
                }
                tag = Some((hb_start, at, triple, None));
                continue;
            }
            c
        };
        match &mut tag {
            None => {
                let shown = SWAPPED.iter().find(|(t, _)| *t == c).map_or(c, |(_, s)| *s);
                d.push(shown, at, to);
            }
            Some((hb_start, _, triple, quote)) => {
                d.push(c, at, to);
                match *quote {
                    Some(q) if q == c => *quote = None,
                    Some(_) => {}
                    None if c == '"' || c == '\'' => *quote = Some(c),
                    None => {
                        let close = if *triple { "}}}" } else { "}}" };
                        if d.hb.ends_with(close) && d.hb.len() - *hb_start > 2 * close.len() - 1 {
                            d.tags.push(*hb_start..d.hb.len());
                            tag = None;
                        }
                    }
                }
            }
        }
    }
    if let Some((_, at, _, _)) = tag {
        errors.push(SyntaxError::UnterminatedPlaceholder {
            at: Span::new(file, at, at + 2).into(),
        });
        return Template {
            parts: vec![TemplatePart::Text(String::new())],
            span,
        };
    }
    if d.tags.is_empty() {
        return Template {
            parts: vec![TemplatePart::Text(unswap(&d.hb))],
            span,
        };
    }
    if let Some(tag) = too_deep(&d) {
        errors.push(SyntaxError::TooDeep {
            limit: super::MAX_NESTING,
            at: d.span(tag).into(),
        });
        return Template {
            parts: vec![TemplatePart::Text(String::new())],
            span,
        };
    }
    let tree = match Tree::compile(&d.hb) {
        Ok(tree) => tree,
        Err(_) if tags_alone_fail(&d, errors) => {
            return Template {
                parts: vec![TemplatePart::Text(String::new())],
                span,
            };
        }
        Err(_) if blocks_unbalanced(&d, errors) => {
            return Template {
                parts: vec![TemplatePart::Text(String::new())],
                span,
            };
        }
        Err(e) => {
            let at = e
                .pos()
                .map_or(d.tags[0].start, |(line, col)| d.offset_of(line, col));
            let reason = e.reason().to_string();
            errors.push(SyntaxError::BadTemplate {
                message: reason
                    .strip_prefix("invalid handlebars syntax: ")
                    .unwrap_or(&reason)
                    .to_string(),
                at: d.span(at..(at + 1).min(d.hb.len())).into(),
            });
            return Template {
                parts: vec![TemplatePart::Text(String::new())],
                span,
            };
        }
    };
    let mut parts = elements(&d, &tree, errors);
    if parts.is_empty() {
        parts.push(TemplatePart::Text(String::new()));
    }
    Template { parts, span }
}

/// The first block tag nested deeper than [`super::MAX_NESTING`], the bound every recursive
/// phase relies on (handlebars' parser and the renderers recurse per block).
fn too_deep(d: &Decoded) -> Option<std::ops::Range<usize>> {
    let mut depth = 0usize;
    for tag in &d.tags {
        let body = d.hb[tag.clone()].trim_start_matches('{').trim_start();
        if body.starts_with('#') {
            depth += 1;
            if depth > super::MAX_NESTING {
                return Some(tag.clone());
            }
        } else if body.starts_with('/') {
            depth = depth.saturating_sub(1);
        }
    }
    None
}

/// Reports each tag that is not Handlebars even on its own (`{{a + b}}`); true when any is.
fn tags_alone_fail(d: &Decoded, errors: &mut Vec<SyntaxError>) -> bool {
    let mut failed = false;
    for tag in &d.tags {
        let text = &d.hb[tag.clone()];
        let body = text.trim_start_matches('{').trim_start();
        if body.starts_with(['#', '/', '^']) || body.starts_with("else") {
            continue;
        }
        if Tree::compile(text).is_err() {
            bad(d, tag.clone(), errors);
            failed = true;
        }
    }
    failed
}

/// Reports a block opened and never closed, or closed and never opened; true when one is.
fn blocks_unbalanced(d: &Decoded, errors: &mut Vec<SyntaxError>) -> bool {
    let mut open: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for tag in &d.tags {
        let body = d.hb[tag.clone()].trim_start_matches('{').trim_start();
        let name = |rest: &str| -> String {
            rest.trim_end_matches('}')
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        if let Some(rest) = body.strip_prefix('#') {
            open.push((name(rest), tag.clone()));
        } else if let Some(rest) = body.strip_prefix('/') {
            let n = name(rest);
            match open.pop() {
                Some((o, _)) if o == n => {}
                Some((o, at)) => {
                    errors.push(SyntaxError::BadTemplate {
                        message: format!("`{{{{#{o}}}}}` is closed by `{{{{/{n}}}}}`"),
                        at: d.span(at).into(),
                    });
                    return true;
                }
                None => {
                    errors.push(SyntaxError::BadTemplate {
                        message: format!("`{{{{/{n}}}}}` closes no block"),
                        at: d.span(tag.clone()).into(),
                    });
                    return true;
                }
            }
        }
    }
    match open.pop() {
        Some((o, at)) => {
            errors.push(SyntaxError::BadTemplate {
                message: format!("`{{{{#{o}}}}}` is never closed with `{{{{/{o}}}}}`"),
                at: d.span(at).into(),
            });
            true
        }
        None => false,
    }
}

/// Text outside tags with its braces and backslashes given back.
fn unswap(s: &str) -> String {
    s.chars()
        .map(|c| SWAPPED.iter().find(|(_, s)| *s == c).map_or(c, |(t, _)| *t))
        .collect()
}

/// The parts of a parsed template (or of a block's branch).
fn elements(d: &Decoded, tree: &Tree, errors: &mut Vec<SyntaxError>) -> Vec<TemplatePart> {
    let mut parts: Vec<TemplatePart> = Vec::new();
    for (n, element) in tree.elements.iter().enumerate() {
        let start = tree.mapping.get(n).map_or(0, |m| d.offset_of(m.0, m.1));
        let tag = d.tag_at(start);
        let part = match element {
            TemplateElement::RawString(s) => {
                let text = unswap(s);
                if let Some(TemplatePart::Text(prev)) = parts.last_mut() {
                    prev.push_str(&text);
                    continue;
                }
                TemplatePart::Text(text)
            }
            TemplateElement::Comment(_) => continue,
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                match (&h.name, h.params.is_empty() && h.hash.is_empty()) {
                    (Parameter::Path(p), true) => match placeholder(d, p, tag.clone(), true) {
                        Some(ph) => TemplatePart::Placeholder(ph),
                        None => {
                            bad(d, tag, errors);
                            continue;
                        }
                    },
                    (Parameter::Name(name), _) => match helper(d, name, h, tag.clone()) {
                        Some(call) => TemplatePart::Helper(call),
                        None => {
                            bad(d, tag, errors);
                            continue;
                        }
                    },
                    _ => {
                        bad(d, tag, errors);
                        continue;
                    }
                }
            }
            TemplateElement::HelperBlock(h) => {
                let negated = match &h.name {
                    Parameter::Name(n) if n == "if" => false,
                    Parameter::Name(n) if n == "unless" => true,
                    _ => {
                        bad(d, tag, errors);
                        continue;
                    }
                };
                let cond = match h.params.as_slice() {
                    [Parameter::Path(p)] if h.hash.is_empty() => {
                        placeholder(d, p, tag.clone(), false)
                    }
                    _ => None,
                };
                let Some(cond) = cond else {
                    bad(d, tag, errors);
                    continue;
                };
                let branch = |t: &Option<Tree>, errors: &mut Vec<SyntaxError>| {
                    t.as_ref().map_or_else(Vec::new, |t| elements(d, t, errors))
                };
                TemplatePart::Block(Block {
                    negated,
                    cond,
                    then: branch(&h.template, errors),
                    otherwise: branch(&h.inverse, errors),
                    span: d.span(tag),
                })
            }
            _ => {
                bad(d, tag, errors);
                continue;
            }
        };
        parts.push(part);
    }
    parts
}

/// Reports a tag that is not one of ours.
fn bad(d: &Decoded, tag: std::ops::Range<usize>, errors: &mut Vec<SyntaxError>) {
    let text = d.hb[tag.clone()]
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim()
        .to_string();
    errors.push(SyntaxError::BadPlaceholder {
        text,
        at: d.span(tag).into(),
    });
}

/// A path inside `tag` as a placeholder: plain dotted names, digits indexing JSON arrays
/// after the first segment.
fn placeholder(
    d: &Decoded,
    path: &Path,
    within: std::ops::Range<usize>,
    whole: bool,
) -> Option<Placeholder> {
    let Path::Relative((segs, raw)) = path else {
        return None;
    };
    let names: Vec<&str> = segs
        .iter()
        .map(|s| match s {
            PathSeg::Named(n) => Some(n.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if names.is_empty() || raw.split('.').count() != names.len() {
        return None;
    }
    let in_tag = d.hb[within.clone()].find(raw.as_str())? + within.start;
    let mut offset = in_tag;
    let mut idents = Vec::new();
    for (n, segment) in raw.split('.').enumerate() {
        let mut cs = segment.chars();
        let first_ok = cs
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let name = first_ok && cs.all(|c| c.is_ascii_alphanumeric() || c == '_');
        let index = n > 0 && !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
        if !name && !index {
            return None;
        }
        idents.push(Ident {
            name: segment.to_string(),
            span: d.span(offset..offset + segment.len()),
        });
        offset += segment.len() + 1;
    }
    let span = if whole {
        d.span(within)
    } else {
        d.span(in_tag..in_tag + raw.len())
    };
    Some(Placeholder { path: idents, span })
}

/// `{{name arg … key=value …}}`.
fn helper(
    d: &Decoded,
    name: &str,
    h: &handlebars::template::HelperTemplate,
    tag: std::ops::Range<usize>,
) -> Option<HelperCall> {
    let text = &d.hb[tag.clone()];
    let name_at = text.find(name)? + tag.start;
    let after_name = name_at + name.len();
    let arg = |p: &Parameter| -> Option<HelperArg> {
        Some(match p {
            Parameter::Path(path) => {
                HelperArg::Path(placeholder(d, path, after_name..tag.end, false)?)
            }
            Parameter::Literal(serde_json::Value::String(s)) => HelperArg::Text(s.clone()),
            Parameter::Literal(serde_json::Value::Bool(b)) => HelperArg::Bool(*b),
            Parameter::Literal(serde_json::Value::Number(n)) => HelperArg::Number(n.as_i64()?),
            _ => return None,
        })
    };
    let args = h.params.iter().map(arg).collect::<Option<Vec<_>>>()?;
    let mut options = Vec::new();
    for (key, value) in &h.hash {
        let at = text.find(&format!("{key}="))? + tag.start;
        options.push((
            Ident {
                name: key.clone(),
                span: d.span(at..at + key.len()),
            },
            arg(value)?,
        ));
    }
    options.sort_by_key(|(k, _)| k.span.start);
    Some(HelperCall {
        name: Ident {
            name: name.to_string(),
            span: d.span(name_at..after_name),
        },
        args,
        options,
        span: d.span(tag),
    })
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
    fn escaped_braces_never_open_a_tag() {
        let (p, e) = parts(r#""\{\{x}} and \{{{y}}""#);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(p[0], TemplatePart::Text("{{x}} and {".into()));
        assert!(matches!(&p[1], TemplatePart::Placeholder(ph) if ph.path[0].name == "y"));
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
        assert_eq!(ph.span.end, ph.span.start + "{{ crm.sum }}".len() as u32);
        assert_eq!(ph.path[0].span.start, ph.span.start + 3);
        assert_eq!(ph.path[1].span.start, ph.span.start + 7);
    }

    #[test]
    fn blocks_hold_their_branches() {
        let (p, e) = parts(r#""a{{#if x}}да {{y}}{{else}}нет{{/if}}b{{#unless z}}!{{/unless}}""#);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(p[0], TemplatePart::Text("a".into()));
        let TemplatePart::Block(b) = &p[1] else {
            panic!("{p:?}")
        };
        assert!(!b.negated);
        assert_eq!(b.cond.path[0].name, "x");
        assert_eq!(b.then[0], TemplatePart::Text("да ".into()));
        assert!(matches!(&b.then[1], TemplatePart::Placeholder(ph) if ph.path[0].name == "y"));
        assert_eq!(b.otherwise, vec![TemplatePart::Text("нет".into())]);
        assert_eq!(p[2], TemplatePart::Text("b".into()));
        assert!(matches!(&p[3], TemplatePart::Block(b) if b.negated));
    }

    #[test]
    fn helpers_keep_their_arguments_in_order() {
        let (p, e) = parts(r#""{{plural n 'рубль' 'рубля' 'рублей' }} {{words n gender='f'}}""#);
        assert!(e.is_empty(), "{e:?}");
        let TemplatePart::Helper(h) = &p[0] else {
            panic!("{p:?}")
        };
        assert_eq!(h.name.name, "plural");
        assert_eq!(h.name.span.start, 10 + 3);
        assert!(matches!(&h.args[0], HelperArg::Path(ph) if ph.path[0].name == "n"));
        assert_eq!(h.args[1], HelperArg::Text("рубль".into()));
        let TemplatePart::Helper(w) = &p[2] else {
            panic!("{p:?}")
        };
        assert_eq!(w.options[0].0.name, "gender");
        assert_eq!(w.options[0].1, HelperArg::Text("f".into()));
    }

    #[test]
    fn what_is_not_ours_is_an_error() {
        for raw in [
            r#""{{a + b}}""#,
            r#""{{#each x}}{{/each}}""#,
            r#""{{../x}}""#,
            r#""{{@index}}""#,
            r#""{{> partial}}""#,
        ] {
            let (_, e) = parts(raw);
            assert!(
                matches!(
                    e.first(),
                    Some(SyntaxError::BadPlaceholder { .. } | SyntaxError::BadTemplate { .. })
                ),
                "{raw}: {e:?}"
            );
        }
        assert!(matches!(
            parts(r#""{{#if x}}open""#).1[0],
            SyntaxError::BadTemplate { .. }
        ));
        assert!(matches!(
            parts(r#""{{x""#).1[0],
            SyntaxError::UnterminatedPlaceholder { .. }
        ));
        assert!(matches!(
            parts(r#""\q""#).1[0],
            SyntaxError::BadEscape { .. }
        ));
        let deep = format!("\"{}a{}\"", "{{#if x}}".repeat(65), "{{/if}}".repeat(65));
        assert!(matches!(
            parts(&deep).1[0],
            SyntaxError::TooDeep { limit: 64, .. }
        ));
        let fine = format!("\"{}a{}\"", "{{#if x}}".repeat(64), "{{/if}}".repeat(64));
        assert!(parts(&fine).1.is_empty());
        assert!(matches!(
            parts("\"a\u{FDD0}b\"").1[0],
            SyntaxError::ReservedCharacter { .. }
        ));
    }
}

//! Hover: what a name is (its kind, its type as the checker inferred it, where it is
//! defined), what a built-in value (from `check::rules`) or `caller` is, and the syntax and
//! doc of a statement or item keyword (from the keyword table).

use super::keywords;
use super::lexical::{self, Place};
use super::program::{View, ROOT};
use super::symbols::{SymbolId, SymbolKind};
use crate::check::{rules, Resolved};
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

/// What to show for the text at `offset`.
pub fn hover(view: &View<'_>, offset: usize) -> Option<Hover> {
    let text = &view.doc.text;
    let (range, value) = match view.program.index.occurrence_at(ROOT, offset) {
        Some((span, id)) => (view.range(span), name(view, id)),
        None => {
            let (start, end) = lexical::word_at(text, offset)?;
            // Keywords only in code: `say` in a string or a comment is a word.
            let value = match builtin(view, offset) {
                Some(value) => value,
                None if lexical::place(text, offset) == Place::Code => {
                    keyword(text.get(start..end)?)?
                }
                None => return None,
            };
            (view.doc.range(start, end), value)
        }
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: Some(range),
    })
}

/// A symbol: its kind, type and definition.
fn name(view: &View<'_>, id: SymbolId) -> String {
    let s = &view.program.index.symbols[id];
    let head = match s.kind {
        SymbolKind::Flow => format!(
            "flow `{}{}`",
            s.name,
            s.detail.as_deref().unwrap_or_default()
        ),
        SymbolKind::Campaign => format!("campaign `{}` {}", s.name, for_flow(s)),
        SymbolKind::Test => format!("test \"{}\" {}", s.name, for_flow(s)),
        SymbolKind::Parameter | SymbolKind::Variable => match s.ty {
            Some(t) => format!("{} `{}`: {}", s.kind.word(), s.name, t.name()),
            None => format!("{} `{}`", s.kind.word(), s.name),
        },
        SymbolKind::Leg | SymbolKind::Label => format!("{} `{}`", s.kind.word(), s.name),
    };
    let line = view.range(s.name_span).start.line + 1;
    let place = if s.name_span.file == ROOT {
        format!("Defined on line {line}.")
    } else {
        let file = view
            .program
            .loaded
            .sources
            .get(s.name_span.file)
            .map_or("", |f| f.name.as_str());
        format!("Defined in `{file}`, line {line}.")
    };
    format!("{head}\n\n{place}")
}

/// "for flow `order`" of a campaign or test.
fn for_flow(s: &super::symbols::Symbol) -> String {
    let flow = s.detail.as_deref().and_then(|d| d.strip_prefix("for "));
    format!("for flow `{}`", flow.unwrap_or_default())
}

/// `caller` and the built-in values, as the checker resolved them.
fn builtin(view: &View<'_>, offset: usize) -> Option<String> {
    let (_, resolved) =
        view.program.analysis.resolved.iter().find(|(s, _)| {
            s.file == ROOT && s.start as usize <= offset && offset <= s.end as usize
        })?;
    Some(match resolved {
        Resolved::Caller => {
            "leg `caller`: the inbound call, or the lead's call in a campaign that dials".into()
        }
        Resolved::Builtin(b) => {
            let b = rules::builtin(*b);
            format!("`{}`: {} — {}", b.name, b.ty.name(), b.doc)
        }
        Resolved::Var(_) | Resolved::Leg(_) => return None,
    })
}

/// A statement or item keyword: its syntax and doc.
fn keyword(word: &str) -> Option<String> {
    let k = keywords::statement_or_item(word)?;
    Some(format!("```ivr\n{}\n```\n{}", k.syntax, k.doc))
}

//! The problems of a document as the protocol's diagnostics, with the codes and messages of
//! `ivrc check`.
//!
//! A diagnostic's range is its first (primary) label; the other labels become related
//! information; the help is appended to the message on a line of its own, since editors
//! show the message everywhere and related information only in some places. A problem in an
//! imported file is shown at the document's `import` that brings the file in, with the
//! place in that file as related information: `ivrc check` of the document reports it too,
//! and it may be why the rest of the document is not checked. A problem about a leads file's
//! rows has the rows (file, line, column) as related information, so an editor can jump there.

use super::program::{View, ROOT};
use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, NumberOrString, Range,
};
use miette::Severity;

/// The diagnostics of the document of `view`.
pub fn of_document(view: &View<'_>) -> Vec<Diagnostic> {
    view.program
        .problems
        .iter()
        .filter_map(|p| convert(view, p.file(), p.diagnostic(), p.related()))
        .collect()
}

fn convert(
    view: &View<'_>,
    file: crate::span::FileId,
    d: &dyn miette::Diagnostic,
    elsewhere: &[crate::check::Related],
) -> Option<Diagnostic> {
    let labels: Vec<miette::LabeledSpan> = d.labels().map(Iterator::collect).unwrap_or_default();
    let span_of =
        |l: &miette::LabeledSpan| crate::span::Span::new(file, l.offset(), l.offset() + l.len());
    let mut related: Vec<DiagnosticRelatedInformation> = Vec::new();
    let mut message = d.to_string();
    let range = if file == ROOT {
        for l in labels.iter().skip(1) {
            if let Some(location) = view.location(span_of(l)) {
                related.push(DiagnosticRelatedInformation {
                    location,
                    message: l.label().unwrap_or_default().to_string(),
                });
            }
        }
        labels
            .first()
            .map_or_else(Range::default, |l| view.range(span_of(l)))
    } else {
        let import = view.program.import_of(file)?;
        let name = view
            .program
            .loaded
            .sources
            .get(file)
            .map_or("", |f| f.name.as_str());
        message.push_str(&format!(" (in `{name}`)"));
        for l in &labels {
            if let Some(location) = view.location(span_of(l)) {
                related.push(DiagnosticRelatedInformation {
                    location,
                    message: l.label().unwrap_or_default().to_string(),
                });
            }
        }
        view.range(import)
    };
    // Places in other files (a leads file's rows) are related information wherever the
    // diagnostic itself is shown.
    for r in elsewhere {
        if let Some(location) = view.location(r.at) {
            related.push(DiagnosticRelatedInformation {
                location,
                message: r.label.clone(),
            });
        }
    }
    if let Some(help) = d.help() {
        message.push_str(&format!("\nhelp: {help}"));
    }
    // As `ivrc check --format json`: warnings, and errors.
    let severity = match d.severity() {
        Some(Severity::Warning) => DiagnosticSeverity::WARNING,
        _ => DiagnosticSeverity::ERROR,
    };
    Some(Diagnostic {
        range,
        severity: Some(severity),
        code: d.code().map(|c| NumberOrString::String(c.to_string())),
        code_description: None,
        source: Some("ivrc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    })
}

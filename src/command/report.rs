//! Printing diagnostics: miette's graphical reports for people, JSON for tools.

use crate::cli::Format;
use ivrc::check::Related;
use ivrc::span::{FileId, Sources, Span};
use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity,
};
use std::fmt;
use std::io::IsTerminal;

/// A diagnostic of any phase and the file its spans point into.
pub struct Problem {
    /// The file.
    pub file: FileId,
    /// The diagnostic.
    pub diag: Box<dyn Diagnostic + Send + Sync>,
    /// Labelled places in other files (a leads file's rows).
    pub related: Vec<Related>,
}

impl Problem {
    fn is_warning(&self) -> bool {
        matches!(self.diag.severity(), Some(Severity::Warning))
    }
}

/// Counts of errors and warnings.
pub struct Counts {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
}

impl Counts {
    /// Exit status for these counts: 1 for errors (or warnings when denied), else 0.
    pub fn exit_code(&self, deny_warnings: bool) -> u8 {
        u8::from(self.errors > 0 || (deny_warnings && self.warnings > 0))
    }
}

/// Collects diagnostics of one or more programs and prints them: reports to stderr as
/// they come (human), or one JSON array on stdout at the end (every `--format json` output
/// is on stdout, so a tool reads one stream).
pub struct Printer {
    format: Format,
    json: Vec<serde_json::Value>,
    /// Totals so far.
    pub counts: Counts,
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format) -> Printer {
        Printer {
            format,
            json: Vec::new(),
            counts: Counts {
                errors: 0,
                warnings: 0,
            },
        }
    }

    /// Prints (or keeps, for JSON) the problems of one program.
    pub fn add(&mut self, sources: &Sources, problems: Vec<Problem>) {
        for p in problems {
            if p.is_warning() {
                self.counts.warnings += 1;
            } else {
                self.counts.errors += 1;
            }
            match self.format {
                Format::Human => ivrc::err!("{}", render(sources, p)),
                Format::Json => self.json.push(to_json(sources, &p)),
            }
        }
    }

    /// Prints (or keeps) a problem a later phase found, located by the file name its IR
    /// span gives (the root file when that name is unknown).
    pub fn add_in(
        &mut self,
        sources: &Sources,
        file_name: &str,
        diag: Box<dyn Diagnostic + Send + Sync>,
    ) {
        let file = sources.find(file_name).unwrap_or(FileId(0));
        self.add(
            sources,
            vec![Problem {
                file,
                diag,
                related: Vec::new(),
            }],
        );
    }

    /// Prints the summary line or the JSON array; returns the totals.
    pub fn finish(self) -> Counts {
        let format = self.format;
        let (counts, json) = self.finish_keeping_json();
        if format == Format::Json {
            let text = serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".into());
            ivrc::outln!("{text}");
        }
        counts
    }

    /// Prints the summary line (human) and returns the totals with the diagnostics as JSON
    /// values (empty for human), for a command that puts them into its own JSON output.
    pub fn finish_keeping_json(self) -> (Counts, Vec<serde_json::Value>) {
        let c = self.counts;
        if self.format == Format::Human && c.errors + c.warnings > 0 {
            ivrc::errln!(
                "{} error{}, {} warning{}",
                c.errors,
                plural(c.errors),
                c.warnings,
                plural(c.warnings)
            );
        }
        (c, self.json)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One report as text: colour only on a terminal, width 80 otherwise.
fn render(sources: &Sources, p: Problem) -> String {
    let tty = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if tty {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(if tty { 100 } else { 80 });
    let (name, text) = sources
        .get(p.file)
        .map(|f| (f.name.clone(), f.text.clone()))
        .unwrap_or_default();
    let diag: Box<dyn Diagnostic + Send + Sync> = if p.related.is_empty() {
        p.diag
    } else {
        let elsewhere = p
            .related
            .iter()
            .map(|r| Elsewhere::new(sources, r))
            .collect();
        Box::new(WithRelated {
            inner: p.diag,
            elsewhere,
        })
    };
    let report = miette::Report::new_boxed(diag).with_source_code(NamedSource::new(name, text));
    let mut out = String::new();
    if handler.render_report(&mut out, report.as_ref()).is_err() {
        out = format!("{report}\n");
    }
    out
}

/// A diagnostic with places in other files, which miette shows as related reports, each
/// with its own file.
struct WithRelated {
    inner: Box<dyn Diagnostic + Send + Sync>,
    elsewhere: Vec<Elsewhere>,
}

impl fmt::Debug for WithRelated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for WithRelated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for WithRelated {}

impl Diagnostic for WithRelated {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.code()
    }
    fn severity(&self) -> Option<Severity> {
        self.inner.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner.help()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.inner.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.elsewhere.iter().map(|e| e as &dyn Diagnostic),
        ))
    }
}

/// One labelled place in another file, as a report of its own: "line 3 of `leads.csv`".
#[derive(Debug)]
struct Elsewhere {
    message: String,
    label: LabeledSpan,
    source: NamedSource<String>,
}

impl Elsewhere {
    fn new(sources: &Sources, r: &Related) -> Elsewhere {
        let (name, text) = sources
            .get(r.at.file)
            .map(|f| (f.name.clone(), f.text.clone()))
            .unwrap_or_default();
        let (line, _) = sources.line_col(r.at.file, r.at.start);
        Elsewhere {
            message: format!("line {line} of `{name}`"),
            label: LabeledSpan::new_with_span(Some(r.label.clone()), r.at),
            source: NamedSource::new(name, text),
        }
    }
}

impl fmt::Display for Elsewhere {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Elsewhere {}

impl Diagnostic for Elsewhere {
    fn severity(&self) -> Option<Severity> {
        Some(Severity::Advice)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(self.label.clone())))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
}

/// A label as JSON: its text, byte offsets, and 1-based lines and columns.
fn label_json(sources: &Sources, label: Option<&str>, at: Span) -> serde_json::Value {
    let (line, column) = sources.line_col(at.file, at.start);
    let (end_line, end_column) = sources.line_col(at.file, at.end);
    serde_json::json!({
        "label": label,
        "start": at.start, "end": at.end,
        "line": line, "column": column, "end_line": end_line, "end_column": end_column,
    })
}

fn to_json(sources: &Sources, p: &Problem) -> serde_json::Value {
    let d = &p.diag;
    let labels: Vec<serde_json::Value> = d
        .labels()
        .map(|ls| {
            ls.map(|l| {
                let at = Span::new(p.file, l.offset(), l.offset() + l.len());
                label_json(sources, l.label(), at)
            })
            .collect()
        })
        .unwrap_or_default();
    let related: Vec<serde_json::Value> = p
        .related
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": sources.get(r.at.file).map(|f| f.name.clone()),
                "labels": [label_json(sources, Some(&r.label), r.at)],
            })
        })
        .collect();
    serde_json::json!({
        "code": d.code().map(|c| c.to_string()),
        "severity": if p.is_warning() { "warning" } else { "error" },
        "message": d.to_string(),
        "help": d.help().map(|h| h.to_string()),
        "file": sources.get(p.file).map(|f| f.name.clone()),
        "labels": labels,
        "related": related,
    })
}

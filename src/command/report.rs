//! Printing diagnostics: miette's graphical reports for people, JSON for tools.

use crate::cli::Format;
use ivrc::span::{FileId, Sources};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, Severity};
use std::io::IsTerminal;

/// A diagnostic of any phase and the file its spans point into.
pub struct Problem {
    /// The file.
    pub file: FileId,
    /// The diagnostic.
    pub diag: Box<dyn Diagnostic + Send + Sync>,
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
        self.add(sources, vec![Problem { file, diag }]);
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
    let report = miette::Report::new_boxed(p.diag).with_source_code(NamedSource::new(name, text));
    let mut out = String::new();
    if handler.render_report(&mut out, report.as_ref()).is_err() {
        out = format!("{report}\n");
    }
    out
}

fn to_json(sources: &Sources, p: &Problem) -> serde_json::Value {
    let d = &p.diag;
    let labels: Vec<serde_json::Value> = d
        .labels()
        .map(|ls| {
            ls.map(|l| {
                let start = u32::try_from(l.offset()).unwrap_or(u32::MAX);
                let end = u32::try_from(l.offset() + l.len()).unwrap_or(u32::MAX);
                let (line, column) = sources.line_col(p.file, start);
                let (end_line, end_column) = sources.line_col(p.file, end);
                serde_json::json!({
                    "label": l.label(),
                    "start": start, "end": end,
                    "line": line, "column": column, "end_line": end_line, "end_column": end_column,
                })
            })
            .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "code": d.code().map(|c| c.to_string()),
        "severity": if p.is_warning() { "warning" } else { "error" },
        "message": d.to_string(),
        "help": d.help().map(|h| h.to_string()),
        "file": sources.get(p.file).map(|f| f.name.clone()),
        "labels": labels,
    })
}

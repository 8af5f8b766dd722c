//! `ivrc fmt`: rewrite files in the canonical layout (`ivrc::fmt`), show what would change
//! (`--check`), or format standard input to standard output (`-`, for editors).

use super::report::{Printer, Problem};
use crate::cli::{FmtArgs, Format};
use ivrc::span::{FileId, Sources};
use ivrc::syntax::{self, SyntaxError};
use std::io::{Read, Write};
use std::path::Path;

/// The byte order mark, kept when a file starts with one.
const BOM: &str = "\u{feff}";

/// Runs `ivrc fmt`: every file is handled, the exit status is the worst outcome.
pub fn run(args: &FmtArgs) -> u8 {
    let mut printer = Printer::new(Format::Human);
    let mut code = 0;
    for path in &args.files {
        let outcome = if path.as_os_str() == "-" {
            stdin(args.check, &mut printer)
        } else {
            file(path, args.check, &mut printer)
        };
        code = code.max(outcome);
    }
    printer.finish();
    code
}

/// Formats standard input to standard output (or, with `--check`, prints the diff).
fn stdin(check: bool, printer: &mut Printer) -> u8 {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        ivrc::errln!("error: cannot read standard input: {e}");
        return 2;
    }
    let Some((text, formatted)) = format_bytes("<stdin>", bytes, printer) else {
        return 1;
    };
    if check {
        return diff("<stdin>", &text, &formatted);
    }
    // A failed write is reported by `main` with exit status 2.
    ivrc::out!("{formatted}");
    0
}

/// Formats one file in place when it changes (or, with `--check`, prints the diff).
fn file(path: &Path, check: bool, printer: &mut Printer) -> u8 {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            ivrc::errln!("error: cannot read `{name}`: {e}");
            return 2;
        }
    };
    let Some((text, formatted)) = format_bytes(&name, bytes, printer) else {
        return 1;
    };
    if check {
        return diff(&name, &text, &formatted);
    }
    if text == formatted {
        return 0;
    }
    match write_atomically(path, formatted.as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            ivrc::errln!("error: cannot write `{name}`: {e}");
            2
        }
    }
}

/// The text as read and as formatted (a leading byte order mark kept on both), or `None`
/// after printing its syntax errors.
fn format_bytes(name: &str, bytes: Vec<u8>, printer: &mut Printer) -> Option<(String, String)> {
    let bom = if bytes.starts_with(BOM.as_bytes()) {
        BOM
    } else {
        ""
    };
    let (text, errors) = match syntax::decode_source(FileId(0), bytes) {
        Ok(text) => match ivrc::fmt::format_source(&text) {
            Ok(formatted) => return Some((format!("{bom}{text}"), format!("{bom}{formatted}"))),
            Err(errors) => (text, errors),
        },
        Err((lossy, error)) => (lossy, vec![error]),
    };
    report(name, text, errors, printer);
    None
}

fn report(name: &str, text: String, errors: Vec<SyntaxError>, printer: &mut Printer) {
    let mut sources = Sources::new();
    let file = sources.add(name, text);
    let problems = errors
        .into_iter()
        .map(|e| Problem {
            file,
            diag: Box::new(e),
            related: Vec::new(),
        })
        .collect();
    printer.add(&sources, problems);
}

/// Prints a unified diff from `old` to `new` when they differ; 1 if they do (`main` makes it
/// 2 when stdout cannot be written).
fn diff(name: &str, old: &str, new: &str) -> u8 {
    if old == new {
        return 0;
    }
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string();
    ivrc::out!("{text}");
    1
}

/// Replaces the file's contents through a temporary file in its directory, so that a crash
/// leaves either the old text or the new one. Symbolic links are followed (the file they
/// point to is replaced, not the link) and permissions are kept.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let permissions = std::fs::metadata(&target)?.permissions();
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = target.with_file_name(format!(".{file_name}.ivrc-fmt-{}", std::process::id()));
    let mut file = std::fs::File::create_new(&temp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::set_permissions(&temp, permissions))
        .and_then(|()| std::fs::rename(&temp, &target));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

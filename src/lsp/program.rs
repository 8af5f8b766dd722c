//! One open document analysed as the program it roots, as `ivrc check` would: the document,
//! the files it imports and the leads files its campaigns name (open documents are read
//! before the disk), parsed, checked, indexed.
//!
//! Owns which problems a document shows (those `ivrc check` reports: syntax errors, or,
//! when every file parsed, the checker's diagnostics) and where its files live. The index
//! is built from a check of whatever parsed, so navigation keeps working while one item has
//! a syntax error.

use super::document::{Document, LineIndex};
use super::symbols::SymbolIndex;
use crate::check::{Analysis, Diag};
use crate::load::{Files, Loaded};
use crate::span::{FileId, Span};
use crate::syntax::SyntaxError;
use lsp_types::{Location, Range, Url};
use std::path::{Path, PathBuf};

/// A problem `ivrc check` reports.
#[derive(Debug)]
pub enum Problem {
    /// A syntax error in a file.
    Syntax(FileId, SyntaxError),
    /// A checker diagnostic.
    Check(Diag),
}

impl Problem {
    /// The file its spans point into.
    pub fn file(&self) -> FileId {
        match self {
            Problem::Syntax(file, _) => *file,
            Problem::Check(d) => d.file,
        }
    }

    /// Labelled places in other files (a leads file's rows).
    pub fn related(&self) -> &[crate::check::Related] {
        match self {
            Problem::Syntax(..) => &[],
            Problem::Check(d) => &d.related,
        }
    }

    /// The diagnostic, to read its code, message, labels and help.
    pub fn diagnostic(&self) -> &dyn miette::Diagnostic {
        match self {
            Problem::Syntax(_, e) => e,
            Problem::Check(d) => &d.error,
        }
    }
}

/// A document's program, analysed.
pub struct Program {
    /// The files read, the document first (`FileId(0)`).
    pub loaded: Loaded,
    /// What `ivrc check` would report, in its order.
    pub problems: Vec<Problem>,
    /// The checker's side tables.
    pub analysis: Analysis,
    /// Definitions and references.
    pub index: SymbolIndex,
}

/// The document's own file.
pub const ROOT: FileId = FileId(0);

impl Program {
    /// Analyses the document at `path` (its text is one of `files`).
    pub fn analyse(path: &Path, files: &mut impl Files) -> Option<Program> {
        let loaded = crate::load::load(path, files).ok()?;
        let modules = loaded.module_refs();
        let (analysis, diags) = crate::check::check(&modules, &loaded.leads);
        let index = SymbolIndex::build(&loaded.sources, &modules, &analysis);
        let problems = if loaded.syntax_errors.is_empty() {
            diags.into_iter().map(Problem::Check).collect()
        } else {
            loaded
                .syntax_errors
                .iter()
                .map(|(f, e)| Problem::Syntax(*f, e.clone()))
                .collect()
        };
        Some(Program {
            loaded,
            problems,
            analysis,
            index,
        })
    }

    /// The path `file` was read from, `..` and `.` resolved.
    pub fn path(&self, file: FileId) -> Option<PathBuf> {
        self.loaded
            .paths
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, p)| normalize(p))
    }

    /// Whether the program read the file at `path` (a normalized path).
    pub fn reads(&self, path: &Path) -> bool {
        self.loaded.paths.iter().any(|(_, p)| normalize(p) == path)
    }

    /// The document's `import` that brought `file` in, directly or through other imports.
    pub fn import_of(&self, mut file: FileId) -> Option<Span> {
        // Each file is read once, so the chain is at most as long as the list.
        for _ in 0..=self.loaded.imported_by.len() {
            let &(_, by, at) = self.loaded.imported_by.iter().find(|(f, ..)| *f == file)?;
            if by == ROOT {
                return Some(at);
            }
            file = by;
        }
        None
    }

    /// The text of `file`.
    pub fn text(&self, file: FileId) -> &str {
        self.loaded
            .sources
            .get(file)
            .map_or("", |f| f.text.as_str())
    }
}

/// An open document with its program: where spans of any of the program's files are, in
/// the protocol's terms.
pub struct View<'a> {
    /// The document's URI.
    pub uri: &'a Url,
    /// The document.
    pub doc: &'a Document,
    /// Its program.
    pub program: &'a Program,
}

impl View<'_> {
    /// The range of `span`, in the editor's text for the document itself.
    pub fn range(&self, span: Span) -> Range {
        let (start, end) = (span.start as usize, span.end as usize);
        if span.file == ROOT {
            return self.doc.range(start, end);
        }
        let text = self.program.text(span.file);
        LineIndex::new(text).range(text, start, end)
    }

    /// The URI of `file`: the document's own, or an imported file's.
    pub fn uri(&self, file: FileId) -> Option<Url> {
        if file == ROOT {
            return Some(self.uri.clone());
        }
        Url::from_file_path(self.program.path(file)?).ok()
    }

    /// Where `span` is.
    pub fn location(&self, span: Span) -> Option<Location> {
        Some(Location::new(self.uri(span.file)?, self.range(span)))
    }
}

/// The path a document's analysis reads it under: its file path, or for a document that
/// is not a file (an unsaved buffer) its URI, which no disk read can reach.
pub fn document_path(uri: &Url) -> PathBuf {
    uri.to_file_path()
        .unwrap_or_else(|()| PathBuf::from(uri.as_str()))
}

/// Open documents in front of the disk.
pub struct Overlay<'a> {
    /// The open documents' paths and texts.
    pub open: Vec<(PathBuf, &'a str)>,
    /// Everything else.
    pub disk: &'a mut dyn Files,
}

impl Files for Overlay<'_> {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        let path = &normalize(path);
        if let Some((_, text)) = self.open.iter().find(|(p, _)| p == path) {
            return Ok(without_bom(text).into_owned().into_bytes());
        }
        if path.is_relative() {
            // Relative to an unsaved buffer: there is no directory to look in.
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the importing document is not saved to a file",
            ));
        }
        self.disk.read(path)
    }

    fn identity(&mut self, path: &Path) -> PathBuf {
        let path = &normalize(path);
        if self.open.iter().any(|(p, _)| p == path) || path.is_relative() {
            path.to_path_buf()
        } else {
            self.disk.identity(path)
        }
    }
}

/// `text` ready to parse at the editor's offsets: a byte order mark, which the loader would
/// strip and so shift every offset, becomes three spaces.
pub fn without_bom(text: &str) -> std::borrow::Cow<'_, str> {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => format!("   {rest}").into(),
        None => text.into(),
    }
}

/// `path` with `.` dropped and `..` taking off the component before it, without asking the
/// file system (an import's path is joined to its file's directory as written).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_without_the_file_system() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d.ivr")),
            Path::new("/a/c/d.ivr")
        );
        assert_eq!(normalize(Path::new("../x.ivr")), Path::new("../x.ivr"));
    }
}

//! Gathering a program: a root file, the files it imports (transitively) and the leads files
//! its campaigns name, parsed, with every syntax error.
//!
//! Owns the rules of `import` (paths relative to the importing file, each file read once,
//! a missing file reported at the import) and of leads paths (relative to the file that
//! names them). It does no I/O itself: every read goes through the [`Files`] the caller
//! supplies — the binary reads the disk, the language server its open documents first.

use crate::check::{LeadsFile, LeadsFiles};
use crate::span::{FileId, Sources, Span};
use crate::syntax::{self, ast, SyntaxError};
use std::path::{Path, PathBuf};

/// Where a program's files come from.
pub trait Files {
    /// The bytes of the file at `path`.
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>>;

    /// A key naming the file at `path`, equal for two paths of one file, so that a file
    /// imported twice (or in a cycle) is read once.
    fn identity(&mut self, path: &Path) -> PathBuf;
}

/// A program read and parsed, with its syntax errors.
pub struct Loaded {
    /// Every file read.
    pub sources: Sources,
    /// Parsed modules, the root first.
    pub modules: Vec<(FileId, ast::Module)>,
    /// Syntax errors by file.
    pub syntax_errors: Vec<(FileId, SyntaxError)>,
    /// Leads files named by campaigns (read only after a clean parse).
    pub leads: LeadsFiles,
    /// The path each file was read from.
    pub paths: Vec<(FileId, PathBuf)>,
    /// For each imported file, the file and the `import` path literal that brought it in.
    pub imported_by: Vec<(FileId, FileId, Span)>,
}

impl Loaded {
    /// The modules as the checker and the lowering take them.
    pub fn module_refs(&self) -> Vec<(FileId, &ast::Module)> {
        self.modules.iter().map(|(f, m)| (*f, m)).collect()
    }

    /// The name of the root file, as IR spans give it.
    pub fn root(&self) -> String {
        self.sources
            .get(FileId(0))
            .map(|f| f.name.clone())
            .unwrap_or_default()
    }
}

/// The root file cannot be read.
#[derive(Debug)]
pub struct LoadError(pub String);

/// A file to read: its path, its name for messages, and the import that names it.
type Pending = (PathBuf, String, Option<(FileId, Span)>);

/// Reads `root` and everything it imports through `files`; then, when every file parsed,
/// the leads files the campaigns name (a leads file that cannot be read is `None`).
pub fn load(root: &Path, files: &mut impl Files) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded {
        sources: Sources::new(),
        modules: Vec::new(),
        syntax_errors: Vec::new(),
        leads: LeadsFiles::new(),
        paths: Vec::new(),
        imported_by: Vec::new(),
    };
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut queue: Vec<Pending> = vec![(root.to_path_buf(), root.display().to_string(), None)];
    let mut i = 0;
    while i < queue.len() {
        let (path, name, imported_at) = queue[i].clone();
        i += 1;
        let key = files.identity(&path);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let bytes = match files.read(&path) {
            Ok(b) => b,
            Err(e) => match imported_at {
                None => return Err(LoadError(format!("cannot read `{name}`: {e}"))),
                Some((file, at)) => {
                    loaded.syntax_errors.push((
                        file,
                        SyntaxError::ImportNotFound {
                            path: name,
                            reason: e.to_string(),
                            at: at.into(),
                        },
                    ));
                    continue;
                }
            },
        };
        let id = FileId(u32::try_from(loaded.sources.iter().count()).unwrap_or(u32::MAX));
        if let Some((by, at)) = imported_at {
            loaded.imported_by.push((id, by, at));
        }
        loaded.paths.push((id, path.clone()));
        let text = match syntax::decode_source(id, bytes) {
            Ok(text) => text,
            Err((lossy, err)) => {
                loaded.sources.add(name, lossy);
                loaded.syntax_errors.push((id, err));
                continue;
            }
        };
        let (module, errors) = syntax::parse(id, &text);
        loaded.sources.add(name, text);
        loaded
            .syntax_errors
            .extend(errors.into_iter().map(|e| (id, e)));
        let dir = parent(&path);
        for item in &module.items {
            if let ast::Item::Import(imp) = item {
                if let Some(rel) = imp.path.as_plain() {
                    let p = dir.join(&rel);
                    queue.push((
                        p.clone(),
                        p.display().to_string(),
                        Some((id, imp.path.span)),
                    ));
                }
            }
        }
        loaded.modules.push((id, module));
    }
    if loaded.syntax_errors.is_empty() {
        for (file, rel) in crate::check::leads_paths(&loaded.module_refs()) {
            let dir = loaded
                .paths
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, p)| parent(p))
                .unwrap_or_default();
            let path = dir.join(&rel);
            let leads = files.read(&path).ok().map(|bytes| {
                let leads = LeadsFile::add(&mut loaded.sources, path.display().to_string(), bytes);
                loaded.paths.push((leads.file, path));
                leads
            });
            loaded.leads.insert((file, rel), leads);
        }
    }
    Ok(loaded)
}

/// The directory paths in a file are relative to.
fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

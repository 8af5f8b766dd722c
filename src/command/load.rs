//! Loading a program: the named files, their imports, and the leads files campaigns name.
//! The one place that reads `.ivr` and leads files from disk.

use ivrc::check::LeadsFiles;
use ivrc::span::{FileId, Sources, Span};
use ivrc::syntax::{self, ast, SyntaxError};
use std::path::{Path, PathBuf};

/// A program read from disk, parsed, with its syntax errors.
pub struct Loaded {
    /// Every file read.
    pub sources: Sources,
    /// Parsed modules, the root first.
    pub modules: Vec<(FileId, ast::Module)>,
    /// Syntax errors by file.
    pub syntax_errors: Vec<(FileId, SyntaxError)>,
    /// Leads files named by campaigns (after a clean parse).
    pub leads: LeadsFiles,
}

impl Loaded {
    /// The IR of these modules, after a check without errors gave `analysis`.
    pub fn lower(&self, analysis: &ivrc::check::Analysis) -> ivrc::ir::Program {
        let modules: Vec<(FileId, &ast::Module)> =
            self.modules.iter().map(|(f, m)| (*f, m)).collect();
        ivrc::lower::lower(&self.sources, &modules, analysis)
    }

    /// The name of the root file, as IR spans give it.
    pub fn root(&self) -> String {
        self.sources
            .get(FileId(0))
            .map(|f| f.name.clone())
            .unwrap_or_default()
    }
}

/// Loads `root`, or prints why it cannot be read and gives exit status 2.
pub fn load_or_exit(root: &Path) -> Result<Loaded, u8> {
    load(root).map_err(|e| {
        eprintln!("error: {}", e.0);
        2
    })
}

/// A file to read: its path, its name for messages, and the import that names it.
type Pending = (PathBuf, String, Option<(FileId, Span)>);

/// The root file cannot be read: a usage or I/O error (exit 2).
pub struct LoadError(pub String);

/// Reads `root` and everything it imports.
fn load(root: &Path) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded {
        sources: Sources::new(),
        modules: Vec::new(),
        syntax_errors: Vec::new(),
        leads: LeadsFiles::new(),
    };
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut queue: Vec<Pending> = vec![(root.to_path_buf(), root.display().to_string(), None)];
    let mut paths: Vec<(FileId, PathBuf)> = Vec::new();
    let mut i = 0;
    while i < queue.len() {
        let (path, name, imported_at) = queue[i].clone();
        i += 1;
        let key = path.canonicalize().unwrap_or_else(|_| path.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let bytes = match std::fs::read(&path) {
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
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
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
        paths.push((id, dir));
        loaded.modules.push((id, module));
    }
    if loaded.syntax_errors.is_empty() {
        let modules: Vec<(FileId, &ast::Module)> =
            loaded.modules.iter().map(|(f, m)| (*f, m)).collect();
        for (file, rel) in ivrc::check::leads_paths(&modules) {
            let dir = paths
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, d)| d.clone())
                .unwrap_or_default();
            let bytes = std::fs::read(dir.join(&rel)).ok();
            loaded.leads.insert((file, rel), bytes);
        }
    }
    Ok(loaded)
}

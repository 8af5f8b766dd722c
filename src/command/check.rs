//! `ivrc check`: parse and check files, print every problem.

use super::load::{load, Loaded};
use super::report::{print, Problem};
use crate::cli::{CheckArgs, Format};
use ivrc::check::Analysis;
use ivrc::span::FileId;
use ivrc::syntax::ast;

/// Loads, parses and checks; returns the program and its problems (syntax errors first;
/// checking only runs when parsing was clean, so errors do not cascade).
pub fn analyse(loaded: &Loaded) -> (Option<Analysis>, Vec<Problem>) {
    let mut problems: Vec<Problem> = loaded
        .syntax_errors
        .iter()
        .map(|(file, e)| Problem { file: *file, diag: Box::new(e.clone()) })
        .collect();
    if !problems.is_empty() {
        return (None, problems);
    }
    let modules: Vec<(FileId, &ast::Module)> = loaded.modules.iter().map(|(f, m)| (*f, m)).collect();
    let (analysis, diags) = ivrc::check::check(&modules, &loaded.leads);
    problems.extend(diags.into_iter().map(|d| Problem { file: d.file, diag: Box::new(d.error) }));
    (Some(analysis), problems)
}

/// Runs `ivrc check`.
pub fn run(args: &CheckArgs) -> u8 {
    let loaded = match load(&args.files) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}", e.0);
            return 2;
        }
    };
    let (_, problems) = analyse(&loaded);
    let counts = print(&loaded.sources, problems, args.format);
    let code = counts.exit_code(args.deny_warnings);
    if code == 0 && args.format == Format::Human {
        let flows = loaded.modules.iter().flat_map(|(_, m)| &m.items).filter(|i| matches!(i, ast::Item::Flow(_))).count();
        eprintln!("ok: {} file{}, {flows} flow{}", loaded.modules.len(), if loaded.modules.len() == 1 { "" } else { "s" }, if flows == 1 { "" } else { "s" });
    }
    code
}

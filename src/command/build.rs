//! `ivrc build`: check a file and emit it for a target.

use super::check::analyse;
use super::load::load;
use super::report::Printer;
use crate::cli::{BuildArgs, Target};
use ivrc::span::FileId;
use ivrc::syntax::ast;

/// Runs `ivrc build`.
pub fn run(args: &BuildArgs) -> u8 {
    let loaded = match load(&args.file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}", e.0);
            return 2;
        }
    };
    let (analysis, problems) = analyse(&loaded);
    let mut printer = Printer::new(args.format, true);
    printer.add(&loaded.sources, problems);
    let code = printer.finish().exit_code(args.deny_warnings);
    let Some(analysis) = analysis.filter(|_| code == 0) else {
        return 1;
    };
    let modules: Vec<(FileId, &ast::Module)> =
        loaded.modules.iter().map(|(f, m)| (*f, m)).collect();
    let program = ivrc::lower::lower(&loaded.sources, &modules, &analysis);
    let text = match args.target {
        Target::Ir => match serde_json::to_string_pretty(&program) {
            Ok(t) => t + "\n",
            Err(e) => {
                eprintln!("error: cannot serialize the IR: {e}");
                return 2;
            }
        },
    };
    match &args.output {
        None => {
            print!("{text}");
            0
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                2
            }
        },
    }
}

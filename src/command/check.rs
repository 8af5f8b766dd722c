//! `ivrc check`: parse and check files, print every problem.

use super::load::{load_or_exit, Loaded};
use super::report::{Printer, Problem};
use crate::cli::{CheckArgs, Format};
use ivrc::check::Analysis;
use ivrc::syntax::ast;

/// Loads, parses and checks; returns the program and its problems (syntax errors first;
/// checking only runs when parsing was clean, so errors do not cascade).
pub fn analyse(loaded: &Loaded) -> (Option<Analysis>, Vec<Problem>) {
    let mut problems: Vec<Problem> = loaded
        .syntax_errors
        .iter()
        .map(|(file, e)| Problem {
            file: *file,
            diag: Box::new(e.clone()),
            related: Vec::new(),
        })
        .collect();
    if !problems.is_empty() {
        return (None, problems);
    }
    let (analysis, diags) = ivrc::check::check(&loaded.module_refs(), &loaded.leads);
    problems.extend(diags.into_iter().map(|d| Problem {
        file: d.file,
        diag: Box::new(d.error),
        related: d.related,
    }));
    (Some(analysis), problems)
}

/// The IR of a loaded program, after a check without errors gave `analysis`.
pub fn lower(loaded: &Loaded, analysis: &Analysis) -> ivrc::ir::Program {
    ivrc::lower::lower(&loaded.sources, &loaded.module_refs(), analysis)
}

/// Runs `ivrc check`: each file is checked as its own program, with its imports.
pub fn run(args: &CheckArgs) -> u8 {
    let mut printer = Printer::new(args.format);
    let (mut files, mut flows) = (0, 0);
    for file in &args.files {
        let loaded = match load_or_exit(file) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let (_, problems) = analyse(&loaded);
        printer.add(&loaded.sources, problems);
        files += 1;
        flows += loaded
            .modules
            .iter()
            .flat_map(|(_, m)| &m.items)
            .filter(|i| matches!(i, ast::Item::Flow(_)))
            .count();
    }
    let code = printer.finish().exit_code(args.deny_warnings);
    if code == 0 && args.format == Format::Human {
        ivrc::errln!(
            "ok: {files} file{}, {flows} flow{}",
            plural(files),
            plural(flows)
        );
    }
    code
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Loads, checks and lowers several files into one program for a driver (`serve`, `run`),
/// refusing the flows `refuse` finds constructs in. Prints every diagnostic; the error is the
/// exit status (1 for diagnostics, 2 when a file cannot be read or two files define a flow).
pub fn program_for(
    files: &[std::path::PathBuf],
    format: Format,
    refuse: fn(&ivrc::ir::Flow) -> Vec<ivrc::codegen::Unsupported>,
) -> Result<ivrc::ir::Program, u8> {
    let mut printer = Printer::new(format);
    let mut program: Option<ivrc::ir::Program> = None;
    let mut failed = false;
    for file in files {
        let loaded = load_or_exit(file)?;
        let (analysis, problems) = analyse(&loaded);
        printer.add(&loaded.sources, problems);
        let Some(analysis) = analysis.filter(|_| printer.counts.errors == 0) else {
            failed = true;
            continue;
        };
        let lowered = lower(&loaded, &analysis);
        for flow in &lowered.flows {
            for u in refuse(flow) {
                printer.add_in(&loaded.sources, &u.span.file, Box::new(u.diagnostic()));
                failed = true;
            }
        }
        match &mut program {
            None => program = Some(lowered),
            Some(p) => {
                for f in lowered.flows {
                    if p.flows.iter().any(|g| g.name == f.name) {
                        ivrc::errln!("error: two files define the flow `{}`", f.name);
                        return Err(2);
                    }
                    p.flows.push(f);
                }
            }
        }
    }
    printer.finish();
    program.filter(|_| !failed).ok_or(1)
}

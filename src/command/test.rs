//! `ivrc test`: run the `test` blocks of each file against the engine in virtual time.

use super::check::{analyse, lower};
use super::load::load_or_exit;
use super::report::Printer;
use crate::cli::{Format, TestArgs};
use ivrc::testing::{self, TestResult};

/// Runs `ivrc test`.
pub fn run(args: &TestArgs) -> u8 {
    let mut results: Vec<(String, TestResult)> = Vec::new();
    let mut printer = Printer::new(args.format);
    let mut broken = false;
    for file in &args.files {
        let loaded = match load_or_exit(file) {
            Ok(l) => l,
            Err(code) => return code,
        };
        let (analysis, problems) = analyse(&loaded);
        let errors = problems
            .iter()
            .any(|p| !matches!(p.diag.severity(), Some(miette::Severity::Warning)));
        printer.add(&loaded.sources, problems);
        let Some(analysis) = analysis.filter(|_| !errors) else {
            broken = true;
            continue;
        };
        let program = lower(&loaded, &analysis);
        let root = loaded.root();
        for test in program.tests.iter().filter(|t| t.span.file == root) {
            results.push((root.clone(), testing::run(&program, test)));
        }
    }
    let (counts, diagnostics) = printer.finish_keeping_json();
    broken |= counts.errors > 0;
    let failed = results.iter().filter(|(_, r)| r.failure.is_some()).count();
    let passed = results.len() - failed;
    match args.format {
        Format::Human => {
            for (file, r) in &results {
                match &r.failure {
                    None => ivrc::outln!("ok    {file}: {}", r.name),
                    Some(f) => {
                        ivrc::outln!("FAIL  {file}: {}", r.name);
                        ivrc::outln!("  at {}:{}", f.step.file, f.step.line);
                        ivrc::outln!("  expected: {}", f.expected);
                        match &f.flow_span {
                            Some(s) => {
                                ivrc::outln!("  actual:   {}   ({}:{})", f.actual, s.file, s.line)
                            }
                            None => ivrc::outln!("  actual:   {}", f.actual),
                        }
                    }
                }
            }
            if broken {
                ivrc::outln!("{passed} passed, {failed} failed; files with errors were not run");
            } else {
                ivrc::outln!("{passed} passed, {failed} failed");
            }
        }
        Format::Json => {
            let list: Vec<serde_json::Value> = results
                .iter()
                .map(|(file, r)| {
                    serde_json::json!({
                        "file": file,
                        "name": r.name,
                        "line": r.span.line,
                        "passed": r.failure.is_none(),
                        "failure": r.failure.as_ref().map(|f| serde_json::json!({
                            "line": f.step.line,
                            "expected": f.expected,
                            "actual": f.actual,
                            "flow_file": f.flow_span.as_ref().map(|s| s.file.clone()),
                            "flow_line": f.flow_span.as_ref().map(|s| s.line),
                        })),
                    })
                })
                .collect();
            let summary = serde_json::json!({
                "passed": passed,
                "failed": failed,
                "tests": list,
                "diagnostics": diagnostics,
            });
            ivrc::outln!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
        }
    }
    u8::from(failed > 0 || broken)
}

//! Engine transcripts: each flow in tests/fixtures/engine is driven by the console script
//! beside it (`NAME.sim`, the `ivrc sim` input language) in virtual time, and every command
//! the engine issues, with its time and node, is snapshot. Together they cover every
//! statement's outcomes and the defaults of missing arms.

use ivrc::sim::console::{self, Console};
use ivrc::sim::VirtualCall;
use std::fmt::Write as _;

fn compile(path: &std::path::Path) -> ivrc::ir::Program {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let c = ivrc::compile(&path.display().to_string(), &text);
    c.program.unwrap_or_else(|| {
        panic!(
            "{}: {:?} {:?}",
            path.display(),
            c.syntax_errors,
            c.diagnostics
        )
    })
}

fn entries(call: &VirtualCall<'_>, from: usize, out: &mut String) -> usize {
    for e in &call.log[from..] {
        let line = call.flow().nodes[e.output.node.0 as usize].span.line;
        let _ = writeln!(
            out,
            "  [{:>6}ms] line {line:>2}: {:?}",
            e.at_ms, e.output.command
        );
    }
    call.log.len()
}

#[test]
fn engine_transcripts() {
    insta::glob!("fixtures/engine", "*.ivr", |path| {
        let program = compile(path);
        let flow = &program.flows[0];
        let script = std::fs::read_to_string(path.with_extension("sim"))
            .expect("a .sim script beside each fixture");
        let mut lines: Vec<&str> = script.lines().collect();
        let mut console = Console {
            call: VirtualCall::new(flow),
            leg: None,
        };
        let mut out = String::new();
        match lines.first().and_then(|l| l.strip_prefix("/sms ")) {
            Some(text) => {
                let _ = writeln!(out, "> (an SMS arrives: {text})");
                console
                    .call
                    .start_sms("+79991112233".into(), text.to_string(), Vec::new());
                lines.remove(0);
            }
            None => {
                let _ = writeln!(out, "> (a call from +79991112233)");
                console
                    .call
                    .start_call(Some("+79991112233".into()), Vec::new());
            }
        }
        let mut shown = entries(&console.call, 0, &mut out);
        for line in lines {
            let _ = writeln!(out, "> {line}");
            if let Err(e) = console::parse(line).and_then(|i| console.apply(i)) {
                let _ = writeln!(out, "  ? {e}");
            }
            shown = entries(&console.call, shown, &mut out);
        }
        let _ = writeln!(out, "ended: {}", console.call.ended());
        insta::assert_snapshot!(out);
    });
}

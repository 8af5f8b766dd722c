//! `ivrc sim`: a console call. Prints what the robot does; reads keys, speech and commands
//! from stdin (a terminal or a script).

use super::check::{analyse, lower};
use super::load::load_or_exit;
use super::report::Printer;
use crate::cli::{Format, SimArgs};
use ivrc::sim::console::{self, Console};
use ivrc::sim::VirtualCall;
use std::io::BufRead;

/// Runs `ivrc sim`.
pub fn run(args: &SimArgs) -> u8 {
    let loaded = match load_or_exit(&args.file) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (analysis, problems) = analyse(&loaded);
    let mut printer = Printer::new(Format::Human);
    printer.add(&loaded.sources, problems);
    let counts = printer.finish();
    let Some(analysis) = analysis.filter(|_| counts.errors == 0) else {
        return 1;
    };
    let program = lower(&loaded, &analysis);
    let root = loaded.root();
    let flow = match &args.flow {
        Some(name) => program.flows.iter().find(|f| &f.name == name),
        None => program
            .flows
            .iter()
            .find(|f| f.span.file == root)
            .or(program.flows.first()),
    };
    let Some(flow) = flow else {
        ivrc::errln!(
            "error: no flow {}",
            args.flow
                .as_deref()
                .map_or(String::new(), |n| format!("`{n}`"))
        );
        return 2;
    };
    let mut params = Vec::new();
    for p in &args.params {
        let Some((k, v)) = p.split_once('=') else {
            ivrc::errln!("error: --param takes name=value, not `{p}`");
            return 2;
        };
        params.push((k.to_string(), v.to_string()));
    }
    ivrc::outln!("ivrc sim: flow `{}` — keys, :speech, /wait 30s, /answer LEG, /hangup, /fetch {{json}} (see --help)", flow.name);
    let mut console = Console {
        call: VirtualCall::new(flow),
        leg: None,
    };
    console.call.start_call(Some(args.from.clone()), params);
    let mut shown = 0;
    shown = show(&console.call, shown);
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        // Nobody reads the answers any more (stdout closed): stop instead of reading on.
        if console.call.ended() || ivrc::stdio::failure().is_some() {
            break;
        }
        match console::parse(&line).and_then(|input| console.apply(input)) {
            Ok(()) => shown = show(&console.call, shown),
            Err(e) => ivrc::outln!("  ? {e}"),
        }
        if console.call.ended() {
            break;
        }
    }
    if !console.call.ended() {
        ivrc::outln!(
            "(input ended; the call is still waiting at {})",
            seconds(console.call.now_ms())
        );
    }
    0
}

/// Prints the log entries after `from`; returns the new position.
fn show(call: &VirtualCall<'_>, from: usize) -> usize {
    for entry in &call.log[from..] {
        if let Some(text) = call.describe(&entry.output.command) {
            ivrc::outln!("[{:>7}] {text}", seconds(entry.at_ms));
        }
    }
    call.log.len()
}

fn seconds(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
}

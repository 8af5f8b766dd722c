//! The `ivrc` binary: parses the command line and dispatches to a subcommand. This and the
//! modules below it are the only code that touches files, stdout and exit codes
//! (0 ok, 1 diagnostics, 2 usage or I/O error). Output that cannot be written (a closed
//! pipe on stdout or stderr) is an I/O error too: exit status 2, never a panic.

mod cli;
mod command;

use clap::Parser;
use std::process::ExitCode;

/// jemalloc with its background threads hands freed pages back to the system within seconds
/// (dirty/muzzy decay), so `ivrc run` returns to its idle size after a load peak; glibc's
/// per-thread arenas kept most of it (see BENCHMARKS.md, memory after load).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Help, version and usage errors; clap returns a write error instead of panicking.
        Err(e) => {
            let code = match e.print() {
                Ok(()) => u8::try_from(e.exit_code()).unwrap_or(2),
                Err(why) => {
                    if !e.use_stderr() {
                        ivrc::errln!("error: cannot write standard output: {why}");
                    }
                    2
                }
            };
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        cli::Command::Check(args) => command::check::run(&args),
        cli::Command::Build(args) => command::build::run(&args),
        cli::Command::Test(args) => command::test::run(&args),
        cli::Command::Sim(args) => command::sim::run(&args),
        cli::Command::Serve(args) => command::serve::run(&args),
        cli::Command::Entries(args) => command::entries::run(&args),
        cli::Command::Run(args) => command::run::run(&args),
        cli::Command::Calls(args) => command::calls::run(&args),
        cli::Command::Store(cli::StoreCommand::Migrate(args)) => command::store::migrate(&args),
        cli::Command::Graph(args) => command::graph::run(&args),
        cli::Command::Fmt(args) => command::fmt::run(&args),
        cli::Command::Lsp => command::lsp::run(),
    };
    ExitCode::from(with_output_failure(code))
}

/// The exit status once the command is done: 2 when some output could not be written,
/// said on stderr when it is stdout that failed (and stderr still takes it).
fn with_output_failure(code: u8) -> u8 {
    match ivrc::stdio::failure() {
        None => code,
        Some((stream, why)) => {
            if *stream == ivrc::stdio::Stream::Out {
                ivrc::errln!("error: cannot write standard output: {why}");
            }
            2
        }
    }
}

//! The `ivrc` binary: parses the command line and dispatches to a subcommand. This and the
//! modules below it are the only code that touches files, stdout and exit codes
//! (0 ok, 1 diagnostics, 2 usage or I/O error).

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
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Check(args) => command::check::run(&args),
        cli::Command::Build(args) => command::build::run(&args),
        cli::Command::Test(args) => command::test::run(&args),
        cli::Command::Sim(args) => command::sim::run(&args),
        cli::Command::Serve(args) => command::serve::run(&args),
        cli::Command::Entries(args) => command::entries::run(&args),
        cli::Command::Run(args) => command::run::run(&args),
        cli::Command::Calls(args) => command::calls::run(&args),
        cli::Command::Graph(args) => command::graph::run(&args),
        cli::Command::Fmt(args) => command::fmt::run(&args),
        cli::Command::Lsp => command::lsp::run(),
    };
    ExitCode::from(code)
}

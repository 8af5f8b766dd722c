//! The command line: subcommands and their arguments, with help text and examples.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// ivrc — compile and check phone call flows written in `.ivr`.
#[derive(Debug, Parser)]
#[command(name = "ivrc", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check flows; print every problem found.
    #[command(
        after_help = "Examples:\n  ivrc check examples/sum.ivr\n  ivrc check examples/*.ivr --deny-warnings\n  ivrc check flow.ivr --format json\n\nExit status: 0 when clean, 1 when there are errors (or warnings with --deny-warnings), 2 when a file cannot be read."
    )]
    Check(CheckArgs),
    /// Compile a flow file for a target.
    #[command(
        after_help = "Examples:\n  ivrc build examples/sum.ivr --target ir\n  ivrc build examples/callback.ivr --target ir -o callback.ir.json\n\nExit status: 0 on success, 1 when the flow has errors, 2 when a file cannot be read or written."
    )]
    Build(BuildArgs),
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Reports with source excerpts, for people.
    Human,
    /// One JSON array of diagnostics, for tools.
    Json,
}

/// Arguments of `ivrc check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The `.ivr` files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// What `ivrc build` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The IR as JSON (docs/ir.md), for tools that consume flows.
    Ir,
}

/// Arguments of `ivrc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The `.ivr` file to compile.
    pub file: PathBuf,
    /// The target to emit.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Where to write the output (stdout when left out).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output format of diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}

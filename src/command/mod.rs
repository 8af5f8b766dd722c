//! One module per subcommand, plus loading files and printing diagnostics.

pub mod build;
pub mod calls;
mod campaign;
pub mod check;
pub mod entries;
pub mod fmt;
pub mod graph;
mod load;
pub mod lsp;
mod report;
pub mod run;
pub mod serve;
pub mod sim;
pub mod store;
pub mod test;

/// The tokio runtime of the servers (`serve`, `run`), or exit status 2 with the reason printed.
fn async_runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            ivrc::errln!("error: cannot start the runtime: {e}");
            2
        })
}

/// Where a server's own lines (listening on…, progress, stopped…) go: stdout, or stderr under
/// `--format json`, so that stdout then carries the diagnostics array alone.
fn lines_stream(format: crate::cli::Format) -> ivrc::stdio::Stream {
    match format {
        crate::cli::Format::Human => ivrc::stdio::Stream::Out,
        crate::cli::Format::Json => ivrc::stdio::Stream::Err,
    }
}

//! One module per subcommand, plus loading files and printing diagnostics.

pub mod build;
pub mod check;
pub mod entries;
mod load;
mod report;
pub mod serve;
pub mod sim;
pub mod test;

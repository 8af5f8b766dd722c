//! One module per subcommand, plus loading files and printing diagnostics.

pub mod build;
pub mod calls;
pub mod check;
pub mod entries;
mod load;
mod report;
pub mod run;
pub mod serve;
pub mod sim;
pub mod test;

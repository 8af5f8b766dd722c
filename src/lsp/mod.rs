//! The language server (`ivrc lsp`): diagnostics, navigation, hover, completion and
//! formatting for editors, from the front end only (syntax, check, fmt), never the engine.
//!
//! ```text
//!  client ─► transport (framing) ─► server (JSON-RPC, lifecycle, open documents)
//!                                     │ program: document + imports ─► parse, check ─► symbols
//!                                     └─► diagnostics, navigation, hover, completion, formatting
//! ```
//!
//! The library speaks the protocol over any reader and writer and reads files only through
//! the [`crate::load::Files`] it is given; `ivrc lsp` hands it standard input and output and
//! the disk. Positions are in UTF-16 code units, as the protocol's default encoding.

mod completion;
mod diagnostics;
mod document;
mod formatting;
mod hover;
mod keywords;
mod lexical;
mod navigation;
mod program;
mod server;
mod symbols;
mod transport;

pub use server::{serve, Server};

//! The pest parser generated from `grammar/ivr.pest`; nothing else lives here.

#![allow(missing_docs)]

use pest_derive::Parser;

/// The parser for `.ivr` files.
#[derive(Parser)]
#[grammar = "../grammar/ivr.pest"]
pub struct IvrParser;

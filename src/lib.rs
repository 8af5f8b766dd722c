//! ivrc: a compiler and runtime for `.ivr` phone call flows.

pub mod check;
pub mod codegen;
pub mod engine;
pub mod ir;
pub mod leads;
pub mod lower;
pub mod phone;
pub mod phrase;
pub mod serve;
pub mod sim;
pub mod span;
pub mod syntax;
pub mod testing;

//! SIP for the runtime: messages ([`message`], the only module that imports rsip, with the
//! grammar rules it adds in [`lexical`]), the user-agent core ([`core`]: dispatch, the effect
//! queue, incoming texts; no I/O), the calls we answer ([`uas`]) and the calls we place
//! ([`uac`], with [`digest`] authentication), our registration at a provider ([`register`]),
//! what they all report ([`effect`]), their timers ([`timers`]), SIP INFO keys ([`info`]) and
//! the TCP transport ([`tcp`]; UDP is the server's socket). It imports nothing from the rest
//! of the runtime (a test in `tests/architecture.rs` keeps it so).

pub mod core;
pub mod digest;
pub mod effect;
pub mod hold;
pub mod info;
pub mod lexical;
pub mod message;
pub mod register;
pub mod tcp;
pub mod timers;
pub mod uac;
pub mod uas;

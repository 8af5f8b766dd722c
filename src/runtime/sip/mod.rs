//! SIP for the runtime: messages ([`message`], the only module that imports rsip), the
//! user-agent core ([`core`]: transactions, dialogs, timers, no I/O), the calls we place
//! ([`uac`], with [`digest`] authentication) and the TCP transport ([`tcp`]; UDP is the
//! server's socket).

pub mod core;
pub mod digest;
pub mod message;
pub mod tcp;
pub mod timers;
pub mod uac;

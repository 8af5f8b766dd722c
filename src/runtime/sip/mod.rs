//! SIP for the runtime: messages ([`message`], the only module that imports rsip), the
//! user-agent core ([`core`]: transactions, dialogs, timers, no I/O) and the TCP transport
//! ([`tcp`]; UDP is the server's socket).

pub mod core;
pub mod message;
pub mod tcp;

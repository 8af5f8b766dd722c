//! SIP over UDP for the runtime: messages ([`message`], the only module that imports rsip)
//! and the user-agent core ([`core`]: transactions, dialogs, timers, no I/O).

pub mod core;
pub mod message;

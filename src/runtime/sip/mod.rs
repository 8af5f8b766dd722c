//! SIP for the runtime: messages ([`message`], the only module that imports rsip, with the
//! grammar rules it adds in [`lexical`]), the user-agent core ([`core`]: dispatch, the effect
//! queue, incoming texts; no I/O), the calls we answer ([`uas`]) and the calls we place
//! ([`uac`], with [`digest`] authentication), our registration at a provider ([`register`]),
//! what they all report ([`effect`]), their timers ([`timers`]), SIP INFO keys ([`info`]) and
//! the stream transports ([`stream`]: TCP and TLS, framed alike; [`tls`] configures TLS; UDP
//! is the server's socket), named by [`transport`]; and the defences at the intake ([`guard`]:
//! source networks in [`network`], the rate limit in [`rate`], digest authentication of
//! callers in [`inbound_auth`]). It imports nothing from the rest of the
//! runtime (a test in `tests/architecture.rs` keeps it so).

pub mod core;
pub mod digest;
pub mod effect;
pub mod guard;
pub mod hold;
pub mod inbound_auth;
pub mod info;
pub mod lexical;
pub mod message;
pub mod network;
pub mod rate;
pub mod register;
pub mod stream;
pub mod timers;
pub mod tls;
pub mod transport;
pub mod uac;
pub mod uas;

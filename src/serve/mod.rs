//! The webhook server for request/response platforms (Twilio TwiML).
//!
//! `state` seals the call state that travels in webhook URLs so the server keeps no session;
//! `voice` runs one webhook turn of a call (engine in, TwiML out) without any I/O; `http` is
//! the server itself; `outbound` makes the HTTP requests of `fetch` and sends text messages.

pub mod http;
pub mod outbound;
pub mod state;
pub mod voice;

//! The webhook server for request/response platforms (Twilio TwiML).
//!
//! `state` seals the call state that travels in webhook URLs so the server keeps no session;
//! `voice` runs one webhook turn of a call (engine in, TwiML out) without any I/O, and `sms`
//! one turn of the messaging webhook the same way; `http` is the server itself, with
//! `request` reading each request strictly; `capabilities` decides what of a flow can run on
//! Twilio; `outbound` makes the HTTP requests of `fetch` and sends text messages and campaign
//! results. With `--campaign`, `placer` places the campaign dialer's attempts through Twilio's
//! REST API and `campaign_calls` brings each call's end back to it.

pub mod campaign_calls;
pub mod capabilities;
pub mod http;
pub mod outbound;
pub mod placer;
mod request;
pub mod sms;
pub mod state;
pub mod voice;

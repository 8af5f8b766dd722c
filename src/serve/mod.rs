//! The webhook server for request/response platforms (Twilio TwiML): issue 5, in progress.
//!
//! What exists: `state`, the signed call state that travels in webhook URLs so the server
//! keeps no session. The HTTP server and the TwiML driver of the engine come next.

pub mod state;

//! The agent console of `ivrc serve` (the Talkdesk seed): contacts by last activity, each
//! contact's timeline of calls, texts, voicemails and notes, arriving live; texts and calls
//! from the browser through Twilio; notes.
//!
//! `auth` (sessions and form tokens), `pages` (the HTML), `segments` (SMS length),
//! `delivery` (text statuses, forward only) and `opt_out` (STOP and START) do no I/O;
//! `http` is the console's own listener, loopback by default.

pub mod auth;
pub mod delivery;
pub mod http;
pub mod opt_out;
pub mod pages;
pub mod recordings;
pub mod replies;
pub mod segments;
pub mod talkdesk;

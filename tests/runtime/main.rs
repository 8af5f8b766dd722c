//! `ivrc run` end to end over loopback: sipp places real calls (keys as RFC 4733 events from
//! its pcaps, CANCEL, BYE), a UDP sink checks the RTP we send, a bare SIP client checks the
//! protocol's edges and a malformed-message corpus, and the call records are read back with
//! `ivrc calls`. Nothing is skipped: sipp and espeak-ng come from scripts/setup.sh (and
//! PostgreSQL, for the store in it, is skipped only outside CI: tests/pg_server).

mod asr;
mod audio_url;
mod baresip;
mod blocklist;
mod callback;
mod calls;
mod campaign;
mod campaign_shared;
mod differential;
mod guard;
mod harness;
#[path = "../kamailio/mod.rs"]
mod kamailio;
mod legs;
mod nat;
#[path = "../netns/mod.rs"]
mod netns;
#[path = "../pg_server/mod.rs"]
mod pg_server;
mod postgresql;
mod protocol;
mod provider;
mod recording;
mod register;
mod rtcp;
#[path = "../sip_trace/mod.rs"]
mod sip_trace;
mod speech;
mod tcp_trunk;
mod tls;
mod torture;
mod transfer;

//! Media of a call: RTP packets, G.711, RFC 4733 keys, and prompt audio
//! (speech and files at 8 kHz), the RTP port range, the relay of bridged legs, where each
//! party wants our RTP (symmetric RTP), and RTCP with the media quality it measures.

pub mod amd;
pub mod clock;
pub mod decode;
pub mod dtmf;
pub mod g711;
pub mod ports;
pub mod prompts;
pub mod recording;
pub mod relay;
pub mod remote;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod session;
pub mod srtp;

use std::sync::Arc;

/// 8 kHz mono samples, shared: a prompt's audio, from its renderer to the media clock.
pub type Samples = Arc<[i16]>;

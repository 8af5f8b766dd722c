//! `ivrc run`: the bundled SIP runtime. A real SIP endpoint over UDP that answers calls and
//! runs flows with the engine in real time — prompts spoken by espeak-ng and sent as G.711 RTP,
//! keys from RFC 4733 and SIP INFO, phrases heard by a keyword spotter ([`asr`]), timers,
//! `fetch`, transfers (302/REFER) — and writes a record of every call.
//!
//! Layout: [`sip`] (messages and the user-agent core; the only code that imports rsip),
//! [`sdp`], [`media`] (RTP, G.711, DTMF, prompts), [`call`] (one task per call), [`server`]
//! (the socket loop and shutdown). What the runtime cannot run yet is refused before it
//! starts ([`capabilities`]).

pub mod asr;
pub mod blocklist;
pub mod call;
pub mod dialer;
pub mod leg;
pub mod media;
pub mod sdp;
pub mod server;
pub mod sip;

use crate::codegen::Unsupported;
use crate::ir::{self, Audio, Op};
use std::net::IpAddr;
use std::time::Duration;

/// Now, in milliseconds since the Unix epoch (the times of call records and campaign state).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Settings of a runtime.
#[derive(Debug, Clone)]
pub struct Config {
    /// This instance's name in the call records (its public or listen address), by which a
    /// restart finds the calls it left running in a store that several instances share.
    pub instance: String,
    /// The address put in SDP for our media; the SIP address's when not given.
    pub rtp_ip: Option<IpAddr>,
    /// The RTP port range (even ports used).
    pub rtp_ports: (u16, u16),
    /// Calls at once; more get 503.
    pub max_calls: usize,
    /// The flow for request-URIs that name none.
    pub default_flow: Option<String>,
    /// How long calls may go on after a shutdown signal.
    pub grace: Duration,
    /// Where the audio `play` names is: local files, platform records.
    pub audio: media::prompts::AudioFiles,
    /// Where `record` writes its WAV files (`--recordings`); without it `record` records
    /// nothing (an error of the call).
    pub recordings: Option<std::path::PathBuf>,
    /// Where the legs flows dial go, and how we authenticate there.
    pub trunk: Option<sip::uac::Trunk>,
    /// The account to register at the provider (`--register`), kept fresh while running.
    pub register: Option<sip::register::Account>,
    /// The address the far end reaches us at when it is not the socket's (behind NAT,
    /// `--public-address`): written in Via, Contact and SDP.
    pub public: Option<std::net::SocketAddr>,
    /// Send each party's RTP where its RTP comes from, not where its SDP says (a far end
    /// behind NAT; `--symmetric-rtp`).
    pub symmetric_rtp: bool,
    /// SRTP for calls' media (`--srtp`).
    pub srtp: sdp::SrtpPolicy,
    /// Calls for these numbers (E.164, as `--route NUMBER=FLOW` gave them) run these flows
    /// (indexes into the program's flows).
    pub routes: Vec<(String, usize)>,
    /// When set, only INVITEs from these addresses start calls (the provider's, with
    /// `--register`); others get 403.
    pub trusted: Option<Vec<std::net::IpAddr>>,
    /// A party that sends no RTP this long is hung up.
    pub rtp_timeout: Duration,
    /// Flow timers and dial timeouts run this many times faster (tests of long flows).
    pub time_scale: f64,
    /// Answering-machine detection's settings (`--amd`).
    pub amd: media::amd::Settings,
    /// The defences at the intake: `--allow`, `--trusted`, `--rate-limit`, `--drop-scanners`,
    /// `--inbound-user`.
    pub guard: sip::guard::Settings,
}

/// The fixed texts `flow` speaks (`say`, prompts and re-prompts without values), to render
/// before the first call instead of while callers wait.
pub fn fixed_prompts(flow: &ir::Flow) -> Vec<String> {
    let fixed = ir::Template::fixed_text;
    let mut out: Vec<String> = Vec::new();
    for n in &flow.nodes {
        let templates: Vec<&ir::Template> = match &n.op {
            Op::Say { text, .. } => vec![text],
            Op::Collect {
                prompt, reprompt, ..
            }
            | Op::Menu {
                prompt, reprompt, ..
            } => prompt
                .iter()
                .map(|p| &p.text)
                .chain(reprompt.iter())
                .collect(),
            Op::Listen { prompt, .. } => prompt.iter().map(|p| &p.text).collect(),
            _ => Vec::new(),
        };
        for text in templates.into_iter().filter_map(fixed) {
            if !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}

/// The URLs without placeholders `flow` plays (`play "https://…"`), with the statement's
/// line: the runtime downloads them before it takes calls.
pub fn played_urls(flow: &ir::Flow) -> Vec<(u32, String)> {
    flow.nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Play {
                audio: Audio::Url { url },
                ..
            } => url.fixed_text().map(|u| (n.span.line, u)),
            _ => None,
        })
        .collect()
}

/// The platform records `flow` plays (`play record ID`), with the statement's line.
pub fn played_records(flow: &ir::Flow) -> Vec<(u32, u64)> {
    flow.nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Play {
                audio: Audio::Record { id },
                ..
            } => Some((n.span.line, *id)),
            _ => None,
        })
        .collect()
}

/// The phrases of every `listen` of `flow` (what the recognizer must be prepared for), with
/// the statement's line.
pub fn listened_phrases(flow: &ir::Flow) -> Vec<(u32, Vec<String>)> {
    flow.nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Listen { phrases, .. } => {
                Some((n.span.line, phrases.iter().flatten().cloned().collect()))
            }
            _ => None,
        })
        .collect()
}

/// What the runtime cannot run in `flow` yet, each on its statement.
pub fn capabilities(flow: &ir::Flow) -> Vec<Unsupported> {
    let refuse = |span: &ir::SrcSpan, construct: &str, help: &str| {
        Unsupported::new("runtime", span, construct, help)
    };
    let mut out = Vec::new();
    if media::prompts::Voice::of(&flow.settings.lang, &flow.settings.voice).is_none() {
        out.push(refuse(
            &flow.span,
            "this `voice`",
            "the runtime speaks with espeak-ng: `voice female` or `voice male`",
        ));
    }
    out
}

//! What the SIP side asks its server to do, and what it tells it: the [`Effect`]s that the
//! UA core (`core`), the calls we answer (`uas`) and the legs we place (`uac`) all produce.
//! It sits beneath all three, so none of them needs another for its vocabulary.

use super::message::Headers;
use std::net::SocketAddr;

/// What the core asks its server to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a datagram.
    Send(Vec<u8>, SocketAddr),
    /// A new call: the server checks capacity and the flow, then creates it or rejects it.
    Start(Box<NewCall>),
    /// A key pressed with SIP INFO.
    Key(String, char),
    /// A re-INVITE said whether we may send media to the party (false: on hold).
    Sending(String, bool),
    /// A re-INVITE's offer names a new address for our media (a PBX moving the media to a
    /// phone, a party changing network).
    MediaMoved(String, std::net::SocketAddr),
    /// A re-INVITE's offer carries SDES crypto lines (RFC 4568), as written after `a=crypto:`:
    /// the media checks whether the party's key changed.
    Crypto(String, Vec<String>),
    /// The caller left (BYE or CANCEL), or the dialog failed (no ACK): stop the call.
    Gone(String, Gone),
    /// The dialog is over and forgotten; its call slot is free.
    Closed(String),
    /// How an outbound leg placed with `Core::dial` got on.
    Dialed(String, Dialed),
    /// How the party took our REFER (`Core::transfer` after the answer).
    Referred(String, Referred),
    /// A text message came (out of dialog MESSAGE); the server answers it with
    /// `Core::reply`.
    Text(Box<IncomingText>),
    /// The final status of a text sent with `Core::message`.
    Texted(String, u16),
    /// How our registration at the provider stands now.
    Registration(Registration),
}

/// How our registration at the provider stands (each change is reported once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The registrar keeps our Contact for this long (we refresh before it runs out).
    Registered {
        /// The expiry granted.
        expires: std::time::Duration,
    },
    /// An attempt failed; the next one comes after `retry_in`.
    Failed {
        /// Why.
        reason: String,
        /// When we try again.
        retry_in: std::time::Duration,
    },
    /// The provider refuses the account (wrong password, unknown user): nothing more is tried.
    Refused(String),
    /// Our binding is removed (shutdown).
    Unregistered,
    /// The shutdown's unregistration was not confirmed (the binding expires by itself).
    NotUnregistered(String),
}

/// A text message that came.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingText {
    /// The request's headers (for the reply).
    pub headers: Headers,
    /// Where it came from.
    pub peer: SocketAddr,
    /// Its Call-ID.
    pub id: String,
    /// The request-URI user (which flow).
    pub service: Option<String>,
    /// The sender (From user).
    pub from: Option<String>,
    /// The text.
    pub text: String,
}

/// Why a call's caller is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// BYE from the caller.
    Bye,
    /// CANCEL before the answer.
    Cancel,
    /// Our 200 OK was never acknowledged (timer H).
    NoAck,
}

/// An INVITE that starts a dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    /// Its Call-ID.
    pub call_id: String,
    /// The request-URI user (which flow, or the number called).
    pub service: Option<String>,
    /// The To user: the number the caller dialled (a provider's DID).
    pub dialed: Option<String>,
    /// The From user (the caller's number).
    pub caller: Option<String>,
    /// The SDP offer.
    pub offer: Vec<u8>,
    /// Where it came from.
    pub peer: SocketAddr,
}

/// How an outbound leg got on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialed {
    /// 180/183: it rings.
    Ringing,
    /// 2xx with the callee's SDP answer.
    Answered(Vec<u8>),
    /// A final error response (its status), 408 when nothing answered.
    Failed(u16),
}

/// What became of a REFER (a blind transfer, RFC 3515) sent to a party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Referred {
    /// 2xx: the party calls the target itself; we have sent BYE.
    Accepted,
    /// A final error response (its status), 408 when nothing answered: the dialog goes on.
    Refused(u16),
}

/// For tests: the first line of each message sent, and the other effects.
#[cfg(test)]
pub(crate) fn split_sent(effects: Vec<Effect>) -> (Vec<String>, Vec<Effect>) {
    let mut sent = Vec::new();
    let mut other = Vec::new();
    for e in effects {
        match e {
            Effect::Send(b, _) => sent.push(
                String::from_utf8_lossy(&b)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            ),
            e => other.push(e),
        }
    }
    (sent, other)
}

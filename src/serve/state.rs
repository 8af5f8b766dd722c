//! Call state carried in webhook URLs: any serializable state (the server seals a
//! `voice::CallState`, which holds an engine snapshot) sealed with HMAC-SHA256 and an expiry,
//! so the server keeps no session and a caller cannot forge or replay old state.
//!
//! A token is `base64url(json) "." base64url(mac)` where the JSON holds the state and the
//! expiry (seconds since the Unix epoch) and the MAC covers the JSON bytes. The clock is
//! the caller's: `seal` and `open` take "now" as an argument, so this module reads none.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused (the server answers 400 for any of these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not `payload.mac`, or not base64url.
    #[error("the state is not a well-formed token")]
    Malformed,
    /// The MAC does not match: changed, or sealed with another key.
    #[error("the state's signature does not match")]
    BadSignature,
    /// Sealed long enough ago to have expired.
    #[error("the state expired")]
    Expired,
    /// Signed but not a snapshot (another version of ivrc?).
    #[error("the state cannot be read: {0}")]
    Unreadable(String),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed<T> {
    /// Seconds since the epoch after which the token is refused.
    exp: u64,
    /// The call.
    state: T,
}

fn mac(key: &[u8], payload: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(payload);
    m
}

/// Seals a state valid for `ttl_secs` from `now_secs`.
pub fn seal<T: serde::Serialize>(key: &[u8], state: &T, now_secs: u64, ttl_secs: u64) -> String {
    let sealed = Sealed {
        exp: now_secs.saturating_add(ttl_secs),
        state,
    };
    let payload = serde_json::to_vec(&sealed).unwrap_or_default();
    let tag = mac(key, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Opens a token sealed with `key`, checking its signature (in constant time) and expiry.
pub fn open<T: serde::de::DeserializeOwned>(
    key: &[u8],
    token: &str,
    now_secs: u64,
) -> Result<T, StateError> {
    let (payload, tag) = token.split_once('.').ok_or(StateError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| StateError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| StateError::Malformed)?;
    mac(key, &payload)
        .verify_slice(&tag)
        .map_err(|_| StateError::BadSignature)?;
    let sealed: Sealed<T> =
        serde_json::from_slice(&payload).map_err(|e| StateError::Unreadable(e.to_string()))?;
    if now_secs > sealed.exp {
        return Err(StateError::Expired);
    }
    Ok(sealed.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Event, Snapshot};

    fn snapshot() -> (crate::ir::Program, Snapshot) {
        let text = "flow f { answer; collect n: number { prompt \"Число?\"; on timeout | invalid -> hangup }; say \"{{n}}\" }";
        let program = crate::compile("f.ivr", text)
            .program
            .expect("the flow checks clean");
        let mut engine = Engine::new(&program.flows[0]);
        engine.handle(Event::Start {
            has_caller: true,
            caller: Some("+79001234567".into()),
            called: None,
            call_id: "c".into(),
            params: vec![],
        });
        let s = engine.snapshot();
        (program, s)
    }

    #[test]
    fn a_sealed_state_opens_with_the_key_until_it_expires() {
        let (_, s) = snapshot();
        let token = seal(b"secret", &s, 1_000, 600);
        assert_eq!(open(b"secret", &token, 1_300), Ok(s));
        assert_eq!(
            open::<Snapshot>(b"secret", &token, 1_601),
            Err(StateError::Expired)
        );
        assert_eq!(
            open::<Snapshot>(b"other", &token, 1_300),
            Err(StateError::BadSignature)
        );
    }

    #[test]
    fn tampered_or_broken_tokens_are_refused() {
        let (_, s) = snapshot();
        let token = seal(b"secret", &s, 1_000, 600);
        let (payload, tag) = token.split_once('.').unwrap_or_default();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        bytes[10] ^= 1;
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            open::<Snapshot>(b"secret", &forged, 1_000),
            Err(StateError::BadSignature)
        );
        assert_eq!(
            open::<Snapshot>(b"secret", "no-dot", 1_000),
            Err(StateError::Malformed)
        );
        assert_eq!(
            open::<Snapshot>(b"secret", "!!.??", 1_000),
            Err(StateError::Malformed)
        );
        let unsigned_garbage = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(b"{}"),
            URL_SAFE_NO_PAD.encode(mac(b"secret", b"{}").finalize().into_bytes())
        );
        assert!(matches!(
            open::<Snapshot>(b"secret", &unsigned_garbage, 1_000),
            Err(StateError::Unreadable(_))
        ));
    }

    #[test]
    fn an_opened_state_resumes_the_call() {
        let (program, s) = snapshot();
        let token = seal(b"k", &s, 0, 60);
        let resumed = open::<Snapshot>(b"k", &token, 30).and_then(|s| {
            Engine::resume(&program.flows[0], s).map_err(|e| StateError::Unreadable(e.to_string()))
        });
        assert!(resumed.is_ok());
    }
}

//! The console's sessions and form tokens, without I/O: the caller brings the key, the
//! random session id and the time.
//!
//! A session cookie is `ID.EXPIRES.TAG`: a random 128-bit id, the Unix second it stops being
//! valid, and HMAC-SHA256 over both with the console's key (OWASP Session Management: ids of
//! at least 64 random bits, an absolute lifetime). A form token is HMAC(key, "csrf" ‖ id), so
//! a form posted without the session's own token is refused (OWASP CSRF: synchronizer token).
//! Tags are compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The cookie's name.
pub const COOKIE: &str = "ivrc_console";
/// How long a session lasts after login, in seconds (12 hours).
pub const SESSION_SECS: u64 = 12 * 60 * 60;
/// The shortest token the console accepts as its login secret.
pub const MIN_TOKEN_LEN: usize = 32;

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's random id, as written in the cookie.
    pub id: String,
    /// The Unix second it ends.
    pub expires: u64,
}

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        m.update(p);
        m.update(b"\n");
    }
    m
}

/// The cookie value of a new session with the random `id` (16 bytes), at Unix second `now`.
pub fn issue(key: &[u8], id: &[u8; 16], now: u64) -> String {
    let id = URL_SAFE_NO_PAD.encode(id);
    let expires = now + SESSION_SECS;
    let tag = mac(key, &[id.as_bytes(), expires.to_string().as_bytes()]).finalize();
    format!(
        "{id}.{expires}.{}",
        URL_SAFE_NO_PAD.encode(tag.into_bytes())
    )
}

/// The session a cookie value carries, if its tag is ours and it has not expired at `now`.
pub fn verify(key: &[u8], cookie: &str, now: u64) -> Option<Session> {
    let mut parts = cookie.split('.');
    let (id, expires, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || id.len() != 22 {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, &[id.as_bytes(), expires.as_bytes()])
        .verify_slice(&tag)
        .ok()?;
    let expires: u64 = expires.parse().ok()?;
    (now < expires).then(|| Session {
        id: id.to_string(),
        expires,
    })
}

/// The form token of a session.
pub fn form_token(key: &[u8], session: &Session) -> String {
    let tag = mac(key, &[b"csrf", session.id.as_bytes()]).finalize();
    URL_SAFE_NO_PAD.encode(tag.into_bytes())
}

/// Whether `given` is the session's form token (compared in constant time).
pub fn form_token_matches(key: &[u8], session: &Session, given: &str) -> bool {
    URL_SAFE_NO_PAD.decode(given).is_ok_and(|tag| {
        mac(key, &[b"csrf", session.id.as_bytes()])
            .verify_slice(&tag)
            .is_ok()
    })
}

/// Whether `given` is the login token `expected`, compared in constant time (both are
/// hashed with a fixed key first, so their lengths leak nothing either).
pub fn login_matches(expected: &str, given: &str) -> bool {
    let expected = mac(b"ivrc console login", &[expected.as_bytes()]).finalize();
    mac(b"ivrc console login", &[given.as_bytes()])
        .verify_slice(&expected.into_bytes())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a key of the console, 32 bytes..";

    #[test]
    fn a_session_holds_until_it_expires_and_only_with_our_key() {
        let cookie = issue(KEY, &[7; 16], 1_000);
        let session = verify(KEY, &cookie, 1_001).expect("valid");
        assert_eq!(session.expires, 1_000 + SESSION_SECS);
        assert_eq!(verify(KEY, &cookie, 1_000 + SESSION_SECS), None, "expired");
        assert_eq!(verify(b"another key", &cookie, 1_001), None);
        // A later expiry written into the cookie breaks its tag.
        let mut parts: Vec<&str> = cookie.split('.').collect();
        let later = (2_000 + SESSION_SECS).to_string();
        parts[1] = &later;
        assert_eq!(verify(KEY, &parts.join("."), 1_001), None);
        for bad in ["", "a.b", "a.b.c.d", "x.1.y", &cookie[1..]] {
            assert_eq!(verify(KEY, bad, 1_001), None, "{bad:?}");
        }
    }

    #[test]
    fn form_tokens_belong_to_one_session() {
        let a = verify(KEY, &issue(KEY, &[1; 16], 0), 1).expect("valid");
        let b = verify(KEY, &issue(KEY, &[2; 16], 0), 1).expect("valid");
        let token = form_token(KEY, &a);
        assert!(form_token_matches(KEY, &a, &token));
        assert!(!form_token_matches(KEY, &b, &token));
        assert!(!form_token_matches(KEY, &a, ""));
        assert!(!form_token_matches(KEY, &a, "not base64!"));
    }

    #[test]
    fn the_login_token_must_match_exactly() {
        let token = "x".repeat(MIN_TOKEN_LEN);
        assert!(login_matches(&token, &token));
        assert!(!login_matches(&token, &token[1..]));
        assert!(!login_matches(&token, ""));
    }
}

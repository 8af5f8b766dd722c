//! Digest authentication of the requests that start flows (`--inbound-user`, for a runtime
//! that serves a PBX rather than a provider): RFC 3261 §22.2 with the digest of RFC 2617 and
//! the SHA-256 of RFC 8760. A request without acceptable credentials gets 401 with one
//! `WWW-Authenticate` per algorithm, the most preferred first (RFC 8760 §2.4: SHA-256, then
//! MD5), `qop="auth"`; the answer is checked with the hashing the client side uses
//! ([`super::digest::Parts`]).
//!
//! Nonces are verified without state: the time they were made (seconds since this process's
//! epoch) and an HMAC-SHA-256 of it under a secret of this process. One older than
//! [`NONCE_LIFETIME`] with a right answer gets 401 `stale=true`; a wrong password or an
//! unknown user gets 403. A nonce may be used again within its lifetime (no count of `nc`
//! is kept): the window of a replay.

use super::digest::{params, Algorithm, Parts};
use super::message::Headers;
use hmac::{Hmac, Mac};
use std::time::{Duration, Instant};

/// How long a nonce is good for (Kamailio's auth module's `nonce_expire` default, 300 s).
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// The realm of our challenges.
pub const REALM: &str = "ivrc";

/// The accounts allowed to call in, and the secret nonces are made with.
#[derive(Clone)]
pub struct Users {
    users: Vec<(String, String)>,
    secret: Vec<u8>,
    epoch: Instant,
    algorithms: Vec<Algorithm>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Users").field("users", &names).finish()
    }
}

/// How a request's credentials stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Right: the request goes on, as this user.
    Pass(String),
    /// None, or none we can check (another realm, a nonce not ours, another algorithm): 401;
    /// `stale` when the answer was right but the nonce too old.
    Challenge {
        /// The nonce had expired.
        stale: bool,
    },
    /// A wrong password or an unknown user: 403.
    Forbidden,
    /// Credentials without what they need, or for another request-URI: 400.
    Malformed,
}

impl Users {
    /// `users` (name, password) may call in; nonces are made with `secret` (random per
    /// process) and timed from `epoch`. Challenges offer SHA-256, then MD5.
    pub fn new(users: Vec<(String, String)>, secret: Vec<u8>, epoch: Instant) -> Users {
        Users {
            users,
            secret,
            epoch,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }

    /// The same users with challenges offering `algorithms` alone, in this order.
    pub fn offering(mut self, algorithms: Vec<Algorithm>) -> Users {
        if !algorithms.is_empty() {
            self.algorithms = algorithms;
        }
        self
    }

    /// The `WWW-Authenticate` headers of a 401 at `now`.
    pub fn challenges(&self, stale: bool, now: Instant) -> Vec<(&'static str, String)> {
        let nonce = self.nonce(now);
        self.algorithms
            .iter()
            .map(|a| {
                let mut value = format!(
                    "Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
                    a.name()
                );
                if stale {
                    value.push_str(", stale=true");
                }
                ("WWW-Authenticate", value)
            })
            .collect()
    }

    /// Checks the `Authorization` of a request `method uri` with `headers` at `now`.
    pub fn check(&self, method: &str, uri: &str, headers: &Headers, now: Instant) -> Verdict {
        let ours = headers.all("Authorization").find_map(|value| {
            let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
            let p = params(rest);
            let realm = p.iter().find(|(n, _)| n == "realm").map(|(_, v)| v);
            (scheme.eq_ignore_ascii_case("digest") && realm.is_some_and(|r| r == REALM))
                .then_some(p)
        });
        let Some(p) = ours else {
            return Verdict::Challenge { stale: false };
        };
        let get = |name: &str| p.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let (Some(user), Some(nonce), Some(digest_uri), Some(response)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return Verdict::Malformed;
        };
        let qop = match (get("qop"), get("nc"), get("cnonce")) {
            (None, ..) => None,
            (Some(q), Some(nc), Some(cnonce)) if q.eq_ignore_ascii_case("auth") => {
                Some((nc, cnonce))
            }
            _ => return Verdict::Malformed,
        };
        // RFC 2617 §3.2.2.5: credentials for another resource are a bad request. Some clients
        // (sipp) name the server without the user part: the host and port must match.
        if digest_uri != uri && host_of(digest_uri) != host_of(uri) {
            return Verdict::Malformed;
        }
        let Some(algorithm) = Algorithm::named(get("algorithm").unwrap_or("MD5"))
            .filter(|a| self.algorithms.contains(a))
        else {
            return Verdict::Challenge { stale: false };
        };
        let Some(age) = self.nonce_age(nonce, now) else {
            return Verdict::Challenge { stale: false };
        };
        let Some((_, password)) = self.users.iter().find(|(u, _)| u == user) else {
            return Verdict::Forbidden;
        };
        let expected = Parts {
            algorithm,
            user,
            realm: REALM,
            password,
            nonce,
            method,
            uri: digest_uri,
            qop,
        }
        .digest();
        if !same(&expected, &response.to_ascii_lowercase()) {
            return Verdict::Forbidden;
        }
        if age > NONCE_LIFETIME {
            return Verdict::Challenge { stale: true };
        }
        Verdict::Pass(user.to_string())
    }

    /// A nonce made at `now`: its time in seconds, then the MAC of that time.
    fn nonce(&self, now: Instant) -> String {
        let secs = now.saturating_duration_since(self.epoch).as_secs();
        format!("{secs:x}.{}", self.mac(secs))
    }

    /// How old a nonce we made is; `None` when it is not ours (or made in the future).
    fn nonce_age(&self, nonce: &str, now: Instant) -> Option<Duration> {
        let (secs, mac) = nonce.split_once('.')?;
        let secs = u64::from_str_radix(secs, 16).ok()?;
        if !same(&self.mac(secs), mac) {
            return None;
        }
        let made = self.epoch.checked_add(Duration::from_secs(secs))?;
        (made <= now).then(|| now.duration_since(made))
    }

    /// The HMAC-SHA-256 of `secs`, 16 bytes in hex.
    fn mac(&self, secs: u64) -> String {
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.secret) else {
            return String::new();
        };
        mac.update(&secs.to_be_bytes());
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The host and port of a SIP URI in lower case (no scheme, user part or parameters).
fn host_of(uri: &str) -> String {
    let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split([';', '?'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Whether two strings are equal, in a time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sip::digest::Challenge;

    const URI: &str = "sip:sum@127.0.0.1:5060";

    fn users(epoch: Instant) -> Users {
        Users::new(
            vec![("pbx".into(), "s3cret".into())],
            b"a test secret".to_vec(),
            epoch,
        )
    }

    /// The Authorization a client (our own UAC code) gives to the challenge `header`.
    fn answer(header: &str, user: &str, password: &str) -> Headers {
        let c = Challenge::parse(header).expect("challenge");
        let value = c.answer(user, password, "INVITE", URI, "0a4f113b");
        Headers(vec![("Authorization".into(), value)])
    }

    #[test]
    fn a_challenge_offers_sha_256_then_md5_and_both_answers_pass() {
        let epoch = Instant::now();
        let u = users(epoch);
        let now = epoch + Duration::from_secs(7);
        assert_eq!(
            u.check("INVITE", URI, &Headers::default(), now),
            Verdict::Challenge { stale: false }
        );
        let challenges = u.challenges(false, now);
        assert_eq!(challenges.len(), 2);
        assert!(challenges[0].1.contains("algorithm=SHA-256"));
        assert!(challenges[1].1.contains("algorithm=MD5"));
        for (_, header) in &challenges {
            assert!(header.contains("qop=\"auth\"") && !header.contains("stale"));
            let later = now + Duration::from_secs(30);
            assert_eq!(
                u.check("INVITE", URI, &answer(header, "pbx", "s3cret"), later),
                Verdict::Pass("pbx".into()),
                "{header}"
            );
        }
    }

    #[test]
    fn wrong_passwords_and_users_are_forbidden_old_nonces_stale() {
        let epoch = Instant::now();
        let u = users(epoch);
        let (_, header) = u.challenges(false, epoch).remove(0);
        assert_eq!(
            u.check("INVITE", URI, &answer(&header, "pbx", "guess"), epoch),
            Verdict::Forbidden
        );
        assert_eq!(
            u.check("INVITE", URI, &answer(&header, "admin", "s3cret"), epoch),
            Verdict::Forbidden
        );
        let late = epoch + NONCE_LIFETIME + Duration::from_secs(1);
        assert_eq!(
            u.check("INVITE", URI, &answer(&header, "pbx", "s3cret"), late),
            Verdict::Challenge { stale: true }
        );
        assert!(u.challenges(true, late)[0].1.ends_with(", stale=true"));
    }

    #[test]
    fn forged_nonces_other_realms_and_other_uris_are_not_accepted() {
        let epoch = Instant::now();
        let u = users(epoch);
        // Another process's secret: its nonces are not ours.
        let other = Users::new(vec![("pbx".into(), "s3cret".into())], b"x".to_vec(), epoch);
        let (_, theirs) = other.challenges(false, epoch).remove(0);
        assert_eq!(
            u.check("INVITE", URI, &answer(&theirs, "pbx", "s3cret"), epoch),
            Verdict::Challenge { stale: false }
        );
        let (_, header) = u.challenges(false, epoch).remove(0);
        let elsewhere = header.replace("realm=\"ivrc\"", "realm=\"pbx.example\"");
        assert_eq!(
            u.check("INVITE", URI, &answer(&elsewhere, "pbx", "s3cret"), epoch),
            Verdict::Challenge { stale: false }
        );
        let good = answer(&header, "pbx", "s3cret");
        assert_eq!(
            u.check("INVITE", "sip:sum@192.0.2.1:5060", &good, epoch),
            Verdict::Malformed
        );
        // The same server without the user part (as sipp writes it) is the same resource.
        assert_eq!(
            u.check(
                "INVITE",
                "sip:other@127.0.0.1:5060;transport=udp",
                &good,
                epoch
            ),
            Verdict::Pass("pbx".into())
        );
        let broken = Headers(vec![(
            "Authorization".into(),
            "Digest realm=\"ivrc\", username=\"pbx\"".into(),
        )]);
        assert_eq!(u.check("INVITE", URI, &broken, epoch), Verdict::Malformed);
    }

    #[test]
    fn an_algorithm_not_offered_is_challenged_again() {
        let epoch = Instant::now();
        let u = users(epoch).offering(vec![Algorithm::Sha256]);
        assert_eq!(u.challenges(false, epoch).len(), 1);
        let md5 = Users::new(vec![], b"a test secret".to_vec(), epoch)
            .offering(vec![Algorithm::Md5])
            .challenges(false, epoch)
            .remove(0)
            .1;
        assert_eq!(
            u.check("INVITE", URI, &answer(&md5, "pbx", "s3cret"), epoch),
            Verdict::Challenge { stale: false }
        );
    }
}

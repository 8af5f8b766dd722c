//! Digest authentication of our outbound INVITEs (RFC 3261 §22, with the digest of RFC 2617
//! and the SHA-256 algorithm of RFC 7616/RFC 8760): a trunk's 401 (`WWW-Authenticate`) or 407
//! (`Proxy-Authenticate`) challenge in, the `Authorization` / `Proxy-Authorization` value out.
//! The hashing ([`Parts::digest`]) and the parameter reader ([`params`]) are shared with the
//! server side, [`super::inbound_auth`].

use sha2::Digest as _;

/// A challenge's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// Returned unchanged.
    pub opaque: Option<String>,
    /// `MD5` or `SHA-256`.
    pub algorithm: Algorithm,
    /// Whether the server offers `qop=auth`.
    pub qop_auth: bool,
    /// The previous answer was right but its nonce had expired.
    pub stale: bool,
}

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5, the default.
    Md5,
    /// SHA-256.
    Sha256,
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not `Digest …`.
    #[error("not a Digest challenge")]
    NotDigest,
    /// A parameter the answer needs is missing.
    #[error("the challenge has no {0}")]
    Missing(&'static str),
    /// An algorithm or qop we do not speak (`MD5-sess`, `auth-int` only, …).
    #[error("unsupported {0}")]
    Unsupported(String),
}

impl Algorithm {
    /// Its name in a challenge (`MD5`, `SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// The algorithm a challenge or credentials name (any case); `None` for others.
    pub fn named(name: &str) -> Option<Algorithm> {
        [Algorithm::Md5, Algorithm::Sha256]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// `text` hashed, in lower-case hex.
    pub fn hash(self, text: &str) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 => md5::Md5::digest(text.as_bytes()).to_vec(),
            Algorithm::Sha256 => sha2::Sha256::digest(text.as_bytes()).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a digest response is computed from (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1).
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    /// The hash.
    pub algorithm: Algorithm,
    /// The user name.
    pub user: &'a str,
    /// The protection space.
    pub realm: &'a str,
    /// The password.
    pub password: &'a str,
    /// The server's nonce.
    pub nonce: &'a str,
    /// The request's method.
    pub method: &'a str,
    /// The digest-uri.
    pub uri: &'a str,
    /// With `qop=auth`: the nonce count and the client nonce.
    pub qop: Option<(&'a str, &'a str)>,
}

impl Parts<'_> {
    /// The `response` value, in lower-case hex.
    pub fn digest(&self) -> String {
        let h = |text: &str| self.algorithm.hash(text);
        let ha1 = h(&format!("{}:{}:{}", self.user, self.realm, self.password));
        let ha2 = h(&format!("{}:{}", self.method, self.uri));
        match self.qop {
            Some((nc, cnonce)) => h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce)),
            None => h(&format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }
}

/// Splits `a=b, c="d, e"` into pairs (names in lower case), honouring quoted strings and
/// their `\` escapes.
pub fn params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() && chars.peek().is_none() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
            }
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

impl Challenge {
    /// Reads a `WWW-Authenticate` or `Proxy-Authenticate` value.
    ///
    /// # Errors
    ///
    /// Not Digest, no realm or nonce, or an algorithm or qop we cannot answer.
    pub fn parse(value: &str) -> Result<Challenge, ChallengeError> {
        let value = value.trim();
        let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(ChallengeError::NotDigest);
        }
        let params = params(rest);
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::named(&a)
                .ok_or_else(|| ChallengeError::Unsupported(format!("algorithm {a}")))?,
        };
        let qop_auth = match get("qop") {
            None => false,
            Some(q) if q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) => true,
            Some(q) => return Err(ChallengeError::Unsupported(format!("qop {q}"))),
        };
        Ok(Challenge {
            realm: get("realm").ok_or(ChallengeError::Missing("realm"))?,
            nonce: get("nonce").ok_or(ChallengeError::Missing("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The credentials header value for `method uri`, with client nonce `cnonce` and nonce
    /// count 1 (each challenge is answered once).
    pub fn answer(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> String {
        let nc = "00000001";
        let response = Parts {
            algorithm: self.algorithm,
            user,
            realm: &self.realm,
            password,
            nonce: &self.nonce,
            method,
            uri,
            qop: self.qop_auth.then_some((nc, cnonce)),
        }
        .digest();
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let algorithm = self.algorithm.name();
        let mut out = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={algorithm}",
            quote(user),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri)
        );
        if self.qop_auth {
            out.push_str(&format!(
                ", qop=auth, nc={nc}, cnonce=\"{}\"",
                quote(cnonce)
            ));
        }
        if let Some(o) = &self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quote(o)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_of(header: &str) -> String {
        params(header.trim_start_matches("Digest "))
            .into_iter()
            .find(|(n, _)| n == "response")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    #[test]
    fn rfc_2617_example_md5_with_qop_auth() {
        // RFC 2617 §3.5.
        let c = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(c.qop_auth);
        assert_eq!(c.algorithm, Algorithm::Md5);
        let a = c.answer(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
        );
        assert_eq!(response_of(&a), "6629fae49393a05397450978507c4ef1");
        assert!(a.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#));
        assert!(a.contains("nc=00000001"));
    }

    #[test]
    fn rfc_7616_example_sha_256() {
        // RFC 7616 §3.9.1.
        let c = Challenge::parse(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        )
        .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        let a = c.answer(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        assert_eq!(
            response_of(&a),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn without_qop_the_rfc_2069_form() {
        let c = Challenge::parse(r#"Digest realm="asterisk",nonce="4f7b2a1c""#).unwrap();
        let a = c.answer("100", "secret", "INVITE", "sip:200@127.0.0.1", "x");
        assert!(!a.contains("qop"));
        // H(H(100:asterisk:secret):4f7b2a1c:H(INVITE:sip:200@127.0.0.1)), by md5sum.
        assert_eq!(response_of(&a), "4514474fa69ce5096afc7c9c74317cbd");
    }

    #[test]
    fn challenges_we_cannot_answer_are_errors() {
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(ChallengeError::NotDigest)
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"n\""),
            Err(ChallengeError::Missing("realm"))
        );
        assert!(matches!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess"),
            Err(ChallengeError::Unsupported(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""),
            Err(ChallengeError::Unsupported(_))
        ));
        assert!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", stale=TRUE")
                .unwrap()
                .stale
        );
    }

    #[test]
    fn quoted_values_keep_commas_and_escapes() {
        let p = params(r#"realm="a, b", nonce="x\"y", opaque=z"#);
        assert_eq!(p[0], ("realm".into(), "a, b".into()));
        assert_eq!(p[1], ("nonce".into(), "x\"y".into()));
        assert_eq!(p[2], ("opaque".into(), "z".into()));
    }
}

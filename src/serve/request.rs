//! One webhook request, read strictly: the body within its size and time limits, the
//! `application/x-www-form-urlencoded` form (valid escapes, UTF-8, each name once), Twilio's
//! `X-Twilio-Signature`, and the plain-text refusal every bad request gets. It knows nothing
//! of flows or calls.

use axum::body::{to_bytes, Body};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use std::collections::HashMap;
use std::time::Duration;

/// The largest request body read.
const MAX_BODY: usize = 64 * 1024;
/// How long a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// A refusal: the status and why, in plain text.
pub struct Refusal(pub StatusCode, pub String);

impl IntoResponse for Refusal {
    /// A plain-text answer that closes the connection: a refused request may have left its
    /// body unread, and a client that sent its next request on the connection would get an
    /// early end of it (seen in the bad-request test).
    fn into_response(self) -> Response {
        (
            self.0,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CONNECTION, "close"),
            ],
            self.1 + "\n",
        )
            .into_response()
    }
}

pub fn bad(why: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, why.into())
}

/// A decoded form: each name once.
pub struct Form(HashMap<String, String>);

impl Form {
    /// Parses `a=1&b=x+y` strictly: percent escapes must be valid and decode to UTF-8, and no
    /// name may repeat.
    pub fn parse(raw: &[u8]) -> Result<Form, Refusal> {
        let mut map = HashMap::new();
        for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if map.insert(name.clone(), value).is_some() {
                return Err(bad(format!("the parameter `{name}` is given twice")));
            }
        }
        Ok(Form(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str) -> Result<&str, Refusal> {
        self.get(name)
            .ok_or_else(|| bad(format!("the parameter `{name}` is missing")))
    }
}

/// Decodes one form component: `+` is a space, `%XX` a byte; the bytes must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, Refusal> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad("a malformed percent escape"))?;
                bytes.push(hex);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| bad("a parameter is not UTF-8"))
}

/// Reads the body within the size and time limits.
pub async fn read_body(body: Body) -> Result<Vec<u8>, Refusal> {
    match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, MAX_BODY)).await {
        Err(_) => Err(Refusal(
            StatusCode::REQUEST_TIMEOUT,
            "the body took too long".into(),
        )),
        Ok(Err(_)) => Err(Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY} bytes or broken"),
        )),
        Ok(Ok(bytes)) => Ok(bytes.to_vec()),
    }
}

/// Twilio's request signature: base64(HMAC-SHA1(token, URL + each POST name and value in
/// name order)), compared in constant time.
pub fn signature_ok(token: &str, url: &str, form: &Form, given: &str) -> bool {
    let mut names: Vec<&String> = form.0.keys().collect();
    names.sort();
    let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(url.as_bytes());
    for n in names {
        m.update(n.as_bytes());
        m.update(form.0[n].as_bytes());
    }
    match STANDARD.decode(given) {
        Ok(tag) => m.verify_slice(&tag).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded_strictly() {
        let f = Form::parse(b"Digits=12%23&SpeechResult=%D0%B4%D0%B0+%D0%BA%D0%BE%D0%BD")
            .unwrap_or(Form(HashMap::new()));
        assert_eq!(f.get("Digits"), Some("12#"));
        assert_eq!(f.get("SpeechResult"), Some("да кон"));
        assert!(Form::parse(b"a=1&a=2").is_err());
        assert!(Form::parse(b"a=%FF").is_err());
        assert!(Form::parse(b"a=%G1").is_err());
        assert!(Form::parse(b"a=%4").is_err());
    }

    proptest::proptest! {
        /// Any body parses or is refused, never a panic; what parses has each name once.
        #[test]
        fn any_body_parses_or_is_refused(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(form) = Form::parse(&body) {
                proptest::prop_assert!(form.0.len() <= body.len());
            }
        }

    }

    #[test]
    fn twilio_signatures_are_checked() {
        // The test vector of twilio-ruby's request validator spec
        // (spec/util/request_validator_spec.rb, "should properly validate a Twilio Voice
        // request"): this token, URL and these parameters sign to this value.
        let url = "http://twiliotests.heroku.com/validate/voice";
        let params = [
            ("ToState", "California"),
            ("CalledState", "California"),
            ("Direction", "inbound"),
            ("FromState", "CA"),
            ("AccountSid", "ACba8bc05eacf94afdae398e642c9cc32d"),
            ("Caller", "+14153595711"),
            ("CallerZip", "94108"),
            ("CallerCountry", "US"),
            ("From", "+14153595711"),
            ("FromCity", "SAN FRANCISCO"),
            ("CallerCity", "SAN FRANCISCO"),
            ("To", "+14157669926"),
            ("FromZip", "94108"),
            ("FromCountry", "US"),
            ("ToCity", ""),
            ("CallStatus", "ringing"),
            ("CalledCity", ""),
            ("CallerState", "CA"),
            ("CalledZip", ""),
            ("ToZip", ""),
            ("ToCountry", "US"),
            ("CallSid", "CA136d09cd59a3c0ec8dbff44da5c03f31"),
            ("CalledCountry", "US"),
            ("Called", "+14157669926"),
            ("ApiVersion", "2010-04-01"),
            ("ApplicationSid", "AP44efecad51364e80b133bb7c07eb8204"),
        ];
        let form = Form(
            params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let token = "2bd9e9638872de601313dc77410d3b23";
        let good = "oVb2kXoVy8GEfwBDjR8bk/ZZ6eA=";
        assert!(signature_ok(token, url, &form, good));
        assert!(!signature_ok(
            "2bd9e9638872de601313dc77410d3b24",
            url,
            &form,
            good
        ));
        assert!(!signature_ok(
            token,
            "http://twiliotests.heroku.com/validate/sms",
            &form,
            good
        ));
        assert!(!signature_ok(token, url, &form, "not base64!"));
    }
}

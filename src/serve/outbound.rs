//! What the webhook server sends out on a call's behalf: the HTTP requests of `fetch`, and
//! text messages through Twilio's REST API (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! form-encoded `To`, `From`, `Body`, HTTP basic auth with the account SID and auth token).
//!
//! Owns the HTTP client and the rules of a fetch's answer: a 2xx status with a JSON body of at
//! most 2 MB is the result; anything else (another status, a body that is not JSON, a timeout,
//! a connection error) fails with a reason. It does not decide what the flow does next.

use super::voice::{FetchRequest, OutgoingSms};
use crate::ir::Method;
use std::time::Duration;

/// The largest fetch answer read.
const MAX_ANSWER: usize = 2 * 1024 * 1024;
/// How long sending one text message or one result may take.
const SMS_TIMEOUT: Duration = Duration::from_secs(10);

/// Twilio's REST API, for text messages sent during calls.
#[derive(Debug, Clone)]
pub struct TwilioApi {
    /// `https://api.twilio.com` (another address for tests).
    pub base: String,
    /// The account SID (`AC…`).
    pub account_sid: String,
    /// The auth token.
    pub auth_token: String,
}

/// The server's outgoing side.
pub struct Outbound {
    client: reqwest::Client,
    twilio: Option<TwilioApi>,
}

impl Outbound {
    /// An outgoing side; text messages need `twilio`.
    pub fn new(twilio: Option<TwilioApi>) -> Outbound {
        Outbound {
            client: reqwest::Client::new(),
            twilio,
        }
    }

    /// Makes a fetch's request; the JSON answer, or why it failed.
    pub async fn fetch(&self, r: &FetchRequest) -> Result<serde_json::Value, String> {
        let mut request = match r.method {
            Method::Get => {
                let query: Vec<(String, String)> = r
                    .params
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), text)
                    })
                    .collect();
                self.client.get(&r.url).query(&query)
            }
            Method::Post => {
                let body: serde_json::Map<String, serde_json::Value> =
                    r.params.iter().cloned().collect();
                self.client.post(&r.url).json(&body)
            }
        };
        for (name, value) in &r.headers {
            request = request.header(name, value);
        }
        let mut response = request
            .timeout(Duration::from_millis(r.timeout_ms))
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err("the answer is over 2 MB".into());
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        serde_json::from_slice(&body).map_err(|_| "the answer is not JSON".to_string())
    }

    /// Sends text messages in the background; failures are logged.
    pub fn send_sms(&self, messages: Vec<OutgoingSms>) {
        for m in messages {
            let Some(api) = self.twilio.clone() else {
                eprintln!(
                    "ivrc serve: cannot text {}: no Twilio account configured",
                    m.to
                );
                continue;
            };
            let client = self.client.clone();
            tokio::spawn(async move {
                let url = format!(
                    "{}/2010-04-01/Accounts/{}/Messages.json",
                    api.base, api.account_sid
                );
                let form = [("To", &m.to), ("From", &m.from), ("Body", &m.body)];
                let sent = client
                    .post(&url)
                    .basic_auth(&api.account_sid, Some(&api.auth_token))
                    .form(&form)
                    .timeout(SMS_TIMEOUT)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => eprintln!("ivrc serve: texting {} failed: HTTP {}", m.to, r.status()),
                    Err(e) => eprintln!("ivrc serve: texting {} failed: {}", m.to, describe(&e)),
                }
            });
        }
    }
}

impl Outbound {
    /// POSTs a campaign result to its webhook in the background: up to 3 tries, 1 s and 2 s
    /// apart, until a 2xx; a result that cannot be delivered is logged.
    pub fn post_result(&self, url: &str, result: serde_json::Value) {
        let client = self.client.clone();
        let url = url.to_string();
        tokio::spawn(async move {
            let mut why = String::new();
            for attempt in 0..3u32 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                }
                match client
                    .post(&url)
                    .json(&result)
                    .timeout(SMS_TIMEOUT)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => why = format!("HTTP {}", r.status().as_u16()),
                    Err(e) => why = describe(&e),
                }
            }
            eprintln!("ivrc serve: the result webhook {url} did not take {result}: {why}");
        });
    }
}

/// A failed request in words.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_builder() {
        format!("bad request: {e}")
    } else {
        e.to_string()
    }
}

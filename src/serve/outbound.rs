//! What the webhook server sends out on a call's behalf: the HTTP requests of `fetch`, and
//! text messages through Twilio's REST API (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! form-encoded `To`, `From`, `Body`, HTTP basic auth with the account SID and auth token).
//!
//! Owns the Twilio side; `fetch` requests go through [`crate::fetch`], shared with the SIP
//! runtime. It does not decide what the flow does next.

use super::voice::{FetchRequest, OutgoingSms};
use crate::fetch::{describe, Fetcher};
use std::time::Duration;

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
    fetcher: Fetcher,
    twilio: Option<TwilioApi>,
}

impl Outbound {
    /// An outgoing side; text messages need `twilio`.
    pub fn new(twilio: Option<TwilioApi>) -> Outbound {
        let client = reqwest::Client::new();
        Outbound {
            fetcher: Fetcher::with_client(client.clone()),
            client,
            twilio,
        }
    }

    /// Makes a fetch's request (see [`crate::fetch`]).
    pub async fn fetch(&self, r: &FetchRequest) -> Result<serde_json::Value, String> {
        self.fetcher.fetch(r).await
    }

    /// Sends text messages in the background; failures are logged.
    pub fn send_sms(&self, messages: Vec<OutgoingSms>) {
        for m in messages {
            let Some(api) = self.twilio.clone() else {
                crate::errln!(
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
                    Ok(r) => {
                        crate::errln!("ivrc serve: texting {} failed: HTTP {}", m.to, r.status())
                    }
                    Err(e) => {
                        crate::errln!("ivrc serve: texting {} failed: {}", m.to, describe(&e))
                    }
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
            crate::errln!("ivrc serve: the result webhook {url} did not take {result}: {why}");
        });
    }
}

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

/// A message or call Twilio accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Its SID (`SM…`, `CA…`).
    pub sid: String,
    /// Its first status (`queued`, `accepted`, …).
    pub status: String,
}

/// Why Twilio did not accept a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Twilio's error code (21610: the recipient unsubscribed), when it gave one.
    pub code: Option<i64>,
    /// What went wrong, in words.
    pub message: String,
}

impl Outbound {
    /// Sends a text now through `Messages.json`, with Twilio posting its delivery statuses to
    /// `status_callback`.
    ///
    /// # Errors
    ///
    /// No account is configured, Twilio refused (with its error code), or it could not be
    /// reached.
    pub async fn create_message(
        &self,
        to: &str,
        from: &str,
        body: &str,
        status_callback: Option<&str>,
    ) -> Result<Created, Refused> {
        let mut form = vec![("To", to), ("From", from), ("Body", body)];
        if let Some(url) = status_callback {
            form.push(("StatusCallback", url));
        }
        self.create("Messages.json", &form).await
    }

    /// Places a call through `Calls.json` that runs `twiml` when answered, with Twilio posting
    /// its progress to `status_callback`.
    ///
    /// # Errors
    ///
    /// As [`Outbound::create_message`].
    pub async fn create_call(
        &self,
        to: &str,
        from: &str,
        twiml: &str,
        timeout_secs: u32,
        status_callback: Option<&str>,
    ) -> Result<Created, Refused> {
        let timeout = timeout_secs.to_string();
        let mut form = vec![
            ("To", to),
            ("From", from),
            ("Twiml", twiml),
            ("Timeout", timeout.as_str()),
        ];
        if let Some(url) = status_callback {
            form.extend([
                ("StatusCallback", url),
                (
                    "StatusCallbackEvent",
                    "initiated ringing answered completed",
                ),
            ]);
        }
        self.create("Calls.json", &form).await
    }

    /// POSTs a form to a resource of the account and reads the created resource or Twilio's
    /// error (`{"code": …, "message": …}`).
    async fn create(&self, resource: &str, form: &[(&str, &str)]) -> Result<Created, Refused> {
        let refused = |message: String| Refused {
            code: None,
            message,
        };
        let api = self
            .twilio
            .as_ref()
            .ok_or_else(|| refused("no Twilio account is configured".into()))?;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}",
            api.base, api.account_sid
        );
        let answer = self
            .client
            .post(&url)
            .basic_auth(&api.account_sid, Some(&api.auth_token))
            .form(form)
            .timeout(SMS_TIMEOUT)
            .send()
            .await
            .map_err(|e| refused(format!("Twilio cannot be reached: {}", describe(&e))))?;
        let http = answer.status();
        let json: serde_json::Value = answer
            .json()
            .await
            .map_err(|e| refused(format!("Twilio answered HTTP {http} without JSON: {e}")))?;
        if !http.is_success() {
            return Err(Refused {
                code: json["code"].as_i64(),
                message: json["message"]
                    .as_str()
                    .map_or_else(|| format!("HTTP {http}"), str::to_string),
            });
        }
        match (json["sid"].as_str(), json["status"].as_str()) {
            (Some(sid), Some(status)) => Ok(Created {
                sid: sid.to_string(),
                status: status.to_string(),
            }),
            _ => Err(refused(format!(
                "Twilio's answer has no sid and status: {json}"
            ))),
        }
    }
}

//! Campaign calls through Twilio's REST API (`ivrc serve --campaign NAME`). The dialer of
//! `ivrc run --campaign` ([`crate::runtime::dialer`]: the same claims, leases, rate, lines,
//! window and redial rules, the same store) hands each attempt here as a [`Placement`] instead
//! of to a SIP trunk. It is placed as `POST Calls.json` — the lead's request as calls.json lists
//! it ([`call_request`]), with every status event — and its end, read back from the server's
//! own webhooks ([`CampaignCalls`]: the flow's report, a machine, the final `CallStatus`),
//! becomes the attempt's call record:
//!
//! | Twilio | outcome for the redial rules |
//! |---|---|
//! | the flow's `report` | `ok`, or a retry with its reason |
//! | `AnsweredBy` `machine_*` or `fax` (`MachineDetection`) | `machine` |
//! | `busy` / `no-answer` | `busy` / `no_answer` |
//! | `failed`, `canceled`, a refused request (4xx) | `failed` |
//! | `completed` without a report | the flow ended without `report` (a retry) |
//! | the number is on the block list (a flow's `block`) | not placed: `blocked` |
//!
//! Twilio's 429 and 5xx answers (and requests that get no answer) are tried again after its
//! `Retry-After` or a doubling backoff, each try waiting for a slot of the campaign's rate, so
//! retries never push the rate over. A call whose final status callback does not come is
//! looked up (`GET Calls/{Sid}.json`) every `status_check`; a fenced dialer's calls are ended
//! (`POST Calls/{Sid}.json` with `Status=completed`).

use super::campaign_calls::{CampaignCalls, Ended};
use super::outbound::TwilioApi;
use crate::codegen::twiml::build::call_request;
use crate::fetch::describe;
use crate::ir;
use crate::runtime::blocklist::BlockList;
use crate::runtime::server::Placement;
use crate::store::CallRecord;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Mutex};

/// Tries of one `Calls.json` request before the attempt counts as interrupted.
const TRIES: u32 = 6;
/// The longest wait between tries.
const MOST_BACKOFF: Duration = Duration::from_secs(30);
/// How long one REST request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Twilio's longest call (`TimeLimit`, 4 hours), after which a call's end is given up on.
const LONGEST_CALL: Duration = Duration::from_secs(4 * 3600 + 600);

/// Places a campaign's attempts through Twilio.
pub struct Placer {
    /// The account.
    pub api: TwilioApi,
    /// Our public address (`--base-url`), where Twilio posts the calls' webhooks.
    pub base: String,
    /// The campaign.
    pub campaign: ir::Campaign,
    /// Its flow.
    pub flow: ir::Flow,
    /// Where the server notes the calls' ends.
    pub calls: Arc<CampaignCalls>,
    /// How long to wait for a call's final status callback before asking Twilio.
    pub status_check: Duration,
    /// The numbers never to call (a flow's `block`, kept in the store).
    pub blocked: Arc<BlockList>,
}

/// What a `Calls.json` request came to.
enum Placed {
    /// Twilio took it: the call's sid.
    Sid(String),
    /// Twilio refused it (a 4xx other than 429): the attempt failed, with why.
    Refused(String),
    /// Twilio could not be reached or kept failing: the attempt was not made.
    Unavailable(String),
}

impl Placer {
    /// Places every attempt `placements` brings until the dialer drops it.
    pub async fn run(self, mut placements: mpsc::UnboundedReceiver<Placement>) {
        let placer = Arc::new(self);
        let client = reqwest::Client::new();
        // The instant the next request may go: one rate slot apart.
        let gate = Arc::new(Mutex::new(Instant::now()));
        while let Some(p) = placements.recv().await {
            let (placer, client, gate) = (Arc::clone(&placer), client.clone(), Arc::clone(&gate));
            tokio::spawn(async move {
                let Placement {
                    call_id,
                    params,
                    done,
                    hangup,
                    ..
                } = p;
                if let Some(record) = placer.place(&client, &gate, call_id, params, hangup).await {
                    let _ = done.send(record);
                }
            });
        }
    }

    /// The time between two requests: the campaign's rate, else none.
    fn slot(&self) -> Duration {
        self.campaign.rate.map_or(Duration::ZERO, |r| {
            Duration::from_millis(r.per_ms / u64::from(r.calls.max(1)))
        })
    }

    /// One attempt: placed, waited for, its record; `None` when it could not be placed for
    /// Twilio's sake (the dialer counts it interrupted).
    async fn place(
        &self,
        client: &reqwest::Client,
        gate: &Mutex<Instant>,
        call_id: String,
        params: Vec<(String, String)>,
        mut hangup: Option<tokio::sync::watch::Receiver<bool>>,
    ) -> Option<CallRecord> {
        let started_ms = now_ms();
        let values: BTreeMap<String, String> = params.into_iter().collect();
        let mut record = CallRecord {
            call_id,
            flow: self.flow.name.clone(),
            started_ms,
            ..CallRecord::default()
        };
        let Some(request) = call_request(&self.campaign, &self.flow, &self.base, &values, false)
        else {
            record.ended_by = "failed".into();
            record
                .errors
                .push("the number to call is not known from the lead's values".into());
            return Some(finished(record));
        };
        record.called.clone_from(&request.to);
        if self.blocked.contains(&request.to) {
            // Not placed: the dialer settles the lead as blocked.
            record.ended_by = "blocked".into();
            return Some(finished(record));
        }
        let Some(from) = request.from.clone() else {
            record.ended_by = "failed".into();
            record
                .errors
                .push("no number to call from: set the campaign's or the flow's caller_id".into());
            return Some(finished(record));
        };
        record.caller.clone_from(&from);
        let timeout = request.timeout_secs.unwrap_or(60).to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("To", &request.to),
            ("From", &from),
            ("Url", &request.url),
            ("Method", request.method),
            ("StatusCallback", &request.status_callback),
            ("StatusCallbackMethod", "POST"),
            (
                "StatusCallbackEvent",
                "initiated ringing answered completed",
            ),
            ("Timeout", &timeout),
        ];
        if request.machine_detection {
            form.push(("MachineDetection", "Enable"));
        }
        if request.record {
            form.push(("Record", "true"));
        }
        let sid = match self.create(client, gate, &form).await {
            Placed::Sid(sid) => sid,
            Placed::Refused(why) => {
                record.ended_by = "failed".into();
                record.errors.push(why);
                return Some(finished(record));
            }
            Placed::Unavailable(why) => {
                crate::errln!(
                    "campaign `{}`: the call to {} was not placed: {why}; the attempt counts as interrupted",
                    self.campaign.name, request.to
                );
                return None;
            }
        };
        record.call_id.clone_from(&sid);
        let Some(end) = self.wait(client, &sid, hangup.as_mut()).await else {
            crate::errln!(
                "campaign `{}`: the end of call {sid} never came; the attempt counts as interrupted",
                self.campaign.name
            );
            return None;
        };
        record.ended_by = match end.status.as_str() {
            _ if end.machine => "machine",
            "busy" => "busy",
            "no-answer" => "no_answer",
            "failed" | "canceled" => "failed",
            _ => "flow",
        }
        .into();
        if !end.machine {
            record.report = end.report;
        }
        Some(finished(record))
    }

    /// `POST Calls.json`, tried again on 429, 5xx and no answer.
    async fn create(
        &self,
        client: &reqwest::Client,
        gate: &Mutex<Instant>,
        form: &[(&str, &str)],
    ) -> Placed {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            self.api.base, self.api.account_sid
        );
        let mut why = String::new();
        let mut backoff = Duration::from_secs(1);
        for _ in 0..TRIES {
            {
                // Each try takes a slot of the rate: retries never add calls above it.
                let mut next = gate.lock().await;
                tokio::time::sleep_until((*next).into()).await;
                *next = Instant::now().max(*next) + self.slot();
            }
            let sent = client
                .post(&url)
                .basic_auth(&self.api.account_sid, Some(&self.api.auth_token))
                .form(form)
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await;
            let wait = match sent {
                Ok(r) if r.status().is_success() => {
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    return match body["sid"].as_str() {
                        Some(sid) if !sid.is_empty() => Placed::Sid(sid.to_string()),
                        _ => Placed::Refused("Twilio's answer has no call sid".into()),
                    };
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    why = format!("HTTP {}", r.status().as_u16());
                    retry_after(&r).unwrap_or(backoff)
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    let code = body["code"]
                        .as_i64()
                        .map_or(String::new(), |c| format!(" {c}"));
                    let message = body["message"].as_str().unwrap_or_default().to_string();
                    return Placed::Refused(format!(
                        "Twilio refused the call: HTTP {status}{code} {message}"
                    ));
                }
                Err(e) => {
                    why = describe(&e);
                    backoff
                }
            };
            tokio::time::sleep(wait.min(MOST_BACKOFF)).await;
            backoff = (backoff * 2).min(MOST_BACKOFF);
        }
        Placed::Unavailable(format!("Twilio kept failing ({why}) after {TRIES} tries"))
    }

    /// Waits for the end of call `sid`: its final status callback; without one for
    /// `status_check`, Twilio's own account of the call; a fence ends it first.
    async fn wait(
        &self,
        client: &reqwest::Client,
        sid: &str,
        mut hangup: Option<&mut tokio::sync::watch::Receiver<bool>>,
    ) -> Option<Ended> {
        let mut end = self.calls.wait(sid);
        let give_up = Instant::now() + LONGEST_CALL;
        let mut ended_by_us = false;
        while Instant::now() < give_up {
            let fenced = async {
                match hangup.as_mut() {
                    Some(h) if !ended_by_us => {
                        let _ = h.wait_for(|f| *f).await;
                    }
                    _ => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                got = &mut end => return got.ok(),
                () = fenced => {
                    ended_by_us = true;
                    self.update(client, sid, &[("Status", "completed")]).await;
                }
                () = tokio::time::sleep(self.status_check) => {
                    if let Some(status) = self.status_of(client, sid).await {
                        // The callback is lost: Twilio's account settles it.
                        self.calls.ended(sid, &status);
                    }
                }
            }
        }
        self.calls.forget(sid);
        None
    }

    /// A request of the account's REST API about call `sid` (`Calls/{sid}.json`).
    fn call_request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        sid: &str,
    ) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{sid}.json",
            self.api.base, self.api.account_sid
        );
        client
            .request(method, url)
            .basic_auth(&self.api.account_sid, Some(&self.api.auth_token))
            .timeout(REQUEST_TIMEOUT)
    }

    /// The call's status at Twilio, when it is final.
    async fn status_of(&self, client: &reqwest::Client, sid: &str) -> Option<String> {
        let r = self
            .call_request(client, reqwest::Method::GET, sid)
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = r.json().await.ok()?;
        let status = body["status"].as_str()?;
        matches!(
            status,
            "completed" | "busy" | "no-answer" | "failed" | "canceled"
        )
        .then(|| status.to_string())
    }

    /// `POST Calls/{sid}.json` with `form` (ending a call).
    async fn update(&self, client: &reqwest::Client, sid: &str, form: &[(&str, &str)]) {
        let sent = self
            .call_request(client, reqwest::Method::POST, sid)
            .form(form)
            .send()
            .await;
        if let Err(e) = sent {
            crate::errln!(
                "campaign `{}`: cannot end call {sid}: {}",
                self.campaign.name,
                describe(&e)
            );
        }
    }
}

/// Twilio's `Retry-After`, in seconds.
fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    r.headers()
        .get("Retry-After")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The record with its end time.
fn finished(mut record: CallRecord) -> CallRecord {
    record.ended_ms = now_ms();
    record
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

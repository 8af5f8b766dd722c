//! The HTTP server: Twilio's webhooks — voice (`POST /voice/{flow}`, `/campaign/{name}` for
//! calls a campaign places), messaging (`/sms/{flow}`), call status (`/status`,
//! `/campaign/{name}/status`) — and the audio files flows name (`GET /audio/{flow}/…`).
//!
//! Owns the routes, sealing and opening the call state in the `s` query parameter (tampered,
//! expired or another call's state is a 400), checking `X-Twilio-Signature` when an auth token
//! is configured (the parsing itself is `request`'s), and what each call leaves behind: entries
//! in the store, texts, campaign results. It binds nothing itself: the caller gives a bound
//! listener, so tests use port 0 and the CLI decides the address. Flow behaviour lives in
//! `voice` and the engine, not here.

use super::capabilities;
use super::outbound::{Outbound, TwilioApi};
use super::request::{bad, read_body, signature_ok, Form, Refusal};
use super::state;
use super::voice::{self, CallState, Input, Links, Step};
use crate::codegen::twiml::{self, Message};
use crate::engine::{Command, Engine, Event};
use crate::ir;
use crate::store::{Entry, EntryKind, Store, Writer};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest TwiML answer Twilio takes (its error 11750: "larger than 64 kB").
const MAX_TWIML: usize = 64 * 1000;
/// The most fetches one webhook request may wait for (a loop of fetches that never says
/// anything would otherwise hold the request forever).
const MAX_FETCHES_PER_REQUEST: usize = 16;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The key call states are sealed with.
    pub state_key: Vec<u8>,
    /// How long a sealed state stays valid, in seconds.
    pub state_ttl_secs: u64,
    /// The public address Twilio calls (`https://ivr.example.com`); action URLs are absolute
    /// under it, and signatures are checked against it. Relative URLs without it.
    pub base_url: Option<String>,
    /// Twilio's auth token: when set, every request must carry a valid `X-Twilio-Signature`.
    pub auth_token: Option<String>,
    /// Twilio's REST API, for text messages sent during calls.
    pub twilio_api: Option<TwilioApi>,
}

/// What the server serves: flows by name, and its configuration.
pub struct App {
    flows: HashMap<String, ir::Flow>,
    /// Per flow, the audio files it names and the directory they are read from.
    audio: HashMap<String, (std::path::PathBuf, Vec<String>)>,
    /// Campaigns by name.
    campaigns: HashMap<String, Campaign>,
    config: Config,
    outbound: Outbound,
    entries: Writer,
}

impl App {
    /// An app serving every flow of `program`, writing entries to `store`.
    pub fn new(program: ir::Program, config: Config, store: Store) -> App {
        App {
            audio: program
                .flows
                .iter()
                .map(|f| {
                    let dir = std::path::Path::new(&f.span.file)
                        .parent()
                        .map(std::path::Path::to_path_buf)
                        .unwrap_or_default();
                    // Only relative paths inside the flow's directory are ever served.
                    let files = capabilities::audio_files(f)
                        .into_iter()
                        .filter(|p| {
                            let p = std::path::Path::new(p);
                            p.is_relative()
                                && p.components()
                                    .all(|c| matches!(c, std::path::Component::Normal(_)))
                        })
                        .collect();
                    (f.name.clone(), (dir, files))
                })
                .collect(),
            entries: store.into_writer(),
            campaigns: program
                .campaigns
                .iter()
                .map(|c| {
                    let campaign = Campaign {
                        flow: c.flow.clone(),
                        result_webhook: c.result_webhook.clone(),
                    };
                    (c.name.clone(), campaign)
                })
                .collect(),
            flows: program
                .flows
                .into_iter()
                .map(|f| (f.name.clone(), f))
                .collect(),
            outbound: Outbound::new(config.twilio_api.clone()),
            config,
        }
    }
}

/// A campaign whose calls the server runs: its flow and where its results go.
struct Campaign {
    flow: String,
    result_webhook: Option<String>,
}

impl App {
    /// Queues an entry for the store's writer thread (a failed write is logged there and
    /// the call goes on).
    fn note(&self, entry: Entry) {
        self.entries.add(entry);
    }

    /// The flow of that name, or a 404.
    fn flow(&self, name: &str) -> Result<&ir::Flow, Refusal> {
        self.flows
            .get(name)
            .ok_or_else(|| Refusal(StatusCode::NOT_FOUND, format!("no flow `{name}`")))
    }

    /// The campaign of that name, or a 404.
    fn campaign(&self, name: &str) -> Result<&Campaign, Refusal> {
        self.campaigns
            .get(name)
            .ok_or_else(|| Refusal(StatusCode::NOT_FOUND, format!("no campaign `{name}`")))
    }

    /// A call's result: a `report` entry of the call's party (`call`: an entry naming the
    /// party, our number, the flow and the call), and for a campaign with a result webhook,
    /// the same result POSTed there.
    fn report(
        &self,
        call: Entry,
        campaign: Option<(&str, &Campaign)>,
        ok: bool,
        data: serde_json::Value,
        reason: Option<&str>,
    ) {
        if let Some((
            name,
            Campaign {
                result_webhook: Some(url),
                ..
            },
        )) = campaign
        {
            let posted = serde_json::json!({
                "campaign": name, "flow": call.flow, "call_sid": call.sid,
                "lead": call.contact, "ok": ok, "data": data, "reason": reason,
            });
            self.outbound.post_result(url, posted);
        }
        let result = serde_json::json!({ "ok": ok, "data": data, "reason": reason });
        self.note(Entry {
            kind: EntryKind::Report,
            body: Some(result.to_string()),
            ..call
        });
    }
}

/// The party a call is with and our number, and whether we placed the call: a call placed
/// through the REST API (`Direction` `outbound-…`, a campaign lead) is with `To`.
fn parties(form: &Form) -> Result<(&str, &str, bool), Refusal> {
    let (from, to) = (form.require("From")?, form.require("To")?);
    let placed = form
        .get("Direction")
        .is_some_and(|d| d.starts_with("outbound"));
    Ok(if placed {
        (to, from, placed)
    } else {
        (from, to, placed)
    })
}

/// The routes, for tests that call the router directly.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/voice/{flow}", post(voice_webhook))
        .route("/campaign/{campaign}", post(campaign_webhook))
        .route("/status", post(status_webhook))
        .route("/audio/{flow}/{*file}", axum::routing::get(audio_file))
        .route("/campaign/{campaign}/status", post(campaign_status_webhook))
        .route("/sms/{flow}", post(sms_webhook))
        .with_state(app)
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

fn xml(doc: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], doc).into_response()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The body, parsed and (with an auth token) authenticated.
async fn authentic_form(
    app: &App,
    path: &str,
    query: &Option<String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Form, Refusal> {
    let form = Form::parse(&read_body(body).await?)?;
    if let Some(token) = &app.config.auth_token {
        let base = app.config.base_url.as_deref().unwrap_or_default();
        let url = match query {
            Some(q) => format!("{base}{path}?{q}"),
            None => format!("{base}{path}"),
        };
        let given = headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Refusal(StatusCode::FORBIDDEN, "no X-Twilio-Signature".into()))?;
        if !signature_ok(token, &url, &form, given) {
            return Err(Refusal(
                StatusCode::FORBIDDEN,
                "X-Twilio-Signature does not match".into(),
            ));
        }
    }
    Ok(form)
}

/// Seals states into action URLs of one flow.
struct Sealer<'a> {
    app: &'a App,
    /// The flow, whose audio files the server serves.
    flow: &'a str,
    /// The webhook path the call came in on (`/voice/FLOW` or `/campaign/NAME`).
    path: &'a str,
    now: u64,
}

impl Links for Sealer<'_> {
    fn audio_base(&self) -> String {
        format!(
            "{}/audio/{}",
            self.app.config.base_url.as_deref().unwrap_or_default(),
            self.flow
        )
    }

    fn next(&mut self, s: &CallState) -> String {
        let token = state::seal(
            &self.app.config.state_key,
            s,
            self.now,
            self.app.config.state_ttl_secs,
        );
        format!(
            "{}{}?s={token}",
            self.app.config.base_url.as_deref().unwrap_or_default(),
            self.path
        )
    }
}

/// Where a call came in: its webhook path, its flow, and its campaign (by name).
struct Route<'a> {
    path: String,
    flow: &'a ir::Flow,
    campaign: Option<(&'a str, &'a Campaign)>,
}

async fn voice_webhook(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let flow = app.flow(&name)?;
    let route = Route {
        path: format!("/voice/{name}"),
        flow,
        campaign: None,
    };
    call_webhook(&app, route, query, headers, body).await
}

/// A call a campaign placed through the REST API (`Url` of its call requests): the campaign's
/// flow, with each `report` also POSTed to its result webhook.
async fn campaign_webhook(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let campaign = app.campaign(&name)?;
    let route = Route {
        path: format!("/campaign/{name}"),
        flow: app.flow(&campaign.flow)?,
        campaign: Some((name.as_str(), campaign)),
    };
    call_webhook(&app, route, query, headers, body).await
}

/// One webhook of a call: the state opened, the turn run (with its fetches), entries noted,
/// texts sent, reports posted, the TwiML answered.
async fn call_webhook(
    app: &App,
    route: Route<'_>,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let flow = route.flow;
    let name = flow.name.clone();
    let form = authentic_form(app, &route.path, &query, &headers, body).await?;
    let call_sid = form.require("CallSid")?.to_string();
    let query = Form::parse(query.as_deref().unwrap_or_default().as_bytes())?;
    let at_ms = now_ms();
    let now = at_ms / 1000;
    let entry = |kind, contact: &str, our_number: &str| Entry {
        at_ms,
        kind,
        contact: contact.to_string(),
        our_number: our_number.to_string(),
        flow: name.clone(),
        sid: call_sid.clone(),
        body: None,
        url: None,
    };
    // The party the flow talks to and our number, for the entries.
    let party: (String, String);
    let (state, input) = match query.get("s") {
        None => {
            let (caller, called, placed) = parties(&form)?;
            app.note(entry(EntryKind::Call, caller, called));
            // A placed call with `MachineDetection` reports who answered; a machine or a fax
            // is not the lead: the call ends and the attempt is reported as not done.
            let machine = form
                .get("AnsweredBy")
                .is_some_and(|a| a.starts_with("machine") || a == "fax");
            if placed && machine {
                let call = entry(EntryKind::Report, caller, called);
                let data = serde_json::json!({});
                app.report(call, route.campaign, false, data, Some("answering machine"));
                return Ok(xml(twiml::voice_response(&[twiml::Verb::Hangup])));
            }
            let params = flow
                .params
                .iter()
                .filter_map(|id| {
                    let name = &flow.vars[id.0 as usize].name;
                    query.get(name).map(|v| (name.clone(), v.to_string()))
                })
                .collect();
            let input = Input::Start {
                call_sid: call_sid.clone(),
                caller: caller.to_string(),
                called: called.to_string(),
                params,
            };
            party = (caller.to_string(), called.to_string());
            (None, input)
        }
        Some(token) => {
            let s: CallState =
                state::open(&app.config.state_key, token, now).map_err(|e| bad(e.to_string()))?;
            if s.call_sid != call_sid {
                return Err(bad("the state belongs to another call"));
            }
            let input = input_of(&form)?;
            party = (s.caller().to_string(), s.called().to_string());
            if let Input::Recorded(url) = &input {
                app.note(Entry {
                    url: Some(url.clone()),
                    ..entry(EntryKind::Voicemail, s.caller(), s.called())
                });
            }
            (Some(s), input)
        }
    };
    let mut sealer = Sealer {
        app,
        flow: &name,
        path: &route.path,
        now,
    };
    let mut step = voice::turn(flow, state, input, &mut sealer).map_err(|e| bad(e.to_string()))?;
    for _ in 0..MAX_FETCHES_PER_REQUEST {
        match step {
            Step::Answer(turn) => {
                for o in &turn.log {
                    if let Command::Report { ok, data, reason } = &o.command {
                        let data: serde_json::Map<String, serde_json::Value> =
                            data.iter().cloned().collect();
                        let call = entry(EntryKind::Report, &party.0, &party.1);
                        app.report(call, route.campaign, *ok, data.into(), reason.as_deref());
                    }
                }
                for m in &turn.sms {
                    app.note(Entry {
                        body: Some(m.body.clone()),
                        ..entry(EntryKind::SmsOut, &m.to, &m.from)
                    });
                }
                app.outbound.send_sms(turn.sms);
                if turn.twiml.len() > MAX_TWIML {
                    // The state rides in the URLs twice; a big fetched answer makes it grow.
                    eprintln!(
                        "ivrc serve: call {call_sid}: the answer is {} bytes, over Twilio's 64 kB",
                        turn.twiml.len()
                    );
                    return Err(Refusal(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the TwiML answer is {} bytes, over Twilio's 64 kB limit (the call's state holds a large fetched answer)", turn.twiml.len()),
                    ));
                }
                return Ok(xml(turn.twiml));
            }
            Step::Fetch(pending) => {
                let result = app.outbound.fetch(&pending.request).await;
                step = voice::resume(flow, pending, result, &mut sealer)
                    .map_err(|e| bad(e.to_string()))?;
            }
        }
    }
    Err(Refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the flow made more than {MAX_FETCHES_PER_REQUEST} requests without answering"),
    ))
}

/// What a stateful request reports, by the parameters Twilio adds for each verb.
fn input_of(form: &Form) -> Result<Input, Refusal> {
    if let Some(d) = form.get("Digits") {
        return Ok(Input::Digits(d.to_string()));
    }
    if let Some(text) = form.get("SpeechResult") {
        let confidence = match form.get("Confidence") {
            None => 1.0,
            Some(c) => c
                .parse::<f32>()
                .ok()
                .filter(|c| (0.0..=1.0).contains(c))
                .ok_or_else(|| bad("`Confidence` is not a number from 0 to 1"))?,
        };
        return Ok(Input::Speech {
            text: text.to_string(),
            confidence,
        });
    }
    if let Some(url) = form.get("RecordingUrl") {
        return Ok(Input::Recorded(url.to_string()));
    }
    if let Some(status) = form.get("DialCallStatus") {
        return Ok(Input::DialStatus(status.to_string()));
    }
    Ok(Input::NoInput)
}

/// A flow's audio file, for `<Play>`: only the files the flow names, from its directory.
async fn audio_file(
    State(app): State<Arc<App>>,
    Path((flow, file)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    let not_found = || {
        Refusal(
            StatusCode::NOT_FOUND,
            format!("no audio `{file}` for `{flow}`"),
        )
    };
    let (dir, files) = app.audio.get(&flow).ok_or_else(not_found)?;
    if !files.contains(&file) {
        return Err(not_found());
    }
    let bytes = tokio::fs::read(dir.join(&file)).await.map_err(|e| {
        eprintln!(
            "ivrc serve: cannot read `{}`: {e}",
            dir.join(&file).display()
        );
        not_found()
    })?;
    let kind = match std::path::Path::new(&file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        _ => "application/octet-stream",
    };
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}

/// Twilio's call status callback (`StatusCallback`, event `completed`): the end of a call
/// becomes an entry (its status and duration).
async fn status_webhook(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let form = authentic_form(&app, "/status", &query, &headers, body).await?;
    call_ended(&app, &form, None)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The status callback of a call a campaign placed: besides the entry, a call that never
/// reached the flow (busy, no answer, failed, canceled) is reported to the campaign's result
/// webhook as not done, with that status as the reason.
async fn campaign_status_webhook(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let path = format!("/campaign/{name}/status");
    let form = authentic_form(&app, &path, &query, &headers, body).await?;
    let campaign = app.campaign(&name)?;
    call_ended(&app, &form, Some((name.as_str(), campaign)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Notes the end of a call from a status callback, and for a campaign call that did not
/// connect, reports it.
fn call_ended(app: &App, form: &Form, campaign: Option<(&str, &Campaign)>) -> Result<(), Refusal> {
    let call_sid = form.require("CallSid")?.to_string();
    let status = form.require("CallStatus")?.to_string();
    let known = [
        "queued",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "failed",
        "no-answer",
        "canceled",
    ];
    if !known.contains(&status.as_str()) {
        return Err(bad(format!("unknown CallStatus `{status}`")));
    }
    let (party, ours, _) = parties(form)?;
    let duration = match form.get("CallDuration") {
        None => None,
        Some(d) => Some(
            d.parse::<u64>()
                .map_err(|_| bad("`CallDuration` is not a number of seconds"))?,
        ),
    };
    let body = match duration {
        Some(d) => format!("{status}, {d} s"),
        None => status.clone(),
    };
    let entry = |kind, body: String| Entry {
        at_ms: now_ms(),
        kind,
        contact: party.to_string(),
        our_number: ours.to_string(),
        flow: campaign.map_or(String::new(), |(_, c)| c.flow.clone()),
        sid: call_sid.clone(),
        body: Some(body),
        url: None,
    };
    app.note(entry(EntryKind::CallEnded, body));
    if campaign.is_some() && status != "completed" {
        let call = entry(EntryKind::Report, String::new());
        app.report(call, campaign, false, serde_json::json!({}), Some(&status));
    }
    Ok(())
}

async fn sms_webhook(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let flow = app.flow(&name)?;
    let form = authentic_form(&app, &format!("/sms/{name}"), &query, &headers, body).await?;
    let sid = form.require("MessageSid")?.to_string();
    let from = form.require("From")?.to_string();
    let to = form.require("To")?.to_string();
    let text = form.require("Body")?.to_string();
    let at_ms = now_ms();
    let entry = |kind, contact: &str, body: &str| Entry {
        at_ms,
        kind,
        contact: contact.to_string(),
        our_number: to.clone(),
        flow: name.clone(),
        sid: sid.clone(),
        body: Some(body.to_string()),
        url: None,
    };
    app.note(entry(EntryKind::SmsIn, &from, &text));
    let mut engine = Engine::new(flow);
    let messages: Vec<Message> = engine
        .handle(Event::StartSms {
            from: from.clone(),
            text,
            params: Vec::new(),
        })
        .into_iter()
        .filter_map(|o| match o.command {
            Command::Sms { to, text } => Some(Message {
                to: (to != from).then_some(to),
                body: text,
            }),
            _ => None,
        })
        .collect();
    for m in &messages {
        app.note(entry(
            EntryKind::SmsOut,
            m.to.as_deref().unwrap_or(&from),
            &m.body,
        ));
    }
    Ok(xml(twiml::messaging_response(&messages)))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any state token opens or is refused, never a panic.
        #[test]
        fn any_token_opens_or_is_refused(token in ".{0,200}") {
            let _ = state::open::<CallState>(b"a key of sixteen chars", &token, 0);
        }
    }
}

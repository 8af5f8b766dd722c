//! The HTTP server: Twilio's webhooks — voice (`POST /voice/{flow}`, `/campaign/{name}` for
//! calls a campaign places), messaging (`/sms/{flow}`), call status (`/status`,
//! `/campaign/{name}/status`) — and the audio files flows name (`GET /audio/{flow}/…`).
//!
//! Owns the routes, sealing and opening the call state in the `s` query parameter (tampered,
//! expired or another call's state is a 400), checking `X-Twilio-Signature` when an auth token
//! is configured (the parsing itself is `request`'s), and what each call leaves behind: entries
//! in the store, texts, campaign results. It binds nothing itself: the caller gives a bound
//! listener, so tests use port 0 and the CLI decides the address. Flow behaviour lives in
//! `voice` (calls), `sms` (texts) and the engine, not here.

use super::campaign_calls::CampaignCalls;
use super::capabilities;
use super::outbound::{Outbound, TwilioApi};
use super::request::{bad, read_body, signature_ok, Form, Refusal};
use super::sms;
use super::state;
use super::voice::{self, CallState, Input, Links, Step};
use crate::codegen::twiml;
use crate::console::opt_out::Keyword;
use crate::engine::Command;
use crate::ir::{self, Outcome};
use crate::runtime::blocklist::BlockList;
use crate::store::{Entry, EntryKind, SavedState, Store, Writer};
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
    /// Platform records (`--records DIR`): `play record ID` plays `DIR/ID.wav`, served at
    /// `/records/ID.wav`.
    pub records: Option<std::path::PathBuf>,
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
    /// The latest state of calls whose next request does not carry it (a dialled party's
    /// step, `on hangup`), written before the answer goes out.
    states: Arc<Store>,
    /// The calls of the campaign this server dials itself (`--campaign`), until their end.
    campaign_calls: Arc<CampaignCalls>,
    /// That campaign: its leads' results are the dialer's to post, not each call's.
    dialled_campaign: Option<String>,
    /// The numbers flows blocked (`block`), kept in the store as `blocked` entries.
    blocked: Arc<BlockList>,
}

impl App {
    /// An app serving every flow of `program`, writing entries to `entries` and call states
    /// to `states` (two connections to one store).
    pub fn new(program: ir::Program, config: Config, entries: Store, states: Store) -> App {
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
            entries: entries.into_writer(),
            states: Arc::new(states),
            campaigns: program
                .campaigns
                .iter()
                .map(|c| {
                    let campaign = Campaign {
                        flow: c.flow.clone(),
                        result_webhook: c.result_webhook.clone(),
                        normalize: c.normalize,
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
            campaign_calls: Arc::default(),
            dialled_campaign: None,
            blocked: Arc::default(),
        }
    }

    /// The block list this server adds to (`block`), shared with the campaign's placer.
    #[must_use]
    pub fn with_block_list(mut self, list: Arc<BlockList>) -> App {
        self.blocked = list;
        self
    }

    /// The server also dials campaign `name` (`ivrc serve --campaign`): its calls' ends are
    /// noted for the dialer ([`App::campaign_calls`]), which posts each lead's result once.
    #[must_use]
    pub fn dialling(mut self, name: &str) -> App {
        self.dialled_campaign = Some(name.to_string());
        self
    }

    /// Where the ends of the dialled campaign's calls are noted.
    pub fn campaign_calls(&self) -> Arc<CampaignCalls> {
        Arc::clone(&self.campaign_calls)
    }

    /// Whether `campaign` is the one this server dials.
    fn dials(&self, campaign: Option<(&str, &Campaign)>) -> bool {
        campaign.is_some_and(|(name, _)| self.dialled_campaign.as_deref() == Some(name))
    }
}

/// A campaign whose calls the server runs: its flow, where its results go and how the
/// phones of its leads' values are read.
struct Campaign {
    flow: String,
    result_webhook: Option<String>,
    normalize: crate::phone::Normalization,
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
        let result = serde_json::json!({ "ok": ok, "data": data, "reason": reason });
        if self.dials(campaign) {
            self.campaign_calls.reported(&call.sid, result.clone());
        } else if let Some((
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
        self.note(Entry {
            kind: EntryKind::Report,
            body: Some(result.to_string()),
            ..call
        });
    }
}

impl App {
    /// Keeps a call's state after a turn, before the answer goes out: always for a dialled
    /// party's step (the call's `<Dial>` action goes on from it), and for flows with
    /// `on hangup` (the status callback runs it from the latest state).
    async fn keep(&self, flow: &ir::Flow, s: &CallState, now: u64) -> Result<(), Refusal> {
        if !s.continues_elsewhere() && flow.handlers.hangup.is_none() {
            return Ok(());
        }
        let saved = SavedState {
            call_sid: s.call_sid.clone(),
            flow: flow.name.clone(),
            turn: s.turn,
            state: state::seal(&self.config.state_key, s, now, self.config.state_ttl_secs),
        };
        let states = Arc::clone(&self.states);
        let at_ms = now.saturating_mul(1000);
        tokio::task::spawn_blocking(move || states.keep_call_state(&saved, at_ms))
            .await
            .map_err(|e| internal(format!("keeping a call state: {e}")))?
            .map_err(|e| internal(format!("keeping a call state: {e}")))
    }

    /// The latest kept state of a call, with its flow's name; `None` when none is kept.
    async fn kept(&self, call_sid: &str, now: u64) -> Result<Option<(String, CallState)>, Refusal> {
        let states = Arc::clone(&self.states);
        let sid = call_sid.to_string();
        let saved = tokio::task::spawn_blocking(move || states.call_state(&sid))
            .await
            .map_err(|e| internal(format!("reading a call state: {e}")))?
            .map_err(|e| internal(format!("reading a call state: {e}")))?;
        let Some(saved) = saved else {
            return Ok(None);
        };
        let s = state::open(&self.config.state_key, &saved.state, now)
            .map_err(|e| internal(format!("the kept state of call {call_sid}: {e}")))?;
        Ok(Some((saved.flow, s)))
    }

    /// Whether the contact's latest opt-out or opt-in entry is an opt-out (off the async
    /// workers: a PostgreSQL store blocks).
    async fn opted_out(&self, contact: &str) -> Result<bool, Refusal> {
        let states = Arc::clone(&self.states);
        let contact = contact.to_string();
        tokio::task::spawn_blocking(move || states.opted_out(&contact))
            .await
            .map_err(|e| internal(format!("reading opt-outs: {e}")))?
            .map_err(|e| internal(format!("reading opt-outs: {e}")))
    }

    /// Forgets an ended call's kept state, and those older than a state lives.
    async fn forget(&self, call_sid: &str, now: u64) {
        let states = Arc::clone(&self.states);
        let sid = call_sid.to_string();
        let before_ms = now
            .saturating_sub(self.config.state_ttl_secs)
            .saturating_mul(1000);
        let done =
            tokio::task::spawn_blocking(move || states.forget_call_state(&sid, before_ms)).await;
        if let Ok(Err(e)) = done {
            crate::errln!("ivrc serve: cannot forget the state of call {call_sid}: {e}");
        }
    }
}

/// A 500 with a line in the server's log.
fn internal(why: String) -> Refusal {
    crate::errln!("ivrc serve: {why}");
    Refusal(StatusCode::INTERNAL_SERVER_ERROR, why)
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
        .route("/records/{file}", axum::routing::get(record_file))
        .route("/campaign/{campaign}/status", post(campaign_status_webhook))
        .route("/sms/{flow}", post(sms_webhook))
        .route("/twilio/message-status", post(message_status_webhook))
        .route("/twilio/dial-result", post(dial_result_webhook))
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

    fn records_base(&self) -> Option<String> {
        self.app.config.records.as_ref()?;
        Some(format!(
            "{}/records",
            self.app.config.base_url.as_deref().unwrap_or_default()
        ))
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
/// texts sent, reports posted, the state kept where later requests need it, the TwiML
/// answered.
async fn call_webhook(
    app: &App,
    route: Route<'_>,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let flow = route.flow;
    let form = authentic_form(app, &route.path, &query, &headers, body).await?;
    let call_sid = form.require("CallSid")?.to_string();
    let query = Form::parse(query.as_deref().unwrap_or_default().as_bytes())?;
    let at_ms = now_ms();
    let now = at_ms / 1000;
    let (state, input, context) = match query.get("s") {
        None => {
            let (caller, called, placed) = parties(&form)?;
            let context = EntryContext::new(at_ms, flow, &call_sid, caller, called, route.campaign);
            if !placed && app.blocked.contains(caller) {
                // A caller a flow blocked is rejected (the SIP runtime's 603 Decline).
                return Ok(xml(twiml::voice_response(&[twiml::Verb::Reject])));
            }
            app.note(context.entry(EntryKind::Call, caller));
            // A placed call with `MachineDetection` reports who answered; a machine or a fax
            // is not the lead: the call ends and the attempt is reported as not done.
            let machine = form
                .get("AnsweredBy")
                .is_some_and(|a| a.starts_with("machine") || a == "fax");
            if placed && machine && app.dials(route.campaign) {
                // The dialer's redial rules for `machine` decide what comes next.
                app.campaign_calls.machine(&call_sid);
                return Ok(xml(twiml::voice_response(&[twiml::Verb::Hangup])));
            }
            if placed && machine {
                let data = serde_json::json!({});
                app.report(
                    context.entry(EntryKind::Report, caller),
                    route.campaign,
                    false,
                    data,
                    Some("answering machine"),
                );
                return Ok(xml(twiml::voice_response(&[twiml::Verb::Hangup])));
            }
            let input = match start(flow, &query, &context, Outcome::Answered) {
                Ok(input) => input,
                Err(reason) => {
                    // A lead's row that cannot be read: reported with why, nobody is told
                    // anything on the call.
                    app.report(
                        context.entry(EntryKind::Report, caller),
                        route.campaign,
                        false,
                        serde_json::json!({}),
                        Some(&reason),
                    );
                    return Ok(xml(twiml::voice_response(&[twiml::Verb::Hangup])));
                }
            };
            (None, input, context)
        }
        Some(token) => {
            let mut s: CallState =
                state::open(&app.config.state_key, token, now).map_err(|e| bad(e.to_string()))?;
            // A dialled party's step is a request of that party's call, which ours dialled.
            let owner = if s.on_dialled_party() {
                form.require("ParentCallSid")?
            } else {
                call_sid.as_str()
            };
            if s.call_sid != owner {
                return Err(bad("the state belongs to another call"));
            }
            let input = input_of(&form)?;
            if matches!(input, Input::DialStatus(_)) {
                // A dialled party's step ran on its own call; the call goes on from the last
                // state of that step, which no URL of ours carries.
                if let Some((_, latest)) = app.kept(&s.call_sid, now).await? {
                    if latest.turn > s.turn {
                        s = latest;
                    }
                }
            }
            let context = EntryContext::new(
                at_ms,
                flow,
                &s.call_sid,
                s.caller(),
                s.called(),
                route.campaign,
            );
            if let Input::Recorded(url) = &input {
                // Whole seconds, as Twilio posts `RecordingDuration`.
                let seconds = form
                    .get("RecordingDuration")
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
                app.note(Entry {
                    url: Some(url.clone()),
                    body: seconds.map(str::to_string),
                    ..context.entry(EntryKind::Voicemail, s.caller())
                });
            }
            (Some(s), input, context)
        }
    };
    let mut sealer = Sealer {
        app,
        flow: &flow.name,
        path: &route.path,
        now,
    };
    let step = voice::turn(flow, state, input, &mut sealer).map_err(|e| bad(e.to_string()))?;
    let turn = run_turn(app, flow, &context, step, &mut sealer).await?;
    app.keep(flow, &turn.state, now).await?;
    if turn.twiml.len() > MAX_TWIML {
        // The state rides in the URLs twice; a big fetched answer makes it grow.
        return Err(internal(format!(
            "call {call_sid}: the TwiML answer is {} bytes, over Twilio's 64 kB limit (the call's state holds a large fetched answer)",
            turn.twiml.len()
        )));
    }
    Ok(xml(turn.twiml))
}

/// What the entries and reports a request writes about a call say: when, which flow, which
/// call and campaign, and between which numbers.
struct EntryContext<'a> {
    /// When the request came.
    at_ms: u64,
    /// The flow's name.
    flow: String,
    /// The call's id (of the call that dialled, for a dialled party's step).
    sid: String,
    /// The party the flow talks to: the caller, or the party of a call placed for it.
    party: String,
    /// Our number.
    ours: String,
    /// The campaign that placed the call, by name.
    campaign: Option<(&'a str, &'a Campaign)>,
}

impl<'a> EntryContext<'a> {
    fn new(
        at_ms: u64,
        flow: &ir::Flow,
        sid: &str,
        party: &str,
        ours: &str,
        campaign: Option<(&'a str, &'a Campaign)>,
    ) -> EntryContext<'a> {
        EntryContext {
            at_ms,
            flow: flow.name.clone(),
            sid: sid.to_string(),
            party: party.to_string(),
            ours: ours.to_string(),
            campaign,
        }
    }

    /// An entry of this call on `contact`'s timeline.
    fn entry(&self, kind: EntryKind, contact: &str) -> Entry {
        Entry {
            at_ms: self.at_ms,
            kind,
            contact: contact.to_string(),
            our_number: self.ours.clone(),
            flow: self.flow.clone(),
            sid: self.sid.clone(),
            body: None,
            url: None,
        }
    }
}

/// The first input of a call: its parties, the flow's parameters from the webhook's query,
/// and — for a flow that places its own calls — what became of the call placed for it.
/// A campaign's lead values are its row as the user's scheduler sent it: phones are
/// normalized with the campaign's rules, as `ivrc build` reads the leads file.
///
/// # Errors
///
/// A phone value of a campaign's lead that cannot be read, naming the column and the value.
fn start(
    flow: &ir::Flow,
    query: &Form,
    context: &EntryContext,
    first_dial: Outcome,
) -> Result<Input, String> {
    let mut params = Vec::new();
    for id in &flow.params {
        let var = &flow.vars[id.0 as usize];
        let Some(value) = query.get(&var.name) else {
            continue;
        };
        let value = match context.campaign {
            Some((_, c)) if var.ty == ir::Type::Phone => crate::leads::read_value(
                value,
                &var.name,
                crate::leads::ColumnKind::Phone,
                c.normalize,
            )?,
            _ => value.to_string(),
        };
        params.push((var.name.clone(), value));
    }
    Ok(Input::Start {
        call_sid: context.sid.clone(),
        caller: context.party.clone(),
        called: context.ours.clone(),
        params,
        first_dial,
    })
}

/// Carries out a turn: its fetches made, its reports noted and posted, its texts noted and
/// sent; returns the finished turn.
async fn run_turn(
    app: &App,
    flow: &ir::Flow,
    context: &EntryContext<'_>,
    mut step: Step,
    sealer: &mut Sealer<'_>,
) -> Result<voice::Turn, Refusal> {
    for _ in 0..MAX_FETCHES_PER_REQUEST {
        match step {
            Step::Answer(turn) => {
                for o in &turn.log {
                    match &o.command {
                        Command::Report { ok, data, reason } => {
                            let data: serde_json::Map<String, serde_json::Value> =
                                data.iter().cloned().collect();
                            let entry = context.entry(EntryKind::Report, &context.party);
                            app.report(
                                entry,
                                context.campaign,
                                *ok,
                                data.into(),
                                reason.as_deref(),
                            );
                        }
                        Command::Block { number } => {
                            // The store is the block list (as on the SIP runtime): a campaign
                            // this server dials never calls the number again.
                            app.blocked.add(number);
                            app.note(Entry {
                                our_number: String::new(),
                                ..context.entry(EntryKind::Blocked, number)
                            });
                        }
                        _ => {}
                    }
                }
                for m in &turn.sms {
                    app.note(Entry {
                        body: Some(m.body.clone()),
                        our_number: m.from.clone(),
                        ..context.entry(EntryKind::SmsOut, &m.to)
                    });
                }
                app.outbound.send_sms(turn.sms.clone());
                return Ok(*turn);
            }
            Step::Fetch(pending) => {
                let result = app.outbound.fetch(&pending.request).await;
                step =
                    voice::resume(flow, pending, result, sealer).map_err(|e| bad(e.to_string()))?;
            }
        }
    }
    Err(internal(format!(
        "call {}: the flow made more than {MAX_FETCHES_PER_REQUEST} requests without answering",
        context.sid
    )))
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
        crate::errln!(
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

/// A platform record (`play record ID`) from `--records`: only `DIGITS.wav`.
async fn record_file(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
) -> Result<Response, Refusal> {
    let not_found = || Refusal(StatusCode::NOT_FOUND, format!("no record `{file}`"));
    let id = file.strip_suffix(".wav").ok_or_else(not_found)?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_found());
    }
    let dir = app.config.records.as_ref().ok_or_else(not_found)?;
    let bytes = tokio::fs::read(dir.join(&file)).await.map_err(|e| {
        crate::errln!(
            "ivrc serve: cannot read `{}`: {e}",
            dir.join(&file).display()
        );
        not_found()
    })?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response())
}

/// Twilio's call status callback (`StatusCallback`, event `completed`): the end of a call
/// becomes an entry (its status and duration), and a call that hung up runs the flow's
/// `on hangup` from its latest state.
async fn status_webhook(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let form = authentic_form(&app, "/status", &query, &headers, body).await?;
    call_ended(&app, &form, None, &Form::parse(b"")?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The status callback of a call a campaign placed: besides what any call's does, a call
/// that never reached the flow (busy, no answer, failed, canceled) is reported — by the
/// flow's own arms when the call was its first dial (a flow without a caller: the lead's
/// values are in the callback's query), else to the campaign's result webhook as not done,
/// with that status as the reason.
async fn campaign_status_webhook(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let path = format!("/campaign/{name}/status");
    let form = authentic_form(&app, &path, &query, &headers, body).await?;
    let query = Form::parse(query.as_deref().unwrap_or_default().as_bytes())?;
    let campaign = app.campaign(&name)?;
    call_ended(&app, &form, Some((name.as_str(), campaign)), &query).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Notes the end of a call from a status callback; runs `on hangup` for a call that hung up
/// mid-flow, and reports a campaign call that did not connect.
async fn call_ended(
    app: &App,
    form: &Form,
    campaign: Option<(&str, &Campaign)>,
    query: &Form,
) -> Result<(), Refusal> {
    let call_sid = form.require("CallSid")?.to_string();
    let status = form.require("CallStatus")?.to_string();
    let unplaced = match status.as_str() {
        // `initiated` comes with the event of that name (StatusCallbackEvent).
        "queued" | "initiated" | "ringing" | "in-progress" | "completed" => None,
        "busy" => Some(Outcome::Busy),
        "no-answer" => Some(Outcome::NoAnswer),
        "failed" | "canceled" => Some(Outcome::Failed),
        _ => return Err(bad(format!("unknown CallStatus `{status}`"))),
    };
    let over = matches!(
        status.as_str(),
        "completed" | "busy" | "no-answer" | "failed" | "canceled"
    );
    let (party, ours, _) = parties(form)?;
    if !over {
        // The progress events (`initiated`, `ringing`, `answered`): nothing ended.
        return Ok(());
    }
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
    let at_ms = now_ms();
    let flow_name = campaign.map_or(String::new(), |(_, c)| c.flow.clone());
    app.note(Entry {
        at_ms,
        kind: EntryKind::CallEnded,
        contact: party.to_string(),
        our_number: ours.to_string(),
        flow: flow_name,
        sid: call_sid.clone(),
        body: Some(body),
        url: None,
    });
    let result = calls_ended_turn(app, form, campaign, query, unplaced, &status).await;
    if app.dials(campaign) {
        // After the turn its end ran: what it reported is part of the end.
        app.campaign_calls.ended(&call_sid, &status);
    }
    result
}

/// What a call's end runs: `on hangup` of a call that hung up mid-flow, the report (or the
/// first dial's arm) of a campaign call that did not connect.
async fn calls_ended_turn(
    app: &App,
    form: &Form,
    campaign: Option<(&str, &Campaign)>,
    query: &Form,
    unplaced: Option<Outcome>,
    status: &str,
) -> Result<(), Refusal> {
    let call_sid = form.require("CallSid")?.to_string();
    let (party, ours, _) = parties(form)?;
    let at_ms = now_ms();
    let now = at_ms / 1000;
    match (unplaced, campaign) {
        (None, _) if status == "completed" => {
            let Some((name, s)) = app.kept(&call_sid, now).await? else {
                return Ok(());
            };
            let flow = app.flow(&name)?;
            let context =
                EntryContext::new(at_ms, flow, &call_sid, s.caller(), s.called(), campaign);
            let mut links = Sealer {
                app,
                flow: &flow.name,
                path: "/status",
                now,
            };
            let step = voice::turn(flow, Some(s), Input::Hangup, &mut links)
                .map_err(|e| bad(e.to_string()))?;
            run_turn(app, flow, &context, step, &mut links).await?;
            app.forget(&call_sid, now).await;
        }
        (Some(outcome), Some((name, c))) => {
            let flow = app.flow(&c.flow)?;
            let context = EntryContext::new(at_ms, flow, &call_sid, party, ours, campaign);
            if flow.uses_caller() {
                let entry = context.entry(EntryKind::Report, "");
                if !app.dials(campaign) {
                    // The dialer maps the status to the outcome its redial rules name.
                    app.report(entry, campaign, false, serde_json::json!({}), Some(status));
                }
            } else {
                // The flow's first dial: its own arm for the outcome says what to report.
                let path = format!("/campaign/{name}");
                let mut links = Sealer {
                    app,
                    flow: &flow.name,
                    path: &path,
                    now,
                };
                let input = match start(flow, query, &context, outcome) {
                    Ok(input) => input,
                    Err(reason) => {
                        let entry = context.entry(EntryKind::Report, "");
                        app.report(entry, campaign, false, serde_json::json!({}), Some(&reason));
                        return Ok(());
                    }
                };
                let step =
                    voice::turn(flow, None, input, &mut links).map_err(|e| bad(e.to_string()))?;
                run_turn(app, flow, &context, step, &mut links).await?;
            }
        }
        _ => {}
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
    // A STOP-family or START-family keyword is Twilio's to answer (it confirms and blocks or
    // unblocks the number); the flow does not answer it, nor anything from a contact who
    // opted out.
    let keyword = crate::console::opt_out::keyword(&text);
    match keyword {
        Some(Keyword::OptOut) => app.note(entry(EntryKind::OptOut, &from, &text)),
        Some(Keyword::OptIn) => app.note(entry(EntryKind::OptIn, &from, &text)),
        None => {}
    }
    let opted_out = app.opted_out(&from).await?;
    if keyword.is_some() || opted_out {
        return Ok(xml(twiml::messaging_response(&[])));
    }
    let reply = sms::turn(flow, &from, text);
    for m in &reply.messages {
        app.note(entry(
            EntryKind::SmsOut,
            m.to.as_deref().unwrap_or(&from),
            &m.body,
        ));
    }
    Ok(xml(reply.twiml))
}

/// A delivery status of a text the console sent (its `StatusCallback`): an `sms_status`
/// entry, or an `opt_out` too when Twilio says the recipient unsubscribed (21610).
async fn message_status_webhook(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let path = "/twilio/message-status";
    let form = authentic_form(&app, path, &query, &headers, body).await?;
    let status = form.require("MessageStatus")?;
    if crate::console::delivery::Status::parse(status).is_none() {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("MessageStatus `{status}` is not a delivery status"),
        ));
    }
    let code = form.get("ErrorCode").filter(|c| !c.is_empty());
    let entry = |kind, body: &str| -> Result<Entry, Refusal> {
        Ok(Entry {
            at_ms: now_ms(),
            kind,
            contact: form.require("To")?.to_string(),
            our_number: form.require("From")?.to_string(),
            flow: "console".into(),
            sid: form.require("MessageSid")?.to_string(),
            body: Some(body.to_string()),
            url: code.map(str::to_string),
        })
    };
    app.note(entry(EntryKind::SmsStatus, status)?);
    if code == Some("21610") {
        app.note(entry(EntryKind::OptOut, "error 21610")?);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// How the agent's call to a contact ended (the `action` of the console's `<Dial>`): a
/// `call_out` entry with `DialCallStatus`, and an empty document that ends the agent's call.
async fn dial_result_webhook(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let path = "/twilio/dial-result";
    let form = authentic_form(&app, path, &query, &headers, body).await?;
    let contact = query
        .as_deref()
        .and_then(|q| q.strip_prefix("contact="))
        .map(|c| c.replace("%2B", "+"))
        .filter(|c| crate::phone::parse_e164(c).is_ok())
        .ok_or_else(|| Refusal(StatusCode::BAD_REQUEST, "no contact=E164 in the URL".into()))?;
    let status = form.require("DialCallStatus")?;
    app.note(Entry {
        at_ms: now_ms(),
        kind: EntryKind::CallOut,
        contact,
        our_number: form.require("From")?.to_string(),
        flow: "console".into(),
        sid: form
            .get("DialCallSid")
            .unwrap_or(form.require("CallSid")?)
            .to_string(),
        body: Some(status.to_string()),
        url: None,
    });
    Ok(xml(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".into()
    ))
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

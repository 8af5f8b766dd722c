//! The console's own listener (loopback by default, see `ivrc serve --console-listen`):
//! login, the contact list and contact pages, the actions (text, call, note, mark unread),
//! live updates as Server-Sent Events and the two assets. Texts and calls go out through
//! Twilio's REST API ([`Outbound`]); their statuses come back on the public webhook listener
//! (`/twilio/message-status`, `/twilio/dial-result`) as entries, and reach open pages from
//! the store.
//!
//! Live updates read the store, not a channel inside this process: each event stream asks
//! the store for entries after the last one it sent, every [`POLL`]. So entries that another
//! process writes to the same file (`ivrc run`, a second `ivrc serve`) appear too, and a
//! browser that reconnects (`Last-Event-ID`) gets exactly what it missed.

use super::auth::{self, Session};
use super::delivery::{self, Delivery, Status};
use super::pages::{self, ContactItem, ReplyTemplate, Row, RowFragment};
use crate::codegen::twiml::{voice_response, Verb};
use crate::serve::outbound::{Outbound, TwilioApi};
use crate::store::{Entry, EntryKind, EntryStore, StoreError, Stored};
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often an event stream asks the store for new entries.
pub const POLL: Duration = Duration::from_millis(500);
/// Contacts per page of the list, and entries per page of a timeline.
const PAGE: usize = 50;
/// The most entries one poll of an event stream takes.
const BATCH: usize = 200;
/// The shortest time between two login attempts from one address.
const LOGIN_INTERVAL: Duration = Duration::from_secs(1);
/// How long the agent's phone rings, and then the contact's.
const RING_SECS: u32 = 20;

/// How the console is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The secret an agent logs in with.
    pub token: String,
    /// The key sessions and form tokens are signed with.
    pub key: Vec<u8>,
    /// Twilio's REST API, for texts and calls.
    pub twilio: Option<TwilioApi>,
    /// The public address of the webhook listener (`--base-url`), where Twilio posts the
    /// statuses of the console's texts and calls.
    pub public_base: Option<String>,
    /// The agent's phone, which the Call button rings first.
    pub agent_phone: Option<String>,
    /// Our number to text and call from when the contact has not dealt with one yet.
    pub from_number: Option<String>,
    /// The composer's reply templates.
    pub reply_templates: Vec<ReplyTemplate>,
    /// Where `ivrc run --recordings` wrote its recordings, played to logged-in agents.
    pub recordings: Option<std::path::PathBuf>,
}

/// The console: its configuration, its own connection to the store, the REST client.
pub struct Console {
    config: Config,
    store: Arc<dyn EntryStore>,
    outbound: Outbound,
    /// When each address last tried to log in.
    logins: Mutex<HashMap<IpAddr, Instant>>,
}

impl Console {
    /// A console over `store` (its own connection: the webhook server writes through
    /// another).
    pub fn new(config: Config, store: impl EntryStore + 'static) -> Console {
        Console {
            outbound: Outbound::new(config.twilio.clone()),
            store: Arc::new(store),
            logins: Mutex::new(HashMap::new()),
            config,
        }
    }
}

/// The console's routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/contacts") }),
        )
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/contacts", get(contacts_page))
        .route("/console/contacts/{contact}", get(contact_page))
        .route("/console/contacts/{contact}/notes", post(add_note))
        .route("/console/contacts/{contact}/sms", post(send_text))
        .route("/console/contacts/{contact}/call", post(call))
        .route("/console/contacts/{contact}/unread", post(mark_unread))
        .route("/console/events", get(events))
        .route("/console/recordings/{name}", get(recording))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}

/// Serves the console on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    console: Arc<Console>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(console).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Headers on every answer: a strict Content Security Policy (no inline script, no framing;
/// audio also from `https:`, where Twilio keeps voicemail recordings),
/// no referrer to other sites (`same-origin`: with `no-referrer` browsers send `Origin: null`
/// on the console's own form posts, and the origin check needs it), no caching of pages that
/// show customers' messages.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; media-src 'self' https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A refusal as a plain-text answer.
fn refuse(status: StatusCode, why: &str) -> Response {
    Deny::Status(status, why.to_string()).into_response()
}

/// Why a request is not served.
#[derive(Debug)]
enum Deny {
    /// No session: a page sends the browser to the login page.
    ToLogin,
    /// Refused with a status and the reason in plain text.
    Status(StatusCode, String),
}

impl IntoResponse for Deny {
    fn into_response(self) -> Response {
        match self {
            Deny::ToLogin => Redirect::to("/console/login").into_response(),
            Deny::Status(status, why) => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                why,
            )
                .into_response(),
        }
    }
}

fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot render the page: {e}"),
        ),
    }
}

/// Runs a store query off the async threads.
async fn with_store<T: Send + 'static>(
    c: &Arc<Console>,
    query: impl FnOnce(&dyn EntryStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Deny> {
    let store = c.store.clone();
    let failed = |why: String| Deny::Status(StatusCode::INTERNAL_SERVER_ERROR, why);
    match tokio::task::spawn_blocking(move || query(&*store)).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(e) => Err(failed(format!("the store query failed: {e}"))),
    }
}

/// The session of a request, from its cookie.
fn session(c: &Console, headers: &HeaderMap) -> Option<Session> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == auth::COOKIE)
        .find_map(|(_, value)| auth::verify(&c.config.key, value, now_secs()))
}

/// A page's session, or a redirect to the login page.
fn page_session(c: &Console, headers: &HeaderMap) -> Result<Session, Deny> {
    session(c, headers).ok_or(Deny::ToLogin)
}

/// Whether a form post comes from the console's own pages: `Sec-Fetch-Site` (when the
/// browser sends it) says same-origin, and `Origin` (when sent) is this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("sec-fetch-site").is_some_and(|site| site != "same-origin") {
        return false;
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => {
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// The session of a form post whose origin and form token check out.
fn post_session(c: &Console, headers: &HeaderMap, csrf: &str) -> Result<Session, Deny> {
    let forbidden = |why: &str| Deny::Status(StatusCode::FORBIDDEN, why.to_string());
    if !same_origin(headers) {
        return Err(forbidden("a form of another site"));
    }
    let s = session(c, headers).ok_or_else(|| forbidden("not logged in"))?;
    if !auth::form_token_matches(&c.config.key, &s, csrf) {
        return Err(forbidden("the form's token is not this session's"));
    }
    Ok(s)
}

/// The session and the contact of a form posted to a contact's page.
fn posted(
    c: &Console,
    headers: &HeaderMap,
    csrf: &str,
    raw: &str,
) -> Result<(Session, String), Deny> {
    Ok((post_session(c, headers, csrf)?, contact_of(raw)?))
}

/// What the page says when Twilio did not `what`: its error code and message.
fn not_done(what: &str, refused: &crate::serve::outbound::Refused) -> String {
    let code = refused
        .code
        .map(|c| format!(" (error {c})"))
        .unwrap_or_default();
    format!("Twilio did not {what}{code}: {}", refused.message)
}

/// A contact's number from the path: E.164 only.
fn contact_of(raw: &str) -> Result<String, Deny> {
    crate::phone::parse_e164(raw)
        .map(|p| p.to_string())
        .map_err(|e| {
            Deny::Status(
                StatusCode::NOT_FOUND,
                format!("`{raw}` is not a number in E.164 form: {e}"),
            )
        })
}

async fn login_page() -> Response {
    html(StatusCode::OK, &pages::Login { error: None })
}

/// The login form's fields.
#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(c): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return refuse(StatusCode::FORBIDDEN, "a form of another site");
    }
    {
        let mut logins = c.logins.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if logins
            .get(&peer.ip())
            .is_some_and(|last| now.duration_since(*last) < LOGIN_INTERVAL)
        {
            return refuse(StatusCode::TOO_MANY_REQUESTS, "one login attempt a second");
        }
        logins.insert(peer.ip(), now);
    }
    if !auth::login_matches(&c.config.token, &form.token) {
        let error = Some("That is not the console's token.".to_string());
        return html(StatusCode::UNAUTHORIZED, &pages::Login { error });
    }
    let mut id = [0u8; 16];
    if let Err(e) = crate::secret::fill_random(&mut id) {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("no random bytes: {e}"),
        );
    }
    let cookie = format!(
        "{}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
        auth::COOKIE,
        auth::issue(&c.config.key, &id, now_secs()),
        auth::SESSION_SECS
    );
    let mut r = Redirect::to("/console/contacts").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// A form with only the token.
#[derive(serde::Deserialize)]
struct Plain {
    csrf: String,
}

async fn logout(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<Plain>,
) -> Response {
    if let Err(r) = post_session(&c, &headers, &form.csrf) {
        return r.into_response();
    }
    let mut r = Redirect::to("/console/login").into_response();
    let gone = format!(
        "{}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        auth::COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&gone) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The list's query.
#[derive(serde::Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    before: Option<i64>,
}

/// What every page shows beside its own content: the contact list and the unread total.
struct Frame {
    after: i64,
    unread_total: u32,
    contacts: Vec<ContactItem>,
    contacts_older: Option<i64>,
}

fn frame(
    store: &dyn EntryStore,
    q: &str,
    before: Option<i64>,
    current: Option<&str>,
) -> Result<Frame, StoreError> {
    let after = store.last_id()?;
    let search = Some(q.trim()).filter(|q| !q.is_empty());
    let list = store.contact_list(search, before, PAGE + 1)?;
    let contacts_older = (list.len() > PAGE).then(|| list[PAGE - 1].last.id);
    let unread_total = store.unread_everywhere()?;
    Ok(Frame {
        after,
        unread_total,
        contacts: list
            .iter()
            .take(PAGE)
            .map(|s| ContactItem::new(s, current))
            .collect(),
        contacts_older,
    })
}

async fn contacts_page(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let s = match page_session(&c, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let q = query.q.unwrap_or_default();
    let q2 = q.clone();
    match with_store(&c, move |store| frame(store, &q2, query.before, None)).await {
        Ok(f) => html(
            StatusCode::OK,
            &pages::Contacts {
                csrf: auth::form_token(&c.config.key, &s),
                after: f.after,
                unread_total: f.unread_total,
                q,
                contacts: f.contacts,
                contacts_older: f.contacts_older,
            },
        ),
        Err(r) => r.into_response(),
    }
}

/// A contact page's query.
#[derive(serde::Deserialize, Default)]
struct ContactQuery {
    before: Option<i64>,
}

/// Everything a contact page shows, read in one go.
struct ContactData {
    frame: Frame,
    rows: Vec<Row>,
    older: Option<i64>,
    opted_out: bool,
    our_numbers: Vec<String>,
}

fn contact_data(
    store: &dyn EntryStore,
    contact: &str,
    before: Option<i64>,
) -> Result<ContactData, StoreError> {
    let page = store.page(contact, before, PAGE + 1)?;
    let older = (page.len() > PAGE).then(|| page[1].id);
    let page: Vec<Stored> = if page.len() > PAGE {
        page[1..].to_vec()
    } else {
        page
    };
    if before.is_none() {
        if let Some(last) = page.last() {
            store.read_up_to(contact, last.id)?;
        }
    }
    let statuses = deliveries(&store.statuses(contact)?);
    let rows = page
        .iter()
        .map(|s| {
            Row::new(
                s,
                statuses
                    .get(&s.entry.sid)
                    .filter(|_| s.entry.kind == EntryKind::SmsOut),
            )
        })
        .collect();
    let mut our_numbers: Vec<String> = Vec::new();
    for s in store.contact_entries(contact)?.iter().rev() {
        if !s.our_number.is_empty() && !our_numbers.contains(&s.our_number) {
            our_numbers.push(s.our_number.clone());
        }
    }
    Ok(ContactData {
        frame: frame(store, "", None, Some(contact))?,
        rows,
        older,
        opted_out: store.is_opted_out(contact)?,
        our_numbers,
    })
}

/// Each text's current delivery status, from its status entries in the order written.
fn deliveries(statuses: &[Stored]) -> HashMap<String, Delivery> {
    let mut by_sid: HashMap<&str, Vec<(Status, Option<&str>)>> = HashMap::new();
    for s in statuses {
        if let Some(status) = s.entry.body.as_deref().and_then(Status::parse) {
            by_sid
                .entry(s.entry.sid.as_str())
                .or_default()
                .push((status, s.entry.url.as_deref()));
        }
    }
    by_sid
        .into_iter()
        .filter_map(|(sid, updates)| Some((sid.to_string(), delivery::fold(updates)?)))
        .collect()
}

/// Renders a contact page, with `error` about the last action.
async fn render_contact(
    c: &Arc<Console>,
    s: &Session,
    contact: String,
    before: Option<i64>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let who = contact.clone();
    let data = match with_store(c, move |store| contact_data(store, &who, before)).await {
        Ok(d) => d,
        Err(r) => return r.into_response(),
    };
    let texting = c.config.twilio.is_some();
    let page = pages::Contact {
        csrf: auth::form_token(&c.config.key, s),
        after: data.frame.after,
        unread_total: data.frame.unread_total,
        q: String::new(),
        contacts: data.frame.contacts,
        contacts_older: data.frame.contacts_older,
        rows: data.rows,
        older: data.older,
        opted_out: data.opted_out,
        texting,
        can_text: texting && !data.opted_out,
        calling: texting && c.config.agent_phone.is_some() && c.config.public_base.is_some(),
        our_numbers: data.our_numbers,
        reply_templates: c.config.reply_templates.clone(),
        error,
        contact,
    };
    html(status, &page)
}

async fn contact_page(
    State(c): State<Arc<Console>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Query(query): Query<ContactQuery>,
) -> Response {
    let s = match page_session(&c, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let contact = match contact_of(&raw) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    render_contact(&c, &s, contact, query.before, StatusCode::OK, None).await
}

/// Our number for a contact: the one they last dealt with, else the configured one.
fn our_number(
    store: &dyn EntryStore,
    contact: &str,
    fallback: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let last = store
        .contact_entries(contact)?
        .into_iter()
        .rev()
        .map(|e| e.our_number)
        .find(|n| crate::phone::parse_e164(n).is_ok());
    Ok(last.or_else(|| fallback.map(str::to_string)))
}

/// A note's form.
#[derive(serde::Deserialize)]
struct NoteForm {
    csrf: String,
    note: String,
}

async fn add_note(
    State(c): State<Arc<Console>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Form(form): Form<NoteForm>,
) -> Response {
    let (s, contact) = match posted(&c, &headers, &form.csrf, &raw) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let note = form.note.trim().to_string();
    if note.is_empty() {
        return render_contact(
            &c,
            &s,
            contact,
            None,
            StatusCode::BAD_REQUEST,
            Some("A note needs text.".into()),
        )
        .await;
    }
    let entry = Entry {
        at_ms: now_ms(),
        kind: EntryKind::Note,
        contact: contact.clone(),
        our_number: String::new(),
        flow: "console".into(),
        sid: String::new(),
        body: Some(note),
        url: None,
    };
    match with_store(&c, move |store| store.add_entry(&entry)).await {
        Ok(_) => Redirect::to(&format!("/console/contacts/{contact}")).into_response(),
        Err(r) => r.into_response(),
    }
}

/// The composer's form.
#[derive(serde::Deserialize)]
struct TextForm {
    csrf: String,
    body: String,
}

async fn send_text(
    State(c): State<Arc<Console>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TextForm>,
) -> Response {
    let (s, contact) = match posted(&c, &headers, &form.csrf, &raw) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let fail =
        |status, why: String| render_contact(&c, &s, contact.clone(), None, status, Some(why));
    let body = form.body.replace("\r\n", "\n");
    if body.trim().is_empty() {
        return fail(StatusCode::BAD_REQUEST, "A text needs words.".into()).await;
    }
    let who = contact.clone();
    let fallback = c.config.from_number.clone();
    let (opted_out, from) = match with_store(&c, move |store| {
        Ok((
            store.is_opted_out(&who)?,
            our_number(store, &who, fallback.as_deref())?,
        ))
    })
    .await
    {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    if opted_out {
        return fail(
            StatusCode::CONFLICT,
            format!("{contact} opted out of texts; nothing was sent."),
        )
        .await;
    }
    let Some(from) = from else {
        return fail(StatusCode::CONFLICT, "No number to text from: the contact never dealt with one of ours; set IVRC_CONSOLE_FROM.".into()).await;
    };
    let callback = c
        .config
        .public_base
        .as_ref()
        .map(|b| format!("{b}/twilio/message-status"));
    let sent = c
        .outbound
        .create_message(&contact, &from, &body, callback.as_deref())
        .await;
    let at_ms = now_ms();
    let entry = |kind, sid: &str, text: &str, url: Option<String>| Entry {
        at_ms,
        kind,
        contact: contact.clone(),
        our_number: from.clone(),
        flow: "console".into(),
        sid: sid.to_string(),
        body: Some(text.to_string()),
        url,
    };
    match sent {
        Ok(created) => {
            let rows = [
                entry(EntryKind::SmsOut, &created.sid, &body, None),
                entry(EntryKind::SmsStatus, &created.sid, &created.status, None),
            ];
            match with_store(&c, move |store| {
                rows.iter().try_for_each(|r| store.add_entry(r).map(drop))
            })
            .await
            {
                Ok(()) => Redirect::to(&format!("/console/contacts/{contact}")).into_response(),
                Err(r) => r.into_response(),
            }
        }
        Err(refused) => {
            if refused.code == Some(21610) {
                let row = entry(EntryKind::OptOut, "", "error 21610", None);
                if let Err(r) = with_store(&c, move |store| store.add_entry(&row)).await {
                    return r.into_response();
                }
            }
            fail(StatusCode::BAD_GATEWAY, not_done("send the text", &refused)).await
        }
    }
}

async fn call(
    State(c): State<Arc<Console>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Plain>,
) -> Response {
    let (s, contact) = match posted(&c, &headers, &form.csrf, &raw) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let fail =
        |status, why: String| render_contact(&c, &s, contact.clone(), None, status, Some(why));
    let (Some(agent), Some(base)) = (c.config.agent_phone.clone(), c.config.public_base.clone())
    else {
        return fail(
            StatusCode::CONFLICT,
            "Calling needs IVRC_AGENT_PHONE and --base-url.".into(),
        )
        .await;
    };
    let who = contact.clone();
    let fallback = c.config.from_number.clone();
    let from = match with_store(&c, move |store| {
        our_number(store, &who, fallback.as_deref())
    })
    .await
    {
        Ok(Some(from)) => from,
        Ok(None) => {
            return fail(
                StatusCode::CONFLICT,
                "No number to call from; set IVRC_CONSOLE_FROM.".into(),
            )
            .await
        }
        Err(r) => return r.into_response(),
    };
    let twiml = voice_response(&[
        Verb::Say {
            text: format!("Calling {contact}."),
            voice: None,
            language: None,
        },
        Verb::Dial {
            action: Some(format!(
                "{base}/twilio/dial-result?contact={}",
                contact.replace('+', "%2B")
            )),
            caller_id: Some(from.clone()),
            timeout_secs: u64::from(RING_SECS),
            number: contact.clone(),
            url: None,
        },
    ]);
    match c
        .outbound
        .create_call(&agent, &from, &twiml, RING_SECS, None)
        .await
    {
        Ok(_) => Redirect::to(&format!("/console/contacts/{contact}")).into_response(),
        Err(refused) => {
            fail(
                StatusCode::BAD_GATEWAY,
                not_done("place the call", &refused),
            )
            .await
        }
    }
}

async fn mark_unread(
    State(c): State<Arc<Console>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Plain>,
) -> Response {
    let contact = match posted(&c, &headers, &form.csrf, &raw) {
        Ok((_, contact)) => contact,
        Err(r) => return r.into_response(),
    };
    let who = contact.clone();
    let marked = with_store(&c, move |store| {
        let last_inbound = store
            .page(&who, None, PAGE)?
            .into_iter()
            .rev()
            .find(|s| matches!(s.entry.kind, EntryKind::SmsIn | EntryKind::Voicemail));
        if let Some(s) = last_inbound {
            store.unread_from(&who, s.id)?;
        }
        Ok(())
    })
    .await;
    match marked {
        Ok(()) => Redirect::to("/console/contacts").into_response(),
        Err(r) => r.into_response(),
    }
}

/// Where an event stream starts.
#[derive(serde::Deserialize, Default)]
struct EventsQuery {
    after: Option<i64>,
}

/// What an event stream has read and not yet sent.
struct Feed {
    console: Arc<Console>,
    last: i64,
    pending: VecDeque<Event>,
}

async fn events(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Response {
    if session(&c, &headers).is_none() {
        return refuse(StatusCode::FORBIDDEN, "not logged in");
    }
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let last = match resumed.or(query.after) {
        Some(id) => id,
        None => match with_store(&c, |store| store.last_id()).await {
            Ok(id) => id,
            Err(r) => return r.into_response(),
        },
    };
    let feed = Feed {
        console: c,
        last,
        pending: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.pending.pop_front() {
                return Some((Ok::<Event, Infallible>(event), feed));
            }
            tokio::time::sleep(POLL).await;
            let after = feed.last;
            match with_store(&feed.console, move |store| read_events(store, after)).await {
                Ok((last, events)) => {
                    feed.last = last;
                    feed.pending.extend(events);
                }
                Err(_) => return Some((Ok(Event::default().event("reload").data("store")), feed)),
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The events of the entries written after row `after`, and the last row read.
fn read_events(store: &dyn EntryStore, after: i64) -> Result<(i64, Vec<Event>), StoreError> {
    let rows = store.after(after, BATCH)?;
    let mut last = after;
    let mut events = Vec::with_capacity(rows.len());
    for s in rows {
        last = s.id;
        let contact = &s.entry.contact;
        let data = if s.entry.kind == EntryKind::SmsStatus {
            let current = deliveries(&store.statuses(contact)?).remove(&s.entry.sid);
            let Some(d) = current else { continue };
            (
                "status",
                serde_json::json!({
                    "sid": s.entry.sid,
                    "status": d.status.name(),
                    "error_code": d.error_code,
                }),
            )
        } else {
            let row = Row::new(&s, None);
            let html = RowFragment { row: &row }.render().unwrap_or_default();
            (
                "entry",
                serde_json::json!({
                    "id": s.id,
                    "contact": contact,
                    "kind": row.kind,
                    "html": html,
                    "unread": store.unread_count(contact)?,
                    "opted_out": store.is_opted_out(contact)?,
                }),
            )
        };
        events.push(
            Event::default()
                .event(data.0)
                .id(s.id.to_string())
                .retry(Duration::from_secs(2))
                .data(data.1.to_string()),
        );
    }
    Ok((last, events))
}

/// A recording the runtime wrote, to a logged-in agent.
async fn recording(
    State(c): State<Arc<Console>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = page_session(&c, &headers) {
        return r.into_response();
    }
    super::recordings::serve(c.config.recordings.as_deref(), &name).await
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/console.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/console.js"),
    )
        .into_response()
}

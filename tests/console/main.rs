//! The agent console over HTTP, against the real `ivrc serve` binary and a strict fake of
//! Twilio's REST API on loopback: login and sessions, form tokens and origins, escaping of
//! customers' text, live updates replayed after a reconnect, texts and their delivery
//! statuses (only forward), opt-outs, the Call button, notes. `browser.rs` runs the seed's
//! story in headless Chromium.

#[path = "../browser/mod.rs"]
mod browser;
mod browser_story;
mod fake_twilio;
#[path = "../pg_server/mod.rs"]
mod pg_server;

use fake_twilio::FakeTwilio;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The console's login token in these tests.
pub const CONSOLE_TOKEN: &str = "console-token-for-the-tests-0123456789";
/// The agent's phone the Call button rings.
pub const AGENT: &str = "+15550001111";
/// Our Twilio number.
pub const OURS: &str = "+16502907793";
/// The customer of the seed's story.
pub const CUSTOMER: &str = "+15146300808";

/// A running `ivrc serve` with its console, killed when dropped.
pub struct Console {
    child: Child,
    /// The webhook listener, also the `--base-url`.
    pub base: String,
    /// The console listener: `http://127.0.0.1:PORT`.
    pub console: String,
    /// The entries store, as `--store` takes it: a SQLite file or a `postgresql://` URL.
    pub store: String,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `ivrc serve examples/sms_reply.ivr` with the console, Twilio at `twilio`, its
/// store a fresh SQLite file.
pub fn start(twilio: &FakeTwilio, name: &str) -> Console {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
    let _ = std::fs::create_dir_all(&dir);
    let store = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
    start_on(twilio, name, &store.display().to_string())
}

/// [`start`] with the store at `store` (a SQLite file or a `postgresql://` URL).
pub fn start_on(twilio: &FakeTwilio, name: &str, store: &str) -> Console {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
    let _ = std::fs::create_dir_all(&dir);
    let templates = dir.join(format!("{name}.replies"));
    std::fs::write(
        &templates,
        "Later | Sorry we missed you — we'll call you back later today.\nHours | We are open 9–18.\n",
    )
    .expect("templates written");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["serve", "examples/sms_reply.ivr", "--store", store])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--base-url",
            &base,
        ])
        .args(["--console-listen", "127.0.0.1:0", "--reply-templates"])
        .arg(&templates)
        .arg("--recordings")
        .arg(recordings_of(name))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TWILIO_ACCOUNT_SID", fake_twilio::ACCOUNT)
        .env("TWILIO_AUTH_TOKEN", fake_twilio::TOKEN)
        .env("TWILIO_API_BASE", &twilio.base)
        .env("IVRC_CONSOLE_TOKEN", CONSOLE_TOKEN)
        .env("IVRC_AGENT_PHONE", AGENT)
        .env_remove("IVRC_CONSOLE_FROM")
        .env_remove("IVRC_STATE_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ivrc serve starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut console = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while console.is_none() && Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(rest) = line.trim().strip_prefix("console on ") {
            console = Some(rest.trim_end_matches("/console").to_string());
        }
    }
    std::thread::spawn(move || {
        let mut rest = String::new();
        while reader.read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    });
    Console {
        child,
        base,
        console: console.expect("the server prints where the console is"),
        store: store.to_string(),
    }
}

/// The recordings directory of the console started as `name` (as `ivrc run --recordings`
/// would fill it).
pub fn recordings_of(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("console")
        .join(format!("{name}-recordings"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, each value of a repeated one apart.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// A header's (first) value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .build()
}

fn read(r: Result<ureq::Response, ureq::Error>) -> Answer {
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let headers = r
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            r.all(&n)
                .into_iter()
                .map(|v| (n.clone(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    Answer {
        status: r.status(),
        headers,
        body: r.into_string().unwrap_or_default(),
    }
}

/// GETs `path` of the console with `cookie`.
pub fn get(c: &Console, path: &str, cookie: Option<&str>) -> Answer {
    let mut req = agent().get(&format!("{}{path}", c.console));
    if let Some(cookie) = cookie {
        req = req.set("Cookie", cookie);
    }
    read(req.call())
}

/// POSTs a form to the console as its own page would (same origin).
pub fn post(c: &Console, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
    post_with(
        c,
        path,
        cookie,
        form,
        &[("Origin", &c.console), ("Sec-Fetch-Site", "same-origin")],
    )
}

/// POSTs a form to the console with these extra headers.
pub fn post_with(
    c: &Console,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = agent().post(&format!("{}{path}", c.console));
    if let Some(cookie) = cookie {
        req = req.set("Cookie", cookie);
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    read(req.send_form(form))
}

/// POSTs a webhook to the public listener, signed as Twilio signs it.
pub fn webhook(c: &Console, path: &str, form: &[(&str, &str)]) -> Answer {
    let url = format!("{}{path}", c.base);
    read(
        agent()
            .post(&url)
            .set("X-Twilio-Signature", &sign(fake_twilio::TOKEN, &url, form))
            .send_form(form),
    )
}

fn sign(token: &str, url: &str, form: &[(&str, &str)]) -> String {
    use base64::Engine as _;
    use hmac::Mac;
    let mut pairs = form.to_vec();
    pairs.sort();
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("key");
    m.update(url.as_bytes());
    for (k, v) in pairs {
        m.update(k.as_bytes());
        m.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// Logs in; the session cookie (`name=value`).
pub fn login(c: &Console) -> String {
    let a = post(c, "/console/login", None, &[("token", CONSOLE_TOKEN)]);
    assert_eq!(a.status, 303, "{a:?}");
    let cookie = a.header("set-cookie").expect("a session cookie");
    cookie.split(';').next().expect("name=value").to_string()
}

/// The form token on a page.
pub fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    page[at..at + page[at..].find('"').expect("end")].to_string()
}

/// An inbound text from `from`, as Twilio posts it.
pub fn inbound_text(c: &Console, from: &str, sid: &str, body: &str) {
    let a = webhook(
        c,
        "/sms/support",
        &[
            ("From", from),
            ("To", OURS),
            ("Body", body),
            ("MessageSid", sid),
            ("NumMedia", "0"),
        ],
    );
    assert_eq!(a.status, 200, "{a:?}");
}

/// A console, logged in, whose customer texted "Please call me" (as `sid`), and the
/// customer's page.
pub struct Opened {
    /// The fake Twilio API.
    pub twilio: FakeTwilio,
    /// The server.
    pub c: Console,
    /// The session cookie.
    pub cookie: String,
    /// The customer's page's path.
    pub path: String,
    /// The page, after the text came.
    pub page: String,
}

/// [`Opened`] on a fresh server named `name`.
pub fn with_a_customer(name: &str, sid: &str) -> Opened {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, name);
    let cookie = login(&c);
    inbound_text(&c, CUSTOMER, sid, "Please call me");
    let path = format!("/console/contacts/{CUSTOMER}");
    let page = get(&c, &path, Some(&cookie)).body;
    Opened {
        twilio,
        c,
        cookie,
        path,
        page,
    }
}

/// Decodes a form body.
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match (
                bytes[i],
                s.get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok()),
            ) {
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Waits up to 5 s for the contact page to hold `needle`.
pub fn page_eventually(c: &Console, cookie: &str, contact: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = get(c, &format!("/console/contacts/{contact}"), Some(cookie)).body;
        if page.contains(needle) || Instant::now() > deadline {
            return page;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn login_sessions_and_headers() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "login");
    // Pages without a session go to the login page; the event stream is refused.
    let a = get(&c, "/console/contacts", None);
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/console/login"))
    );
    assert_eq!(get(&c, "/console/events", None).status, 403);
    let login_page = get(&c, "/console/login", None);
    assert_eq!(login_page.status, 200);
    let csp = login_page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(login_page.header("cache-control"), Some("no-store"));
    assert!(!login_page.body.contains("<script>"), "no inline script");

    // A wrong token: no cookie; a second try within a second is turned away.
    let wrong = post(&c, "/console/login", None, &[("token", "not-the-token")]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    assert!(wrong.body.contains("not the console"));
    let fast = post(&c, "/console/login", None, &[("token", CONSOLE_TOKEN)]);
    assert_eq!(fast.status, 429);
    std::thread::sleep(Duration::from_millis(1100));
    // A login form of another site is refused.
    let foreign = post_with(
        &c,
        "/console/login",
        None,
        &[("token", CONSOLE_TOKEN)],
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(foreign.status, 403);
    std::thread::sleep(Duration::from_millis(1100));
    let ok = post(&c, "/console/login", None, &[("token", CONSOLE_TOKEN)]);
    assert_eq!(ok.status, 303);
    let set = ok.header("set-cookie").expect("a cookie");
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    let cookie = set.split(';').next().expect("name=value").to_string();
    assert_eq!(get(&c, "/console/contacts", Some(&cookie)).status, 200);
    // A cookie changed by the browser's user is no session.
    let forged = format!("{}x", cookie);
    assert_eq!(get(&c, "/console/contacts", Some(&forged)).status, 303);
    // Log out: the cookie is cleared.
    let page = get(&c, "/console/contacts", Some(&cookie)).body;
    let out = post(
        &c,
        "/console/logout",
        Some(&cookie),
        &[("csrf", &csrf(&page))],
    );
    assert_eq!(out.status, 303);
    assert!(out
        .header("set-cookie")
        .is_some_and(|s| s.contains("Max-Age=0")));
}

#[test]
fn forms_need_the_sessions_token_and_our_origin() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "csrf");
    let cookie = login(&c);
    inbound_text(&c, CUSTOMER, "SMcsrf1", "hello");
    let path = format!("/console/contacts/{CUSTOMER}");
    let page = get(&c, &path, Some(&cookie)).body;
    let token = csrf(&page);
    let notes = format!("{path}/notes");
    assert_eq!(
        post(&c, &notes, Some(&cookie), &[("note", "x")]).status,
        422,
        "no token field"
    );
    assert_eq!(
        post(
            &c,
            &notes,
            Some(&cookie),
            &[("csrf", "AAAA"), ("note", "x")]
        )
        .status,
        403
    );
    let cross = [("Sec-Fetch-Site", "cross-site")];
    assert_eq!(
        post_with(
            &c,
            &notes,
            Some(&cookie),
            &[("csrf", &token), ("note", "x")],
            &cross
        )
        .status,
        403
    );
    let other = [("Origin", "http://127.0.0.1:1")];
    assert_eq!(
        post_with(
            &c,
            &notes,
            Some(&cookie),
            &[("csrf", &token), ("note", "x")],
            &other
        )
        .status,
        403
    );
    assert_eq!(
        post(&c, &notes, None, &[("csrf", &token), ("note", "x")]).status,
        403
    );
    // Another session's token is refused too.
    std::thread::sleep(Duration::from_millis(1100));
    let second = login(&c);
    assert_eq!(
        post(
            &c,
            &notes,
            Some(&second),
            &[("csrf", &token), ("note", "x")]
        )
        .status,
        403
    );
    assert!(
        !get(&c, &path, Some(&cookie))
            .body
            .contains("class=\"body\">x<"),
        "no note was written"
    );
    let ok = post(
        &c,
        &notes,
        Some(&cookie),
        &[("csrf", &token), ("note", "Called back, left a message")],
    );
    assert_eq!(ok.status, 303);
    let page = get(&c, &path, Some(&cookie)).body;
    assert!(page.contains("Called back, left a message"));
    // A number that is not E.164 is no contact.
    assert_eq!(
        get(&c, "/console/contacts/5146300808", Some(&cookie)).status,
        404
    );
}

#[test]
fn customers_text_is_escaped_on_every_page() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "escape");
    let cookie = login(&c);
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\"' & </li></ol>";
    inbound_text(&c, CUSTOMER, "SM<b>\"", hostile);
    // The flow answers the text, so a note with the same words makes them the list's snippet.
    let path = format!("/console/contacts/{CUSTOMER}");
    let page = get(&c, &path, Some(&cookie)).body;
    let noted = post(
        &c,
        &format!("{path}/notes"),
        Some(&cookie),
        &[("csrf", &csrf(&page)), ("note", hostile)],
    );
    assert_eq!(noted.status, 303);
    let list = get(&c, "/console/contacts", Some(&cookie)).body;
    let page = get(&c, &path, Some(&cookie)).body;
    for html in [&list, &page] {
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.contains("</li></ol>\""), "{html}");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{html}"
        );
    }
    assert!(page.contains("data-sid=\"SM&#60;b&#62;&#34;\""), "{page}");
    // The search box keeps what was typed, escaped.
    let found = get(&c, "/console/contacts?q=%22%3E%3Cscript%3E", Some(&cookie)).body;
    assert!(
        found.contains("value=\"&#34;&#62;&#60;script&#62;\""),
        "{found}"
    );
}

/// The events of a stream read for `within`: (id, event, data).
fn events(
    c: &Console,
    cookie: &str,
    query: &str,
    last_event_id: Option<&str>,
    within: Duration,
) -> Vec<(String, String, String)> {
    let mut req = ureq::AgentBuilder::new()
        .timeout_read(within)
        .build()
        .get(&format!("{}/console/events{query}", c.console))
        .set("Cookie", cookie);
    if let Some(id) = last_event_id {
        req = req.set("Last-Event-ID", id);
    }
    let r = req.call().expect("a stream");
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let mut text = String::new();
    // The read ends with the timeout: what arrived until then is the stream's start.
    let _ = r.into_reader().read_to_string(&mut text);
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                id = v.to_string();
            } else if let Some(v) = line.strip_prefix("event: ") {
                event = v.to_string();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = v.to_string();
            }
        }
        if !event.is_empty() {
            out.push((id, event, data));
        }
    }
    out
}

#[test]
fn a_stream_that_reconnects_gets_what_it_missed() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "replay");
    let cookie = login(&c);
    // Each text is answered by the flow (`on sms`), so the stream carries both; the texts
    // from the contacts are compared here.
    let from_contacts = |events: Vec<(String, String, String)>| -> Vec<(String, String, String)> {
        events
            .into_iter()
            .filter(|(_, _, d)| d.contains("\"kind\":\"sms-in\""))
            .collect()
    };
    inbound_text(&c, CUSTOMER, "SMr1", "first");
    let first = from_contacts(events(
        &c,
        &cookie,
        "?after=0",
        None,
        Duration::from_millis(1500),
    ));
    assert_eq!(first.len(), 1, "{first:?}");
    let (id, event, data) = &first[0];
    assert_eq!(event, "entry");
    let data: serde_json::Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(data["contact"], CUSTOMER);
    assert_eq!(data["unread"], 1);
    assert!(data["html"].as_str().is_some_and(|h| h.contains("first")));
    // While no stream is open, two more texts; the browser reconnects with the last id.
    inbound_text(&c, CUSTOMER, "SMr2", "second");
    inbound_text(&c, "+447700900123", "SMr3", "third");
    std::thread::sleep(Duration::from_millis(300));
    let missed = from_contacts(events(
        &c,
        &cookie,
        "",
        Some(id),
        Duration::from_millis(1500),
    ));
    let bodies: Vec<String> = missed
        .iter()
        .map(|(_, _, d)| {
            serde_json::from_str::<serde_json::Value>(d).expect("JSON")["html"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(missed.len(), 2, "{missed:?}");
    assert!(
        bodies[0].contains("second") && bodies[1].contains("third"),
        "{bodies:?}"
    );
    let ids: Vec<i64> = missed
        .iter()
        .map(|(i, _, _)| i.parse().expect("numeric ids"))
        .collect();
    assert!(ids[0] > id.parse::<i64>().expect("id") && ids[1] > ids[0]);
    // Without Last-Event-ID or `after`, a stream starts from now.
    assert!(events(&c, &cookie, "", None, Duration::from_millis(800)).is_empty());
}

#[test]
fn texts_go_out_with_a_status_callback_and_statuses_only_move_forward() {
    let Opened {
        twilio,
        c,
        cookie,
        path,
        page,
    } = with_a_customer("texts", "SMt1");
    assert!(
        page.contains("Sorry we missed you"),
        "reply templates are offered"
    );
    let sent = post(
        &c,
        &format!("{path}/sms"),
        Some(&cookie),
        &[("csrf", &csrf(&page)), ("body", "Перезвоню через час")],
    );
    assert_eq!(sent.status, 303, "{sent:?}");
    let created = twilio.take(1);
    assert_eq!(created.len(), 1);
    let m = &created[0];
    assert_eq!(m.resource, "Messages.json");
    assert_eq!(m.form["To"], CUSTOMER);
    assert_eq!(m.form["From"], OURS, "the number the contact texted");
    assert_eq!(m.form["Body"], "Перезвоню через час");
    assert_eq!(
        m.form["StatusCallback"],
        format!("{}/twilio/message-status", c.base)
    );
    let page = page_eventually(&c, &cookie, CUSTOMER, "data-status=\"queued\"");
    assert!(
        page.contains("Перезвоню через час") && page.contains("data-status=\"queued\""),
        "{page}"
    );
    // Twilio's callbacks: delivered, then a late `sent` that must not undo it.
    let status = |s: &str, code: Option<&str>| {
        let mut form = vec![
            ("MessageSid", m.sid.as_str()),
            ("MessageStatus", s),
            ("To", CUSTOMER),
            ("From", OURS),
        ];
        if let Some(code) = code {
            form.push(("ErrorCode", code));
        }
        webhook(&c, "/twilio/message-status", &form).status
    };
    assert_eq!(status("sent", None), 204);
    assert_eq!(status("delivered", None), 204);
    assert_eq!(status("sent", None), 204);
    assert_eq!(status("failed", Some("30007")), 204);
    let page = page_eventually(&c, &cookie, CUSTOMER, "data-status=\"delivered\"");
    assert!(page.contains("data-status=\"delivered\""), "{page}");
    assert!(!page.contains("30007"), "a final status stays");
    // An unsigned callback and a status Twilio never sends are refused.
    let unsigned = read(
        agent()
            .post(&format!("{}/twilio/message-status", c.base))
            .send_form(&[
                ("MessageSid", "SMx"),
                ("MessageStatus", "delivered"),
                ("To", CUSTOMER),
                ("From", OURS),
            ]),
    );
    assert_eq!(unsigned.status, 403);
    assert_eq!(status("exploded", None), 400);
    assert!(twilio.refused().is_empty(), "{:?}", twilio.refused());
}

#[test]
fn stop_opts_out_and_21610_is_an_opt_out_too() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "stop");
    let cookie = login(&c);
    let path = format!("/console/contacts/{CUSTOMER}");
    inbound_text(&c, CUSTOMER, "SMs1", "Stop texting me");
    assert!(
        !page_eventually(&c, &cookie, CUSTOMER, "Stop texting me").contains("id=\"opted-out\""),
        "not a keyword"
    );
    inbound_text(&c, CUSTOMER, "SMs2", "STOP");
    let page = page_eventually(&c, &cookie, CUSTOMER, "id=\"opted-out\"");
    assert!(page.contains("id=\"opted-out\""), "{page}");
    assert!(
        page.contains("name=\"body\" rows=\"3\" required disabled"),
        "composer disabled: {page}"
    );
    let refused = post(
        &c,
        &format!("{path}/sms"),
        Some(&cookie),
        &[("csrf", &csrf(&page)), ("body", "hi")],
    );
    assert_eq!(refused.status, 409);
    assert!(twilio.take(0).is_empty(), "nothing was sent");
    inbound_text(&c, CUSTOMER, "SMs3", "start");
    let page = page_eventually(&c, &cookie, CUSTOMER, "Opted back in");
    assert!(!page.contains("id=\"opted-out\""));

    // Twilio refuses a number that opted out elsewhere: 21610 records the opt-out.
    let other = "+15146300999";
    twilio.unsubscribe(other);
    inbound_text(&c, other, "SMs4", "hello");
    let page = get(&c, &format!("/console/contacts/{other}"), Some(&cookie)).body;
    let failed = post(
        &c,
        &format!("/console/contacts/{other}/sms"),
        Some(&cookie),
        &[("csrf", &csrf(&page)), ("body", "hi")],
    );
    assert_eq!(failed.status, 502);
    assert!(failed.body.contains("error 21610"), "{}", failed.body);
    assert!(failed.body.contains("id=\"opted-out\""), "{}", failed.body);
}

#[test]
fn the_call_button_rings_the_agent_then_dials_the_contact() {
    let Opened {
        twilio,
        c,
        cookie,
        path,
        page,
    } = with_a_customer("call", "SMc1");
    let called = post(
        &c,
        &format!("{path}/call"),
        Some(&cookie),
        &[("csrf", &csrf(&page))],
    );
    assert_eq!(called.status, 303, "{called:?}");
    let created = twilio.take(1);
    assert_eq!(created.len(), 1);
    let call = &created[0];
    assert_eq!(call.resource, "Calls.json");
    assert_eq!(call.form["To"], AGENT);
    assert_eq!(call.form["From"], OURS);
    let twiml = roxmltree::Document::parse(&call.form["Twiml"]).expect("XML");
    let dial = twiml
        .descendants()
        .find(|n| n.has_tag_name("Dial"))
        .expect("a Dial");
    assert_eq!(dial.attribute("callerId"), Some(OURS));
    let action = dial.attribute("action").expect("an action");
    assert_eq!(
        action,
        format!("{}/twilio/dial-result?contact=%2B15146300808", c.base)
    );
    let number = dial
        .children()
        .find(|n| n.has_tag_name("Number"))
        .expect("a Number");
    assert_eq!(number.text(), Some(CUSTOMER));
    // The contact does not answer: the seed's "reply by text" moment.
    let url_path = action.trim_start_matches(&c.base);
    let result = webhook(
        &c,
        url_path,
        &[
            ("CallSid", &call.sid),
            ("DialCallSid", "CA2"),
            ("DialCallStatus", "no-answer"),
            ("From", OURS),
            ("To", AGENT),
        ],
    );
    assert_eq!(result.status, 200);
    assert!(result.body.contains("<Response/>"));
    let page = page_eventually(&c, &cookie, CUSTOMER, "no answer");
    assert!(
        page.contains("Agent&#39;s call: no answer") || page.contains("Agent's call: no answer"),
        "{page}"
    );
}

#[test]
fn contacts_come_by_last_activity_with_unread_badges() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "list");
    let cookie = login(&c);
    inbound_text(&c, CUSTOMER, "SMl1", "one");
    inbound_text(&c, CUSTOMER, "SMl2", "two");
    inbound_text(&c, "+447700900123", "SMl3", "hello from London");
    std::thread::sleep(Duration::from_millis(300));
    let list = get(&c, "/console/contacts", Some(&cookie)).body;
    assert!(list.starts_with("<!doctype html>"));
    assert!(
        list.contains("<title>(3) Contacts"),
        "unread total in the title: {list}"
    );
    let london = list.find("+447700900123").expect("listed");
    let customer = list.find(CUSTOMER).expect("listed");
    assert!(london < customer, "the latest first");
    assert!(list.contains("data-unread=\"2\""));
    // Opening the contact marks it read.
    get(&c, &format!("/console/contacts/{CUSTOMER}"), Some(&cookie));
    let list = get(&c, "/console/contacts", Some(&cookie)).body;
    assert!(list.contains("<title>(1) Contacts"), "{list}");
    let found = get(&c, "/console/contacts?q=London", Some(&cookie)).body;
    assert!(found.contains("+447700900123") && !found.contains(CUSTOMER));
}

/// The console of a server whose store is PostgreSQL: texts come in, the list orders and
/// counts them, opening a contact marks it read, the live feed carries new entries.
#[test]
fn the_console_works_on_a_postgresql_store() {
    let Some(url) = pg_server::database("console") else {
        return;
    };
    let twilio = FakeTwilio::start();
    let c = start_on(&twilio, "postgresql", &url);
    let cookie = login(&c);
    inbound_text(&c, CUSTOMER, "SMp1", "one");
    inbound_text(&c, "+447700900123", "SMp2", "hello from London");
    std::thread::sleep(Duration::from_millis(300));
    let list = get(&c, "/console/contacts", Some(&cookie)).body;
    assert!(list.contains("<title>(2) Contacts"), "{list}");
    let london = list.find("+447700900123").expect("listed");
    let customer = list.find(CUSTOMER).expect("listed");
    assert!(london < customer, "the latest first");
    let page = get(&c, &format!("/console/contacts/{CUSTOMER}"), Some(&cookie));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("one"), "{}", page.body);
    let list = get(&c, "/console/contacts", Some(&cookie)).body;
    assert!(list.contains("<title>(1) Contacts"), "{list}");
    let found = get(&c, "/console/contacts?q=london", Some(&cookie)).body;
    assert!(found.contains("+447700900123") && !found.contains(CUSTOMER));
    let fed = events(&c, &cookie, "?after=0", None, Duration::from_millis(1500));
    let texts = fed
        .iter()
        .filter(|(_, _, d)| d.contains("\"kind\":\"sms-in\""))
        .count();
    assert_eq!(texts, 2, "{fed:?}");
}

/// The Python of scripts/setup-python.sh with pymongo, or `None` (a failure under CI).
fn pymongo() -> Option<std::path::PathBuf> {
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    let works = Command::new(&python)
        .args(["-c", "import bson.json_util"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return Some(python);
    }
    let reason = "pymongo is not installed in target/py: run scripts/setup-python.sh";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{reason}");
    eprintln!("skipped: {reason}");
    None
}

/// Reads Extended JSON lines as mongoimport does and prints each document's `_type`, the
/// BSON types of its ids and time, and its fields.
const READ_EXTENDED_JSON: &str = r#"
import sys
from bson import json_util, ObjectId
import datetime
for line in sys.stdin:
    d = json_util.loads(line)
    ids = all(isinstance(d[k], ObjectId) for k in ("_id", "customer_id") if k in d)
    acc = isinstance(d.get("account_id"), ObjectId) or "account_id" not in d
    when = isinstance(d["created_at"], datetime.datetime)
    print(d["_type"], ids and acc, when, ",".join(sorted(k for k in d if not k.startswith("_"))))
"#;

#[test]
fn entries_export_as_talkdesk_documents_that_mongoimport_reads() {
    let Opened {
        twilio,
        c,
        cookie,
        path,
        page,
    } = with_a_customer("export", "SMe1");
    assert_eq!(
        post(
            &c,
            &format!("{path}/notes"),
            Some(&cookie),
            &[("csrf", &csrf(&page)), ("note", "VIP")]
        )
        .status,
        303
    );
    assert_eq!(
        post(
            &c,
            &format!("{path}/sms"),
            Some(&cookie),
            &[("csrf", &csrf(&page)), ("body", "Later")]
        )
        .status,
        303
    );
    let sms = twilio.take(1);
    let form = [
        ("MessageSid", sms[0].sid.as_str()),
        ("MessageStatus", "delivered"),
        ("To", CUSTOMER),
        ("From", OURS),
    ];
    assert_eq!(webhook(&c, "/twilio/message-status", &form).status, 204);
    page_eventually(&c, &cookie, CUSTOMER, "data-status=\"delivered\"");
    let run = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["entries", "--export", "talkdesk", "--store"])
        .arg(&c.store)
        .output()
        .expect("ivrc entries runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines = String::from_utf8(run.stdout).expect("UTF-8");
    assert_eq!(
        lines.lines().count(),
        4,
        "text in, reply, note, text out (its status folded): {lines}"
    );
    let Some(python) = pymongo() else { return };
    let mut child = Command::new(python)
        .args(["-c", READ_EXTENDED_JSON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), lines.as_bytes())
        .expect("written");
    let out = child.wait_with_output().expect("python ran");
    assert!(out.status.success());
    let read = String::from_utf8(out.stdout).expect("UTF-8");
    let expected = [
        "SmsEntry True True account_id,body,created_at,customer_id,customer_phone_number,direction,flow,smssid,talkdesk_phone_number",
        "SmsEntry True True account_id,body,created_at,customer_id,customer_phone_number,direction,flow,smssid,talkdesk_phone_number",
        "NoteEntry True True body,created_at,customer_id,customer_phone_number,flow",
        "SmsEntry True True account_id,body,created_at,customer_id,customer_phone_number,direction,flow,smssid,status,talkdesk_phone_number",
    ];
    assert_eq!(read.lines().collect::<Vec<_>>(), expected, "{lines}");
    assert!(lines
        .lines()
        .last()
        .is_some_and(|l| l.contains("\"status\":\"delivered\"")));
}

#[test]
fn older_history_is_paged() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "older");
    let cookie = login(&c);
    // 30 texts, each answered by the flow: 60 rows, more than the 50 of a page.
    for i in 0..30 {
        inbound_text(
            &c,
            CUSTOMER,
            &format!("SMo{i}"),
            &format!("message number {i}"),
        );
    }
    let page = page_eventually(&c, &cookie, CUSTOMER, "message number 29");
    assert_eq!(page.matches("<li id=\"e").count(), 50, "the newest 50 rows");
    assert!(
        !page.contains("message number 4<"),
        "older rows wait for the next page"
    );
    let at = page
        .find("class=\"older\" href=\"")
        .expect("a Load older link")
        + 20;
    let href = page[at..at + page[at..].find('"').expect("end")].replace("&#38;", "&");
    let older = get(&c, &href, Some(&cookie)).body;
    assert_eq!(older.matches("<li id=\"e").count(), 10, "{href}");
    assert!(older.contains("message number 0<") && older.contains("message number 4<"));
    assert!(
        !older.contains("class=\"older\" href"),
        "the first page has nothing older"
    );
}

#[test]
fn the_runtimes_voicemails_play_in_the_console_for_agents_only() {
    let twilio = FakeTwilio::start();
    let c = start(&twilio, "recordings");
    // What `ivrc run --recordings DIR` leaves: a WAV file, and a voicemail entry naming it.
    let dir = recordings_of("recordings");
    let name = "1-4711_127.0.0.1-1.wav";
    let wav = dir.join(name);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).expect("a WAV file");
    for i in 0..8000 {
        let s = (f64::from(i) * 440.0 * std::f64::consts::TAU / 8000.0).sin();
        w.write_sample((s * 8000.0) as i16).expect("written");
    }
    w.finalize().expect("finished");
    let store = ivrc::store::Store::open_at(&ivrc::store::Location::File(c.store.clone().into()))
        .expect("the console's store");
    store
        .add(&ivrc::store::Entry {
            at_ms: 1_796_000_000_000,
            kind: ivrc::store::EntryKind::Voicemail,
            contact: CUSTOMER.into(),
            our_number: OURS.into(),
            flow: "voicemail".into(),
            sid: "1-4711@127.0.0.1".into(),
            body: Some("1".into()),
            url: Some(wav.display().to_string()),
        })
        .expect("added");
    let cookie = login(&c);
    let src = format!("/console/recordings/{name}");
    let page = page_eventually(&c, &cookie, CUSTOMER, "Voicemail, 1 s");
    assert!(
        page.contains(&format!(
            "<audio controls preload=\"none\" src=\"{src}\"></audio>"
        )),
        "{page}"
    );
    let fetch = |path: &str, cookie: Option<&str>| {
        let mut req = agent().get(&format!("{}{path}", c.console));
        if let Some(cookie) = cookie {
            req = req.set("Cookie", cookie);
        }
        match req.call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                let (status, kind) = (r.status(), r.content_type().to_string());
                let mut bytes = Vec::new();
                r.into_reader().read_to_end(&mut bytes).expect("the body");
                (status, kind, bytes)
            }
            Err(e) => panic!("{e}"),
        }
    };
    let (status, kind, bytes) = fetch(&src, Some(&cookie));
    assert_eq!((status, kind.as_str()), (200, "audio/wav"));
    assert_eq!(
        bytes,
        std::fs::read(&wav).expect("the file"),
        "the file as written"
    );
    // Not without a session; nothing outside the directory or not the runtime's.
    assert_eq!(fetch(&src, None).0, 303, "to the login page");
    for bad in [
        "..%2Fsecret.wav",
        "%2Fetc%2Fpasswd",
        "x.mp3",
        "no-such-file.wav",
    ] {
        let (status, _, _) = fetch(&format!("/console/recordings/{bad}"), Some(&cookie));
        assert_eq!(status, 404, "{bad}");
    }
}

//! `ivrc serve --campaign`: the campaign dialer places its calls through a strict fake of
//! Twilio's REST API on loopback, which plays each call it is asked for the way Twilio would —
//! the walker runs the TwiML the server answers with the inputs of the lead's `test` block,
//! posting the webhooks and status callbacks back to the server — and logs every request it
//! got. What a real Twilio would refuse (a parameter it does not know, a number not in E.164,
//! a relative URL, wrong credentials) it refuses with its 4xx and the test fails.

use super::common::mock::{percent_decode, Mock, Request};
use super::walker::{walk, Placed};
use super::{free_port, start_server, Server};
use ivrc::ir;
use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const TOKEN: &str = "fa4e5b1c0d2a3f4b5c6d7e8f90a1b2c3";
const CALL_PARAMS: [&str; 10] = [
    "To",
    "From",
    "Url",
    "Method",
    "StatusCallback",
    "StatusCallbackMethod",
    "StatusCallbackEvent",
    "Timeout",
    "MachineDetection",
    "Record",
];

/// What the fake was asked and did.
#[derive(Default)]
struct Log {
    /// Every `Calls.json` request: when, and its form.
    creates: Vec<(Instant, Vec<(String, String)>)>,
    /// Why requests were refused (a 4xx a real Twilio would give; the tests want none).
    refused: Vec<String>,
    /// Requests to answer 429 before taking calls.
    throttle: usize,
    /// Calls played to their end.
    played: usize,
    /// A call the walker could not play (its panic).
    broken: Vec<String>,
    /// Every call taken: the lead's phone, when it was created and when it ended.
    calls: Vec<(String, Instant, Instant)>,
    /// What each call's parties heard and did, as the walker tells it, by the lead's phone.
    heard: Vec<(String, Vec<String>)>,
    /// Texts sent through `Messages.json`: to, body.
    sms: Vec<(String, String)>,
    /// Calls whose status callback is lost, by sid: what `GET Calls/{Sid}.json` says of them.
    lost: HashMap<String, &'static str>,
    /// `GET Calls/{Sid}.json` requests.
    lookups: usize,
}

/// The fake: the program its calls run, the test block each lead's phone plays (the rest
/// play `default`), the server the calls go to once it is up.
struct Fake {
    log: Mutex<Log>,
    program: ir::Program,
    scripts: HashMap<String, ir::Test>,
    default: Option<ir::Test>,
    server: Mutex<Option<Arc<Server>>>,
    mock: Mock,
    next: Mutex<usize>,
    /// How long each call rings before it is answered.
    ring: Duration,
    /// Leads whose calls go unanswered with their status callback lost: only `GET
    /// Calls/{Sid}.json` tells (`no-answer`).
    silent: Mutex<Vec<String>>,
}

/// A running fake of Twilio's REST API.
struct FakeTwilio {
    base: String,
    fake: Arc<Fake>,
}

impl FakeTwilio {
    fn start(
        program: ir::Program,
        scripts: HashMap<String, ir::Test>,
        default: Option<ir::Test>,
        throttle: usize,
        ring: Duration,
    ) -> FakeTwilio {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let fake = Arc::new(Fake {
            log: Mutex::new(Log {
                throttle,
                ..Log::default()
            }),
            program,
            scripts,
            default,
            server: Mutex::new(None),
            mock: Mock::start(0),
            next: Mutex::new(1000),
            ring,
            silent: Mutex::default(),
        });
        let shared = Arc::clone(&fake);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let fake = Arc::clone(&shared);
                std::thread::spawn(move || handle(stream, &fake));
            }
        });
        FakeTwilio { base, fake }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.fake.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode(&s.replace('+', " "));
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn e164(s: &str) -> bool {
    s.len() >= 8
        && s.len() <= 16
        && s.starts_with('+')
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Why Twilio would refuse this `Calls.json` form (its error code and message), if it would.
fn refusal(form: &[(String, String)], base: &str) -> Option<(u16, i64, String)> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    for (k, _) in form {
        if !CALL_PARAMS.contains(&k.as_str()) {
            return Some((400, 20001, format!("unknown parameter {k}")));
        }
    }
    for k in ["To", "From"] {
        match get(k) {
            Some(n) if e164(n) => {}
            other => {
                return Some((
                    400,
                    21211,
                    format!("{k} {other:?} is not a valid phone number"),
                ))
            }
        }
    }
    for k in ["Url", "StatusCallback"] {
        match get(k) {
            Some(u) if u.starts_with(base) => {}
            other => {
                return Some((
                    400,
                    21205,
                    format!("{k} {other:?} is not the server's absolute URL"),
                ))
            }
        }
    }
    if !matches!(get("Method"), Some("POST" | "GET")) || get("StatusCallbackMethod") != Some("POST")
    {
        return Some((400, 21209, "a method that is not GET or POST".into()));
    }
    let events = get("StatusCallbackEvent").unwrap_or_default();
    if !events
        .split(' ')
        .all(|e| matches!(e, "initiated" | "ringing" | "answered" | "completed"))
    {
        return Some((400, 21626, format!("StatusCallbackEvent {events:?}")));
    }
    if !get("Timeout").is_some_and(|t| t.parse::<u32>().is_ok_and(|t| (1..=600).contains(&t))) {
        return Some((400, 21210, "Timeout must be 1 to 600 seconds".into()));
    }
    if get("MachineDetection").is_some_and(|m| !matches!(m, "Enable" | "DetectMessageEnd")) {
        return Some((400, 21627, "MachineDetection".into()));
    }
    if get("Record").is_some_and(|r| !matches!(r, "true" | "false")) {
        return Some((400, 21628, "Record".into()));
    }
    None
}

fn respond(mut stream: TcpStream, status: u16, extra: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(stream: TcpStream, fake: &Arc<Fake>) {
    let Some(request) = Request::read(&stream) else {
        return;
    };
    let (method, path, body) = (
        request.method.as_str(),
        request.path.as_str(),
        &request.body,
    );
    let auth = request.header("authorization").unwrap_or_default();
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"))
    );
    let mut log = fake.log.lock().unwrap_or_else(|e| e.into_inner());
    if auth != expected {
        log.refused
            .push(format!("{method} {path}: wrong credentials"));
        return respond(
            stream,
            401,
            "",
            "{\"code\": 20003, \"message\": \"Authenticate\"}",
        );
    }
    let calls = format!("/2010-04-01/Accounts/{ACCOUNT}/Calls");
    if method == "POST" && path == format!("{calls}.json") {
        let f = form(body);
        log.creates.push((Instant::now(), f.clone()));
        if log.throttle > 0 {
            log.throttle -= 1;
            return respond(
                stream,
                429,
                "Retry-After: 1\r\n",
                "{\"code\": 20429, \"message\": \"Too Many Requests\"}",
            );
        }
        let base = fake.server.lock().unwrap().as_ref().map(|s| s.base.clone());
        if let Some((status, code, message)) =
            refusal(&f, base.as_deref().unwrap_or("http://127.0.0.1:"))
        {
            log.refused.push(message.clone());
            return respond(
                stream,
                status,
                "",
                &serde_json::json!({"code": code, "message": message}).to_string(),
            );
        }
        let n = {
            let mut next = fake.next.lock().unwrap();
            *next += 1;
            *next
        };
        let sid = format!("CA{n:032}");
        drop(log);
        respond(
            stream,
            201,
            "",
            &serde_json::json!({"sid": sid, "status": "queued", "account_sid": ACCOUNT})
                .to_string(),
        );
        let fake = Arc::clone(fake);
        std::thread::spawn(move || play(&fake, &f, n));
        return;
    }
    if method == "POST" && path == format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json") {
        let f = form(body);
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let known = f
            .iter()
            .all(|(k, _)| matches!(k.as_str(), "To" | "From" | "Body" | "StatusCallback"));
        let (to, from, text) = (get("To"), get("From"), get("Body"));
        if !known
            || !to.as_deref().is_some_and(e164)
            || !from.as_deref().is_some_and(e164)
            || text.as_deref().is_none_or(str::is_empty)
        {
            log.refused.push(format!("Messages.json {f:?}"));
            return respond(
                stream,
                400,
                "",
                "{\"code\": 21602, \"message\": \"Message body is required\"}",
            );
        }
        log.sms
            .push((to.unwrap_or_default(), text.unwrap_or_default()));
        return respond(
            stream,
            201,
            "",
            "{\"sid\": \"SM00000000000000000000000000000001\", \"status\": \"queued\"}",
        );
    }
    // Looking a call up, or ending it: answered as Twilio would, logged as refused otherwise.
    if path.starts_with(&format!("{calls}/")) && path.ends_with(".json") {
        let sid = &path[calls.len() + 1..path.len() - 5];
        if method == "GET" {
            log.lookups += 1;
        }
        if let Some(status) = log.lost.get(sid) {
            let body = serde_json::json!({"sid": sid, "status": status}).to_string();
            return respond(stream, 200, "", &body);
        }
        return respond(
            stream,
            200,
            "",
            &serde_json::json!({"sid": sid, "status": "completed"}).to_string(),
        );
    }
    log.refused
        .push(format!("{method} {path}: not an API this fake knows"));
    respond(
        stream,
        404,
        "",
        "{\"code\": 20404, \"message\": \"Not Found\"}",
    );
}

/// Plays one placed call: the walker runs the lead's test block through the server.
fn play(fake: &Fake, f: &[(String, String)], n: usize) {
    let created = Instant::now();
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let server = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = fake.server.lock().unwrap().clone() {
                break s;
            }
            assert!(Instant::now() < deadline, "the server never came up");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let url = get("Url");
    let (path, query) = url[server.base.len()..]
        .split_once('?')
        .unwrap_or((&url[server.base.len()..], ""));
    let params: Vec<(String, String)> = form(query);
    let phone = params
        .iter()
        .find(|(k, _)| k == "phone")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if fake.silent.lock().unwrap().contains(&phone) {
        // It rings out; the status callback never reaches the server.
        let mut log = fake.log.lock().unwrap();
        log.lost.insert(format!("CA{n:032}"), "no-answer");
        log.calls.push((phone, created, Instant::now()));
        return;
    }
    let Some(test) = fake.scripts.get(&phone).or(fake.default.as_ref()).cloned() else {
        fake.log
            .lock()
            .unwrap()
            .broken
            .push(format!("no script for lead {phone}"));
        return;
    };
    let flow = fake
        .program
        .flows
        .iter()
        .find(|fl| fl.name == test.flow)
        .expect("the flow");
    let first_dial = (!flow.uses_caller()).then(|| {
        (
            get("To"),
            get("Timeout").parse::<u64>().unwrap_or(60) * 1000,
        )
    });
    let mut test = test;
    if first_dial.is_none() {
        // The walker calls the test's number: here the one this call went to.
        test.from = Some(get("To"));
    }
    let placed = Placed {
        path: path.to_string(),
        params,
        first_dial,
    };
    std::thread::sleep(fake.ring);
    let played = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (heard, docs) = walk(&server, &fake.mock, &test.flow, &test, Some(&placed), n);
        // Twilio fetches what a document plays from the server.
        for url in heard
            .iter()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with(&server.base)))
        {
            let got = super::agent()
                .get(url)
                .call()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(
                got.content_type().starts_with("audio/"),
                "{url}: {}",
                got.content_type()
            );
        }
        (heard, docs)
    }));
    let mut log = fake.log.lock().unwrap();
    // A webhook that fails ends the call at Twilio too (its "application error").
    log.calls.push((phone.clone(), created, Instant::now()));
    match played {
        Ok((heard, _)) => {
            log.played += 1;
            log.heard.push((phone, heard));
        }
        Err(e) => log.broken.push(format!(
            "{phone}: {}",
            e.downcast_ref::<String>().cloned().unwrap_or_default()
        )),
    }
}

/// The program of `file`, compiled by the binary (as the walker's tests read it).
fn program_of(file: &str) -> ir::Program {
    let ir = super::common::ivrc(&["build", file, "--target", "ir"]);
    assert_eq!(ir.code, 0, "{}", ir.stderr);
    serde_json::from_str(&ir.stdout).expect("IR")
}

/// Runs `ivrc serve FILE --campaign NAME` with `leads` against the fake until the campaign
/// ends; the results file's leads.
fn run_campaign(
    name: &str,
    file: &str,
    campaign: &str,
    leads: &str,
    twilio: &FakeTwilio,
) -> Vec<serde_json::Value> {
    let dir = scratch(name, leads);
    let child = start_campaign(&dir, file, campaign, twilio, &[]);
    let results = finish_campaign(child, &dir, twilio);
    let log = twilio.log();
    assert!(
        log.broken.is_empty(),
        "calls that could not be played: {:?}",
        log.broken
    );
    results
}

/// A fresh directory for a campaign run, with its leads file.
fn scratch(name: &str, leads: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("twilio-campaign-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    std::fs::write(dir.join("leads.csv"), leads).expect("leads written");
    dir
}

/// Starts `ivrc serve FILE --campaign NAME` on the store, leads and results in `dir`.
fn start_campaign(
    dir: &std::path::Path,
    file: &str,
    campaign: &str,
    twilio: &FakeTwilio,
    more: &[&str],
) -> std::process::Child {
    let leads_file = dir.join("leads.csv");
    let results = dir.join("results.json");
    let store = dir.join("store.db").display().to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let envs = [
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_API_BASE", twilio.base.as_str()),
    ];
    let extra = [
        "--campaign",
        campaign,
        "--leads",
        &leads_file.display().to_string(),
        "--results",
        &results.display().to_string(),
        "--time-scale",
        "600",
    ]
    .map(String::from);
    let mut extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    extra.extend(more);
    let child = start_server(&[file], &envs, port, &base, &store, &extra);
    *twilio.fake.server.lock().unwrap() = Some(Arc::new(Server {
        children: Vec::new(),
        front: None,
        base: base.clone(),
        token: Some(TOKEN.to_string()),
        store: store.clone(),
    }));
    child
}

/// Waits up to 90 s for the campaign to end; the results file's leads.
fn finish_campaign(
    mut child: std::process::Child,
    dir: &std::path::Path,
    twilio: &FakeTwilio,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().expect("waits") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let log = twilio.log();
            panic!(
                "the campaign did not end in 90 s; placed {}, played {}, broken {:?}, refused {:?}",
                log.creates.len(),
                log.played,
                log.broken,
                log.refused
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "ivrc serve --campaign exited with {status}"
    );
    let log = twilio.log();
    assert!(
        log.refused.is_empty(),
        "Twilio would refuse: {:?}",
        log.refused
    );
    let text = std::fs::read_to_string(dir.join("results.json")).expect("the results file");
    serde_json::from_str::<Vec<serde_json::Value>>(&text).expect("results JSON")
}

/// The test blocks of `file`, by name.
fn test_named<'a>(program: &'a ir::Program, name: &str) -> &'a ir::Test {
    program
        .tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test \"{name}\""))
}

#[test]
fn the_callback_campaign_runs_through_twilio_operator_first_then_the_client() {
    let program = program_of("examples/callback.test.ivr");
    // Two leads, each playing a test block of the example: both agree; the operator is busy
    // on every attempt.
    let agree = test_named(&program, "both agree: bridge, then report ok").clone();
    let busy = test_named(&program, "the operator is busy").clone();
    let scripts = HashMap::from([
        ("+79001110001".to_string(), agree),
        ("+79001110002".to_string(), busy),
    ]);
    let twilio = FakeTwilio::start(program, scripts, None, 0, Duration::ZERO);
    let leads = "name;product;phone\nИван;чайник;+79001110001\nМария;утюг;+79001110002\n";
    let results = run_campaign(
        "callback",
        "examples/callback.ivr",
        "shop_callback",
        leads,
        &twilio,
    );
    let by_phone = |p: &str| {
        results
            .iter()
            .find(|r| r["params"]["phone"] == p)
            .unwrap_or_else(|| panic!("no result for {p}: {results:#?}"))
            .clone()
    };
    let agreed = by_phone("+79001110001");
    assert_eq!(agreed["state"], "done", "{agreed:#}");
    assert_eq!(agreed["attempts"], 1, "{agreed:#}");
    let busy = by_phone("+79001110002");
    assert_eq!(busy["state"], "failed", "{busy:#}");
    assert_eq!(
        busy["attempts"], 4,
        "every attempt the campaign allows: {busy:#}"
    );
    let log = twilio.log();
    // The operator is called first, from the flow's caller id, for every attempt.
    assert_eq!(log.creates.len(), 5);
    for (_, f) in &log.creates {
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("To"), Some("+74950000000"));
        assert_eq!(get("From"), Some("+74950000001"));
        assert_eq!(get("Timeout"), Some("30"));
        assert_eq!(
            get("StatusCallbackEvent"),
            Some("initiated ringing answered completed")
        );
    }
}

#[test]
fn the_rate_holds_through_throttling_and_every_lead_is_called_once() {
    let program = program_of("tests/fixtures/twilio/campaign_rate.ivr");
    let answers = program.tests.first().expect("a test block").clone();
    let twilio = FakeTwilio::start(program, HashMap::new(), Some(answers), 3, Duration::ZERO);
    let mut leads = String::from("name;phone\n");
    for i in 0..15 {
        leads.push_str(&format!("Лид {i};+7900222{i:04}\n"));
    }
    let results = run_campaign(
        "rate",
        "tests/fixtures/twilio/campaign_rate.ivr",
        "rated",
        &leads,
        &twilio,
    );
    assert_eq!(results.len(), 15);
    assert!(
        results
            .iter()
            .all(|r| r["state"] == "done" && r["attempts"] == 1),
        "{results:#?}"
    );
    let log = twilio.log();
    // 15 calls and the 3 requests refused with 429, retried after Retry-After.
    assert_eq!(log.creates.len(), 18);
    let times: Vec<Instant> = log.creates.iter().map(|(t, _)| *t).collect();
    let busiest = times
        .iter()
        .map(|t| {
            times
                .iter()
                .filter(|u| **u >= *t && **u < *t + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(busiest <= 4, "{busiest} requests in one second at 3/s");
    let mut called: Vec<&str> = log
        .creates
        .iter()
        .filter_map(|(_, f)| f.iter().find(|(k, _)| k == "To").map(|(_, v)| v.as_str()))
        .collect();
    called.sort_unstable();
    called.dedup();
    assert_eq!(called.len(), 15);
    assert_eq!(log.played, 15);
}

#[test]
fn a_killed_server_resumes_its_campaign_and_no_lead_is_called_twice_at_once() {
    let program = program_of("tests/fixtures/twilio/campaign_rate.ivr");
    let answers = program.tests.first().expect("a test block").clone();
    // Each call rings for a second: four are under way when the server is killed.
    let twilio = FakeTwilio::start(
        program,
        HashMap::new(),
        Some(answers),
        0,
        Duration::from_secs(1),
    );
    let mut leads = String::from("name;phone\n");
    for i in 0..12 {
        leads.push_str(&format!("Лид {i};+7900333{i:04}\n"));
    }
    let dir = scratch("crash", &leads);
    let file = "tests/fixtures/twilio/campaign_rate.ivr";
    let lease = ["--campaign-lease", "3"];
    let mut first = start_campaign(&dir, file, "resumed", &twilio, &lease);
    let deadline = Instant::now() + Duration::from_secs(20);
    while twilio.log().creates.len() < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let second = start_campaign(&dir, file, "resumed", &twilio, &lease);
    let results = finish_campaign(second, &dir, &twilio);
    // No lead lost: every one done.
    assert_eq!(results.len(), 12);
    assert!(results.iter().all(|r| r["state"] == "done"), "{results:#?}");
    // The calls cut off by the kill were counted: their leads needed another attempt.
    let cut = results.iter().filter(|r| r["attempts"] == 2).count();
    assert!(cut > 0, "calls were under way at the kill: {results:#?}");
    assert!(
        results.iter().all(|r| r["attempts"].as_u64() <= Some(2)),
        "{results:#?}"
    );
    let log = twilio.log();
    // From the fake's log: a lead's calls never overlap — one cut off by the kill had ended
    // (its next webhook failed) before the lead was called again.
    let mut by_lead: HashMap<&str, Vec<(Instant, Instant)>> = HashMap::new();
    for (phone, from, to) in &log.calls {
        by_lead
            .entry(phone.as_str())
            .or_default()
            .push((*from, *to));
    }
    for (phone, mut calls) in by_lead {
        calls.sort();
        for pair in calls.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{phone}: two calls at once");
        }
    }
    assert_eq!(log.creates.len(), log.calls.len(), "every call taken ended");
    assert_eq!(
        log.broken.len(),
        cut,
        "only the calls cut off by the kill broke: {:?}",
        log.broken
    );
}

#[test]
fn the_promo_robocall_runs_through_twilio_with_its_records_texts_and_block_list() {
    let program = program_of("examples/promo.test.ivr");
    let scripts = HashMap::from([
        (
            "+79004440000".to_string(),
            test_named(&program, "0 plays the second record").clone(),
        ),
        (
            "+79004440002".to_string(),
            test_named(&program, "2 sends the SMS").clone(),
        ),
        (
            "+79004440003".to_string(),
            test_named(&program, "3 blacklists the number").clone(),
        ),
    ]);
    let twilio = FakeTwilio::start(program, scripts, None, 0, Duration::ZERO);
    let leads =
        "name;phone;bonus\nАнна;+79004440000;21\nПётр;+79004440002;300\nОля;+79004440003;5\n";
    let dir = scratch("promo", leads);
    // The platform's records as files (what `play record ID` plays).
    let records = dir.join("records");
    std::fs::create_dir_all(&records).expect("a records directory");
    for id in [1_484_915, 1_460_168] {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w =
            hound::WavWriter::create(records.join(format!("{id}.wav")), spec).expect("a WAV");
        for i in 0..800 {
            w.write_sample(((i % 40) * 400) as i16).expect("written");
        }
        w.finalize().expect("finished");
    }
    let with_records = ["--records", records.to_str().expect("a path")];
    let child = start_campaign(
        &dir,
        "examples/promo.ivr",
        "promo_run",
        &twilio,
        &with_records,
    );
    let base = twilio
        .fake
        .server
        .lock()
        .unwrap()
        .as_ref()
        .map(|s| s.base.clone())
        .expect("the server");
    let results = finish_campaign(child, &dir, &twilio);
    assert_eq!(results.len(), 3, "{results:#?}");
    let log = twilio.log();
    assert!(log.broken.is_empty(), "{:?}", log.broken);
    let heard = |phone: &str| {
        log.heard
            .iter()
            .find(|(p, _)| p == phone)
            .map(|(_, h)| h.join("\n"))
            .unwrap_or_else(|| panic!("no call to {phone}"))
    };
    // The records play from the server's /records/ID.wav (which the fake fetched).
    let first = format!("{base}/records/1484915.wav");
    let second = format!("{base}/records/1460168.wav");
    assert!(
        heard("+79004440000").contains(&first),
        "{}",
        heard("+79004440000")
    );
    assert!(
        heard("+79004440000").contains(&second),
        "{}",
        heard("+79004440000")
    );
    // The SMS went through the REST API, from the flow's caller id's account, plural right.
    assert_eq!(
        log.sms,
        [(
            "+79004440002".to_string(),
            "Привет, это Толик! Вам начислено 300 бонусов.".to_string()
        )]
    );
    drop(log);
    // The lead who pressed 3 is on the block list: a later run does not call them.
    let before = twilio.log().creates.len();
    // The same store, the leads file grown by a row with the blocked number.
    let again = scratch(
        "promo-again",
        &format!("{leads}Оля снова;+7 900 444-00-03;5\n"),
    );
    for f in ["store.db", "store.db-wal", "store.db-shm"] {
        let _ = std::fs::copy(dir.join(f), again.join(f));
    }
    let child = start_campaign(
        &again,
        "examples/promo.ivr",
        "promo_run",
        &twilio,
        &with_records,
    );
    let results = finish_campaign(child, &again, &twilio);
    assert_eq!(
        results.len(),
        4,
        "the store's campaign and the new row: {results:#?}"
    );
    let new = results
        .iter()
        .find(|r| r["line"] == 5)
        .expect("the new row");
    assert_eq!(
        (&new["state"], &new["outcome"]),
        (&serde_json::json!("failed"), &serde_json::json!("blocked")),
        "{new:#}"
    );
    assert_eq!(
        twilio.log().creates.len(),
        before,
        "the blocked number was not called"
    );
}

#[test]
fn a_lost_status_callback_is_settled_by_asking_twilio() {
    let program = program_of("tests/fixtures/twilio/campaign_rate.ivr");
    let answers = program.tests.first().expect("a test block").clone();
    let twilio = FakeTwilio::start(program, HashMap::new(), Some(answers), 0, Duration::ZERO);
    *twilio.fake.silent.lock().unwrap() = vec!["+79005550001".into()];
    let dir = scratch("lost", "name;phone\nАнна;+79005550001\nПётр;+79005550002\n");
    let file = "tests/fixtures/twilio/campaign_rate.ivr";
    let child = start_campaign(&dir, file, "rated", &twilio, &["--status-check", "1"]);
    let results = finish_campaign(child, &dir, &twilio);
    let of = |phone: &str| {
        results
            .iter()
            .find(|r| r["params"]["phone"] == phone)
            .cloned()
            .expect("a result")
    };
    let lost = of("+79005550001");
    assert_eq!(
        (&lost["state"], &lost["outcome"]),
        (
            &serde_json::json!("failed"),
            &serde_json::json!("no_answer")
        ),
        "{lost:#}"
    );
    assert_eq!(of("+79005550002")["state"], "done");
    assert!(twilio.log().lookups >= 1, "Twilio was asked");
}

//! `ivrc serve` against an independent client: the real binary listens on 127.0.0.1, and a
//! client that walks TwiML the way Twilio does (`walker`: HTTP by ureq, XML by roxmltree)
//! plays the inputs of every `test` block, with a loopback mock as the CRM that `fetch` asks
//! and as Twilio's REST API for texts (`common::mock`). What the caller hears, what is
//! dialled and texted must be what the engine does for the same inputs (a differential
//! test); every served document is rebuilt with the official twilio npm package and must
//! match (`typings`). Bad requests get a 4xx and the server keeps serving.

mod build;
mod campaign;
#[path = "../common/mod.rs"]
mod common;
mod nginx;
#[path = "../pg_server/mod.rs"]
mod pg_server;
mod turns;
mod typings;
mod walker;

use common::mock::Mock;
use common::{ivr_files, ivrc};
use ivrc::ir;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use typings::same_as_the_twilio_library;
use walker::{walk, Placed};

/// Twilio's auth token in these tests (every request is signed with it).
const TOKEN: &str = "2bd9e9638872de601313dc77410d3b23";
/// The port of the mock CRM, fixed because tests/fixtures/twilio/crm.ivr names it.
const CRM_PORT: u16 = 18777;

/// A running `ivrc serve` — or several sharing one PostgreSQL store behind nginx — killed
/// when dropped.
pub struct Server {
    children: Vec<Child>,
    /// The load balancer in front of several servers.
    front: Option<nginx::Front>,
    /// `http://127.0.0.1:PORT`, also its `--base-url`.
    pub base: String,
    /// The auth token it checks signatures with, if any.
    token: Option<String>,
    /// Its store, as `--store` takes it: a SQLite file or a `postgresql://` URL.
    store: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// Its store, opened.
    fn open_store(&self) -> ivrc::store::Store {
        let location: ivrc::store::Location = self.store.parse().expect("a store location");
        ivrc::store::Store::open_at(&location).expect("the entries store")
    }
}

/// A free loopback TCP port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `ivrc serve` on a free loopback port, with that address as its `--base-url` (so
/// that signatures over its URLs can be checked) and these environment variables.
fn serve(files: &[&str], envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let store =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("entries-{port}.db"));
    let _ = std::fs::remove_file(&store);
    let store = store.display().to_string();
    let child = start_server(files, envs, port, &base, &store, &[]);
    Server {
        children: vec![child],
        front: None,
        token: token_of(envs),
        base,
        store,
    }
}

/// Starts two `ivrc serve` on free loopback ports sharing the PostgreSQL store at `url` and
/// one IVRC_STATE_KEY, behind nginx, whose address is their `--base-url`: each request of a
/// call goes to the other server than the one before.
fn serve_pair(files: &[&str], envs: &[(&str, &str)], url: &str, name: &str) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut envs = envs.to_vec();
    envs.push(("IVRC_STATE_KEY", "a state key both servers share"));
    let ports = [free_port(), free_port()];
    let children = ports
        .iter()
        .map(|p| start_server(files, &envs, *p, &base, url, &[]))
        .collect();
    let upstreams: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("nginx-{name}"));
    Server {
        children,
        front: Some(nginx::start(&dir, port, &upstreams)),
        token: token_of(&envs),
        base,
        store: url.to_string(),
    }
}

/// The TWILIO_AUTH_TOKEN among `envs`.
fn token_of(envs: &[(&str, &str)]) -> Option<String> {
    envs.iter()
        .find(|(k, _)| *k == "TWILIO_AUTH_TOKEN")
        .map(|(_, v)| v.to_string())
}

/// Starts one `ivrc serve` of `files` on 127.0.0.1:`port` with `--base-url base` and
/// `--store store`, and waits for its first line.
fn start_server(
    files: &[&str],
    envs: &[(&str, &str)],
    port: u16,
    base: &str,
    store: &str,
    extra: &[&str],
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivrc"));
    cmd.arg("serve")
        .args(files)
        .args(extra)
        .args(["--store", store])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--base-url", base])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TWILIO_AUTH_TOKEN")
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("IVRC_STATE_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("ivrc serve starts");
    let line = first_line(&mut child);
    assert!(
        line.starts_with("listening on "),
        "unexpected first line: {line}"
    );
    child
}

/// The server's first line of output; the rest is drained so the server never blocks.
fn first_line(child: &mut Child) -> String {
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .expect("the server prints its address");
    std::thread::spawn(move || {
        let mut rest = String::new();
        while reader.read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    });
    line
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(10))
        .build()
}

/// POSTs a form; returns the status and the body.
fn post(agent: &ureq::Agent, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    answer(agent.post(url).send_form(form), url)
}

/// POSTs a form signed as Twilio signs it when the server checks signatures.
fn signed_post(
    agent: &ureq::Agent,
    server: &Server,
    url: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let mut request = agent.post(url);
    if let Some(token) = &server.token {
        request = request.set("X-Twilio-Signature", &sign(token, url, form));
    }
    answer(request.send_form(form), url)
}

fn answer(r: Result<ureq::Response, ureq::Error>, url: &str) -> (u16, String) {
    match r {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("request to {url} failed: {e}"),
    }
}

/// The engine's `report`s for a test's inputs, as the server writes them
/// (`{"ok", "data", "reason"}`).
fn engine_report_values(program: &ir::Program, test: &ir::Test) -> Vec<serde_json::Value> {
    let call = ivrc::testing::play_inputs(program, test)
        .unwrap_or_else(|f| panic!("test \"{}\": {} ({})", test.name, f.expected, f.actual));
    call.log
        .iter()
        .filter_map(|l| match &l.output.command {
            ivrc::engine::Command::Report { ok, data, reason } => {
                let data: serde_json::Map<String, serde_json::Value> =
                    data.iter().cloned().collect();
                Some(serde_json::json!({ "ok": ok, "data": data, "reason": reason }))
            }
            _ => None,
        })
        .collect()
}

/// What the engine does for the same inputs, in the walker's words: what a TwiML call leg
/// shows (prompts, dials, bridges, transfers, the end), without the leg names TwiML lacks.
fn engine_transcript(program: &ir::Program, test: &ir::Test) -> Vec<String> {
    use ivrc::engine::Command as C;
    let keep = |c: &C| {
        matches!(
            c,
            C::Say { .. }
                | C::Play { .. }
                | C::Dial { .. }
                | C::Bridge { .. }
                | C::Transfer { .. }
                | C::Sms { .. }
                | C::End
        )
    };
    common::engine_lines(program, test, keep)
        .into_iter()
        .map(|line| match line.split_once(" as ") {
            Some((dial, _)) if line.starts_with("dial ") => dial.to_string(),
            _ => line,
        })
        .collect()
}

/// What the CRM received for the courier test (call `n`): the GET's query, then the POST's
/// JSON body, with the flow's values.
fn crm_received_the_flow_values(requests: &[(String, String, String)], n: usize) {
    let sid = format!("CA{n:032}");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].0, "GET");
    assert_eq!(
        requests[0].1,
        format!("/ivr?cdr_id={sid}&numa=%2B79161234567")
    );
    assert_eq!(requests[1].0, "POST");
    let body: serde_json::Value = serde_json::from_str(&requests[1].2).expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({ "cdr_id": sid, "input_result": "10452" })
    );
}

/// Runs `ivrc entries` (`args`) until its output shows what `ready` waits for, at most for 5 s:
/// the server's writer thread commits entries just after it answers.
fn entries_when(args: &[&str], ready: fn(&str) -> bool) -> common::Run {
    let mut run = ivrc(args);
    for _ in 0..50 {
        if ready(&run.stdout) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        run = ivrc(args);
    }
    run
}

/// Every interaction of the sms_reply tests is an entry of the customer's timeline, which
/// `ivrc entries` prints: the inbound text and its reply, the calls, the text after the
/// missed call.
fn timeline_of_the_talkdesk_customer(server: &Server) {
    let store = server.store.clone();
    let args = [
        "entries",
        "--contact",
        "+1 514 630 0808",
        "--store",
        &store,
        "--format",
        "json",
    ];
    let run = entries_when(&args, |out| out.matches("\"kind\"").count() >= 7);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON entries");
    let seen: Vec<(String, String)> = entries
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["body"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected = [
        ("sms_in", "Please call me back"),
        (
            "sms_out",
            "Thanks for your message! An agent will call you back shortly.",
        ),
        ("call", ""),
        (
            "sms_out",
            "Sorry we missed your call. We will call you back soon.",
        ),
        ("call_ended", "completed"),
        ("call", ""),
        ("call_ended", "completed"),
    ];
    assert_eq!(
        seen,
        expected
            .map(|(k, b)| (k.to_string(), b.to_string()))
            .to_vec(),
        "{}",
        run.stdout
    );
    assert!(entries
        .as_array()
        .is_some_and(|a| a.iter().all(|e| e["contact"] == "+15146300808")));
    let human = ivrc(&["entries", "--contact", "+15146300808", "--store", &store]);
    assert!(
        human
            .stdout
            .contains("sms from contact: \"Please call me back\""),
        "{}",
        human.stdout
    );
}

/// A test's literal parameter value as the text a webhook URL carries.
fn literal(e: &ir::Expr) -> String {
    match e {
        ir::Expr::Number { value } => value.to_string(),
        ir::Expr::Phone { value } => value.clone(),
        ir::Expr::Bool { value } => value.to_string(),
        ir::Expr::Text { template } => template
            .fixed_text()
            .expect("a test parameter's text has no values"),
        other => panic!("a test parameter that is not a literal: {other:?}"),
    }
}

/// Each `report` of a campaign call placed at `/campaign/NAME` is POSTed to the campaign's
/// result webhook (the mock): ok or not, and the data or reason, as the engine reported.
fn results_reach_the_webhook(mock: &Mock, report: Option<serde_json::Value>) {
    let report = report.expect("a campaign test of these fixtures ends in a report");
    let results = mock.take_results(1);
    assert_eq!(results.len(), 1, "{results:?}");
    let posted: serde_json::Value = serde_json::from_str(&results[0]).expect("JSON result");
    assert_eq!(posted["ok"], report["ok"], "{posted} vs {report}");
    assert_eq!(posted["campaign"], "survey_calls");
    if report["ok"] == false {
        assert_eq!(posted["reason"], report["reason"], "{posted} vs {report}");
    }
}

/// The `report` entries of call `n` (whose party is `contact`) are what the engine reported
/// (waiting up to 5 s for the server's writer thread):
/// made in whichever request ran them — a party's step, the `<Dial>` action, the status
/// callback of a call that never connected, or of one that hung up (`on hangup`).
fn reports_are_the_engines(
    server: &Server,
    contact: &str,
    n: usize,
    expected: Vec<serde_json::Value>,
) {
    let sid = format!("CA{n:032}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let reports = loop {
        let store = server.open_store();
        let reports: Vec<serde_json::Value> = store
            .timeline(contact)
            .expect("a timeline")
            .into_iter()
            .filter(|e| e.sid == sid && e.kind == ivrc::store::EntryKind::Report)
            .map(|e| serde_json::from_str(e.body.as_deref().unwrap_or_default()).expect("JSON"))
            .collect();
        if reports.len() >= expected.len() || std::time::Instant::now() > deadline {
            break reports;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(reports, expected, "call {sid}");
}

/// A campaign call that never reached the flow — busy (the status callback says so) or
/// answered by a machine (`AnsweredBy`) — is reported to the result webhook as not done, and
/// the end of the call is an entry.
fn unreached_leads_are_reported(server: &Server, mock: &Mock) {
    let agent = agent();
    let status_url = format!("{}/campaign/survey_calls/status", server.base);
    let busy = [
        ("CallSid", "CA9"),
        ("CallStatus", "busy"),
        ("From", "+70000000000"),
        ("To", "+79161234567"),
        ("Direction", "outbound-api"),
    ];
    let (status, _) = signed_post(&agent, server, &status_url, &busy);
    assert_eq!(status, 204);
    let results = mock.take_results(1);
    let posted: serde_json::Value = serde_json::from_str(&results[0]).expect("JSON");
    assert_eq!(
        (posted["ok"].clone(), posted["reason"].clone()),
        (false.into(), "busy".into())
    );
    let url = format!(
        "{}/campaign/survey_calls?name=X&phone=%2B79161234567",
        server.base
    );
    let machine = [
        ("CallSid", "CA10"),
        ("From", "+70000000000"),
        ("To", "+79161234567"),
        ("Direction", "outbound-api"),
        ("AnsweredBy", "machine_start"),
    ];
    let (status, doc) = signed_post(&agent, server, &url, &machine);
    assert_eq!(status, 200);
    assert!(doc.ends_with("<Response><Hangup/></Response>\n"), "{doc}");
    let results = mock.take_results(1);
    let posted: serde_json::Value = serde_json::from_str(&results[0]).expect("JSON");
    assert_eq!(posted["reason"], "answering machine");
    // The lead's values as a user's scheduler sent them: a phone with separators is read as
    // the leads file is; one that the campaign's rules cannot read is reported with the
    // column and the value, and the call ends without a word.
    let spaced = format!(
        "{}/campaign/survey_calls?name=X&phone=%2B7%20(916)%20123-45-67",
        server.base
    );
    let answered = [
        ("CallSid", "CA11"),
        ("From", "+70000000000"),
        ("To", "+79161234567"),
        ("Direction", "outbound-api"),
    ];
    let (status, doc) = signed_post(&agent, server, &spaced, &answered);
    assert_eq!(status, 200);
    assert!(doc.contains("X, оцените наш сервис"), "{doc}");
    let local = format!(
        "{}/campaign/survey_calls?name=X&phone=89161234567",
        server.base
    );
    let answered = [
        ("CallSid", "CA12"),
        ("From", "+70000000000"),
        ("To", "+79161234567"),
        ("Direction", "outbound-api"),
    ];
    let (status, doc) = signed_post(&agent, server, &local, &answered);
    assert_eq!(status, 200);
    assert!(doc.ends_with("<Response><Hangup/></Response>\n"), "{doc}");
    let results = mock.take_results(1);
    let posted: serde_json::Value = serde_json::from_str(&results[0]).expect("JSON");
    assert_eq!(
        (posted["ok"].clone(), posted["reason"].clone()),
        (
            false.into(),
            "`89161234567` in column `phone` is not a valid phone number: a phone number in international form starts with `+` and a country code".into()
        )
    );
    let bad = [
        ("CallSid", "CA9"),
        ("CallStatus", "exploded"),
        ("From", "a"),
        ("To", "b"),
    ];
    assert_eq!(signed_post(&agent, server, &status_url, &bad).0, 400);
    let store = server.store.clone();
    let args = ["entries", "--contact", "+79161234567", "--store", &store];
    let run = entries_when(&args, |out| out.contains("call ended: busy"));
    assert!(run.stdout.contains("call ended: busy"), "{}", run.stdout);
}

/// A campaign call's `report` is an entry of the lead (the party the placed call talks to).
fn reports_are_entries_of_the_lead(server: &Server) {
    let store = server.store.clone();
    let args = [
        "entries",
        "--contact",
        "+79990000000",
        "--store",
        &store,
        "--format",
        "json",
    ];
    let run = entries_when(&args, |out| out.contains("\"report\""));
    let entries: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON entries");
    let reports: Vec<serde_json::Value> = entries
        .as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["kind"] == "report")
        .map(|e| serde_json::from_str(e["body"].as_str().unwrap_or_default()).expect("JSON"))
        .collect();
    assert!(
        reports.contains(
            &serde_json::json!({ "ok": true, "data": { "confirmed": true }, "reason": null })
        ),
        "{reports:?}"
    );
    assert!(
        reports.contains(
            &serde_json::json!({ "ok": false, "data": {}, "reason": "клиент не выбрал" })
        ),
        "{reports:?}"
    );
}

fn servable_files() -> Vec<String> {
    let mut files = vec![
        "examples/sum.test.ivr".to_string(),
        "examples/sms_reply.test.ivr".to_string(),
        "examples/robocall.test.ivr".to_string(),
        "examples/callback.test.ivr".to_string(),
    ];
    files.extend(ivr_files("tests/fixtures/twilio"));
    files
}

#[test]
fn served_calls_do_what_the_engine_does() {
    let (_turn, mock) = crm();
    let mut tally = Tally::default();
    for file in servable_files() {
        let server = serve(&[&file], &account(mock));
        compare_file(&file, &server, mock, &mut tally);
    }
    covered_everything(&tally);
}

/// The same calls served by two `ivrc serve` behind nginx, sharing a PostgreSQL store and
/// the state key: each request of a call goes to the other server, so a dialled party's step
/// continues, `<Dial>` actions and `on hangup` run from the state the other server kept, and
/// every entry lands in the one store.
#[test]
fn two_servers_sharing_postgresql_serve_calls_as_one() {
    let (_turn, mock) = crm();
    let mut tally = Tally::default();
    for (i, file) in servable_files().iter().enumerate() {
        let Some(url) = pg_server::database(&format!("serve_pair_{i}")) else {
            return;
        };
        let server = serve_pair(&[file], &account(mock), &url, &format!("pair-{i}"));
        compare_file(file, &server, mock, &mut tally);
        let front = server.front.as_ref().expect("nginx");
        let answered = front.answered_by("/");
        let both: std::collections::BTreeSet<&String> = answered.iter().collect();
        assert!(
            answered.len() < 2 || both.len() == 2,
            "{file}: nginx sent every request to one server: {answered:?}"
        );
    }
    covered_everything(&tally);
}

/// What comparing served calls with the engine counted.
#[derive(Default)]
struct Tally {
    /// Tests whose served call was compared.
    compared: usize,
    /// Side checks that ran (the CRM, results, timelines …).
    checks: usize,
    /// Calls whose reports were compared.
    reports: usize,
    /// The documents served.
    docs: Vec<String>,
}

/// Twilio's account as the servers of these tests see it: the mock's REST API.
fn account(mock: &Mock) -> [(&'static str, &str); 3] {
    [
        ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_API_BASE", mock.base.as_str()),
    ]
}

/// The mock CRM of tests/fixtures/twilio/crm.ivr (also Twilio's REST API), on its fixed port
/// for the whole test process; the tests that use it take turns.
fn crm() -> (std::sync::MutexGuard<'static, ()>, &'static Mock) {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static MOCK: std::sync::OnceLock<Mock> = std::sync::OnceLock::new();
    let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    (turn, MOCK.get_or_init(|| Mock::start(CRM_PORT)))
}

/// Walks every test block of `file` against `server` and compares each served call with the
/// engine's transcript and reports; the side checks of some files.
fn compare_file(file: &str, server: &Server, mock: &Mock, tally: &mut Tally) {
    let tests = ivrc(&["test", file]);
    assert_eq!(tests.code, 0, "{file}: {}{}", tests.stdout, tests.stderr);
    let ir = ivrc(&["build", file, "--target", "ir"]);
    assert_eq!(ir.code, 0, "{}", ir.stderr);
    let program: ir::Program = serde_json::from_str(&ir.stdout).expect("IR");
    for (n, test) in program.tests.iter().enumerate() {
        // A flow whose campaign dials the lead runs as a call placed through the REST
        // API, its parameters in the webhook URL: at the campaign's webhook when its
        // results go to the mock (not to a host outside), else at the flow's. A flow
        // without a caller runs as the call placed for its first dial, at its campaign's.
        let flow = program
            .flows
            .iter()
            .find(|f| f.name == test.flow)
            .expect("the test's flow");
        let dials_first = !flow.uses_caller();
        let params: Vec<(String, String)> = test
            .params
            .iter()
            .map(|(k, v)| (k.clone(), literal(v)))
            .collect();
        let placed = program
            .campaigns
            .iter()
            .find(|c| c.flow == test.flow && (c.dial.is_some() || dials_first))
            .map(|c| {
                let to_mock = c
                    .result_webhook
                    .as_deref()
                    .is_none_or(|u| u.starts_with(&mock.base));
                let first_dial = dials_first.then(|| {
                    match ivrc::engine::Engine::first_dial(flow, params.clone()) {
                        Some(ivrc::engine::Command::Dial {
                            number, timeout_ms, ..
                        }) => (number, timeout_ms),
                        other => panic!("{file}: no first dial: {other:?}"),
                    }
                });
                Placed {
                    path: if to_mock || dials_first {
                        format!("/campaign/{}", c.name)
                    } else {
                        format!("/voice/{}", c.flow)
                    },
                    params: params.clone(),
                    first_dial,
                }
            });
        let (served, served_docs) = walk(server, mock, &test.flow, test, placed.as_ref(), n);
        let texted = matches!(
            test.steps.first().map(|s| &s.kind),
            Some(ir::TestStepKind::ReceiveSms { .. })
        );
        if !texted {
            // The party of the call: the number its first dial called, else the caller
            // (or the lead a campaign called).
            let party = match placed.as_ref().and_then(|p| p.first_dial.as_ref()) {
                Some((number, _)) => number.clone(),
                None => test.from.clone().unwrap_or_else(|| "+79990000000".into()),
            };
            let expected = engine_report_values(&program, test);
            reports_are_the_engines(server, &party, n, expected);
            tally.reports += 1;
        }
        let posts_results = program.campaigns.iter().any(|c| {
            c.flow == test.flow
                && c.result_webhook
                    .as_deref()
                    .is_some_and(|u| u.starts_with(&mock.base))
        });
        if posts_results
            && placed
                .as_ref()
                .is_some_and(|p| p.path.starts_with("/campaign/"))
        {
            let first = engine_report_values(&program, test).into_iter().next();
            results_reach_the_webhook(mock, first);
            tally.checks += 1;
        }
        if std::env::var_os("IVRC_SHOW_WALKS").is_some() {
            eprintln!("{file}: {}\n  {}", test.name, served.join("\n  "));
        }
        tally.docs.extend(served_docs);
        let engine = engine_transcript(&program, test);
        // Texts sent during calls go through the REST API, after the answer; they are
        // compared in their own order.
        let is_sms = |l: &String| l.starts_with("sms to ");
        let (engine_sms, engine_rest): (Vec<String>, Vec<String>) =
            engine.into_iter().partition(is_sms);
        let (mut served_sms, served_rest): (Vec<String>, Vec<String>) =
            served.into_iter().partition(is_sms);
        let expected_rest_api = engine_sms.len().saturating_sub(served_sms.len());
        for (from, to, body) in mock.take_sms(expected_rest_api) {
            assert_eq!(from, "+70000000000", "texts come from the number called");
            served_sms.push(format!("sms to {to} \"{body}\""));
        }
        assert_eq!(
            (served_rest, served_sms),
            (engine_rest, engine_sms),
            "{file}: test \"{}\": the served call and the engine differ",
            test.name
        );
        let requests = mock.take_requests();
        if test.name == "a courier keys the order and reaches its operator" {
            crm_received_the_flow_values(&requests, n);
            tally.checks += 1;
        }
        tally.compared += 1;
    }
    match file {
        "examples/sms_reply.test.ivr" => timeline_of_the_talkdesk_customer(server),
        "examples/robocall.test.ivr" => reports_are_entries_of_the_lead(server),
        "tests/fixtures/twilio/survey.ivr" => unreached_leads_are_reported(server, mock),
        _ => return,
    }
    tally.checks += 1;
}

/// What every run of [`compare_file`] over the servable files must have covered.
fn covered_everything(tally: &Tally) {
    let Tally {
        compared,
        checks,
        reports,
        docs,
    } = tally;
    assert!(*compared >= 20, "only {compared} tests were compared");
    assert!(
        *reports >= 20,
        "the reports of only {reports} calls were compared"
    );
    // The CRM, the two campaign results, the timeline, the reports and the unreached leads.
    assert!(*checks >= 6, "only {checks} of the side checks ran");
    assert!(
        docs.len() >= 30,
        "only {} documents were served",
        docs.len()
    );
    // Dialled parties' steps (the callback flow's operator and client, the agent's whisper)
    // were served and ended both ways: connecting the parties, and hanging the party up.
    let steps = docs.iter().filter(|d| d.contains("<Number url=")).count();
    assert!(steps >= 6, "only {steps} dials with a <Number url> step");
    assert!(
        docs.iter()
            .any(|d| d.contains("<Response/>") || d.contains("<Response></Response>")),
        "no step connected its party"
    );
    same_as_the_twilio_library(docs, "served");
}

#[test]
fn flows_the_server_cannot_run_are_refused_before_it_starts() {
    let run = ivrc(&[
        "serve",
        "tests/fixtures/twilio_refused/parties.ivr",
        "--listen",
        "127.0.0.1:0",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON diagnostics");
    let codes = common::diagnostic_codes(&json);
    assert!(!codes.is_empty());
    assert!(
        codes
            .iter()
            .all(|c| *c == "ivrc::codegen::unsupported_by_target"),
        "{codes:?}"
    );
    // One refusal per flow, each naming what no document of the moment can carry out.
    for construct in [
        "`say` on `caller` while the document speaks to `agent`",
        "`dial` during the `<Number url>` step of `agent`",
        "`say` in `on hangup`",
    ] {
        assert!(
            run.stdout.contains(construct),
            "{construct}: {}",
            run.stdout
        );
    }
    assert_eq!(codes.len(), 3, "{}", run.stdout);
}

#[test]
fn bad_requests_get_a_4xx_and_the_server_keeps_serving() {
    let server = serve(&["examples/sum.ivr"], &[]);
    let agent = agent();
    let voice = format!("{}/voice/sum", server.base);
    let start = [
        ("CallSid", "CA1"),
        ("From", "+79001234567"),
        ("To", "+74950000000"),
    ];
    let (status, doc) = post(&agent, &voice, &start);
    assert_eq!(status, 200);
    let action = roxmltree::Document::parse(&doc)
        .ok()
        .and_then(|d| {
            d.descendants()
                .find(|n| n.has_tag_name("Gather"))
                .and_then(|g| g.attribute("action").map(str::to_string))
        })
        .expect("a gather with an action");
    let at = |path: &str| format!("{}{path}", server.base);
    // Missing and duplicated parameters.
    assert_eq!(post(&agent, &voice, &[("From", "+7900")]).0, 400);
    assert_eq!(
        post(
            &agent,
            &voice,
            &[
                ("CallSid", "A"),
                ("CallSid", "B"),
                ("From", "x"),
                ("To", "y")
            ]
        )
        .0,
        400
    );
    // An unknown flow.
    assert_eq!(post(&agent, &at("/voice/nope"), &start).0, 404);
    // Another call's state, a tampered state, garbage instead of a state.
    assert_eq!(
        post(&agent, &action, &[("CallSid", "CA2"), ("Digits", "1")]).0,
        400
    );
    let tampered = action.replacen("s=ey", "s=eZ", 1);
    assert_eq!(
        post(&agent, &tampered, &[("CallSid", "CA1"), ("Digits", "1")]).0,
        400
    );
    assert_eq!(
        post(&agent, &at("/voice/sum?s=abc.def"), &[("CallSid", "CA1")]).0,
        400
    );
    // A state replayed for what the call is not waiting for.
    assert_eq!(
        post(
            &agent,
            &action,
            &[("CallSid", "CA1"), ("DialCallStatus", "busy")]
        )
        .0,
        400
    );
    // Invalid UTF-8, a broken escape, a 10 MB body (the server answers 413 without reading
    // it all, so the client may not get to send it all).
    assert_eq!(huge_post(&server.base, "/voice/sum", 10 * 1024 * 1024), 413);
    let raw = |body: Vec<u8>| match agent
        .post(&voice)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_bytes(&body)
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(raw(b"CallSid=%FF&From=a&To=b".to_vec()), 400);
    assert_eq!(raw(b"CallSid=\xff&From=a&To=b".to_vec()), 400);
    assert_eq!(raw(b"CallSid=%F&From=a&To=b".to_vec()), 400);
    // Still serving, and the genuine state still works.
    assert_eq!(post(&agent, &voice, &start).0, 200);
    let (status, doc) = post(&agent, &action, &[("CallSid", "CA1"), ("Digits", "12")]);
    assert_eq!(status, 200);
    assert!(doc.contains("Введите второе число"), "{doc}");
}

#[test]
fn with_an_auth_token_only_signed_requests_are_served() {
    let token = "2bd9e9638872de601313dc77410d3b23";
    // Without --base-url the server refuses to start: signatures cover the public URL.
    let refused = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["serve", "examples/sum.ivr", "--listen", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TWILIO_AUTH_TOKEN", token)
        .output()
        .expect("ivrc runs");
    assert_eq!(refused.status.code(), Some(2));
    let envs = [
        ("TWILIO_AUTH_TOKEN", token),
        ("IVRC_STATE_KEY", "a key of at least sixteen characters"),
    ];
    let server = serve(&["examples/sum.ivr"], &envs);
    let agent = agent();
    let url = format!("{}/voice/sum", server.base);
    let form = [
        ("CallSid", "CA1"),
        ("From", "+79001234567"),
        ("To", "+74950000000"),
    ];
    assert_eq!(post(&agent, &url, &form).0, 403);
    let signature = sign(token, &url, &form);
    let signed = agent
        .post(&url)
        .set("X-Twilio-Signature", &signature)
        .send_form(&form);
    assert_eq!(signed.map(|r| r.status()).unwrap_or(0), 200);
    let forged = agent
        .post(&url)
        .set("X-Twilio-Signature", &signature)
        .send_form(&[
            ("CallSid", "CA2"),
            ("From", "+79001234567"),
            ("To", "+74950000000"),
        ]);
    assert!(matches!(forged, Err(ureq::Error::Status(403, _))));
}

/// Sends a form body of `len` bytes over a plain socket, as far as the server reads it, and
/// returns the status it answers.
fn huge_post(base: &str, path: &str, len: usize) -> u16 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\n");
    s.write_all(head.as_bytes()).expect("head sent");
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < len && s.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

/// Twilio's signature of a request, computed here independently of the server's code.
fn sign(token: &str, url: &str, form: &[(&str, &str)]) -> String {
    use base64::Engine as _;
    use hmac::Mac;
    let mut pairs: Vec<&(&str, &str)> = form.iter().collect();
    pairs.sort();
    let mut data = url.to_string();
    for (k, v) in pairs {
        data.push_str(k);
        data.push_str(v);
    }
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("key");
    m.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

#[test]
fn a_call_hung_up_before_answering_is_rejected() {
    let server = serve(&["tests/fixtures/twilio/screen.ivr"], &[]);
    let url = format!("{}/voice/screen", server.base);
    let blocked = [
        ("CallSid", "CA1"),
        ("From", "+15005550009"),
        ("To", "+15005550001"),
    ];
    let (status, doc) = post(&agent(), &url, &blocked);
    assert_eq!(status, 200);
    assert!(
        doc.ends_with("<Response><Reject reason=\"rejected\"/></Response>\n"),
        "{doc}"
    );
    let welcome = [
        ("CallSid", "CA2"),
        ("From", "+15005550010"),
        ("To", "+15005550001"),
    ];
    let (_, doc) = post(&agent(), &url, &welcome);
    assert!(
        doc.contains("<Say") && doc.contains("<Hangup/>") && !doc.contains("Reject"),
        "{doc}"
    );
}

#[test]
fn an_answer_over_twilios_limit_is_refused_not_sent() {
    let mock = Mock::start(18778);
    let notes = "x".repeat(70_000);
    mock.answer(
        200,
        serde_json::json!({ "greeting": "Hello", "notes": notes }).to_string(),
    );
    let server = serve(&["tests/fixtures/twilio_big/big_answer.ivr"], &[]);
    let url = format!("{}/voice/big_answer", server.base);
    let form = [
        ("CallSid", "CA1"),
        ("From", "+15005550009"),
        ("To", "+15005550001"),
    ];
    let (status, body) = post(&agent(), &url, &form);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("over Twilio's 64 kB limit"), "{body}");
}

#[test]
fn only_the_audio_files_a_flow_names_are_served() {
    let server = serve(&["tests/fixtures/twilio/greeting.ivr"], &[]);
    let get = |path: &str| match agent().get(&format!("{}{path}", server.base)).call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(get("/audio/greeting/audio/hello%20world.wav"), 200);
    assert_eq!(get("/audio/greeting/greeting.ivr"), 404);
    assert_eq!(get("/audio/greeting/audio/..%2F..%2F..%2FCargo.toml"), 404);
    assert_eq!(get("/audio/greeting/..%2F..%2F..%2FCargo.toml"), 404);
    assert_eq!(get("/audio/nope/audio/hello%20world.wav"), 404);
}

/// A client that stops sending its body is answered 408 once the body time (10 s) runs out,
/// and the server serves others meanwhile.
#[test]
fn a_slow_client_gets_a_408_and_others_are_served_meanwhile() {
    use std::io::{Read, Write};
    let server = serve(&["examples/sum.ivr"], &[]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&addr).expect("connects");
    let head = format!("POST /voice/sum HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nCallSid=CA1");
    slow.write_all(head.as_bytes())
        .expect("part of a request sent");
    let start = [
        ("CallSid", "CA2"),
        ("From", "+79001234567"),
        ("To", "+74950000000"),
    ];
    let (status, _) = post(&agent(), &format!("{}/voice/sum", server.base), &start);
    assert_eq!(
        status, 200,
        "another caller is served while the slow one waits"
    );
    slow.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

/// A dialled party's `<Number url>` step is a request of that party's call: it is served only
/// with the `ParentCallSid` of the call whose state it carries.
#[test]
fn a_dialled_partys_step_is_served_only_for_the_call_that_dialled() {
    let server = serve(&["tests/fixtures/twilio/whisper.ivr"], &[]);
    let agent = agent();
    let start = [
        ("CallSid", "CA1"),
        ("From", "+15005550010"),
        ("To", "+15005550006"),
    ];
    let (status, doc) = post(&agent, &format!("{}/voice/whisper", server.base), &start);
    assert_eq!(status, 200, "{doc}");
    let step = roxmltree::Document::parse(&doc)
        .ok()
        .and_then(|d| {
            d.descendants()
                .find(|n| n.has_tag_name("Number"))
                .and_then(|n| n.attribute("url").map(str::to_string))
        })
        .expect("a <Number url> step");
    let answered = |parent: Option<&str>| {
        let mut form = vec![("CallSid", "CA1D"), ("To", "+15005550001")];
        form.extend(parent.map(|p| ("ParentCallSid", p)));
        post(&agent, &step, &form)
    };
    assert_eq!(answered(None).0, 400);
    assert_eq!(answered(Some("CA2")).0, 400);
    let (status, doc) = answered(Some("CA1"));
    assert_eq!(status, 200, "{doc}");
    assert!(
        doc.contains("A customer is calling from +15005550010"),
        "{doc}"
    );
    assert!(doc.contains("<Gather input=\"dtmf\""), "{doc}");
}

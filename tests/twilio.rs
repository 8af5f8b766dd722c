//! `ivrc serve` against an independent client: the real binary listens on 127.0.0.1, and a
//! client that walks TwiML the way Twilio does (HTTP by ureq, XML by roxmltree; Gather with
//! numDigits/finishOnKey/timeout and its fall-through Redirect, Record, Dial with its action)
//! plays the inputs of every `test` block. What the caller hears and what is dialled must be
//! what the engine does for the same inputs (a differential test). Bad requests get a 4xx and
//! the server keeps serving.

mod common;

use common::{ivr_files, ivrc};
use ivrc::ir::{self, TestStepKind};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `ivrc serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(files: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivrc"));
    cmd.arg("serve")
        .args(files)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TWILIO_AUTH_TOKEN")
        .env_remove("IVRC_STATE_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("ivrc serve starts");
    let line = first_line(&mut child);
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    Server { child, base }
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
    match agent.post(url).send_form(form) {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("request to {url} failed: {e}"),
    }
}

/// What the walker waits in, as Twilio would.
enum Pending {
    Nothing,
    Gather {
        action: String,
        redirect: Option<String>,
        speech: bool,
        num_digits: Option<usize>,
        finish: String,
        timeout_ms: u64,
        elapsed: u64,
        digits: String,
    },
    Record {
        action: String,
        max_ms: u64,
        finish: String,
        elapsed: u64,
    },
    Dial {
        action: String,
        timeout_ms: u64,
        elapsed: u64,
        bridged: Option<String>,
    },
}

/// A caller's phone and Twilio, for one call.
struct Walker<'a> {
    agent: ureq::Agent,
    server: &'a str,
    call_sid: String,
    out: Vec<String>,
    pending: Pending,
    ended: bool,
    recordings: u32,
    /// Every document the server answered.
    docs: Vec<String>,
}

impl Walker<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    fn request(&mut self, path: &str, extra: &[(&str, &str)]) {
        let mut form = vec![("CallSid", self.call_sid.as_str()), ("AccountSid", "AC1")];
        form.extend_from_slice(extra);
        let url = self.url(path);
        let (status, body) = post(&self.agent, &url, &form);
        assert_eq!(status, 200, "{path}: {body}");
        self.pending = Pending::Nothing;
        self.docs.push(body.clone());
        self.run(&body);
    }

    /// Carries out a document until it waits or ends.
    fn run(&mut self, xml: &str) {
        let doc =
            roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("bad XML ({e}): {xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "Response");
        let verbs: Vec<roxmltree::Node> = root.children().filter(|n| n.is_element()).collect();
        for (i, v) in verbs.iter().enumerate() {
            let text = v.text().unwrap_or_default().to_string();
            let attr = |name: &str| v.attribute(name).unwrap_or_default().to_string();
            let secs = |name: &str| attr(name).parse::<u64>().expect("seconds") * 1000;
            match v.tag_name().name() {
                "Say" => self.out.push(format!("say to caller \"{text}\"")),
                "Play" => self.out.push(format!("play to caller \"{text}\"")),
                "Pause" => {}
                "Gather" => {
                    for p in v.children().filter(|n| n.is_element()) {
                        let t = p.text().unwrap_or_default();
                        match p.tag_name().name() {
                            "Say" => self.out.push(format!("say to caller \"{t}\"")),
                            "Play" => self.out.push(format!("play to caller \"{t}\"")),
                            "Pause" => {}
                            other => panic!("<{other}> inside <Gather>"),
                        }
                    }
                    let redirect = verbs
                        .get(i + 1)
                        .filter(|n| n.tag_name().name() == "Redirect")
                        .and_then(|n| n.text())
                        .map(str::to_string);
                    self.pending = Pending::Gather {
                        action: attr("action"),
                        redirect,
                        speech: attr("input") == "speech",
                        num_digits: v
                            .attribute("numDigits")
                            .map(|n| n.parse().expect("numDigits")),
                        finish: attr("finishOnKey"),
                        timeout_ms: secs("timeout"),
                        elapsed: 0,
                        digits: String::new(),
                    };
                    return;
                }
                "Record" => {
                    self.pending = Pending::Record {
                        action: attr("action"),
                        max_ms: secs("maxLength"),
                        finish: attr("finishOnKey"),
                        elapsed: 0,
                    };
                    return;
                }
                "Dial" => {
                    let number = v
                        .children()
                        .find(|n| n.tag_name().name() == "Number")
                        .and_then(|n| n.text())
                        .unwrap_or_default()
                        .to_string();
                    match v.attribute("action") {
                        Some(action) => {
                            self.out.push(format!("dial {number}"));
                            self.pending = Pending::Dial {
                                action: action.to_string(),
                                timeout_ms: secs("timeout"),
                                elapsed: 0,
                                bridged: None,
                            };
                            return;
                        }
                        // Without an action the call is handed over for good.
                        None => {
                            self.out.push(format!("transfer caller to {number}"));
                            self.end();
                            return;
                        }
                    }
                }
                "Redirect" => {
                    self.request(&text, &[]);
                    return;
                }
                "Hangup" => {
                    self.end();
                    return;
                }
                other => panic!("unexpected verb <{other}>"),
            }
        }
        self.end();
    }

    fn end(&mut self) {
        if !self.ended {
            self.out.push("end of the call".into());
            self.ended = true;
        }
        self.pending = Pending::Nothing;
    }

    fn start(&mut self, flow: &str, from: &str) {
        let path = format!("/voice/{flow}");
        self.request(
            &path,
            &[
                ("From", from),
                ("To", "+70000000000"),
                ("CallStatus", "ringing"),
            ],
        );
    }

    fn press(&mut self, keys: &str) {
        for key in keys.chars() {
            let key = key.to_string();
            match &mut self.pending {
                Pending::Gather {
                    action,
                    speech: false,
                    num_digits,
                    finish,
                    digits,
                    ..
                } => {
                    if !finish.is_empty() && *finish == key {
                        let (a, d) = (action.clone(), digits.clone());
                        self.request(&a, &[("Digits", &d)]);
                    } else {
                        digits.push_str(&key);
                        if num_digits.is_some_and(|n| digits.chars().count() >= n) {
                            let (a, d) = (action.clone(), digits.clone());
                            self.request(&a, &[("Digits", &d)]);
                        }
                    }
                }
                Pending::Record { action, finish, .. } if *finish == key => {
                    let a = action.clone();
                    self.finish_recording(&a);
                }
                _ => {}
            }
        }
    }

    fn finish_recording(&mut self, action: &str) {
        self.recordings += 1;
        let url = format!("recording-{}.wav", self.recordings);
        self.request(action, &[("RecordingUrl", &url)]);
    }

    fn speak(&mut self, text: &str) {
        if let Pending::Gather {
            action,
            speech: true,
            ..
        } = &self.pending
        {
            let a = action.clone();
            self.request(&a, &[("SpeechResult", text), ("Confidence", "0.9")]);
        }
    }

    /// Lets time pass: gathers, recordings and ringing end when their time is up.
    fn wait(&mut self, mut ms: u64) {
        loop {
            match &mut self.pending {
                Pending::Gather {
                    action,
                    redirect,
                    timeout_ms,
                    elapsed,
                    digits,
                    ..
                } => {
                    if *elapsed + ms < *timeout_ms {
                        *elapsed += ms;
                        return;
                    }
                    ms -= *timeout_ms - *elapsed;
                    if digits.is_empty() {
                        match redirect.clone() {
                            Some(r) => self.request(&r, &[]),
                            None => self.end(),
                        }
                    } else {
                        let (a, d) = (action.clone(), digits.clone());
                        self.request(&a, &[("Digits", &d)]);
                    }
                }
                Pending::Record {
                    action,
                    max_ms,
                    elapsed,
                    ..
                } => {
                    if *elapsed + ms < *max_ms {
                        *elapsed += ms;
                        return;
                    }
                    ms -= *max_ms - *elapsed;
                    let a = action.clone();
                    self.finish_recording(&a);
                }
                Pending::Dial {
                    action,
                    timeout_ms,
                    elapsed,
                    bridged: None,
                } => {
                    if *elapsed + ms < *timeout_ms {
                        *elapsed += ms;
                        return;
                    }
                    ms -= *timeout_ms - *elapsed;
                    let a = action.clone();
                    self.request(&a, &[("DialCallStatus", "no-answer")]);
                }
                _ => return,
            }
        }
    }

    fn dial_outcome(&mut self, leg: &str, outcome: &ir::Outcome) {
        let Pending::Dial {
            action,
            bridged: None,
            ..
        } = &mut self.pending
        else {
            return;
        };
        let status = match outcome {
            ir::Outcome::Answered => {
                self.out.push(format!("bridge caller and {leg}"));
                if let Pending::Dial { bridged, .. } = &mut self.pending {
                    *bridged = Some(leg.to_string());
                }
                return;
            }
            ir::Outcome::Busy => "busy",
            ir::Outcome::NoAnswer => "no-answer",
            _ => "failed",
        };
        let a = action.clone();
        self.request(&a, &[("DialCallStatus", status)]);
    }

    fn hangup(&mut self, leg: Option<&str>) {
        if let (
            Some(l),
            Pending::Dial {
                action,
                bridged: Some(b),
                ..
            },
        ) = (leg, &self.pending)
        {
            if l == b {
                let a = action.clone();
                self.request(
                    &a,
                    &[("DialCallStatus", "completed"), ("DialCallDuration", "42")],
                );
                return;
            }
        }
        if leg.is_none() || leg == Some("caller") {
            self.end();
        }
    }
}

/// Plays a test's inputs through the server; returns what the caller heard and what was
/// dialled, and every document served.
fn walk(server: &Server, flow: &str, test: &ir::Test, n: usize) -> (Vec<String>, Vec<String>) {
    let mut w = Walker {
        agent: agent(),
        server: &server.base,
        call_sid: format!("CA{n:032}"),
        out: Vec::new(),
        pending: Pending::Nothing,
        ended: false,
        recordings: 0,
        docs: Vec::new(),
    };
    let from = test.from.as_deref().unwrap_or("+79990000000");
    if let Some(TestStepKind::ReceiveSms { text }) = test.steps.first().map(|s| &s.kind) {
        // A text message: one request, the reply is a messaging document.
        let url = format!("{}/sms/{flow}", server.base);
        let form = [
            ("MessageSid", "SM1"),
            ("From", from),
            ("To", "+70000000000"),
            ("Body", text),
        ];
        let (status, doc) = post(&w.agent, &url, &form);
        assert_eq!(status, 200, "{doc}");
        let parsed = roxmltree::Document::parse(&doc).expect("XML");
        for m in parsed.descendants().filter(|e| e.has_tag_name("Message")) {
            let to = m.attribute("to").unwrap_or(from);
            w.out
                .push(format!("sms to {to} \"{}\"", m.text().unwrap_or_default()));
        }
        w.out.push("end of the call".into());
        w.docs.push(doc);
        return (w.out, w.docs);
    }
    w.start(flow, from);
    for step in &test.steps {
        if w.ended {
            break;
        }
        match &step.kind {
            TestStepKind::Press { keys, .. } => w.press(keys),
            TestStepKind::Speak { text, .. } => w.speak(text),
            TestStepKind::Wait { ms } => w.wait(*ms),
            TestStepKind::DialOutcome { leg, outcome } => w.dial_outcome(leg, outcome),
            TestStepKind::Hangup { leg } => w.hangup(leg.as_deref()),
            _ => {}
        }
    }
    (w.out, w.docs)
}

/// What the engine does for the same inputs, in the walker's words: what a TwiML call leg
/// shows (prompts, dials, bridges, transfers, the end), without the leg names TwiML lacks.
fn engine_transcript(program: &ir::Program, test: &ir::Test) -> Vec<String> {
    use ivrc::engine::Command as C;
    let call = ivrc::testing::play_inputs(program, test)
        .unwrap_or_else(|f| panic!("test \"{}\": {} ({})", test.name, f.expected, f.actual));
    call.log
        .iter()
        .filter(|l| {
            matches!(
                l.output.command,
                C::Say { .. }
                    | C::Play { .. }
                    | C::Dial { .. }
                    | C::Bridge { .. }
                    | C::Transfer { .. }
                    | C::Sms { .. }
                    | C::End
            )
        })
        .filter_map(|l| call.describe(&l.output.command))
        .map(|line| match line.split_once(" as ") {
            Some((dial, _)) if line.starts_with("dial ") => dial.to_string(),
            _ => line,
        })
        .collect()
}

fn servable_files() -> Vec<String> {
    let mut files = vec!["examples/sum.test.ivr".to_string()];
    files.extend(ivr_files("tests/fixtures/twilio"));
    files
}

#[test]
fn served_calls_do_what_the_engine_does() {
    let mut compared = 0;
    let mut docs = Vec::new();
    for file in servable_files() {
        let tests = ivrc(&["test", &file]);
        assert_eq!(tests.code, 0, "{file}: {}{}", tests.stdout, tests.stderr);
        let ir = ivrc(&["build", &file, "--target", "ir"]);
        assert_eq!(ir.code, 0, "{}", ir.stderr);
        let program: ir::Program = serde_json::from_str(&ir.stdout).expect("IR");
        let server = serve(&[&file], &[]);
        for (n, test) in program.tests.iter().enumerate() {
            let (served, served_docs) = walk(&server, &test.flow, test, n);
            docs.extend(served_docs);
            let engine = engine_transcript(&program, test);
            assert_eq!(
                served, engine,
                "{file}: test \"{}\": the served call and the engine differ",
                test.name
            );
            compared += 1;
        }
    }
    assert!(compared >= 13, "only {compared} tests were compared");
    same_as_the_twilio_library(&docs);
}

/// Rebuilds each served document with the official `twilio` npm package's VoiceResponse /
/// MessagingResponse builders in TypeScript: tsc type-checks every verb's attributes and
/// values against the library's typings, node runs the builders, and each document the
/// library writes must be the one the server wrote (as parsed XML).
fn same_as_the_twilio_library(docs: &[String]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("tests/js/node_modules");
    let tsc = modules.join(".bin/tsc");
    assert!(
        modules.join("twilio").exists() && tsc.exists(),
        "the twilio npm package or TypeScript is missing; run scripts/setup.sh"
    );
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("twilio-typings");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut ts = String::from(
        "import VoiceResponse = require(\"twilio/lib/twiml/VoiceResponse\");\nimport MessagingResponse = require(\"twilio/lib/twiml/MessagingResponse\");\nconst docs: string[] = [];\n",
    );
    let mut n = 0;
    for doc in docs {
        let parsed = roxmltree::Document::parse(doc).expect("XML");
        let messaging = parsed.descendants().any(|e| e.has_tag_name("Message"));
        ts.push_str(&format!(
            "{{\n  const r0 = new {}();\n",
            if messaging {
                "MessagingResponse"
            } else {
                "VoiceResponse"
            }
        ));
        for child in parsed.root_element().children().filter(|c| c.is_element()) {
            builder_calls(child, "r0", &mut n, &mut ts);
        }
        ts.push_str("  docs.push(r0.toString());\n}\n");
    }
    ts.push_str("console.log(JSON.stringify(docs));\n");
    std::fs::write(dir.join("docs.ts"), ts).expect("written");
    let config = serde_json::json!({
        "compilerOptions": {
            "strict": true, "module": "commonjs", "target": "ES2020", "lib": ["ES2020", "DOM"],
            "types": [], "skipLibCheck": true, "outDir": "out", "baseUrl": ".",
            "paths": { "twilio/*": [modules.join("twilio").join("*")] }
        },
        "files": ["docs.ts"],
    });
    std::fs::write(dir.join("tsconfig.json"), config.to_string()).expect("written");
    let checked = Command::new("node")
        .arg(&tsc)
        .arg("-p")
        .arg(&dir)
        .output()
        .expect("tsc runs");
    assert!(
        checked.status.success(),
        "the served TwiML does not type-check against the twilio library:\n{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let ran = Command::new("node")
        .arg(dir.join("out/docs.js"))
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let theirs: Vec<String> = serde_json::from_slice(&ran.stdout).expect("JSON from node");
    assert_eq!(theirs.len(), docs.len());
    for (ours, theirs) in docs.iter().zip(&theirs) {
        let a = roxmltree::Document::parse(ours).expect("ours");
        let b = roxmltree::Document::parse(theirs).expect("theirs");
        assert_eq!(
            tree(a.root_element()),
            tree(b.root_element()),
            "ours: {ours}\ntheirs: {theirs}"
        );
    }
    assert!(
        docs.len() >= 30,
        "only {} documents were checked",
        docs.len()
    );
}

/// An element as a comparable value: name, sorted attributes, text, children.
fn tree(e: roxmltree::Node) -> String {
    let mut attrs: Vec<String> = e
        .attributes()
        .map(|a| format!("{}={:?}", a.name(), a.value()))
        .collect();
    attrs.sort();
    let text = e
        .text()
        .filter(|_| !e.children().any(|c| c.is_element()))
        .unwrap_or_default();
    let children: Vec<String> = e.children().filter(|c| c.is_element()).map(tree).collect();
    format!(
        "<{} {}>{text:?}[{}]",
        e.tag_name().name(),
        attrs.join(" "),
        children.join(",")
    )
}

/// The builder calls that make element `e` under the builder variable `parent`.
fn builder_calls(e: roxmltree::Node, parent: &str, n: &mut usize, ts: &mut String) {
    let name = e.tag_name().name();
    let method = format!("{}{}", name[..1].to_lowercase(), &name[1..]);
    let attrs: Vec<String> = e
        .attributes()
        .map(|a| {
            let value = match a.name() {
                "numDigits" | "timeout" | "length" | "maxLength" => a.value().to_string(),
                "playBeep" => a.value().to_string(),
                "input" => format!(
                    "[{}]",
                    a.value()
                        .split(' ')
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => serde_json::to_string(a.value()).expect("a JS string"),
            };
            format!("{}: {value}", a.name())
        })
        .collect();
    let attrs = format!("{{ {} }}", attrs.join(", "));
    let children: Vec<roxmltree::Node> = e.children().filter(|c| c.is_element()).collect();
    let text = e
        .text()
        .filter(|_| children.is_empty())
        .map(|t| serde_json::to_string(t).expect("a JS string"));
    let call = match (name, &text) {
        ("Hangup", _) => format!("{parent}.hangup()"),
        (_, Some(t)) => format!("{parent}.{method}({attrs}, {t})"),
        (_, None) => format!("{parent}.{method}({attrs})"),
    };
    if children.is_empty() {
        ts.push_str(&format!("  {call};\n"));
    } else {
        *n += 1;
        let var = format!("v{n}");
        ts.push_str(&format!("  const {var} = {call};\n"));
        for c in children {
            builder_calls(c, &var, n, ts);
        }
    }
}

#[test]
fn flows_the_server_cannot_run_are_refused_before_it_starts() {
    let run = ivrc(&[
        "serve",
        "examples/callback.ivr",
        "--listen",
        "127.0.0.1:0",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stderr).expect("JSON diagnostics");
    let codes = common::diagnostic_codes(&json);
    assert!(!codes.is_empty());
    assert!(
        codes
            .iter()
            .all(|c| *c == "ivrc::codegen::unsupported_by_target"),
        "{codes:?}"
    );
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
        post(&agent, &at(&action), &[("CallSid", "CA2"), ("Digits", "1")]).0,
        400
    );
    let tampered = action.replacen("s=ey", "s=eZ", 1);
    assert_eq!(
        post(
            &agent,
            &at(&tampered),
            &[("CallSid", "CA1"), ("Digits", "1")]
        )
        .0,
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
            &at(&action),
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
    let (status, doc) = post(
        &agent,
        &at(&action),
        &[("CallSid", "CA1"), ("Digits", "12")],
    );
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
    let server = serve_with_base(&["examples/sum.ivr"], &envs);
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

/// A server whose --base-url is its own loopback address (so signed URLs match).
fn serve_with_base(files: &[&str], envs: &[(&str, &str)]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivrc"));
    cmd.arg("serve")
        .args(files)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--base-url",
            &base,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("ivrc serve starts");
    let line = first_line(&mut child);
    assert!(line.starts_with("listening on "), "{line}");
    Server { child, base }
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

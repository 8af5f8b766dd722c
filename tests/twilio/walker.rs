//! A caller and Twilio in one: walks the TwiML `ivrc serve` answers with the way Twilio runs
//! it — `<Gather>` with `numDigits`, `finishOnKey`, `timeout` and the fall-through
//! `<Redirect>`, `<Record>` with its key and length, `<Dial>` with its action and ring time,
//! `<Redirect>`, `<Hangup>` — and feeds it the inputs of a `test` block in virtual time.

use super::mock::{percent_decode, Mock};
use super::{agent, signed_post, Server};
use ivrc::codegen::twiml::build::percent_encode;
use ivrc::ir::{self, TestStepKind};

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

/// A call placed through the REST API for a campaign lead: the webhook path and the flow's
/// parameters in its URL.
pub struct Placed {
    /// `/campaign/NAME` or `/voice/FLOW`.
    pub path: String,
    /// The lead's values.
    pub params: Vec<(String, String)>,
}

/// A caller's phone and Twilio, for one call.
struct Walker<'a> {
    agent: ureq::Agent,
    server: &'a Server,
    call_sid: String,
    out: Vec<String>,
    pending: Pending,
    ended: bool,
    recordings: u32,
    /// Every document the server answered.
    docs: Vec<String>,
}

impl Walker<'_> {
    /// Action URLs are absolute (the server has a base URL); entry paths are not.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.server.base)
        }
    }

    fn request(&mut self, path: &str, extra: &[(&str, &str)]) {
        let mut form = vec![("CallSid", self.call_sid.as_str()), ("AccountSid", "AC1")];
        form.extend_from_slice(extra);
        let url = self.url(path);
        let (status, body) = signed_post(&self.agent, self.server, &url, &form);
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
                "Play" => {
                    let shown = self.audio(&text);
                    self.out.push(format!("play to caller \"{shown}\""));
                }
                "Pause" => {}
                "Gather" => {
                    for p in v.children().filter(|n| n.is_element()) {
                        let t = p.text().unwrap_or_default();
                        match p.tag_name().name() {
                            "Say" => self.out.push(format!("say to caller \"{t}\"")),
                            "Play" => {
                                let shown = self.audio(t);
                                self.out.push(format!("play to caller \"{shown}\""));
                            }
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
                "Hangup" | "Reject" => {
                    self.end();
                    return;
                }
                other => panic!("unexpected verb <{other}>"),
            }
        }
        self.end();
    }

    /// A file the server serves (`…/audio/FLOW/PATH`) is fetched like Twilio would and
    /// shown as the flow names it; any other URL as it is.
    fn audio(&self, url: &str) -> String {
        let prefix = format!("{}/audio/", self.server.base);
        let Some((_, file)) = url.strip_prefix(&prefix).and_then(|r| r.split_once('/')) else {
            return url.to_string();
        };
        let response = self.agent.get(url).call().expect("the audio is served");
        assert_eq!(response.status(), 200);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).expect("audio bytes");
        assert!(bytes.starts_with(b"RIFF"), "{url}");
        percent_decode(file)
    }

    fn end(&mut self) {
        if !self.ended {
            self.out.push("end of the call".into());
            self.ended = true;
        }
        self.pending = Pending::Nothing;
    }

    /// An inbound call from `from`, or — with `placed` parameters — a call placed through
    /// the REST API to `from` as a campaign lead, the parameters in the webhook URL.
    fn start(&mut self, flow: &str, from: &str, placed: Option<&Placed>) {
        match placed {
            None => self.request(
                &format!("/voice/{flow}"),
                &[
                    ("From", from),
                    ("To", "+70000000000"),
                    ("CallStatus", "ringing"),
                ],
            ),
            Some(placed) => {
                let query: Vec<String> = placed
                    .params
                    .iter()
                    .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                    .collect();
                self.request(
                    &format!("{}?{}", placed.path, query.join("&")),
                    &[
                        ("From", "+70000000000"),
                        ("To", from),
                        ("Direction", "outbound-api"),
                        ("CallStatus", "in-progress"),
                    ],
                );
            }
        }
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
                    if !runs_out(elapsed, *timeout_ms, &mut ms) {
                        return;
                    }
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
                    if !runs_out(elapsed, *max_ms, &mut ms) {
                        return;
                    }
                    let a = action.clone();
                    self.finish_recording(&a);
                }
                Pending::Dial {
                    action,
                    timeout_ms,
                    elapsed,
                    bridged: None,
                } => {
                    if !runs_out(elapsed, *timeout_ms, &mut ms) {
                        return;
                    }
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

/// Plays a test's inputs through the server, with the mock answering its fetches in the
/// order of the test's `respond` steps; returns what the caller heard, what was dialled and
/// texted in the replies to messages, and every document served.
pub fn walk(
    server: &Server,
    mock: &Mock,
    flow: &str,
    test: &ir::Test,
    placed: Option<&Placed>,
    n: usize,
) -> (Vec<String>, Vec<String>) {
    for step in &test.steps {
        match &step.kind {
            TestStepKind::Respond { json } => mock.answer(200, json.to_string()),
            TestStepKind::RespondFail => mock.answer(500, String::new()),
            _ => {}
        }
    }
    let mut w = Walker {
        agent: agent(),
        server,
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
        let (status, doc) = signed_post(&w.agent, server, &url, &form);
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
    w.start(flow, from, placed);
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

/// Lets `ms` pass on a wait that has run `elapsed` of its `limit`: true when the wait runs
/// out within it (`ms` is then what is left after), false when it goes on (and has used it).
fn runs_out(elapsed: &mut u64, limit: u64, ms: &mut u64) -> bool {
    if *elapsed + *ms < limit {
        *elapsed += *ms;
        return false;
    }
    *ms -= limit - *elapsed;
    true
}

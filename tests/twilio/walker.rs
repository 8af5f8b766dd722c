//! The parties of a call and Twilio in one: walks the TwiML `ivrc serve` answers with the
//! way Twilio runs it — `<Gather>` with `numDigits`, `finishOnKey`, `timeout` and the
//! fall-through `<Redirect>`, `<Record>` with its key and length, `<Dial>` with its action and
//! ring time, a `<Number url>` step run on the dialled party's own call (ending it connects
//! the parties, `<Hangup>` drops the party), `<Redirect>`, `<Hangup>` — feeds it the inputs
//! of a `test` block in virtual time, and posts the call's status callback when it ends. A
//! flow that places its own calls starts as the call Twilio places for its first dial.

use super::common::mock::{percent_decode, Mock};
use super::{agent, signed_post, Server};
use ivrc::codegen::twiml::build::percent_encode;
use ivrc::ir::{self, TestStepKind};

/// What a party's call waits in, as Twilio would.
enum Pending {
    Nothing,
    /// The call Twilio places for a flow's first dial rings (a flow without a caller).
    Placed {
        timeout_ms: u64,
        elapsed: u64,
    },
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
        number: String,
        /// The `<Number url>` step run on the dialled party's call when it answers.
        step: Option<String>,
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
    /// For a flow without a caller, the number its first dial calls (the call placed) and
    /// its ring time.
    pub first_dial: Option<(String, u64)>,
}

/// Whose call a document runs on.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// The call the webhooks started.
    Main,
    /// A dialled party's call during its `<Number url>` step.
    Dialled,
}

/// One party's call.
struct Party {
    sid: String,
    /// The party's leg in the flow.
    leg: String,
    pending: Pending,
}

/// The parties' phones and Twilio, for one call.
struct Walker<'a> {
    agent: ureq::Agent,
    server: &'a Server,
    main: Party,
    dialled: Option<Party>,
    /// Where the main call's status callback goes.
    status: String,
    /// The main call's webhook and its number, for a call Twilio places.
    placed: Option<(String, String)>,
    /// The caller's number, for an inbound call.
    caller: String,
    out: Vec<String>,
    ended: bool,
    recordings: u32,
    /// Every document the server answered.
    docs: Vec<String>,
}

const OURS: &str = "+70000000000";

impl Walker<'_> {
    /// Action URLs are absolute (the server has a base URL); entry paths are not.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.server.base)
        }
    }

    fn party(&mut self, side: Side) -> &mut Party {
        match (side, &mut self.dialled) {
            (Side::Dialled, Some(d)) => d,
            _ => &mut self.main,
        }
    }

    fn request(&mut self, side: Side, path: &str, extra: &[(&str, &str)]) {
        let sid = self.party(side).sid.clone();
        let mut form = vec![("CallSid", sid.as_str()), ("AccountSid", "AC1")];
        let parent = self.main.sid.clone();
        if side == Side::Dialled {
            form.push(("ParentCallSid", parent.as_str()));
        }
        form.extend_from_slice(extra);
        let url = self.url(path);
        let (status, body) = signed_post(&self.agent, self.server, &url, &form);
        assert_eq!(status, 200, "{path}: {body}");
        self.party(side).pending = Pending::Nothing;
        self.docs.push(body.clone());
        self.run(side, &body);
    }

    /// Carries out a document on a party's call until it waits or ends.
    fn run(&mut self, side: Side, xml: &str) {
        let doc =
            roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("bad XML ({e}): {xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "Response");
        let leg = self.party(side).leg.clone();
        let verbs: Vec<roxmltree::Node> = root.children().filter(|n| n.is_element()).collect();
        for (i, v) in verbs.iter().enumerate() {
            let text = v.text().unwrap_or_default().to_string();
            let attr = |name: &str| v.attribute(name).unwrap_or_default().to_string();
            let secs = |name: &str| attr(name).parse::<u64>().expect("seconds") * 1000;
            match v.tag_name().name() {
                "Say" => self.out.push(format!("say to {leg} \"{text}\"")),
                "Play" => {
                    let shown = self.audio(&text);
                    self.out.push(format!("play to {leg} \"{shown}\""));
                }
                "Pause" => {}
                "Gather" => {
                    for p in v.children().filter(|n| n.is_element()) {
                        let t = p.text().unwrap_or_default();
                        match p.tag_name().name() {
                            "Say" => self.out.push(format!("say to {leg} \"{t}\"")),
                            "Play" => {
                                let shown = self.audio(t);
                                self.out.push(format!("play to {leg} \"{shown}\""));
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
                    self.party(side).pending = Pending::Gather {
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
                    self.party(side).pending = Pending::Record {
                        action: attr("action"),
                        max_ms: secs("maxLength"),
                        finish: attr("finishOnKey"),
                        elapsed: 0,
                    };
                    return;
                }
                "Dial" => {
                    assert!(side == Side::Main, "<Dial> in a <Number url> step: {xml}");
                    let number_noun = v.children().find(|n| n.tag_name().name() == "Number");
                    let number = number_noun
                        .and_then(|n| n.text())
                        .unwrap_or_default()
                        .to_string();
                    let step = number_noun
                        .and_then(|n| n.attribute("url"))
                        .map(str::to_string);
                    match v.attribute("action") {
                        Some(action) => {
                            self.out.push(format!("dial {number}"));
                            self.main.pending = Pending::Dial {
                                action: action.to_string(),
                                timeout_ms: secs("timeout"),
                                elapsed: 0,
                                number,
                                step,
                                bridged: None,
                            };
                            return;
                        }
                        // Without an action the call is handed over for good.
                        None => {
                            self.out.push(format!("transfer {leg} to {number}"));
                            self.end();
                            return;
                        }
                    }
                }
                "Redirect" => {
                    self.request(side, &text, &[]);
                    return;
                }
                "Hangup" | "Reject" => {
                    self.hung_up(side);
                    return;
                }
                other => panic!("unexpected verb <{other}>"),
            }
        }
        match side {
            Side::Main => self.end(),
            // A step that runs out connects its party with the call.
            Side::Dialled => {
                let Some(d) = self.dialled.take() else { return };
                self.out
                    .push(format!("bridge {} and {}", self.main.leg, d.leg));
                if let Pending::Dial { bridged, .. } = &mut self.main.pending {
                    *bridged = Some(d.leg);
                }
            }
        }
    }

    /// A party's call ends: the main call's end, or the dialled party leaving its step, after
    /// which Twilio asks the main call's `<Dial>` action how to go on.
    fn hung_up(&mut self, side: Side) {
        match side {
            Side::Main => self.end(),
            Side::Dialled => {
                let Some(d) = self.dialled.take() else { return };
                if let Pending::Dial { action, .. } = &self.main.pending {
                    let a = action.clone();
                    self.request(
                        Side::Main,
                        &a,
                        &[("DialCallStatus", "completed"), ("DialCallSid", &d.sid)],
                    );
                }
            }
        }
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

    /// The main call ends: Twilio posts its status callback (which runs `on hangup` when the
    /// flow was still going).
    fn end(&mut self) {
        self.finish("completed");
    }

    fn finish(&mut self, status: &str) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.main.pending = Pending::Nothing;
        self.dialled = None;
        let sid = self.main.sid.clone();
        let (party, direction) = match &self.placed {
            Some((_, number)) => (number.clone(), "outbound-api"),
            None => (self.caller.clone(), "inbound"),
        };
        let (from, to) = if direction == "inbound" {
            (party.as_str(), OURS)
        } else {
            (OURS, party.as_str())
        };
        let url = self.url(&self.status.clone());
        let form = [
            ("CallSid", sid.as_str()),
            ("CallStatus", status),
            ("From", from),
            ("To", to),
            ("Direction", direction),
        ];
        let (code, body) = signed_post(&self.agent, self.server, &url, &form);
        assert_eq!(code, 204, "{url}: {body}");
        self.out.push("end of the call".into());
    }

    /// An inbound call from `from`, or — with `placed` parameters — a call placed through
    /// the REST API to `from` as a campaign lead (or to the first number a flow without a
    /// caller dials), the parameters in the webhook URL.
    fn start(&mut self, flow: &str, from: &str, placed: Option<&Placed>) {
        let Some(placed) = placed else {
            self.caller = from.to_string();
            self.request(
                Side::Main,
                &format!("/voice/{flow}"),
                &[("From", from), ("To", OURS), ("CallStatus", "ringing")],
            );
            return;
        };
        let query: Vec<String> = placed
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        let query = query.join("&");
        let url = format!("{}?{query}", placed.path);
        match &placed.first_dial {
            None => {
                self.placed = Some((url.clone(), from.to_string()));
                self.status = match placed.path.strip_prefix("/campaign/") {
                    Some(_) => format!("{}/status", placed.path),
                    None => "/status".into(),
                };
                self.request(
                    Side::Main,
                    &url,
                    &[
                        ("From", OURS),
                        ("To", from),
                        ("Direction", "outbound-api"),
                        ("CallStatus", "in-progress"),
                    ],
                );
            }
            Some((number, timeout_ms)) => {
                self.placed = Some((url, number.clone()));
                self.status = format!("{}/status?{query}", placed.path);
                self.out.push(format!("dial {number}"));
                self.main.pending = Pending::Placed {
                    timeout_ms: *timeout_ms,
                    elapsed: 0,
                };
            }
        }
    }

    /// The side a step names its leg for: the dialled party's during its step, else the main
    /// call's.
    fn side_of(&self, leg: Option<&str>) -> Side {
        match (&self.dialled, leg) {
            (Some(d), Some(l)) if d.leg == l => Side::Dialled,
            _ => Side::Main,
        }
    }

    fn press(&mut self, side: Side, keys: &str) {
        for key in keys.chars() {
            let key = key.to_string();
            match &mut self.party(side).pending {
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
                        self.request(side, &a, &[("Digits", &d)]);
                    } else {
                        digits.push_str(&key);
                        if num_digits.is_some_and(|n| digits.chars().count() >= n) {
                            let (a, d) = (action.clone(), digits.clone());
                            self.request(side, &a, &[("Digits", &d)]);
                        }
                    }
                }
                Pending::Record { action, finish, .. } if *finish == key => {
                    let a = action.clone();
                    self.finish_recording(side, &a);
                }
                _ => {}
            }
        }
    }

    fn finish_recording(&mut self, side: Side, action: &str) {
        self.recordings += 1;
        let url = format!("recording-{}.wav", self.recordings);
        self.request(side, action, &[("RecordingUrl", &url)]);
    }

    fn speak(&mut self, side: Side, text: &str) {
        if let Pending::Gather {
            action,
            speech: true,
            ..
        } = &self.party(side).pending
        {
            let a = action.clone();
            self.request(side, &a, &[("SpeechResult", text), ("Confidence", "0.9")]);
        }
    }

    /// Lets time pass: gathers, recordings and ringing end when their time is up — on the
    /// dialled party's call during its step (the main call only waits for it then).
    fn wait(&mut self, mut ms: u64) {
        loop {
            let side = if self.dialled.is_some() {
                Side::Dialled
            } else {
                Side::Main
            };
            match &mut self.party(side).pending {
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
                            Some(r) => self.request(side, &r, &[]),
                            None => self.hung_up(side),
                        }
                    } else {
                        let (a, d) = (action.clone(), digits.clone());
                        self.request(side, &a, &[("Digits", &d)]);
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
                    self.finish_recording(side, &a);
                }
                Pending::Dial {
                    action,
                    timeout_ms,
                    elapsed,
                    bridged: None,
                    ..
                } => {
                    if !runs_out(elapsed, *timeout_ms, &mut ms) {
                        return;
                    }
                    let a = action.clone();
                    self.request(side, &a, &[("DialCallStatus", "no-answer")]);
                }
                Pending::Placed {
                    timeout_ms,
                    elapsed,
                } => {
                    if !runs_out(elapsed, *timeout_ms, &mut ms) {
                        return;
                    }
                    self.finish("no-answer");
                }
                _ => return,
            }
            if self.ended {
                return;
            }
        }
    }

    fn dial_outcome(&mut self, leg: &str, outcome: &ir::Outcome) {
        let status = match outcome {
            ir::Outcome::Answered => "answered",
            ir::Outcome::Busy => "busy",
            ir::Outcome::NoAnswer => "no-answer",
            _ => "failed",
        };
        match &self.main.pending {
            // The call Twilio placed for the flow's first dial.
            Pending::Placed { .. } => {
                self.main.leg = leg.to_string();
                if status != "answered" {
                    self.finish(status);
                    return;
                }
                let Some((url, number)) = self.placed.clone() else {
                    return;
                };
                self.request(
                    Side::Main,
                    &url,
                    &[
                        ("From", OURS),
                        ("To", &number),
                        ("Direction", "outbound-api"),
                        ("CallStatus", "in-progress"),
                    ],
                );
            }
            Pending::Dial {
                action,
                number,
                step,
                bridged: None,
                ..
            } => match (status, step.clone()) {
                ("answered", Some(step)) => {
                    let sid = format!("{}D", self.main.sid);
                    let number = number.clone();
                    self.dialled = Some(Party {
                        sid,
                        leg: leg.to_string(),
                        pending: Pending::Nothing,
                    });
                    self.request(
                        Side::Dialled,
                        &step,
                        &[
                            ("From", OURS),
                            ("To", &number),
                            ("Direction", "outbound-dial"),
                            ("CallStatus", "in-progress"),
                        ],
                    );
                }
                ("answered", None) => {
                    self.out.push(format!("bridge {} and {leg}", self.main.leg));
                    if let Pending::Dial { bridged, .. } = &mut self.main.pending {
                        *bridged = Some(leg.to_string());
                    }
                }
                _ => {
                    let a = action.clone();
                    self.request(Side::Main, &a, &[("DialCallStatus", status)]);
                }
            },
            _ => {}
        }
    }

    fn hangup(&mut self, leg: Option<&str>) {
        if self.side_of(leg) == Side::Dialled {
            self.hung_up(Side::Dialled);
            return;
        }
        if let (
            Some(l),
            Pending::Dial {
                action,
                bridged: Some(b),
                ..
            },
        ) = (leg, &self.main.pending)
        {
            if l == b {
                let a = action.clone();
                self.request(
                    Side::Main,
                    &a,
                    &[("DialCallStatus", "completed"), ("DialCallDuration", "42")],
                );
                return;
            }
        }
        if leg.is_none() || leg == Some(self.main.leg.as_str()) {
            self.end();
        }
    }
}

/// Plays a test's inputs through the server, with the mock answering its fetches in the
/// order of the test's `respond` steps; returns what the parties heard, what was dialled and
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
        main: Party {
            sid: format!("CA{n:032}"),
            leg: "caller".into(),
            pending: Pending::Nothing,
        },
        dialled: None,
        status: "/status".into(),
        placed: None,
        caller: String::new(),
        out: Vec::new(),
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
            ("To", OURS),
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
            TestStepKind::Press { keys, leg } => w.press(w.side_of(leg.as_deref()), keys),
            TestStepKind::Speak { text, leg } => w.speak(w.side_of(leg.as_deref()), text),
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

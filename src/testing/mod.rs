//! The runner of `test` blocks: a scripted conversation against a [`VirtualCall`].
//!
//! Matching rules: each `expect` takes the next thing the flow did and must match it (`*` in
//! a pattern matches any text). While looking for it, exact repeats of something already
//! matched are skipped — a prompt said again by `prompt loop` or a retry — so tests do not
//! count repetitions. Before each input step (`press`, `speak`, `wait`, `answer`, …) nothing
//! the flow did may be left unmatched except such repeats: a test says everything the caller
//! hears up to the point where the caller acts. After the last step, leftovers are ignored.

use crate::engine::{Command, Output};
use crate::ir::{self, TestStepKind};
use crate::sim::VirtualCall;

/// A failed expectation, with what was expected and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The test step that failed.
    pub step: ir::SrcSpan,
    /// What the step expected.
    pub expected: String,
    /// What the flow did instead.
    pub actual: String,
    /// The flow statement that did it, when there is one.
    pub flow_span: Option<ir::SrcSpan>,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// The test in source.
    pub span: ir::SrcSpan,
    /// `None` when it passed.
    pub failure: Option<Failure>,
}

/// Runs one test of `program`.
pub fn run(program: &ir::Program, test: &ir::Test) -> TestResult {
    let failure = match Runner::start(program, test) {
        Ok(mut runner) => runner.steps(test).err().map(|b| *b),
        Err(f) => Some(*f),
    };
    TestResult {
        name: test.name.clone(),
        span: test.span.clone(),
        failure,
    }
}

/// The call as a test's inputs leave it, its `expect` steps skipped and inputs after the
/// call ended dropped: what the flow does for those inputs, to compare with another
/// implementation of the same flow.
pub fn play_inputs<'p>(
    program: &'p ir::Program,
    test: &ir::Test,
) -> Result<VirtualCall<'p>, Box<Failure>> {
    let mut runner = Runner::start(program, test)?;
    for step in after_start(test) {
        if runner.call.ended() {
            break;
        }
        if !is_expectation(&step.kind) {
            runner.input(step)?;
        }
    }
    Ok(runner.call)
}

/// The steps after the one that starts the call (`receive sms`, when it is first).
fn after_start(test: &ir::Test) -> &[ir::TestStep] {
    match test.steps.split_first() {
        Some((first, rest)) if matches!(first.kind, TestStepKind::ReceiveSms { .. }) => rest,
        _ => &test.steps,
    }
}

/// Whether the step checks what the flow did (rather than acting on the call).
fn is_expectation(step: &TestStepKind) -> bool {
    matches!(
        step,
        TestStepKind::ExpectSay { .. }
            | TestStepKind::ExpectPlay { .. }
            | TestStepKind::ExpectDial { .. }
            | TestStepKind::ExpectBridge { .. }
            | TestStepKind::ExpectTransfer { .. }
            | TestStepKind::ExpectSms { .. }
            | TestStepKind::ExpectFetch { .. }
            | TestStepKind::ExpectReport { .. }
            | TestStepKind::ExpectHangup
            | TestStepKind::ExpectBlock
    )
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

struct Runner<'p> {
    call: VirtualCall<'p>,
    /// Index in the call's log of the next output not yet matched or skipped.
    cursor: usize,
    /// Descriptions of outputs matched so far (repeats of these may be skipped).
    matched: Vec<String>,
}

impl<'p> Runner<'p> {
    fn start(program: &'p ir::Program, test: &ir::Test) -> Result<Runner<'p>, Box<Failure>> {
        let Some(flow) = program.flows.iter().find(|f| f.name == test.flow) else {
            return Err(Box::new(Failure {
                step: test.span.clone(),
                expected: format!("flow `{}`", test.flow),
                actual: "no such flow".into(),
                flow_span: None,
            }));
        };
        let params = test
            .params
            .iter()
            .map(|(k, v)| (k.clone(), literal_text(v)))
            .collect();
        let mut call = VirtualCall::new(flow);
        let from = test
            .from
            .clone()
            .unwrap_or_else(|| "+79990000000".to_string());
        match test.steps.first().map(|s| &s.kind) {
            Some(TestStepKind::ReceiveSms { text }) => call.start_sms(from, text.clone(), params),
            _ => call.start_call(Some(from), params),
        }
        Ok(Runner {
            call,
            cursor: 0,
            matched: Vec::new(),
        })
    }

    fn steps(&mut self, test: &ir::Test) -> Result<(), Box<Failure>> {
        for step in after_start(test) {
            if is_expectation(&step.kind) {
                self.expect(step)?;
            } else {
                self.nothing_left(step)?;
                self.input(step)?;
            }
        }
        Ok(())
    }

    /// Observable outputs from the cursor on, with their log index.
    fn pending(&self) -> Vec<(usize, String, Output)> {
        self.call.log[self.cursor..]
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                self.call
                    .describe(&l.output.command)
                    .map(|d| (self.cursor + i, d, l.output.clone()))
            })
            .filter(|(_, _, o)| !matches!(o.command, Command::Error { .. }))
            .collect()
    }

    fn span_of(&self, o: &Output) -> Option<ir::SrcSpan> {
        self.call
            .flow()
            .nodes
            .get(o.node.0 as usize)
            .map(|n| n.span.clone())
    }

    /// The error that ended the call, when the call ended right after one.
    fn last_error(&self) -> Option<String> {
        let mut before_end = self
            .call
            .log
            .iter()
            .rev()
            .skip_while(|l| !matches!(l.output.command, Command::End))
            .skip(1);
        match before_end.next().map(|l| &l.output.command) {
            Some(Command::Error { reason }) => Some(reason.clone()),
            _ => None,
        }
    }

    fn expect(&mut self, step: &ir::TestStep) -> Result<(), Box<Failure>> {
        let expected = expectation(&step.kind);
        for (index, description, output) in self.pending() {
            if self.matches(&step.kind, &output.command) {
                self.cursor = index + 1;
                self.matched.push(description);
                return Ok(());
            }
            if self.matched.contains(&description) {
                continue;
            }
            let mut actual = description;
            if matches!(output.command, Command::End) {
                if let Some(e) = self.last_error() {
                    actual = format!("{actual} (after error: {e})");
                }
            }
            return Err(Box::new(Failure {
                step: step.span.clone(),
                expected,
                actual,
                flow_span: self.span_of(&output),
            }));
        }
        let actual = if self.call.ended() {
            "the call had ended".to_string()
        } else {
            "nothing: the flow is waiting for input".to_string()
        };
        Err(Box::new(Failure {
            step: step.span.clone(),
            expected,
            actual,
            flow_span: None,
        }))
    }

    fn nothing_left(&mut self, step: &ir::TestStep) -> Result<(), Box<Failure>> {
        for (index, description, output) in self.pending() {
            if self.matched.contains(&description) || matches!(output.command, Command::End) {
                self.cursor = index + 1;
                continue;
            }
            return Err(Box::new(Failure {
                step: step.span.clone(),
                expected: "every output before this step to be expected".into(),
                actual: format!("unexpected {description}"),
                flow_span: self.span_of(&output),
            }));
        }
        self.cursor = self.call.log.len();
        Ok(())
    }

    fn leg(&self, name: &Option<String>, step: &ir::TestStep) -> Result<ir::LegId, Box<Failure>> {
        match name {
            None => Ok(self.call.default_leg()),
            Some(n) => self.call.leg(n).ok_or_else(|| {
                Box::new(Failure {
                    step: step.span.clone(),
                    expected: format!("a leg `{n}`"),
                    actual: "no such leg in the flow".into(),
                    flow_span: None,
                })
            }),
        }
    }

    fn input(&mut self, step: &ir::TestStep) -> Result<(), Box<Failure>> {
        let fail = |expected: &str, actual: &str| {
            Box::new(Failure {
                step: step.span.clone(),
                expected: expected.into(),
                actual: actual.into(),
                flow_span: None,
            })
        };
        match &step.kind {
            TestStepKind::Press { keys, leg } => {
                let l = self.leg(leg, step)?;
                self.call.press(l, keys);
            }
            TestStepKind::Speak { text, leg } => {
                let l = self.leg(leg, step)?;
                self.call.speak(l, text);
            }
            TestStepKind::Wait { ms } => self.call.wait(*ms),
            TestStepKind::Respond { .. } | TestStepKind::RespondFail => {
                let result = match &step.kind {
                    TestStepKind::Respond { json } => Ok(json.clone()),
                    _ => Err("the test made it fail".to_string()),
                };
                if !self.call.respond(result) {
                    return Err(fail(
                        "a fetch waiting for its response",
                        "no fetch is pending",
                    ));
                }
            }
            TestStepKind::DialOutcome { leg, outcome } => {
                let l = self.leg(&Some(leg.clone()), step)?;
                if !self.call.dial_result(l, outcome.clone()) {
                    return Err(fail(
                        &format!("a dial of `{leg}` ringing"),
                        "no such dial is ringing",
                    ));
                }
            }
            TestStepKind::Hangup { leg } => {
                let l = self.leg(leg, step)?;
                self.call.hangup(l);
            }
            TestStepKind::ReceiveSms { .. } => {
                return Err(fail(
                    "`receive sms` as the first step",
                    "it comes later in the test",
                ))
            }
            _ => {}
        }
        Ok(())
    }

    fn leg_is(&self, want: &Option<String>, got: &ir::LegId) -> bool {
        want.as_ref().is_none_or(|w| self.call.leg(w) == Some(*got))
    }

    fn matches(&self, step: &TestStepKind, command: &Command) -> bool {
        match (step, command) {
            (TestStepKind::ExpectSay { leg, pattern }, Command::Say { leg: l, text, .. }) => {
                self.leg_is(leg, l) && glob(pattern, text)
            }
            (TestStepKind::ExpectPlay { leg, audio }, Command::Play { leg: l, audio: a }) => {
                self.leg_is(leg, l)
                    && match (audio, a) {
                        (ir::Audio::Record { id }, crate::engine::Audio::Record(x)) => id == x,
                        (ir::Audio::File { path: t }, crate::engine::Audio::File(x))
                        | (ir::Audio::Url { url: t }, crate::engine::Audio::Url(x)) => {
                            glob(&template_text(t), x)
                        }
                        _ => false,
                    }
            }
            (TestStepKind::ExpectDial { leg }, Command::Dial { leg: l, .. }) => {
                self.call.leg(leg) == Some(*l)
            }
            (TestStepKind::ExpectBridge { a, b }, Command::Bridge { a: x, b: y }) => {
                let (a, b) = (self.call.leg(a), self.call.leg(b));
                (a == Some(*x) && b == Some(*y)) || (a == Some(*y) && b == Some(*x))
            }
            (TestStepKind::ExpectTransfer { to }, Command::Transfer { number, .. }) => {
                to.as_ref().is_none_or(|t| t == number)
            }
            (TestStepKind::ExpectSms { pattern }, Command::Sms { text, .. }) => glob(pattern, text),
            (TestStepKind::ExpectFetch { url }, Command::Fetch { url: u, .. }) => {
                url.as_ref().is_none_or(|p| glob(p, u))
            }
            (
                TestStepKind::ExpectReport { ok, reason },
                Command::Report {
                    ok: o, reason: r, ..
                },
            ) => {
                ok == o
                    && reason
                        .as_ref()
                        .is_none_or(|p| r.as_ref().is_some_and(|r| glob(p, r)))
            }
            (TestStepKind::ExpectHangup, Command::Hangup { .. } | Command::End) => true,
            (TestStepKind::ExpectBlock, Command::Block { .. }) => true,
            _ => false,
        }
    }
}

fn template_text(t: &ir::Template) -> String {
    t.parts
        .iter()
        .map(|p| match p {
            ir::TemplatePart::Text(s) => s.clone(),
            ir::TemplatePart::Value(_)
            | ir::TemplatePart::If { .. }
            | ir::TemplatePart::Helper { .. } => "*".to_string(),
        })
        .collect()
}

/// A test's literal parameter value as text.
fn literal_text(e: &ir::Expr) -> String {
    match e {
        ir::Expr::Number { value } => value.to_string(),
        ir::Expr::Phone { value } => value.clone(),
        ir::Expr::Bool { value } => value.to_string(),
        ir::Expr::Duration { ms } => ir::format_duration(*ms),
        ir::Expr::Text { template } => template_text(template),
        _ => String::new(),
    }
}

/// What an `expect` step asks for, in words.
fn expectation(step: &TestStepKind) -> String {
    let on = |leg: &Option<String>| leg.as_ref().map_or(String::new(), |l| format!("to {l} "));
    match step {
        TestStepKind::ExpectSay { leg, pattern } => format!("say {}\"{pattern}\"", on(leg)),
        TestStepKind::ExpectPlay { leg, audio } => match audio {
            ir::Audio::Record { id } => format!("play {}record {id}", on(leg)),
            ir::Audio::File { path: t } | ir::Audio::Url { url: t } => {
                format!("play {}\"{}\"", on(leg), template_text(t))
            }
        },
        TestStepKind::ExpectDial { leg } => format!("dial {leg}"),
        TestStepKind::ExpectBridge { a, b } => format!("bridge {a} and {b}"),
        TestStepKind::ExpectTransfer { to } => format!(
            "transfer{}",
            to.as_ref().map_or(String::new(), |t| format!(" to {t}"))
        ),
        TestStepKind::ExpectSms { pattern } => format!("sms \"{pattern}\""),
        TestStepKind::ExpectFetch { url } => format!(
            "fetch{}",
            url.as_ref().map_or(String::new(), |u| format!(" {u}"))
        ),
        TestStepKind::ExpectReport { ok: true, .. } => "report ok".into(),
        TestStepKind::ExpectReport { ok: false, reason } => format!(
            "report retry{}",
            reason
                .as_ref()
                .map_or(String::new(), |r| format!(" \"{r}\""))
        ),
        TestStepKind::ExpectHangup => "hangup".into(),
        TestStepKind::ExpectBlock => "block".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_stars_anywhere() {
        assert!(glob("Сумма равна 42.", "Сумма равна 42."));
        assert!(glob("Введите*", "Введите первое число"));
        assert!(glob("*число*", "Введите первое число и нажмите"));
        assert!(glob("*", ""));
        assert!(!glob("Введите*", "Скажите"));
        assert!(!glob("a*b*c", "acb"));
        assert!(!glob("ab*ba", "aba"));
    }
}

//! The runtime against the engine, block by block: every `test` block of every example (and
//! every engine fixture with its `.sim` script) is played on `ivrc run` by real peers — a
//! generated sipp caller for inbound flows, a generated sipp trunk for the parties a flow
//! dials and a campaign's lead, a SIP MESSAGE for flows that start with a text — and what the
//! runtime did (the call record's `commands`, what the peers saw on the wire) must be what the
//! engine does for the same inputs in virtual time (as `ivrc test` runs it).
//!
//! Timing: prompts take real time on the runtime (espeak-ng's audio), none in the engine; the
//! peers act after the prompts before their step have been played (their lengths measured
//! with espeak-ng here), and `wait D` is D at the runtime's `--time-scale`. Repeats of one
//! thing in a row (a prompt said again by `prompt loop`) are compared once, as `ivrc test`
//! does, since how often a loop comes round depends on real time.
//!
//! A block the peers cannot play, or that the runtime does not pass yet, is in [`KNOWN_GAPS`]
//! with the reason; a gap that starts to pass fails the test, so the table stays true.

use super::harness::{free_port, require, rtp_sink, scratch, sipp_uas, sipp_with, Host, Runtime};
use ivrc::engine::Command;
use ivrc::ir::{self, Outcome, TestStep, TestStepKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The runtime's `--time-scale`: a 10 s timeout takes 2 s (less for flows whose digit
/// timeouts would then be shorter than the peers' key pacing: see [`scale_of`]).
const SCALE: f64 = 5.0;

/// How long after the prompts before it a party acts, in ms: the runtime renders a prompt with
/// values when it is said, and its RTP starts on the next tick.
const MARGIN_MS: u64 = 500;

/// Between the keys of one `press`, in ms (sipp's pcaps last about 200 ms).
const KEY_GAP_MS: u64 = 300;

/// How many blocks run at once, each on its own runtime.
const AT_ONCE: usize = 6;

/// Blocks that do not pass on the runtime yet, by label (`FILE: NAME`), with the reason.
const KNOWN_GAPS: &[(&str, &str)] = &[
    (
        "tests/fixtures/engine/repeat_deadline_while_waiting.ivr: its .sim script",
        "a `repeat within` deadline races the prompts: they take no time in the engine and \
         real time on the runtime (a 5 s deadline at --time-scale 5 ends during the first prompt)",
    ),
    (
        "examples/callback.test.ivr: an operator who is not ready is not taken as ready",
        "the bundled keyword spotter hears «готов» in «Нет, не готов» (docs/runtime.md, \
         \"Known limit of the bundled spotter\"): the runtime calls the client",
    ),
    (
        "tests/fixtures/engine/listen_nomatch_and_timeout.ivr: its .sim script",
        "the bundled keyword spotter never reports `nomatch` (docs/runtime.md, \"Known limit \
         of the bundled spotter\"): «что?» is not heard as an utterance outside the phrases",
    ),
    (
        "tests/fixtures/engine/listen_phrases.ivr: its .sim script",
        "the bundled keyword spotter takes «алло?» for «да» (docs/runtime.md, \"Known limit of \
         the bundled spotter\"): the flow ends before the caller's «Ну, ДА, конечно!»",
    ),
    (
        "tests/fixtures/engine/actions.ivr: its .sim script",
        "it plays audio from a URL, which the runtime downloads before it starts; no stand-in \
         serves audio here",
    ),
];

/// One block to run: a `test` of an example, or a fixture's `.sim` script made into one.
struct Case {
    /// `FILE: NAME`.
    label: String,
    /// The file `ivrc run` runs.
    flow_file: String,
    /// The program (the test file's IR).
    program: ir::Program,
    /// The block.
    test: ir::Test,
}

/// How the call of a block starts on the runtime.
#[derive(Debug, Clone, PartialEq)]
enum Start {
    /// A sipp caller calls the flow.
    Inbound,
    /// `--campaign NAME` calls the lead (the block's `with`): the sipp trunk answers as it.
    Lead(String),
    /// `--campaign NAME` runs a flow that dials its own legs.
    Placing(String),
    /// A SIP MESSAGE from the block's `from` number.
    Text(String),
}

/// Something a party does, at a time on the call's clock (ms after the call's start).
#[derive(Debug, Clone)]
enum Act {
    Press(String),
    Speak(String),
    Hangup,
}

/// What one dialled party (or the caller) does.
#[derive(Debug, Default, Clone)]
struct Party {
    /// The number the runtime calls (dialled parties, the lead).
    number: String,
    /// How it answers: `answer`, `busy`, `no_answer`, `fail` (dialled parties and the lead).
    outcome: Option<Outcome>,
    /// When it answers, on the call's clock.
    answered_at: u64,
    /// What it does, with when.
    acts: Vec<(u64, Act)>,
    /// Whether the flow transfers it (REFER expected).
    transferred: bool,
    /// Whether it says «алло» on answering (for the runtime's answering-machine detection).
    greets: bool,
}

/// What an answering machine of the trunk says: a greeting longer than the detector's 1.5 s.
const MACHINE_GREETING: &str =
    "Здравствуйте. Вы позвонили Ивану. Оставьте сообщение после сигнала.";

/// When the detector has heard enough of [`MACHINE_GREETING`] (it starts after 0.4 s), in ms
/// after the answer.
const MACHINE_HEARD_MS: u64 = 400 + 1500 + 500;

/// The peers' plan for a block.
#[derive(Debug)]
struct Plan {
    start: Start,
    /// The caller or the lead (`caller`), and every dialled leg, by leg name.
    parties: BTreeMap<String, Party>,
    /// Whether the engine's call ends by itself (else the caller leaves at the end).
    ends: bool,
    /// Whether the flow answers the caller (a flow that never acts on its caller leg leaves
    /// an inbound call unanswered: 480 at its end).
    answered: bool,
    /// Texts the flow sends (each one more sipp call at the trunk).
    texts: usize,
    /// The number of the block's `from`.
    from: String,
    /// The runtime's `--time-scale` for this block.
    scale: f64,
    /// The errors the engine logs (the runtime's record must have the same).
    errors: Vec<String>,
    /// The requests the flow makes, each with the answer the block gives (`None`: it fails).
    fetches: Vec<Fetch>,
    /// Whether the campaign has a calling window (the runtime is told to ignore it).
    window: bool,
}

/// A request of the flow's `fetch` and the block's answer to it.
#[derive(Debug, Clone)]
struct Fetch {
    method: String,
    url: String,
    params: Vec<(String, serde_json::Value)>,
    /// The block's answer: JSON, a failure (`None` inside), or none (the fetch times out).
    answer: Option<Option<serde_json::Value>>,
}

#[test]
fn every_example_block_and_fixture_does_on_the_runtime_what_the_engine_does() {
    require("sipp", "-v");
    require("espeak-ng", "--version");
    let started = Instant::now();
    let mut cases = example_cases();
    let examples = cases.len();
    let (fixtures, undrivable_fixtures) = fixture_cases();
    cases.extend(fixtures);
    assert!(examples >= 27, "only {examples} example blocks were found");
    let queue = Arc::new(Mutex::new(
        cases.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..AT_ONCE)
        .map(|_| {
            let (queue, results) = (queue.clone(), results.clone());
            std::thread::spawn(move || loop {
                let Some((n, case)) = queue.lock().expect("queue").pop() else {
                    break;
                };
                let once = |attempt: usize| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_case(n + 1000 * attempt, &case)
                    }))
                };
                // Ports are picked free and bound later, so a run may lose one to another
                // process: then it runs again.
                let outcome = match once(0) {
                    Ok(Verdict::Differs(why)) if why.contains("Address already in use") => once(1),
                    other => other,
                };
                let outcome = outcome.unwrap_or_else(|p| {
                    Verdict::Differs(
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default(),
                    )
                });
                results.lock().expect("results").push((case.label, outcome));
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut results = std::mem::take(&mut *results.lock().expect("results"));
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut problems = Vec::new();
    let mut passed = 0;
    for (label, verdict) in &results {
        let gap = KNOWN_GAPS.iter().find(|(l, _)| l == label);
        match (verdict, gap) {
            (Verdict::Same, None) => passed += 1,
            (Verdict::Same, Some((_, why))) => problems.push(format!(
                "{label}: passes now; remove it from KNOWN_GAPS (was: {why})"
            )),
            (Verdict::Undrivable(why), Some(_)) | (Verdict::Differs(why), Some(_)) => {
                eprintln!("gap   {label}\n{}", indent(why));
            }
            (Verdict::Undrivable(why), None) => problems.push(format!(
                "{label}: cannot be driven and is not in KNOWN_GAPS: {why}"
            )),
            (Verdict::Differs(why), None) => problems.push(format!("{label}:\n{why}")),
        }
    }
    for (file, why) in &undrivable_fixtures {
        eprintln!("not run {file}: {why}");
    }
    for (label, _) in KNOWN_GAPS {
        assert!(
            results.iter().any(|(l, _)| l == label),
            "KNOWN_GAPS names {label}, which is no block"
        );
    }
    eprintln!(
        "{passed} blocks passed on the runtime, {} known gaps, {} fixtures not run; {:?}",
        KNOWN_GAPS.len(),
        undrivable_fixtures.len(),
        started.elapsed()
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

/// What running a block gave.
enum Verdict {
    /// The runtime did what the engine does.
    Same,
    /// The peers cannot play it: why.
    Undrivable(String),
    /// It differs (or a peer failed): both transcripts and the details.
    Differs(String),
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// The blocks of examples/*.test.ivr.
fn example_cases() -> Vec<Case> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("examples"))
        .expect("examples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.display().to_string().ends_with(".test.ivr"))
        .map(|p| {
            format!(
                "examples/{}",
                p.file_name().expect("name").to_string_lossy()
            )
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let program = ir_of(&file);
        for test in &program.tests {
            let mut test = test.clone();
            // A campaign's call has the lead as its caller: the engine's caller number is
            // the lead's, as the runtime's is.
            let column = program
                .campaigns
                .iter()
                .find(|c| c.flow == test.flow)
                .and_then(|c| c.dial.clone());
            if test.from.is_none() {
                test.from = test
                    .params
                    .iter()
                    .find(|(k, _)| Some(k) == column.as_ref())
                    .map(|(_, v)| literal(v));
            }
            cases.push(Case {
                label: format!("{file}: {}", test.name),
                flow_file: file.replace(".test.ivr", ".ivr"),
                program: program.clone(),
                test,
            });
        }
    }
    cases
}

/// The engine fixtures whose `.sim` script reads as test steps, each as a block; and those
/// that do not, with why.
fn fixture_cases() -> (Vec<Case>, Vec<(String, String)>) {
    let dir = root().join("tests/fixtures/engine");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ivr"))
        .collect();
    files.sort();
    let (mut cases, mut skipped) = (Vec::new(), Vec::new());
    for path in files {
        let file = format!(
            "tests/fixtures/engine/{}",
            path.file_name().expect("name").to_string_lossy()
        );
        let script = std::fs::read_to_string(path.with_extension("sim")).expect("a .sim script");
        let program = ir_of(&file);
        let flow = &program.flows[0];
        let span = flow.span.clone();
        let mut steps = Vec::new();
        let mut why = None;
        for (n, line) in script.lines().enumerate() {
            if n == 0 {
                if let Some(text) = line.strip_prefix("/sms ") {
                    steps.push(step(TestStepKind::ReceiveSms { text: text.into() }, &span));
                    continue;
                }
            }
            use ivrc::sim::console::Input;
            let kind = match ivrc::sim::console::parse(line) {
                Ok(Input::Nothing) => continue,
                Ok(Input::Keys(keys)) => TestStepKind::Press { keys, leg: None },
                Ok(Input::Speech(text)) => TestStepKind::Speak { text, leg: None },
                Ok(Input::Wait(ms)) => TestStepKind::Wait { ms },
                Ok(Input::Dial(leg, outcome)) => TestStepKind::DialOutcome { leg, outcome },
                Ok(Input::Hangup(leg)) => TestStepKind::Hangup { leg },
                Ok(Input::Fetch(json)) => TestStepKind::Respond { json },
                Ok(Input::FetchFail) => TestStepKind::RespondFail,
                Ok(Input::Leg(_)) | Err(_) => {
                    why = Some(format!("`{line}` is no test step"));
                    break;
                }
            };
            steps.push(step(kind, &span));
        }
        if let Some(why) = why {
            skipped.push((file, why));
            continue;
        }
        let test = ir::Test {
            name: "its .sim script".into(),
            flow: flow.name.clone(),
            from: Some("+79991112233".into()),
            params: Vec::new(),
            steps,
            span,
        };
        cases.push(Case {
            label: format!("{file}: {}", test.name),
            flow_file: file,
            program,
            test,
        });
    }
    (cases, skipped)
}

fn step(kind: TestStepKind, span: &ir::SrcSpan) -> TestStep {
    TestStep {
        kind,
        span: span.clone(),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The program of `file` as `ivrc build --target ir` exports it (tests included).
fn ir_of(file: &str) -> ir::Program {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["build", file, "--target", "ir"])
        .current_dir(root())
        .output()
        .expect("ivrc build runs");
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("IR")
}

/// The engine's call for the block's first `upto` steps.
fn engine_call<'p>(case: &'p Case, upto: usize) -> Result<ivrc::sim::VirtualCall<'p>, String> {
    let mut test = case.test.clone();
    test.steps.truncate(upto);
    ivrc::testing::play_inputs(&case.program, &test).map_err(|f| {
        format!(
            "the engine refuses the inputs: {} ({})",
            f.expected, f.actual
        )
    })
}

/// The time scale for `program`: [`SCALE`], or less, so that every `digit_timeout` stays
/// over twice the pause between a `press`'s keys.
fn scale_of(program: &ir::Program) -> f64 {
    fn shortest(v: &serde_json::Value, name: &str) -> Option<u64> {
        match v {
            serde_json::Value::Object(m) => m
                .iter()
                .filter_map(|(k, v)| match (k == name, v.as_u64()) {
                    (true, Some(ms)) => Some(ms),
                    _ => shortest(v, name),
                })
                .min(),
            serde_json::Value::Array(a) => a.iter().filter_map(|v| shortest(v, name)).min(),
            _ => None,
        }
    }
    let flows = serde_json::to_value(&program.flows).expect("IR as JSON");
    shortest(&flows, "digit_timeout_ms").map_or(SCALE, |ms| {
        (ms as f64 / (2.5 * KEY_GAP_MS as f64)).clamp(1.0, SCALE)
    })
}

/// What a transcript compares: the observable commands, a run of equal ones once.
fn collapse(lines: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        if out.last() != Some(&line) {
            out.push(line);
        }
    }
    out
}

fn run_case(n: usize, case: &Case) -> Verdict {
    let full = match engine_call(case, case.test.steps.len()) {
        Ok(call) => call,
        Err(e) => return Verdict::Undrivable(e),
    };
    let engine: Vec<String> = collapse(
        full.log
            .iter()
            .filter(|l| !matches!(l.output.command, Command::Error { .. }))
            .filter_map(|l| full.describe(&l.output.command)),
    );
    let plan = match plan(case, &full) {
        Ok(p) => p,
        Err(why) => return Verdict::Undrivable(why),
    };
    let ran = match play(n, case, &plan) {
        Ok(r) => r,
        Err(why) => return Verdict::Undrivable(why),
    };
    let runtime = collapse(ran.commands.clone());
    let mut problems = ran.problems.clone();
    if runtime != engine {
        problems.push("the runtime's commands differ from the engine's".into());
    }
    // The wire agrees with the record: each transfer was a REFER to its number, each text a
    // MESSAGE with its text.
    let transfers: Vec<String> = engine
        .iter()
        .filter_map(|l| l.split_once(" to ").filter(|_| l.starts_with("transfer ")))
        .map(|(_, n)| n.to_string())
        .collect();
    if transfers != ran.refer_to {
        problems.push(format!(
            "transfers: the engine's {transfers:?}, REFERs seen by the peers {:?}",
            ran.refer_to
        ));
    }
    let texts: Vec<String> = engine
        .iter()
        .filter(|l| l.starts_with("sms to "))
        .cloned()
        .collect();
    if texts != ran.messages {
        problems.push(format!(
            "texts: the engine's {texts:?}, MESSAGEs at the trunk {:?}",
            ran.messages
        ));
    }
    if problems.is_empty() {
        return Verdict::Same;
    }
    let mut out = String::new();
    let width = engine
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let _ = writeln!(out, "  {:<width$} | runtime", "engine");
    for i in 0..engine.len().max(runtime.len()) {
        let (e, r) = (
            engine.get(i).map_or("", String::as_str),
            runtime.get(i).map_or("", String::as_str),
        );
        let mark = if e == r { ' ' } else { '≠' };
        let _ = writeln!(out, "{mark} {e:<width$} | {r}");
    }
    for p in problems {
        let _ = writeln!(out, "  {p}");
    }
    let _ = writeln!(out, "  plan: {plan:?}\n  traces in {}", ran.dir.display());
    Verdict::Differs(out)
}

/// How long espeak-ng speaks `text` (as the runtime renders it), in ms.
fn spoken_ms(text: &str, lang: &str, voice: &str) -> u64 {
    use ivrc::runtime::media::prompts::{Espeak, Voice};
    let voice = Voice::of(lang, voice).unwrap_or(Voice {
        lang: lang.into(),
        gender: "female".into(),
    });
    espeak_ms(&Espeak::voice_name(&voice), text)
}

/// How long a party's `speak` lasts, as [`super::calls::speak`] renders it (a second of
/// silence after the words ends the utterance).
fn utterance_ms(text: &str) -> u64 {
    espeak_ms("ru", text) + 1000
}

/// How long after its answer a greeting lead's «алло» ends (it starts after 0.6 s).
fn greeting_ms() -> u64 {
    600 + espeak_ms("ru", "алло")
}

/// How long espeak-ng's `voice` speaks `text`, in ms.
fn espeak_ms(voice: &str, text: &str) -> u64 {
    let mut child = std::process::Command::new("espeak-ng")
        .args(["-v", voice, "--stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("espeak-ng runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("text to espeak-ng");
    }
    let out = child.wait_with_output().expect("espeak-ng");
    // A 44-byte header, then 16-bit samples at 22,050 Hz.
    (out.stdout.len().saturating_sub(44) as u64) * 1000 / (22_050 * 2)
}

/// The length of a platform record the test plays (see [`write_records`]).
const RECORD_MS: u64 = 1000;

/// How long a prompt command takes on the runtime, in ms (0 for other commands).
fn prompt_ms(command: &Command) -> u64 {
    match command {
        Command::Say {
            text, lang, voice, ..
        } => spoken_ms(text, lang, voice),
        Command::Play { .. } => RECORD_MS,
        _ => 0,
    }
}

/// The peers' plan for a block: who does what when, on the call's clock.
fn plan(case: &Case, full: &ivrc::sim::VirtualCall<'_>) -> Result<Plan, String> {
    let test = &case.test;
    let campaign = case
        .program
        .campaigns
        .iter()
        .find(|c| c.flow == test.flow)
        .cloned();
    let from = test.from.clone().unwrap_or_else(|| "+79990000000".into());
    let start = match (test.steps.first().map(|s| &s.kind), &campaign) {
        (Some(TestStepKind::ReceiveSms { text }), _) => Start::Text(text.clone()),
        (_, Some(c)) if c.dial.is_some() => Start::Lead(c.name.clone()),
        (_, Some(c)) => Start::Placing(c.name.clone()),
        (_, None) => Start::Inbound,
    };
    let mut parties: BTreeMap<String, Party> = BTreeMap::new();
    match &start {
        Start::Inbound => {
            parties.insert("caller".into(), Party::default());
        }
        Start::Lead(_) => {
            let column = campaign.as_ref().and_then(|c| c.dial.clone());
            let number = test
                .params
                .iter()
                .find(|(k, _)| Some(k) == column.as_ref())
                .map(|(_, v)| literal(v))
                .ok_or("the lead's number is not in `with`")?;
            parties.insert(
                "caller".into(),
                Party {
                    number,
                    outcome: Some(Outcome::Answered),
                    greets: campaign.as_ref().is_some_and(|c| c.detect_machine),
                    ..Party::default()
                },
            );
        }
        Start::Placing(_) | Start::Text(_) => {}
    }
    // Each dialled leg's number, from what the engine dialled.
    for l in &full.log {
        if let Command::Dial { leg, number, .. } = &l.output.command {
            let name = full.flow().legs[leg.0 as usize].name.clone();
            parties.entry(name).or_default().number = number.clone();
        }
        if let Command::Transfer { leg, .. } = &l.output.command {
            let name = full.flow().legs[leg.0 as usize].name.clone();
            parties.entry(name).or_default().transferred = true;
        }
    }
    let scale = scale_of(&case.program);
    // A lead that greets is taken for a person once its «алло» is followed by silence.
    let mut clock = if parties.get("caller").is_some_and(|p| p.greets) {
        greeting_ms() + 800
    } else {
        0
    };
    let mut seen = 0usize;
    let mut answers = Vec::new();
    let mut connected: Vec<String> = parties.keys().filter(|k| *k == "caller").cloned().collect();
    for (i, s) in test.steps.iter().enumerate() {
        if matches!(s.kind, TestStepKind::ReceiveSms { .. }) && i == 0 {
            seen = engine_call(case, 1)?.log.len();
            continue;
        }
        let is_input = !matches!(
            s.kind,
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
        );
        if !is_input {
            continue;
        }
        let before = engine_call(case, i)?;
        if before.ended() {
            break;
        }
        let prompts: Vec<u64> = before.log[seen..]
            .iter()
            .map(|l| prompt_ms(&l.output.command))
            .filter(|ms| *ms > 0)
            .collect();
        // Keys come after the prompts (a key during a plain `say` is lost); speech 1.5 s into
        // the last one, as a person answers a long question (a `listen` hears over prompts,
        // and its time limit runs from its first prompt).
        let speech = matches!(s.kind, TestStepKind::Speak { .. });
        clock += match (speech, prompts.split_last()) {
            (true, Some((_, rest))) => rest.iter().sum::<u64>() + 1500 - MARGIN_MS,
            _ => prompts.iter().sum(),
        };
        let party = |leg: &Option<String>, connected: &[String]| -> Result<String, String> {
            leg.clone()
                .or_else(|| connected.last().cloned())
                .ok_or_else(|| "no party is connected to act".to_string())
        };
        match &s.kind {
            TestStepKind::Wait { ms } => clock += (*ms as f64 / scale) as u64,
            TestStepKind::Press { keys, leg } => {
                let who = party(leg, &connected)?;
                clock += MARGIN_MS;
                parties
                    .entry(who)
                    .or_default()
                    .acts
                    .push((clock, Act::Press(keys.clone())));
                clock += KEY_GAP_MS * keys.len() as u64;
            }
            TestStepKind::Hangup { leg } => {
                let who = party(leg, &connected)?;
                clock += MARGIN_MS;
                connected.retain(|c| *c != who);
                parties
                    .entry(who)
                    .or_default()
                    .acts
                    .push((clock, Act::Hangup));
            }
            TestStepKind::DialOutcome { leg, outcome } => {
                let p = parties.entry(leg.clone()).or_default();
                p.outcome = Some(outcome.clone());
                p.answered_at = clock;
                match outcome {
                    Outcome::Answered => connected.push(leg.clone()),
                    Outcome::Machine => {
                        connected.push(leg.clone());
                        clock += MACHINE_HEARD_MS;
                    }
                    Outcome::Busy | Outcome::NoAnswer | Outcome::Failed => {}
                    other => return Err(format!("a dialled party's `{other:?}`")),
                }
                if *outcome == Outcome::NoAnswer {
                    // The runtime gives up at the dial's timeout.
                    let ring = full
                        .log
                        .iter()
                        .find_map(|l| match &l.output.command {
                            Command::Dial {
                                leg: id,
                                timeout_ms,
                                ..
                            } if full.flow().legs[id.0 as usize].name == *leg => Some(*timeout_ms),
                            _ => None,
                        })
                        .unwrap_or(0);
                    clock += (ring as f64 / scale) as u64;
                }
            }
            TestStepKind::Speak { text, leg } => {
                let who = party(leg, &connected)?;
                clock += MARGIN_MS;
                parties
                    .entry(who)
                    .or_default()
                    .acts
                    .push((clock, Act::Speak(text.clone())));
                clock += utterance_ms(text);
            }
            TestStepKind::Respond { json } => answers.push(Some(json.clone())),
            TestStepKind::RespondFail => answers.push(None),
            TestStepKind::ReceiveSms { .. } => return Err("`receive sms` after the start".into()),
            _ => {}
        }
        seen = engine_call(case, i + 1)?.log.len();
    }
    let fetches: Vec<Fetch> = full
        .log
        .iter()
        .filter_map(|l| match &l.output.command {
            Command::Fetch {
                method,
                url,
                params,
                ..
            } => Some((method, url, params)),
            _ => None,
        })
        .enumerate()
        .map(|(i, (method, url, params))| Fetch {
            method: if *method == ir::Method::Get {
                "GET"
            } else {
                "POST"
            }
            .into(),
            url: url.clone(),
            params: params.clone(),
            answer: answers.get(i).cloned(),
        })
        .collect();
    if let Some((line, url)) = case
        .program
        .flows
        .iter()
        .flat_map(ivrc::runtime::played_urls)
        .next()
    {
        return Err(format!(
            "line {line} plays {url}, which the runtime downloads before it starts: no stand-in serves audio"
        ));
    }
    let texts = full
        .log
        .iter()
        .filter(|l| matches!(l.output.command, Command::Sms { .. }))
        .count();
    let errors = full
        .log
        .iter()
        .filter_map(|l| match &l.output.command {
            Command::Error { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    let answered = full.log.iter().any(|l| match &l.output.command {
        Command::Answer { leg } | Command::Say { leg, .. } | Command::Play { leg, .. } => {
            *leg == ir::LegId::CALLER
        }
        _ => false,
    });
    Ok(Plan {
        answered,
        scale,
        errors,
        fetches,
        window: campaign.is_some_and(|c| c.window.is_some()),
        start,
        parties,
        ends: full.ended(),
        texts,
        from,
    })
}

/// A literal parameter value as the leads file gives it.
fn literal(e: &ir::Expr) -> String {
    match e {
        ir::Expr::Number { value } => value.to_string(),
        ir::Expr::Phone { value } => value.clone(),
        ir::Expr::Bool { value } => value.to_string(),
        ir::Expr::Duration { ms } => ir::format_duration(*ms),
        ir::Expr::Text { template } => template.fixed_text().unwrap_or_default(),
        _ => String::new(),
    }
}

/// What the runtime and the peers did.
struct Ran {
    /// The call record's commands.
    commands: Vec<String>,
    /// The numbers of the REFERs (and 302s) the peers got, in order.
    refer_to: Vec<String>,
    /// The texts the trunk got, as `sms to NUMBER "TEXT"`.
    messages: Vec<String>,
    /// Peers that failed, and the like.
    problems: Vec<String>,
    /// Where the traces are.
    dir: PathBuf,
}

/// Writes the platform records the flows play (`play record ID`): a second of tone each.
fn write_records(dir: &Path, program: &ir::Program) {
    std::fs::create_dir_all(dir).expect("records dir");
    for flow in &program.flows {
        for (_, id) in ivrc::runtime::played_records(flow) {
            let samples: Vec<i16> = (0..8 * RECORD_MS)
                .map(|i| {
                    ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 8000.0).sin() * 8000.0) as i16
                })
                .collect();
            let mut wav = Vec::new();
            let data = (samples.len() * 2) as u32;
            wav.extend(b"RIFF");
            wav.extend((36 + data).to_le_bytes());
            wav.extend(b"WAVEfmt ");
            wav.extend(16u32.to_le_bytes());
            wav.extend(1u16.to_le_bytes());
            wav.extend(1u16.to_le_bytes());
            wav.extend(8000u32.to_le_bytes());
            wav.extend(16000u32.to_le_bytes());
            wav.extend(2u16.to_le_bytes());
            wav.extend(16u16.to_le_bytes());
            wav.extend(b"data");
            wav.extend(data.to_le_bytes());
            for s in samples {
                wav.extend(s.to_le_bytes());
            }
            std::fs::write(dir.join(format!("{id}.wav")), wav).expect("record");
        }
    }
}

/// Plays the block on a runtime of its own.
fn play(n: usize, case: &Case, plan: &Plan) -> Result<Ran, String> {
    let dir = scratch(&format!("differential-{n}"));
    let peers = dir.join("peers");
    std::fs::create_dir_all(&peers).expect("peers dir");
    let records = dir.join("records");
    write_records(&records, &case.program);
    let trunk_port = free_port();
    let trunk_calls = plan.texts
        + plan
            .parties
            .iter()
            .filter(|(name, _)| *name != "caller" || matches!(plan.start, Start::Lead(_)))
            .count();
    let (sink, heard) = rtp_sink(Duration::from_secs(5), Duration::from_secs(60));
    let trunk = (trunk_calls > 0).then(|| {
        let path = peers.join("trunk.xml");
        std::fs::write(&path, trunk_scenario(plan, &peers)).expect("trunk scenario");
        sipp_uas(
            &peers,
            trunk_port,
            &path.display().to_string(),
            sink,
            &["-m", &trunk_calls.to_string(), "-trace_msg"],
        )
    });
    let trunk_arg = format!("sip:127.0.0.1:{trunk_port}");
    let scale = plan.scale.to_string();
    let records_arg = records.display().to_string();
    let recordings = dir.join("recordings");
    let recordings_arg = recordings.display().to_string();
    let leads = dir.join("leads.csv");
    let leads_arg = leads.display().to_string();
    let mut args = vec![
        "--trunk",
        &trunk_arg,
        "--time-scale",
        &scale,
        "--records",
        &records_arg,
        "--recordings",
        &recordings_arg,
    ];
    let campaign = match &plan.start {
        Start::Lead(c) | Start::Placing(c) => Some(c.clone()),
        _ => None,
    };
    if plan.window {
        args.push("--ignore-window");
    }
    let crm = Crm::start(plan.fetches.clone());
    let rewrites: Vec<String> = origins(&plan.fetches)
        .into_iter()
        .map(|o| format!("{o}=http://127.0.0.1:{}", crm.port))
        .collect();
    for r in &rewrites {
        args.extend(["--fetch-rewrite", r]);
    }
    if let Some(c) = &campaign {
        let header: Vec<&str> = case.test.params.iter().map(|(k, _)| k.as_str()).collect();
        let row: Vec<String> = case.test.params.iter().map(|(_, v)| literal(v)).collect();
        std::fs::write(&leads, format!("{}\n{}\n", header.join(";"), row.join(";")))
            .expect("leads");
        args.extend(["--campaign", c, "--leads", &leads_arg]);
    }
    let rt = Runtime::launch(
        scratch(&format!("differential-{n}-runtime")),
        &Host::loopback(),
        sip_port(),
        &[&case.flow_file],
        &args,
    );
    let mut problems = Vec::new();
    match &plan.start {
        Start::Inbound => {
            let path = peers.join("caller.xml");
            std::fs::write(&path, caller_scenario(plan, &peers)).expect("caller scenario");
            let out = sipp_with(
                &peers,
                rt.port,
                &path.display().to_string(),
                &case.test.flow,
                sink,
                &["-trace_msg"],
            );
            if !out.status.success() {
                problems.push(format!(
                    "the sipp caller failed: {}",
                    sipp_said(&out.stderr)
                ));
            }
        }
        Start::Text(text) => {
            let client = super::harness::Client::new(&rt);
            let message = format!(
                "MESSAGE sip:{flow}@127.0.0.1:{server} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKdiff{n}\r\nFrom: <sip:{from}@127.0.0.1>;tag=d{n}\r\nTo: <sip:{flow}@127.0.0.1>\r\nCall-ID: differential-{n}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {len}\r\n\r\n{text}",
                flow = case.test.flow,
                server = rt.port,
                port = client.port,
                from = plan.from,
                len = text.len(),
            );
            client.send(message.as_bytes());
            client.expect(200, Duration::from_secs(5));
        }
        Start::Lead(_) | Start::Placing(_) => {}
    }
    // The call is over when its record is; a campaign then goes on (retries, other leads),
    // so the runtime is stopped rather than waited for.
    let deadline = Instant::now() + Duration::from_secs(60);
    let want = if matches!(plan.start, Start::Text(_)) {
        0
    } else {
        1
    };
    let record = loop {
        let records = Runtime::calls(&rt.dir);
        let done: Vec<_> = records
            .iter()
            .filter(|r| r["ended_by"] != "running")
            .cloned()
            .collect();
        if want == 0 || !done.is_empty() {
            break done.into_iter().next();
        }
        if Instant::now() > deadline {
            problems.push("no call record ended within 60 s".into());
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if let Some(trunk) = trunk {
        let limit = Instant::now() + Duration::from_secs(20);
        let mut trunk = trunk;
        let status = loop {
            if let Ok(Some(s)) = trunk.try_wait() {
                break Some(s);
            }
            if Instant::now() > limit {
                let _ = trunk.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if !status.is_some_and(|s| s.success()) {
            let out = trunk.wait_with_output().expect("trunk sipp");
            problems.push(format!("the sipp trunk failed: {}", sipp_said(&out.stderr)));
        }
    }
    let rt_dir = rt.dir.clone();
    let (_code, stderr) = rt.stop();
    // The sink stops by itself (it hears nothing on a text's run).
    drop(heard);
    let record = record.or_else(|| {
        let all = Runtime::calls(&rt_dir);
        all.into_iter().next()
    });
    let commands: Vec<String> = record
        .as_ref()
        .and_then(|r| r["commands"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if let Some(r) = &record {
        let errors: Vec<String> = r["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        // Why a fetch failed is the driver's own words (the test's `respond fail`, an HTTP
        // status): that it failed is compared.
        let plain = |e: &[String]| -> Vec<String> {
            e.iter()
                .map(|e| match e.split_once("fetch failed: ") {
                    Some((before, _)) => format!("{before}fetch failed"),
                    None => e.clone(),
                })
                .collect()
        };
        if plain(&errors) != plain(&plan.errors) {
            problems.push(format!(
                "errors: the engine's {:?}, the record's {errors:?}",
                plan.errors
            ));
        }
    } else if want == 1 {
        problems.push(format!("no call record; the runtime said:\n{stderr}"));
    }
    let (refer_to, messages) = wire(&peers);
    if let Some(r) = &record {
        problems.extend(crm.check(r));
    }
    Ok(Ran {
        commands,
        refer_to,
        messages,
        problems,
        dir,
    })
}

/// What sipp said about a failure, without its pcap chatter.
fn sipp_said(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| {
            !(l.starts_with("In pcap") || l.starts_with("max pkt") || l.starts_with("base port"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A port free for both UDP and TCP right now (the runtime listens on both; a port free for
/// UDP alone may be a TCP connection's, with six runtimes and their peers at work).
fn sip_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a TCP port");
        let port = tcp.local_addr().expect("addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The REFERs' targets and the MESSAGEs the peers received, from their message traces.
fn wire(peers: &Path) -> (Vec<String>, Vec<String>) {
    let (mut refers, mut texts) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(peers) else {
        return (refers, texts);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with("_messages.log") {
            continue;
        }
        let log = std::fs::read_to_string(e.path()).unwrap_or_default();
        // sipp writes each message after a line of dashes with the time and direction.
        for block in log.split("----------------------------------------------- ") {
            let Some((_, body)) = block.split_once("message received") else {
                continue;
            };
            let body = body.split_once('\n').map_or("", |(_, b)| b).trim_start();
            if body.starts_with("REFER ") {
                if let Some(to) = body.lines().find_map(|l| {
                    l.strip_prefix("Refer-To:")
                        .or_else(|| l.strip_prefix("Refer-to:"))
                }) {
                    let user = to.trim().trim_start_matches('<').trim_start_matches("sip:");
                    refers.push(user.split('@').next().unwrap_or_default().to_string());
                }
            }
            if body.starts_with("MESSAGE ") {
                let to = body
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .trim_start_matches("sip:")
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let text = body
                    .split_once("\r\n\r\n")
                    .or_else(|| body.split_once("\n\n"))
                    .map_or("", |(_, t)| t)
                    .trim_end();
                texts.push(format!("sms to {to} \"{text}\""));
            }
        }
    }
    (refers, texts)
}

/// An XML-safe copy of `text` (for CDATA-free attributes and comments).
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// sipp steps for `party`'s acts from `since` (its answer, on the call's clock) on; `bye` is
/// the party's BYE request.
fn acts_xml(party: &Party, since: u64, bye: &str, dir: &Path, who: &str) -> (String, bool) {
    let mut xml = String::new();
    let mut at = since;
    let mut hung_up = false;
    for (n, (when, act)) in party.acts.iter().enumerate() {
        let pause = when.saturating_sub(at);
        if pause > 0 {
            let _ = writeln!(xml, "  <pause milliseconds=\"{pause}\"/>");
        }
        at = (*when).max(at);
        match act {
            Act::Press(keys) => {
                for (i, k) in keys.chars().enumerate() {
                    let name = match k {
                        '*' => "star".to_string(),
                        '#' => "pound".to_string(),
                        d => d.to_string(),
                    };
                    let _ = writeln!(
                        xml,
                        "  <nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_{name}.pcap\"/></action></nop>"
                    );
                    // No pause after the last key: the flow may answer it at once (a REFER).
                    if i + 1 < keys.len() {
                        let _ = writeln!(xml, "  <pause milliseconds=\"{KEY_GAP_MS}\"/>");
                        at += KEY_GAP_MS;
                    }
                }
            }
            Act::Speak(text) => {
                // The words stream on while the party's later acts wait their turn.
                let name = format!("{who}-{n}");
                super::calls::speak(dir, text, &name);
                let _ = writeln!(
                    xml,
                    "  <nop><action><exec rtp_stream=\"{name}.ulaw,1,0\"/></action></nop>"
                );
            }
            Act::Hangup => {
                let _ = writeln!(
                    xml,
                    "  <send retrans=\"500\"><![CDATA[\n{bye}\n  ]]></send>\n  <recv response=\"200\" crlf=\"true\"/>"
                );
                hung_up = true;
                break;
            }
        }
    }
    (xml, hung_up)
}

/// Answers `method` with 200 (or `status`) copying the request's dialog headers.
fn reply(status: &str) -> String {
    format!(
        "  <send><![CDATA[\nSIP/2.0 {status}\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n  ]]></send>\n"
    )
}

/// How a party that did not hang up itself ends: a REFER (202) then BYE from the runtime when
/// the flow transfers it, a BYE when the call ends, else its own BYE after a while.
fn tail_xml(party: &Party, ends: bool, bye: &str) -> String {
    let mut xml = String::new();
    if party.transferred {
        let _ = writeln!(xml, "  <recv request=\"REFER\" timeout=\"60000\"/>");
        xml.push_str(&reply("202 Accepted"));
    }
    if ends || party.transferred {
        let _ = writeln!(xml, "  <recv request=\"BYE\" timeout=\"60000\"/>");
        xml.push_str(&reply("200 OK"));
    } else {
        let _ = writeln!(
            xml,
            "  <pause milliseconds=\"2000\"/>\n  <send retrans=\"500\"><![CDATA[\n{bye}\n  ]]></send>\n  <recv response=\"200\" crlf=\"true\"/>"
        );
    }
    xml
}

const SDP: &str = "v=0\no=peer 1 1 IN IP[local_ip_type] [local_ip]\ns=-\nc=IN IP[media_ip_type] [media_ip]\nt=0 0\nm=audio [rtp_sink] RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15";

/// The caller of an inbound block.
fn caller_scenario(plan: &Plan, dir: &Path) -> String {
    let from = &plan.from;
    let party = &plan.parties["caller"];
    let bye = format!("BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\nFrom: <sip:{from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\nTo: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]\nCall-ID: [call_id]\nCSeq: 2 BYE\nContact: <sip:sipp@[local_ip]:[local_port]>\nMax-Forwards: 70\nContent-Length: 0");
    let (acts, hung_up) = acts_xml(party, 0, &bye, dir, "caller");
    let tail = if hung_up {
        String::new()
    } else {
        tail_xml(party, plan.ends, &bye)
    };
    let (acts, tail) = if plan.answered {
        (acts, tail)
    } else {
        (String::new(), String::new())
    };
    let setup = call_setup(plan.answered, from);
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="differential caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-inv-[call_number]-[pid]
From: <sip:{from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{SDP}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
{setup}{acts}{tail}  <timewait milliseconds="300"/>
</scenario>
"#
    )
}

/// The end of the caller's INVITE transaction: the 200 and its ACK, or the 480 of a flow that
/// never answered it and its ACK (in the INVITE's transaction).
fn call_setup(answered: bool, from: &str) -> String {
    let (status, branch) = if answered {
        ("200", "[branch]")
    } else {
        ("480", "z9hG4bK-inv-[call_number]-[pid]")
    };
    format!(
        r#"  <recv response="{status}" rtd="true"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
From: <sip:{from}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
  ]]></send>
"#
    )
}

/// The trunk: every party the runtime calls (told apart by the number called) and a 200 for
/// each text.
fn trunk_scenario(plan: &Plan, dir: &Path) -> String {
    let mut branches = String::new();
    let mut tests = String::new();
    let mut eregs = String::new();
    for (i, (name, party)) in plan.parties.iter().enumerate() {
        if name == "caller" && !matches!(plan.start, Start::Lead(_)) {
            continue;
        }
        let number = party.number.replace('+', "\\+");
        let _ = writeln!(
            eregs,
            "      <ereg regexp=\"^INVITE sip:{number}@\" search_in=\"msg\" check_it=\"false\" assign_to=\"p{i}\"/>"
        );
        let _ = writeln!(tests, "  <nop hide=\"true\" test=\"p{i}\" next=\"p{i}\"/>");
        let _ = writeln!(
            branches,
            "  <label id=\"p{i}\"/>  <!-- {} -->",
            xml_escape(name)
        );
        let ringing = "  <send><![CDATA[\nSIP/2.0 180 Ringing\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n  ]]></send>\n";
        let refuse = |status: &str| {
            format!("  <send><![CDATA[\nSIP/2.0 {status}\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n  ]]></send>\n  <recv request=\"ACK\"/>\n")
        };
        match party.outcome.clone().unwrap_or(Outcome::NoAnswer) {
            Outcome::Busy => branches.push_str(&refuse("486 Busy Here")),
            Outcome::Failed => branches.push_str(&refuse("403 Forbidden")),
            Outcome::NoAnswer => {
                branches.push_str(ringing);
                branches.push_str("  <recv request=\"CANCEL\" timeout=\"60000\"/>\n");
                branches.push_str(&reply("200 OK"));
                branches.push_str("  <send><![CDATA[\nSIP/2.0 487 Request Terminated\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\nCSeq: 1 INVITE\nContent-Length: 0\n  ]]></send>\n  <recv request=\"ACK\"/>\n");
            }
            _ => {
                branches.push_str(ringing);
                let _ = write!(
                    branches,
                    "  <send retrans=\"500\"><![CDATA[\nSIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\nContact: <sip:party@[local_ip]:[local_port]>\nContent-Type: application/sdp\nContent-Length: [len]\n\n{SDP}\n  ]]></send>\n  <recv request=\"ACK\"/>\n"
                );
                let bye = "BYE [$contact] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\nFrom: <sip:party@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]\nTo: [$ivrc]\nCall-ID: [$callid]\nCSeq: 1 BYE\nMax-Forwards: 70\nContent-Length: 0";
                if party.outcome == Some(Outcome::Machine) {
                    super::campaign::spoken_ulaw(dir, MACHINE_GREETING, "0.4", "3", "machine.ulaw");
                    branches.push_str(
                        "  <nop><action><exec rtp_stream=\"machine.ulaw,1,0\"/></action></nop>\n",
                    );
                }
                if party.greets {
                    super::campaign::spoken_ulaw(dir, "алло", "0.6", "3", "hello.ulaw");
                    branches.push_str(
                        "  <nop><action><exec rtp_stream=\"hello.ulaw,1,0\"/></action></nop>\n",
                    );
                }
                let (acts, hung_up) = acts_xml(party, party.answered_at, bye, dir, name);
                branches.push_str(&acts);
                if !hung_up {
                    branches.push_str(&tail_xml(party, plan.ends, bye));
                }
            }
        }
        branches.push_str("  <nop hide=\"true\" next=\"end\"/>\n");
    }
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="differential trunk">
  <recv request="MESSAGE" optional="true" next="text" crlf="true"/>
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="ivrc"/>
      <ereg regexp=".*" search_in="hdr" header="Call-ID:" assign_to="callid"/>
      <ereg regexp="&lt;(sip:[^&gt;]*)&gt;" search_in="hdr" header="Contact:" assign_to="dummy,contact"/>
{eregs}    </action>
  </recv>
  <nop><action><log message="[$ivrc] [$callid] [$dummy] [$contact]"/></action></nop>
{tests}  <nop hide="true" next="end"/>
{branches}  <label id="text"/>
{ok}  <label id="end"/>
  <timewait milliseconds="300"/>
</scenario>
"#,
        ok = reply("200 OK")
    )
}

/// `scheme://host[:port]` of each URL the flow fetches, once each.
fn origins(fetches: &[Fetch]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in fetches {
        let rest = f.url.split_once("://").map_or("", |(_, r)| r);
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let scheme = f.url.split("://").next().unwrap_or_default();
        let origin = format!("{scheme}://{host}");
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    out
}

/// The loopback stand-in of the systems the flow fetches from (the runtime's requests reach it
/// through `--fetch-rewrite`): it answers the requests in order with the block's answers (a
/// failed one with 503) and keeps what it got, checked against the engine's requests after the
/// call by [`Crm::check`].
struct Crm {
    port: u16,
    expected: Vec<Fetch>,
    /// Each request: method, path with query, body.
    got: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Crm {
    fn start(expected: Vec<Fetch>) -> Crm {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a CRM port");
        let port = listener.local_addr().expect("addr").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let answers: Vec<Option<Option<serde_json::Value>>> =
            expected.iter().map(|f| f.answer.clone()).collect();
        let log = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { break };
                let request = read_request(&stream);
                log.lock().expect("log").push(request);
                let (status, body) = match answers.get(n).cloned().flatten() {
                    Some(Some(json)) => ("200 OK", json.to_string()),
                    Some(None) => ("503 Service Unavailable", String::new()),
                    None => {
                        // No answer: the flow's time limit ends the request.
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_secs(30));
                            drop(stream);
                        });
                        continue;
                    }
                };
                let _ = std::io::Write::write_all(
                    &mut stream,
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        Crm {
            port,
            expected,
            got,
        }
    }

    /// What differs between the requests the CRM got and the engine's: method, path and every
    /// parameter, with the call's own id and numbers in place of the engine's test values.
    fn check(&self, record: &serde_json::Value) -> Vec<String> {
        let got = self.got.lock().expect("log").clone();
        let mut problems = Vec::new();
        if got.len() != self.expected.len() {
            problems.push(format!(
                "the CRM got {} requests, the engine made {}: {got:?}",
                got.len(),
                self.expected.len()
            ));
        }
        let platform = |v: &serde_json::Value| -> serde_json::Value {
            match v.as_str() {
                Some("sim-1") => record["call_id"].clone(),
                Some("+70000000000") => record["called"].clone(),
                _ => v.clone(),
            }
        };
        for (want, (method, target, body)) in self.expected.iter().zip(&got) {
            // The URL as the flow wrote it (its own query too), then the `with` values.
            let rest = want.url.split_once("://").map_or("", |(_, r)| r);
            let path = rest.find('/').map_or("/", |i| &rest[i..]);
            let (got_path, query) = match target.strip_prefix(path) {
                Some(more) => (path, more.trim_start_matches(['?', '&'])),
                None => (target.as_str(), ""),
            };
            let params: Vec<(String, serde_json::Value)> = want
                .params
                .iter()
                .map(|(k, v)| (k.clone(), platform(v)))
                .collect();
            let sent: Vec<(String, serde_json::Value)> = if want.method == "GET" {
                query
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (form_decode(k), serde_json::Value::String(form_decode(v)))
                    })
                    .collect()
            } else {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(body)
                    .map(|m| m.into_iter().collect())
                    .unwrap_or_default()
            };
            let as_text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let same_params = if want.method == "GET" {
                sent.len() == params.len()
                    && params
                        .iter()
                        .zip(&sent)
                        .all(|((k, v), (k2, v2))| k == k2 && as_text(v) == as_text(v2))
            } else {
                let mut a = params.clone();
                let mut b = sent.clone();
                a.sort_by(|x, y| x.0.cmp(&y.0));
                b.sort_by(|x, y| x.0.cmp(&y.0));
                a == b
            };
            if *method != want.method || got_path != path || !same_params {
                problems.push(format!(
                    "the CRM got {method} {target} {body}; the engine asked {} {} with {params:?}",
                    want.method, want.url
                ));
            }
        }
        problems
    }
}

/// A request's method, target and body, read from a connection.
fn read_request(stream: &std::net::TcpStream) -> (String, String, String) {
    use std::io::{BufRead, Read};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    (method, target, String::from_utf8_lossy(&body).into_owned())
}

/// A form-encoded query part, decoded (`+` is a space, `%XX` a byte).
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

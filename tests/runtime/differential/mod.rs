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

use crate::harness::{free_port, require, rtp_sink, scratch, sipp_uas, sipp_with, Runtime};
use ivrc::engine::Command;
use ivrc::ir::{self, TestStep, TestStepKind};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod crm;
mod peers;
mod plan;

use crm::{origins, Crm};
use peers::{caller_scenario, trunk_scenario, wire};
use plan::{literal, plan, Plan, Start, RECORD_MS};

/// The runtime's `--time-scale`: a 10 s timeout takes 2 s (less for flows whose digit
/// timeouts would then be shorter than the peers' key pacing: see [`plan::scale_of`]).
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
        "it plays audio from a URL, which the runtime downloads before it starts (no stand-in \
         serves audio here), and says its recording's path, which is each driver's own",
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

/// `text` indented under a label.
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
    let rt = Runtime::start(
        &format!("differential-{n}-runtime"),
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
            let client = crate::harness::Client::new(&rt);
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

//! What the peers do in a block, and when: the block's input steps laid out on the call's
//! clock from what the engine does for them (how long its prompts take on the runtime, its
//! timers at the runtime's time scale), each given to the party that acts.

use super::{engine_call, Case, KEY_GAP_MS, MARGIN_MS, SCALE};
use ivrc::engine::Command;
use ivrc::ir::{self, Outcome, TestStepKind};
use std::collections::BTreeMap;
use std::process::Stdio;

/// How the call of a block starts on the runtime.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Start {
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
pub(super) enum Act {
    Press(String),
    Speak(String),
    Hangup,
}

/// What one dialled party (or the caller) does.
#[derive(Debug, Default, Clone)]
pub(super) struct Party {
    /// The number the runtime calls (dialled parties, the lead).
    pub(super) number: String,
    /// How it answers: `answer`, `busy`, `no_answer`, `fail` (dialled parties and the lead).
    pub(super) outcome: Option<Outcome>,
    /// When it answers, on the call's clock.
    pub(super) answered_at: u64,
    /// What it does, with when.
    pub(super) acts: Vec<(u64, Act)>,
    /// Whether the flow transfers it (REFER expected).
    pub(super) transferred: bool,
    /// Whether it says «алло» on answering (for the runtime's answering-machine detection).
    pub(super) greets: bool,
}

/// What an answering machine of the trunk says: a greeting longer than the detector's 1.5 s.
pub(super) const MACHINE_GREETING: &str =
    "Здравствуйте. Вы позвонили Ивану. Оставьте сообщение после сигнала.";

/// When the detector has heard enough of [`MACHINE_GREETING`] (it starts after 0.4 s), in ms
/// after the answer.
pub(super) const MACHINE_HEARD_MS: u64 = 400 + 1500 + 500;

/// The peers' plan for a block.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) start: Start,
    /// The caller or the lead (`caller`), and every dialled leg, by leg name.
    pub(super) parties: BTreeMap<String, Party>,
    /// Whether the engine's call ends by itself (else the caller leaves at the end).
    pub(super) ends: bool,
    /// Whether the flow answers the caller (a flow that never acts on its caller leg leaves
    /// an inbound call unanswered: 480 at its end).
    pub(super) answered: bool,
    /// Texts the flow sends (each one more sipp call at the trunk).
    pub(super) texts: usize,
    /// The number of the block's `from`.
    pub(super) from: String,
    /// The runtime's `--time-scale` for this block.
    pub(super) scale: f64,
    /// The errors the engine logs (the runtime's record must have the same).
    pub(super) errors: Vec<String>,
    /// The requests the flow makes, each with the block's answer to it.
    pub(super) fetches: Vec<Fetch>,
    /// Whether the campaign has a calling window (the runtime is told to ignore it).
    pub(super) window: bool,
}

/// A request of the flow's `fetch` and the block's answer to it.
#[derive(Debug, Clone)]
pub(super) struct Fetch {
    pub(super) method: String,
    pub(super) url: String,
    pub(super) params: Vec<(String, serde_json::Value)>,
    /// The block's answer: JSON, a failure (`None` inside), or none (the fetch times out).
    pub(super) answer: Option<Option<serde_json::Value>>,
}

/// The time scale for `program`: [`SCALE`], or less, so that every `digit_timeout` stays
/// over twice the pause between a `press`'s keys.
pub(super) fn scale_of(program: &ir::Program) -> f64 {
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

/// How long espeak-ng speaks `text` (as the runtime renders it), in ms.
pub(super) fn spoken_ms(text: &str, lang: &str, voice: &str) -> u64 {
    use ivrc::runtime::media::prompts::{Espeak, Voice};
    let voice = Voice::of(lang, voice).unwrap_or(Voice {
        lang: lang.into(),
        gender: "female".into(),
    });
    espeak_ms(&Espeak::voice_name(&voice), text)
}

/// How long a party's `speak` lasts, as [`crate::calls::speak`] renders it (a second of
/// silence after the words ends the utterance).
pub(super) fn utterance_ms(text: &str) -> u64 {
    espeak_ms("ru", text) + 1000
}

/// How long after its answer a greeting lead's «алло» ends (it starts after 0.6 s).
pub(super) fn greeting_ms() -> u64 {
    600 + espeak_ms("ru", "алло")
}

/// How long espeak-ng's `voice` speaks `text`, in ms.
pub(super) fn espeak_ms(voice: &str, text: &str) -> u64 {
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
pub(super) const RECORD_MS: u64 = 1000;

/// How long a prompt command takes on the runtime, in ms (0 for other commands).
pub(super) fn prompt_ms(command: &Command) -> u64 {
    match command {
        Command::Say {
            text, lang, voice, ..
        } => spoken_ms(text, lang, voice),
        Command::Play { .. } => RECORD_MS,
        _ => 0,
    }
}

/// The peers' plan for a block: who does what when, on the call's clock.
pub(super) fn plan(case: &Case, full: &ivrc::sim::VirtualCall<'_>) -> Result<Plan, String> {
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
pub(super) fn literal(e: &ir::Expr) -> String {
    match e {
        ir::Expr::Number { value } => value.to_string(),
        ir::Expr::Phone { value } => value.clone(),
        ir::Expr::Bool { value } => value.to_string(),
        ir::Expr::Duration { ms } => ir::format_duration(*ms),
        ir::Expr::Text { template } => template.fixed_text().unwrap_or_default(),
        _ => String::new(),
    }
}

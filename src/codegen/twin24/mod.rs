//! `ivrc build --target twin24`: each campaign as a Twin24 autoCall task, its leads as one
//! candidate batch, and a script that sends both (targets.md §D, seed 002).
//!
//! Twin24 runs the dialogue in a bot built in its own editor and referenced by id; the task
//! carries only the calling policy (rate, window, redial rules, recording, machine
//! detection, normalization). So a flow's statements become a caveat that names what the bot
//! must do, while statements no Twin24 bot can run, and campaign settings the task cannot
//! hold, are refused. Account ids (bot, caller-id entity, transfer channel) come from
//! [`Options`], never from guesses.

mod rate;

pub use rate::{cps, CpsError};

use super::{Artifact, Caveat, Generated, Unsupported};
use crate::ir::{self, Audio, Op, RedialOutcome};
use serde_json::{json, Value};

/// The target's name in diagnostics.
const TARGET: &str = "twin24";
/// Where the API is, unless `TWIN24_API` says otherwise (targets.md §D `[TWIN-CONF]`).
const DEFAULT_API: &str = "https://cis.twin24.ai/api/v1";
/// The latest second of a day `allowCallTimeTo` takes.
const LAST_SECOND_OF_DAY: u64 = 86_399;

/// Where the number shown to candidates comes from (`cidType`/`cidData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerIdSource {
    /// The trunk's default number (`default`).
    Default,
    /// One number of the account, by its id (`gornum`).
    Number(String),
    /// A group of numbers, by its id (`pool`).
    Pool(String),
}

impl std::str::FromStr for CallerIdSource {
    type Err = String;

    /// Reads `default`, `gornum:ID` or `pool:ID`.
    fn from_str(s: &str) -> Result<Self, String> {
        let id = |rest: &str| {
            if rest.is_empty() {
                Err(format!("`{s}` needs an id after the colon"))
            } else {
                Ok(rest.to_string())
            }
        };
        if s == "default" {
            Ok(CallerIdSource::Default)
        } else if let Some(rest) = s.strip_prefix("gornum:") {
            id(rest).map(CallerIdSource::Number)
        } else if let Some(rest) = s.strip_prefix("pool:") {
            id(rest).map(CallerIdSource::Pool)
        } else {
            Err(format!("`{s}` is not `default`, `gornum:ID` or `pool:ID`"))
        }
    }
}

/// The account-specific ids and choices the task needs; the `--twin24-*` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The bot scenario's UUID (`defaultExecData`).
    pub bot: String,
    /// The number shown; the trunk's default when not given and the campaign sets none.
    pub caller_id: Option<CallerIdSource>,
    /// The channel the bot transfers to (`secondExec: ch`); required when the flow transfers.
    pub transfer_channel: Option<String>,
    /// Start at this company-local time (`YYYY-MM-DD HH:mm`) instead of when the candidates
    /// arrive.
    pub start_at: Option<String>,
    /// The account's own trunk (`providerId`).
    pub provider: Option<String>,
    /// Seconds after which an answered call counts as effective (`fullListTime`).
    pub effective_after_s: u64,
    /// Send `candidateLimit` as a number (older docs) instead of `{redial, count}`.
    pub candidate_limit_as_number: bool,
    /// `normalizationErrorAction` as the account's docs name it (its values are
    /// unconfirmed, so it is only sent when given).
    pub normalization_error_action: Option<String>,
}

/// Checks a start time in Twin24's `YYYY-MM-DD HH:mm` form.
///
/// # Errors
///
/// What is wrong with it, in words.
pub fn parse_start_moment(text: &str) -> Result<String, String> {
    let bad = || format!("`{text}` is not a time in the form YYYY-MM-DD HH:mm");
    let b = text.as_bytes();
    let digits_at = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    if b.len() != 16 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return Err(bad());
    }
    if !(digits_at(0..4)
        && digits_at(5..7)
        && digits_at(8..10)
        && digits_at(11..13)
        && digits_at(14..16))
    {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(u32::MAX);
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
    {
        return Err(bad());
    }
    Ok(text.to_string())
}

/// Builds the task, candidate batch and send script of every campaign.
pub fn generate(program: &ir::Program, options: &Options) -> Generated {
    let (mut out, any) = Generated::for_campaigns(
        program,
        TARGET,
        "Twin24 places calls from an autoCall task; add `campaign NAME for FLOW { leads \"…\"; dial PARAM; rate 1/s }`",
        "Twin24 only runs campaigns; bind the flow with `campaign NAME for FLOW { … }` or build it for another target",
    );
    if !any {
        return out;
    }
    for c in &program.campaigns {
        let Some(flow) = program.flows.iter().find(|f| f.name == c.flow) else {
            continue;
        };
        let before = out.refused.len();
        if c.lines > 1 {
            out.caveats.push(caveat(
                c.setting_span("lines"),
                "`lines`",
                "is not sent: an autoCall task is paced by its call rate only",
                "Twin24 limits calls at once by your trunk's capacity; keep `rate` as the limit",
            ));
        }
        flow_capabilities(flow, options, &mut out);
        let task = task(c, flow, options, &mut out.refused);
        if out.refused.len() > before {
            continue;
        }
        let Some(task) = task else { continue };
        out.artifacts
            .push(Artifact::json(format!("{}.task.json", c.name), &task));
        out.artifacts.push(Artifact::json(
            format!("{}.candidates.json", c.name),
            &candidates(c),
        ));
        out.artifacts.push(Artifact {
            path: format!("{}.send.sh", c.name),
            contents: send_script(&c.name),
        });
    }
    out.finish()
}

fn refuse(span: &ir::SrcSpan, construct: &str, help: &str) -> Unsupported {
    Unsupported::new(TARGET, span, construct, help)
}

fn caveat(span: &ir::SrcSpan, construct: &str, problem: &str, help: &str) -> Caveat {
    Caveat::new(TARGET, span, construct, problem, help)
}

/// Refuses what no Twin24 bot runs and names, in one caveat, what the bot has to run.
fn flow_capabilities(flow: &ir::Flow, options: &Options, out: &mut Generated) {
    if let Some(entry) = flow.handlers.sms {
        out.refused.push(refuse(
            &flow.nodes[entry.0 as usize].span,
            "`on sms`",
            "Twin24 voice bots do not receive SMS; use the Twilio target (`ivrc serve`)",
        ));
    }
    let mut bot_steps: Vec<&'static str> = Vec::new();
    let mut first_bot_step = None;
    for n in &flow.nodes {
        let refused = match &n.op {
            Op::Sms { .. } => Some(("`sms`", "an autoCall task sends no SMS; send it from your system on the `CALL_ENDED` webhook (`result_webhook`)")),
            Op::Fetch { .. } => Some(("`fetch`", "an autoCall task makes no HTTP requests; give the data to each candidate as lead columns (variables)")),
            Op::Dial { .. } => Some(("`dial` of a second leg", "a Twin24 bot transfers the call (`transfer`) to a channel; it does not dial and bridge")),
            Op::Bridge { .. } => Some(("`bridge`", "a Twin24 bot transfers the call (`transfer`) to a channel; it does not bridge legs")),
            Op::Record { .. } => Some(("`record`", "Twin24 records whole calls: use the campaign's `record_calls`")),
            Op::Block { .. } => Some(("`block`", "an autoCall task keeps no blacklist; drop the number from your leads")),
            Op::Play { audio: Audio::Record { .. }, .. } => Some(("`play record`", "record ids are Zvonobot audio; upload the audio to the Twin24 bot instead")),
            Op::Transfer { .. } if options.transfer_channel.is_none() => Some(("`transfer`", "Twin24 transfers to a channel of your account: pass `--twin24-transfer-channel UUID`")),
            _ => None,
        };
        if let Some((construct, help)) = refused {
            out.refused.push(refuse(&n.span, construct, help));
            continue;
        }
        // what the bot has to do: everything but bookkeeping (labels, loops, the end)
        let step = match &n.op {
            Op::Say { .. }
            | Op::Play { .. }
            | Op::Pause { .. }
            | Op::Collect { .. }
            | Op::Menu { .. }
            | Op::Listen { .. }
            | Op::Transfer { .. }
            | Op::Report { .. }
            | Op::Assign { .. }
            | Op::Branch { .. } => n.op.keyword(),
            _ => continue,
        };
        first_bot_step.get_or_insert(&n.span);
        if !bot_steps.contains(&step) {
            bot_steps.push(step);
        }
    }
    if let Some(span) = first_bot_step {
        out.caveats.push(caveat(
            span,
            &format!("the dialogue of flow `{}` ({})", flow.name, bot_steps.join(", ")),
            "runs in the Twin24 bot named by `--twin24-bot`, which ivrc cannot upload",
            "build the same steps in Twin's bot editor; keep this flow and its tests as the bot's specification",
        ));
    }
}

/// The autoCall task, or `None` (with the reasons in `refused`) when it cannot be made.
fn task(
    c: &ir::Campaign,
    flow: &ir::Flow,
    options: &Options,
    refused: &mut Vec<Unsupported>,
) -> Option<Value> {
    let before = refused.len();
    let mut no = |key: &str, construct: &str, help: String| {
        refused.push(refuse(c.setting_span(key), construct, &help));
    };
    if options.normalization_error_action.is_some()
        && c.normalize != crate::phone::Normalization::Ru
    {
        no("normalize", "`--twin24-normalization-error-action` without `normalize ru`", "Twin24 applies the error action only when it normalizes: add `normalize ru` to the campaign".into());
    }
    if c.dial.is_none() {
        no("", "a campaign without `dial`", "Twin24 calls each candidate itself and runs the bot on the answered call; add `dial PARAM` naming the phone column".into());
    }
    let cps = match c.rate {
        None => {
            no(
                "",
                "a campaign without `rate`",
                "Twin24 needs the calling intensity: add e.g. `rate 1/s` or `rate 1/60s`".into(),
            );
            None
        }
        Some(r) => match cps(r) {
            Ok(v) => Some(v),
            Err(e) => {
                no(
                    "rate",
                    "this `rate`",
                    format!("{e}; write `rate N/s` (N 1–99) or `rate 1/Ns` (N 1–99)"),
                );
                None
            }
        },
    };
    let caller = match (&options.caller_id, &c.caller_id, &flow.settings.caller_id) {
        (Some(source), _, _) => source.clone(),
        (None, None, None) => CallerIdSource::Default,
        (None, _, _) => {
            no("caller_id", "`caller_id`", "Twin24 shows a number by its id in your account, not by the number: pass `--twin24-caller-id gornum:ID` or `pool:ID`".into());
            CallerIdSource::Default
        }
    };
    let trim_s = match c.record_calls {
        Some(r) if r.trim_ms % 1000 != 0 => {
            no(
                "record_calls",
                "`record_calls trim` of part of a second",
                "Twin24 trims whole seconds (`recTrimLeft`); write e.g. `trim 2s`".into(),
            );
            0
        }
        Some(r) => r.trim_ms / 1000,
        None => 0,
    };
    let mut seconds = |ms: u64, key: &str, what: &str| {
        if ms % 1000 != 0 {
            refused.push(refuse(
                c.setting_span(key),
                what,
                "Twin24 takes redial times in whole seconds; write e.g. `10m` or `90s`",
            ));
        }
        ms / 1000
    };
    let retry_s = seconds(
        c.retry_after_ms,
        "retry_after",
        "`retry_after` of part of a second",
    );
    let mut rules = serde_json::Map::new();
    let mut any_redial = false;
    for (outcome, source, key) in [
        (RedialOutcome::Busy, "redial busy", "busy"),
        (RedialOutcome::NoAnswer, "redial no_answer", "noAnswer"),
        (RedialOutcome::Machine, "redial machine", "answerMash"),
        (RedialOutcome::Failed, "redial failed", "congestion"),
        (
            RedialOutcome::Unproductive,
            "redial unproductive",
            "answerNoList",
        ),
    ] {
        let (redial, time, count) = match c.redial.iter().find(|r| r.outcome == outcome) {
            Some(ir::Redial { every_ms: None, .. }) => (false, 0, 0),
            Some(ir::Redial {
                every_ms: Some(ms),
                max,
                ..
            }) => (
                true,
                seconds(*ms, source, "a `redial` time of part of a second"),
                *max,
            ),
            None if c.attempts > 1 => (true, retry_s, c.attempts - 1),
            None => (false, 0, 0),
        };
        any_redial |= redial;
        rules.insert(
            key.into(),
            json!({ "redial": redial, "time": time, "count": count }),
        );
    }
    if refused.len() > before {
        return None;
    }
    rules.insert("redialStrategyEn".into(), json!(any_redial));
    rules.insert(
        "candidateLimit".into(),
        if options.candidate_limit_as_number {
            json!(c.attempts)
        } else {
            json!({ "redial": true, "count": c.attempts })
        },
    );

    let mut additional = json!({
        "fullListMethod": "reject",
        "fullListTime": options.effective_after_s,
        "recordCall": c.record_calls.is_some(),
        "recTrimLeft": trim_s,
        "detectRobot": c.detect_machine,
        "useTr": c.window.is_some(),
    });
    if let Some(w) = c.window {
        additional["allowCallTimeFrom"] = json!(u64::from(w.from_minute) * 60);
        additional["allowCallTimeTo"] =
            json!((u64::from(w.to_minute) * 60).min(LAST_SECOND_OF_DAY));
    }
    if c.detect_machine {
        additional["detectRobotMode"] = json!("back");
    }
    if let Some(p) = &options.provider {
        additional["providerId"] = json!(p);
    }

    let (cid_type, cid_data) = match &caller {
        CallerIdSource::Default => ("default", None),
        CallerIdSource::Number(id) => ("gornum", Some(id)),
        CallerIdSource::Pool(id) => ("pool", Some(id)),
    };
    let transfers = flow
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::Transfer { .. }));
    let mut task = json!({
        "name": c.name,
        "defaultExec": "robot",
        "defaultExecData": options.bot,
        "secondExec": if transfers { "ch" } else { "end" },
        "cidType": cid_type,
        "startType": if options.start_at.is_some() { "time" } else { "manual" },
        "cps": cps.as_deref().and_then(|v| v.parse::<f64>().ok()),
        "checkPhone": true,
        "phoneNormalization": match c.normalize {
            crate::phone::Normalization::Ru => json!("RU"),
            crate::phone::Normalization::E164 => Value::Null,
        },
        "taskComment": format!("ivrc campaign `{}`, flow `{}`", c.name, c.flow),
        "additionalOptions": additional,
        "redialStrategyOptions": Value::Object(rules),
    });
    if transfers {
        task["secondExecData"] = json!(options.transfer_channel);
    }
    if let Some(action) = &options.normalization_error_action {
        task["normalizationErrorAction"] = json!(action);
    }
    if let Some(id) = cid_data {
        task["cidData"] = json!(id);
    }
    if let Some(at) = &options.start_at {
        task["startMoment"] = json!(at);
    }
    if let Some(url) = &c.result_webhook {
        task["webhookUrls"] = json!([url]);
    }
    Some(task)
}

/// The candidate batch: every lead with its phone (digits, country code first) and its other
/// columns as bot variables. `autoCallId` is added by the send script from the task's id.
fn candidates(c: &ir::Campaign) -> Value {
    let dial = c.dial.as_deref().unwrap_or_default();
    let batch: Vec<Value> = c
        .leads_rows
        .iter()
        .map(|lead| {
            let phone = lead.values.get(dial).map_or("", String::as_str);
            let variables: serde_json::Map<String, Value> = lead
                .values
                .iter()
                .filter(|(k, _)| k.as_str() != dial)
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let mut item = json!({
                "phone": [phone.trim_start_matches('+')],
                "variables": variables,
                "callbackData": { "campaign": c.name, "line": lead.line },
            });
            if let Some(offset) = c.utc_offset_minutes {
                item["timezone"] = json!(i64::from(offset) * 60);
            }
            item
        })
        .collect();
    json!({ "batch": batch, "forceStart": true })
}

/// A script that creates the task, then adds the candidates with the task's id.
fn send_script(campaign: &str) -> String {
    format!(
        r#"#!/bin/sh
# Creates the Twin24 autoCall task `{campaign}` and adds its candidates (generated by ivrc).
# Needs curl and jq. TWIN24_TOKEN: a bearer token of your account; TWIN24_API: the API root.
set -eu
cd "$(dirname "$0")"
: "${{TWIN24_TOKEN:?set TWIN24_TOKEN to your Twin24 API token}}"
api="${{TWIN24_API:-{DEFAULT_API}}}"
post() {{
  curl --fail-with-body -sS -X POST "$api/$1" \
    -H "Authorization: Bearer $TWIN24_TOKEN" -H 'Content-Type: application/json' \
    --data-binary @-
}}
id=$(post telephony/autoCall < {campaign}.task.json | jq -er '.id.identity')
echo "task $id"
jq --arg id "$id" '.batch[].autoCallId = $id' {campaign}.candidates.json \
  | post telephony/autoCallCandidate/batch
echo
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_id_sources() {
        assert_eq!("default".parse(), Ok(CallerIdSource::Default));
        assert_eq!("gornum:42".parse(), Ok(CallerIdSource::Number("42".into())));
        assert_eq!("pool:a-b".parse(), Ok(CallerIdSource::Pool("a-b".into())));
        assert!("pool:".parse::<CallerIdSource>().is_err());
        assert!("+74951234567".parse::<CallerIdSource>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn start_moments_never_panic_and_round_trip(text in "\\PC{0,20}|[0-9: -]{16}") {
            if let Ok(ok) = parse_start_moment(&text) {
                proptest::prop_assert_eq!(ok, text);
            }
        }
    }

    #[test]
    fn start_moments() {
        assert!(parse_start_moment("2026-12-01 09:30").is_ok());
        for bad in [
            "2026-12-01",
            "2026-13-01 09:30",
            "2026-12-01 24:00",
            "2026-12-01T09:30",
            "2026-12-01 9:30",
            "२०२६-12-01 09:30",
        ] {
            assert!(parse_start_moment(bad).is_err(), "{bad}");
        }
    }
}

//! What `ivrc serve` can run of a flow on Twilio, decided before the server starts: one
//! Twilio document speaks to one party — the call's own, or a dialled party during its
//! `<Number url>` step — so statements on any other party at that point are refused, as are
//! `play record` and files named by values; and the facts the server needs up front — which
//! audio files a flow names, whether its calls send texts.

use super::voice;
use crate::codegen::twiml;
use crate::codegen::Unsupported;
use crate::ir::{self, LegId, Op, Outcome};

/// Constructs of a flow that `ivrc serve` cannot run on Twilio.
pub fn capabilities(flow: &ir::Flow) -> Vec<Unsupported> {
    refusals(flow, false)
}

/// [`capabilities`] of a server with platform records (`--records`): `play record` plays them.
pub fn capabilities_with_records(flow: &ir::Flow) -> Vec<Unsupported> {
    refusals(flow, true)
}

fn refusals(flow: &ir::Flow, records: bool) -> Vec<Unsupported> {
    let mut out = Vec::new();
    let refuse = |n: &ir::Node, construct: &str, help: &str| Unsupported {
        target: "twilio",
        construct: construct.to_string(),
        help: help.to_string(),
        span: n.span.clone(),
    };
    if twiml::voice_name(&flow.settings.lang, &flow.settings.voice).is_none() {
        // The refusal is about the `voice` when the language is one of the built-in
        // voices' (then the voice is what is unknown), else about `lang`.
        let known_lang = matches!(flow.settings.lang.as_str(), "ru-RU" | "en-US");
        let setting = if known_lang { "voice" } else { "lang" };
        out.push(Unsupported {
            target: "twilio",
            construct: "this language and voice".into(),
            help: "use `lang ru-RU` or `en-US` with `voice female`/`male`, or a Twilio voice such as `voice \"Polly.Tatyana\"`".into(),
            span: flow.settings.span_or(setting, &flow.span).clone(),
        });
    }
    let in_calls = reached_by_calls(flow);
    for n in flow.nodes.iter().filter(|n| in_calls[n.id.0 as usize]) {
        let problem = match &n.op {
            Op::Play {
                audio: ir::Audio::Record { .. },
                ..
            } if !records => Some((
                "`play record`",
                "record ids are Zvonobot audio: give --records DIR holding ID.wav for each, play a URL, or `say` the text",
            )),
            Op::Play {
                audio: ir::Audio::File { path },
                ..
            } if !path.exprs().is_empty() => Some((
                "`play` of a local file named by a value",
                "the server only serves the files a flow names in fixed text; play a URL, or name the file",
            )),
            _ => None,
        };
        if let Some((construct, help)) = problem {
            out.push(refuse(n, construct, help));
        }
    }
    for (n, construct, help) in parties(flow) {
        out.push(refuse(n, &construct, help));
    }
    out
}

/// Whom the statements at a point of the flow reach on Twilio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Doc {
    /// A document of a call, speaking to this party.
    Party(LegId),
    /// `on hangup`, run from the status callback: no one hears anything.
    Hangup,
    /// The rest of a flow whose first dial (the call Twilio placed) never connected, run
    /// from the status callback.
    Unplaced,
}

/// Which party each Twilio document speaks to, walked through the flow: a call's own party
/// (the caller, or the leg a flow without one dials first), or a dialled party during its
/// `<Number url>` step — from its answer until it is bridged with the call, hung up or the
/// flow ends. Statements on any other party, dials during such a step, bridges without the
/// call, and statements on parties where no document plays are refused.
fn parties(flow: &ir::Flow) -> Vec<(&ir::Node, String, &'static str)> {
    const OTHER: &str = "a Twilio document speaks to one party: the call's own, or a dialled party from its answer until it is bridged with the call (its `<Number url>` step)";
    const SILENT: &str = "this part of the flow runs from the call's status callback, when no party can hear anything: it can `report`, `sms`, `fetch` and set values";
    // Where the walk is: the node, the call's own leg (unknown before a flow without a
    // caller dials), and whom its statements reach.
    type At = (ir::NodeId, Option<LegId>, Doc);
    let caller = flow.uses_caller().then_some(LegId::CALLER);
    let name = |l: LegId| flow.legs.get(l.0 as usize).map_or("?", |l| l.name.as_str());
    let mut seen = std::collections::HashSet::<At>::new();
    let mut stack: Vec<At> = vec![(flow.entry, caller, caller.map_or(Doc::Unplaced, Doc::Party))];
    if let Some(h) = flow.handlers.hangup {
        stack.push((h, caller, Doc::Hangup));
    }
    let mut error_handler = flow.handlers.error;
    let mut first_home = caller;
    let mut out = Vec::new();
    loop {
        let Some(at @ (id, home, doc)) = stack.pop() else {
            // Errors may come anywhere; their handler is walked from the call's own party.
            match (error_handler.take(), first_home) {
                (Some(h), Some(home)) => {
                    stack.push((h, Some(home), Doc::Party(home)));
                    continue;
                }
                _ => break,
            }
        };
        let Some(n) = flow.nodes.get(id.0 as usize) else {
            continue;
        };
        if !seen.insert(at) {
            continue;
        }
        let acts_on = match &n.op {
            Op::Say { leg, .. }
            | Op::Play { leg, .. }
            | Op::Collect { leg, .. }
            | Op::Menu { leg, .. }
            | Op::Listen { leg, .. }
            | Op::Record { leg, .. }
            | Op::Transfer { leg, .. } => Some(*leg),
            _ => None,
        };
        let in_step = |on: LegId| Some(on) != home;
        // Whom the `answered` edge of a dial reaches, when not this document's party.
        let mut answered = None;
        let mut after = (home, doc);
        let problem: Option<(String, &'static str)> = match (&n.op, doc) {
            (Op::Dial { leg, .. }, Doc::Unplaced) if home.is_none() => {
                // The first dial of a flow without a caller is the call Twilio places.
                first_home.get_or_insert(*leg);
                after = (Some(*leg), Doc::Unplaced);
                answered = Some((Some(*leg), Doc::Party(*leg)));
                None
            }
            (_, Doc::Hangup | Doc::Unplaced)
                if acts_on.is_some() || matches!(n.op, Op::Dial { .. } | Op::Bridge { .. }) =>
            {
                let place = match (doc, home) {
                    (Doc::Hangup, _) => "in `on hangup`",
                    (_, None) => "before the flow's first dial",
                    _ => "after the call's first dial failed",
                };
                Some((format!("`{}` {place}", n.op.keyword()), SILENT))
            }
            (_, Doc::Party(on)) if acts_on.is_some_and(|l| l != on) => Some((
                format!(
                    "`{}` on `{}` while the document speaks to `{}`",
                    n.op.keyword(),
                    name(acts_on.unwrap_or(on)),
                    name(on)
                ),
                OTHER,
            )),
            (Op::Dial { .. }, Doc::Party(on)) if in_step(on) => Some((
                format!("`dial` during the `<Number url>` step of `{}`", name(on)),
                "Twilio does not dial from a dialled party's step; dial once it is bridged or hung up",
            )),
            (Op::Dial { leg, .. }, Doc::Party(on)) => {
                if !voice::answered_into_bridge(flow, n, on) {
                    answered = Some((home, Doc::Party(*leg)));
                }
                None
            }
            (Op::Bridge { a, b, .. }, Doc::Party(on)) => {
                if !home.is_some_and(|h| *a == h || *b == h) {
                    Some((
                        format!("`bridge {} and {}`", name(*a), name(*b)),
                        "Twilio bridges a call with a party it dials; bridge the call's own party",
                    ))
                } else {
                    if in_step(on) {
                        // The step ends by connecting its party; the call goes on after.
                        after = (home, home.map_or(doc, Doc::Party));
                    }
                    None
                }
            }
            (Op::Hangup { leg: Some(l) }, Doc::Party(on)) if in_step(on) && Some(*l) == home => {
                Some((
                    format!("`hangup {}` during the `<Number url>` step of `{}`", name(*l), name(on)),
                    OTHER,
                ))
            }
            (Op::Hangup { leg: Some(l) }, Doc::Party(on)) if in_step(on) && *l == on => {
                // Hanging up the step's party ends the step; the flow goes on for the call.
                after = (home, home.map_or(doc, Doc::Party));
                None
            }
            _ => None,
        };
        if let Some((construct, help)) = problem {
            // A statement reached in several ways is refused once.
            if !out.iter().any(|(m, _, _): &(&ir::Node, _, _)| m.id == n.id) {
                out.push((n, construct, help));
            }
            continue;
        }
        for e in &n.edges {
            let (h, d) = match (&e.on, answered) {
                (Outcome::Answered | Outcome::Machine, Some(to)) => to,
                _ => after,
            };
            stack.push((e.to, h, d));
        }
    }
    out
}

/// The audio files a flow names (fixed text only), which the server may serve.
pub fn audio_files(flow: &ir::Flow) -> Vec<String> {
    flow.nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Play {
                audio: ir::Audio::File { path },
                ..
            } => path.fixed_text(),
            _ => None,
        })
        .collect()
}

/// Whether calls of the flow send text messages (which needs Twilio's REST API).
pub fn sends_sms_in_calls(flow: &ir::Flow) -> bool {
    let in_calls = reached_by_calls(flow);
    flow.nodes
        .iter()
        .any(|n| in_calls[n.id.0 as usize] && matches!(n.op, Op::Sms { .. }))
}

/// Which nodes a call can reach (from the entry and the hangup and error handlers); the rest
/// belong to the `on sms` handler, which the messaging webhook runs.
fn reached_by_calls(flow: &ir::Flow) -> Vec<bool> {
    let mut seen = vec![false; flow.nodes.len()];
    let mut stack: Vec<ir::NodeId> = [Some(flow.entry), flow.handlers.hangup, flow.handlers.error]
        .into_iter()
        .flatten()
        .collect();
    while let Some(id) = stack.pop() {
        let i = id.0 as usize;
        if i >= seen.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        stack.extend(flow.nodes[i].edges.iter().map(|e| e.to));
    }
    seen
}

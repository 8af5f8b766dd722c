//! What `ivrc serve` can run of a flow on Twilio, decided before the server starts: one
//! Twilio document speaks to one call leg, so statements on a dialled party are refused unless
//! the dial is answered straight into a bridge (one `<Dial>`); `play record` and files named by
//! values are refused; and the facts the server needs up front — which audio files a flow
//! names, whether its calls send texts.

use crate::codegen::twiml;
use crate::codegen::Unsupported;
use crate::ir::{self, LegId, Op, Outcome};

/// The caller: the one leg a Twilio document speaks to.
const CALLER: LegId = LegId(0);

/// Constructs of a flow that `ivrc serve` cannot run on Twilio.
pub fn capabilities(flow: &ir::Flow) -> Vec<Unsupported> {
    let mut out = Vec::new();
    let refuse = |n: &ir::Node, construct: &str, help: &str| Unsupported {
        target: "twilio",
        construct: construct.to_string(),
        help: help.to_string(),
        span: n.span.clone(),
    };
    if twiml::voice_name(
        flow.settings.lang.as_deref(),
        flow.settings.voice.as_deref(),
    )
    .is_none()
    {
        out.push(Unsupported {
            target: "twilio",
            construct: "this language and voice".into(),
            help: "use `lang ru-RU` or `en-US` with `voice female`/`male`, or a Twilio voice such as `voice \"Polly.Tatyana\"`".into(),
            span: flow.span.clone(),
        });
    }
    let on_other_leg = "a Twilio document speaks to the caller only; acting on a dialled party needs a `<Number url>` step, which `ivrc serve` does not emit yet";
    let in_calls = reached_by_calls(flow);
    for n in flow.nodes.iter().filter(|n| in_calls[n.id.0 as usize]) {
        let problem = match &n.op {
            Op::Say { leg, .. }
            | Op::Play { leg, .. }
            | Op::Collect { leg, .. }
            | Op::Menu { leg, .. }
            | Op::Listen { leg, .. }
            | Op::Record { leg, .. }
                if *leg != CALLER =>
            {
                Some(("a statement on a dialled leg", on_other_leg))
            }
            Op::Play {
                audio: ir::Audio::Record { .. },
                ..
            } => Some((
                "`play record`",
                "record ids are Zvonobot audio; play a URL or `say` the text",
            )),
            Op::Play {
                audio: ir::Audio::File { path },
                ..
            } if path.parts.iter().any(|p| matches!(p, ir::TemplatePart::Value(_))) => Some((
                "`play` of a local file named by a value",
                "the server only serves the files a flow names in fixed text; play a URL, or name the file",
            )),
            Op::Dial { leg, .. } if !answered_into_bridge(flow, n, *leg) => Some((
                "a `dial` whose answer does not go straight to `bridge caller and LEG`",
                on_other_leg,
            )),
            Op::Block { .. } => Some((
                "`block`",
                "Twilio has no blacklist for calls; record the number with your CRM",
            )),
            _ => None,
        };
        if let Some((construct, help)) = problem {
            out.push(refuse(n, construct, help));
        }
    }
    if flow.handlers.hangup.is_some() {
        out.push(Unsupported {
            target: "twilio",
            construct: "`on hangup`".into(),
            help: "`ivrc serve` does not take call status callbacks yet".into(),
            span: flow.span.clone(),
        });
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
            } => path
                .parts
                .iter()
                .map(|p| match p {
                    ir::TemplatePart::Text(t) => Some(t.as_str()),
                    ir::TemplatePart::Value(_) => None,
                })
                .collect::<Option<String>>(),
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

/// Whether a dial's `answered` edge goes straight to bridging the caller with that leg, which
/// one `<Dial>` does by itself.
fn answered_into_bridge(flow: &ir::Flow, dial: &ir::Node, leg: LegId) -> bool {
    dial.edge(&Outcome::Answered)
        .and_then(|to| flow.nodes.get(to.0 as usize))
        .is_some_and(|n| {
            matches!(n.op, Op::Bridge { a, b, .. } if (a, b) == (CALLER, leg) || (a, b) == (leg, CALLER))
        })
}

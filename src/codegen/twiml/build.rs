//! `ivrc build --target twiml`: a TwiML document for each flow that needs no server (it only
//! says, plays, pauses, transfers and hangs up, with fixed text), and for each campaign the
//! parameters of the REST requests that place its calls. A flow that waits for input or
//! computes runs under `ivrc serve`; it gets no document and a [`NeedsServe`] note pointing at
//! the first statement that needs the server.

use super::{voice_name, voice_response, Verb};
use crate::codegen::Artifact;
use crate::engine::{Command, Engine};
use crate::ir::{self, Expr, LegId, Op, Outcome};

/// Why a flow has no static document, or a campaign setting Twilio does not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsServe {
    /// The construct, in words.
    pub construct: String,
    /// What is the matter with it.
    pub problem: &'static str,
    /// What to do.
    pub help: String,
    /// Where it is.
    pub span: ir::SrcSpan,
}

/// The diagnostic of a [`NeedsServe`] note (a warning: the build goes on).
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{construct} {problem}")]
#[diagnostic(code(ivrc::codegen::needs_serve), severity(Warning), help("{help}"))]
pub struct NeedsServeDiagnostic {
    /// The construct.
    pub construct: String,
    /// What is the matter with it.
    pub problem: &'static str,
    /// What to do.
    pub help: String,
    /// Where.
    #[label("here")]
    pub at: miette::SourceSpan,
}

impl NeedsServe {
    /// The diagnostic to show.
    pub fn diagnostic(&self) -> NeedsServeDiagnostic {
        NeedsServeDiagnostic {
            construct: self.construct.clone(),
            problem: self.problem,
            help: self.help.clone(),
            at: (
                self.span.start as usize,
                (self.span.end - self.span.start) as usize,
            )
                .into(),
        }
    }
}

/// What a TwiML build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// Documents and call lists.
    pub artifacts: Vec<Artifact>,
    /// Flows left to `ivrc serve`, and campaign settings Twilio does not take.
    pub notes: Vec<NeedsServe>,
}

/// Builds the documents of static flows and the call requests of campaigns; `base_url` is
/// where the documents (`/<flow>.xml`) and `ivrc serve` (`/voice/<flow>`) are reachable.
pub fn generate(program: &ir::Program, base_url: &str) -> Built {
    let base = base_url.trim_end_matches('/');
    let mut built = Built {
        artifacts: Vec::new(),
        notes: Vec::new(),
    };
    let mut statics = Vec::new();
    for flow in &program.flows {
        match static_verbs(flow) {
            Ok(verbs) => {
                statics.push(flow.name.clone());
                built.artifacts.push(Artifact {
                    path: format!("{}.xml", flow.name),
                    contents: voice_response(&verbs),
                });
            }
            Err((construct, span)) => built.notes.push(NeedsServe {
                construct,
                problem: "needs a webhook server: no static TwiML for this flow",
                help: format!(
                    "this flow runs under `ivrc serve`: its webhook is {base}/voice/{}",
                    flow.name
                ),
                span,
            }),
        }
    }
    for c in &program.campaigns {
        if let Some(flow) = program.flows.iter().find(|f| f.name == c.flow) {
            let is_static = statics.contains(&flow.name);
            built
                .artifacts
                .push(calls(c, flow, base, is_static, &mut built.notes));
        }
    }
    built
}

/// The one document of a flow that needs no input and computes nothing.
fn static_verbs(flow: &ir::Flow) -> Result<Vec<Verb>, (String, ir::SrcSpan)> {
    let caller = LegId::CALLER;
    let voice = voice_name(&flow.settings.lang, &flow.settings.voice);
    let language = Some(flow.settings.lang.clone());
    let mut verbs = Vec::new();
    let mut id = flow.entry;
    for _ in 0..=flow.nodes.len() {
        let Some(n) = flow.nodes.get(id.0 as usize) else {
            break;
        };
        let dynamic = |what: &str| Err((what.to_string(), n.span.clone()));
        match &n.op {
            Op::Answer { .. } | Op::Label { .. } => {}
            Op::Say { leg, text } if *leg == caller => match text.fixed_text() {
                Some(text) => verbs.push(Verb::Say {
                    text,
                    voice: voice.clone(),
                    language: language.clone(),
                }),
                None => return dynamic("a `say` with a value"),
            },
            Op::Play {
                leg,
                audio: ir::Audio::Url { url },
            } if *leg == caller => match url.fixed_text() {
                Some(url) => verbs.push(Verb::Play { url }),
                None => return dynamic("a `play` with a value"),
            },
            Op::Pause { ms } => verbs.push(Verb::Pause {
                seconds: ms.div_ceil(1000),
            }),
            Op::Transfer {
                leg,
                target: Expr::Phone { value },
            } if *leg == caller => verbs.push(Verb::Dial {
                action: None,
                caller_id: None,
                timeout_secs: 30,
                number: value.clone(),
                url: None,
            }),
            Op::Hangup { leg: None } | Op::End => {
                verbs.push(Verb::Hangup);
                return Ok(verbs);
            }
            other => return dynamic(&format!("`{}`", other.keyword())),
        }
        match n.edge(&Outcome::Next) {
            Some(next) => id = next,
            None => {
                verbs.push(Verb::Hangup);
                return Ok(verbs);
            }
        }
    }
    Err(("a loop".into(), flow.span.clone()))
}

/// One lead's request to Twilio's `Calls.json`: what `<campaign>.calls.json` lists, and what
/// `ivrc serve --campaign` posts for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The number called: the lead's (`dial` column), or the flow's first `dial` for a flow
    /// that places its own calls.
    pub to: String,
    /// The number shown (the first dial's, the campaign's or the flow's caller id), if known.
    pub from: Option<String>,
    /// The webhook the call runs (the lead's values in its query).
    pub url: String,
    /// `POST` for the server's webhook, `GET` for a static document.
    pub method: &'static str,
    /// Where its status callbacks go.
    pub status_callback: String,
    /// How long it rings, for a flow's first dial (its `timeout`).
    pub timeout_secs: Option<u64>,
    /// `MachineDetection=Enable` (the campaign's `detect_machine`).
    pub machine_detection: bool,
    /// `Record=true` (the campaign's `record_calls`).
    pub record: bool,
}

/// The call request of a lead with `values` (the flow's parameters), under `base`; `None` when
/// the number to call cannot be known from the values alone (a flow whose first dial comes
/// after something it waits for), or the lead has no number.
pub fn call_request(
    c: &ir::Campaign,
    flow: &ir::Flow,
    base: &str,
    values: &std::collections::BTreeMap<String, String>,
    is_static: bool,
) -> Option<CallRequest> {
    let params: Vec<&String> = flow
        .params
        .iter()
        .map(|id| &flow.vars[id.0 as usize].name)
        .collect();
    let query: Vec<String> = params
        .iter()
        .filter_map(|p| {
            let v = values.get(*p)?;
            Some(format!("{}={}", percent_encode(p), percent_encode(v)))
        })
        .collect();
    let query = query.join("&");
    // A flow without a caller places its own calls: the call requested for a lead is the
    // flow's first dial (its webhook runs the flow from that dial's answer, its status
    // callback the arms for the other outcomes, with the lead's values in both URLs).
    let dials_first = !flow.uses_caller();
    let (to, caller_id, ring_ms) = if dials_first {
        let values = params
            .iter()
            .filter_map(|p| Some(((*p).clone(), values.get(*p)?.clone())))
            .collect();
        match Engine::first_dial(flow, values) {
            Some(Command::Dial {
                number,
                caller_id,
                timeout_ms,
                ..
            }) => (number, caller_id, Some(timeout_ms)),
            _ => return None,
        }
    } else {
        (values.get(c.dial.as_deref()?)?.clone(), None, None)
    };
    let (url, method) = if is_static {
        (format!("{base}/{}.xml", flow.name), "GET")
    } else {
        (format!("{base}/campaign/{}?{query}", c.name), "POST")
    };
    let status_callback = if dials_first {
        format!("{base}/campaign/{}/status?{query}", c.name)
    } else {
        format!("{base}/campaign/{}/status", c.name)
    };
    let from = caller_id
        .or_else(|| c.caller_id.clone())
        .or_else(|| flow.settings.caller_id_number().map(str::to_string));
    Some(CallRequest {
        to,
        from,
        url,
        method,
        status_callback,
        timeout_secs: ring_ms.map(|ms| ms.div_ceil(1000)),
        machine_detection: c.detect_machine,
        record: c.record_calls.is_some(),
    })
}

/// `<campaign>.calls.json`: one `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` per lead.
fn calls(
    c: &ir::Campaign,
    flow: &ir::Flow,
    base: &str,
    is_static: bool,
    notes: &mut Vec<NeedsServe>,
) -> Artifact {
    let from = c
        .caller_id
        .clone()
        .or_else(|| flow.settings.caller_id_number().map(str::to_string))
        .unwrap_or_else(|| "<FROM: a Twilio number of yours>".to_string());
    if c.record_calls.is_some_and(|r| r.trim_ms > 0) {
        notes.push(NeedsServe {
            construct: "`record_calls trim`".into(),
            problem: "is not available on Twilio",
            help: "Twilio records whole calls (`Record=true`); its `Trim` removes silence, not a fixed length, so the trim is left out".into(),
            span: c.span.clone(),
        });
    }
    let mut unnamed = false;
    let list: Vec<serde_json::Value> = c
        .leads_rows
        .iter()
        .filter_map(|lead| {
            let Some(r) = call_request(c, flow, base, &lead.values, is_static) else {
                unnamed |= !flow.uses_caller();
                return None;
            };
            let mut call = serde_json::json!({
                "To": r.to, "From": r.from.unwrap_or_else(|| from.clone()), "Url": r.url, "Method": r.method,
                "StatusCallback": r.status_callback,
                "StatusCallbackEvent": "completed",
                "StatusCallbackMethod": "POST",
            });
            if let Some(secs) = r.timeout_secs {
                call["Timeout"] = secs.into();
            }
            if r.machine_detection {
                call["MachineDetection"] = "Enable".into();
            }
            if r.record {
                call["Record"] = true.into();
            }
            Some(call)
        })
        .collect();
    if unnamed {
        notes.push(NeedsServe {
            construct: format!("the first `dial` of flow `{}`", flow.name),
            problem: "does not come before everything else the flow waits for",
            help: "the call requested for a lead is the flow's first dial, so its number must be known from the lead's values alone; leads whose number is not are left out of calls.json".into(),
            span: flow.span.clone(),
        });
    }
    let body = serde_json::json!({
        "campaign": c.name,
        "flow": flow.name,
        "request": "POST https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Calls.json (form-encoded, basic auth AccountSid:AuthToken)",
        "schedule": {
            "attempts": c.attempts,
            "retry_after_seconds": c.retry_after_ms / 1000,
            "lines": c.lines,
            "rate": c.rate.map(|r| serde_json::json!({ "calls": r.calls, "per_ms": r.per_ms })),
            "window": c.window.map(|w| format!("{:02}:{:02}-{:02}:{:02}", w.from_minute / 60, w.from_minute % 60, w.to_minute / 60, w.to_minute % 60)),
            "utc_offset_minutes": c.utc_offset_minutes,
            "redial": c.redial.iter().map(|r| serde_json::json!({ "outcome": r.outcome, "every_seconds": r.every_ms.map(|ms| ms / 1000), "max": r.max })).collect::<Vec<_>>(),
            "result_webhook": c.result_webhook,
        },
        "calls": list,
    });
    Artifact {
        path: format!("{}.calls.json", c.name),
        contents: serde_json::to_string_pretty(&body).unwrap_or_default() + "\n",
    }
}

/// Percent-encodes everything but the RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

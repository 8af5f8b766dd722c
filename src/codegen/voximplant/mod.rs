//! The Voximplant target: one VoxEngine scenario per flow, and for each campaign a CallList
//! CSV and a CreateCallList request description.
//!
//! A scenario is the ivrc runtime for VoxEngine (`runtime.js`, the engine's semantics in
//! JavaScript over `call.say`, `handleTones`/`ToneReceived`, the ASR module, `callPSTN` with
//! AMD detectors, the Recorder module, `call.record`, `sendMediaBetween`,
//! `Net.httpRequestAsync`, the VoximplantAPI SMS client and `CallList.report*`) followed by the flow as
//! a table of nodes, each commented with the `.ivr` line it comes from, and the start-up for
//! its kind: inbound (`AppEvents.CallAlerting`) or call list (`AppEvents.Started` with
//! `JSON.parse(VoxEngine.customData())`). Text reaches the JavaScript only through
//! `codegen::js`. Constructs VoxEngine cannot run are refused with a diagnostic.

use super::js;
use super::{Artifact, Unsupported};
use crate::ir::{self, Expr, Op, Template, TemplatePart};

const RUNTIME: &str = include_str!("runtime.js");
/// The speech helpers' mirror, added to scenarios whose templates call one.
const SPEECH: &str = include_str!("speech.js");
const TARGET: &str = "voximplant";

/// How a flow's scenario is started.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    /// An inbound call.
    Inbound,
    /// A call-list task; the flow places its own calls.
    CallList,
    /// A call-list task; the scenario calls the lead (the parameter) first.
    CallListDialing(String),
}

/// Generates the scenarios and call-list files of a program.
pub fn generate(program: &ir::Program) -> Result<Vec<Artifact>, Vec<Unsupported>> {
    let mut problems = Vec::new();
    let mut artifacts = Vec::new();
    for flow in &program.flows {
        let campaigns: Vec<&ir::Campaign> = program
            .campaigns
            .iter()
            .filter(|c| c.flow == flow.name)
            .collect();
        let start = match campaigns.first() {
            None => Start::Inbound,
            Some(c) => match &c.dial {
                None => Start::CallList,
                Some(col) => Start::CallListDialing(col.clone()),
            },
        };
        for c in &campaigns {
            campaign_capabilities(c, flow, &mut problems);
        }
        flow_capabilities(flow, &mut problems);
        if problems.is_empty() {
            artifacts.push(Artifact {
                path: format!("{}.voxengine.js", flow.name),
                contents: scenario(flow, &start, campaigns.first().copied()),
            });
        }
    }
    for c in &program.campaigns {
        if let Some(flow) = program.flows.iter().find(|f| f.name == c.flow) {
            artifacts.push(Artifact {
                path: format!("{}.calllist.csv", c.name),
                contents: call_list_csv(c, flow),
            });
            artifacts.push(Artifact {
                path: format!("{}.calllist.json", c.name),
                contents: create_call_list(c),
            });
        }
    }
    if problems.is_empty() {
        Ok(artifacts)
    } else {
        Err(problems)
    }
}

fn unsupported(span: &ir::SrcSpan, construct: &str, help: &str) -> Unsupported {
    Unsupported {
        target: TARGET,
        construct: construct.to_string(),
        help: help.to_string(),
        span: span.clone(),
    }
}

fn flow_capabilities(flow: &ir::Flow, out: &mut Vec<Unsupported>) {
    if voice(flow).is_none() {
        // A full platform voice name makes any `lang` work, so a refusal is about `voice`
        // when it is written and the language is one the target knows, else about `lang`.
        let known_lang = matches!(flow.settings.lang.as_str(), "ru-RU" | "en-US");
        let key = if known_lang { "voice" } else { "lang" };
        out.push(unsupported(
            flow.settings.span_or(key, &flow.span),
            "this language and voice",
            "the Voximplant target knows `lang ru-RU` and `en-US` with `voice female`/`male`, or a VoxEngine voice such as `voice \"Google.ru_RU_Wavenet_A\"`",
        ));
    }
    if flow.handlers.sms.is_some() {
        out.push(unsupported(
            &flow.span,
            "`on sms`",
            "inbound SMS does not start VoxEngine scenarios; use the Twilio target (`ivrc serve`)",
        ));
    }
    for n in &flow.nodes {
        let problem = match &n.op {
            Op::Play { audio: ir::Audio::Record { .. }, .. } => Some(("`play record`", "record ids are Zvonobot audio; play a file URL (`play \"https://…\"`) or `say` the text")),
            Op::Play { audio: ir::Audio::File { .. }, .. } => Some(("`play` of a local file", "VoxEngine plays URLs; upload the file and `play \"https://…\"`")),
            Op::Sms { .. } if flow.settings.caller_id_number().is_none() => Some(("`sms` without a `caller_id`", "Voximplant sends SMS from one of your numbers with SMS enabled; set it with `caller_id +7…` in the flow")),
            Op::Block { .. } => Some(("`block`", "Voximplant has no blacklist for scenarios; record the number with `fetch … post` to your CRM")),
            Op::Dial { detect_machine: true, .. } if amd_model(flow).is_none() => Some(("`detect_machine` in this language", AMD_HELP)),
            _ => None,
        };
        if let Some((construct, help)) = problem {
            out.push(unsupported(&n.span, construct, help));
        }
    }
}

const AMD_HELP: &str = "VoxEngine detects answering machines for `lang ru-RU` (AMD.Model.RU) and `en-US` (AMD.Model.US); remove `detect_machine` or change the flow's `lang`";

/// The VoxEngine answering-machine model for the flow's language (targets.md A.7).
fn amd_model(flow: &ir::Flow) -> Option<&'static str> {
    match flow.settings.lang.as_str() {
        "ru-RU" => Some("AMD.Model.RU"),
        "en-US" => Some("AMD.Model.US"),
        _ => None,
    }
}

fn campaign_capabilities(c: &ir::Campaign, flow: &ir::Flow, out: &mut Vec<Unsupported>) {
    if !(1..=5).contains(&c.attempts) {
        out.push(unsupported(
            &c.span,
            "more than 5 attempts",
            "Voximplant call lists allow 1 to 5 attempts (`num_attempts`)",
        ));
    }
    if c.window.is_some() && c.utc_offset_minutes.is_none() {
        out.push(unsupported(
            &c.span,
            "`window` without `timezone`",
            "call lists take calling windows in UTC; say the recipients' zone, e.g. `timezone \"+03:00\"`",
        ));
    }
    if c.rate.is_some() {
        out.push(unsupported(
            &c.span,
            "`rate`",
            "call lists limit calls at once (`lines`), not calls per second",
        ));
    }
    if !c.redial.is_empty() {
        out.push(unsupported(
            &c.span,
            "`redial` rules per outcome",
            "call lists retry every attempt after `retry_after`; drop the per-outcome rules",
        ));
    }
    if c.record_calls.is_some_and(|r| r.trim_ms > 0) {
        out.push(unsupported(
            &c.span,
            "`record_calls trim`",
            "VoxEngine records whole calls (`call.record`); drop `trim`",
        ));
    }
    if c.detect_machine && c.dial.is_none() {
        out.push(unsupported(
            &c.span,
            "`detect_machine` on a campaign whose flow places its own calls",
            "put `detect_machine` on the flow's `dial` instead",
        ));
    }
    if c.detect_machine && amd_model(flow).is_none() {
        out.push(unsupported(
            &c.span,
            "`detect_machine` in this language",
            AMD_HELP,
        ));
    }
}

/// The VoxEngine voice for the flow's settings, as a property path.
fn voice(flow: &ir::Flow) -> Option<String> {
    let voice = flow.settings.voice.as_str();
    let known = match (flow.settings.lang.as_str(), voice) {
        ("ru-RU", "female") => Some("VoiceList.Default.ru_RU_Female"),
        ("ru-RU", "male") => Some("VoiceList.Default.ru_RU_Male"),
        ("en-US", "female") => Some("VoiceList.Amazon.en_US_Joanna"),
        ("en-US", "male") => Some("VoiceList.Amazon.en_US_Matthew"),
        _ => None,
    };
    match known {
        Some(v) => Some(v.to_string()),
        None if voice.contains('.') => js::path(&format!("VoiceList.{voice}")),
        None => None,
    }
}

fn asr_profile(flow: &ir::Flow) -> &'static str {
    match flow.settings.lang.as_str() {
        "en-US" => "ASRProfileList.Google.en_US",
        _ => "ASRProfileList.Google.ru_RU",
    }
}

fn scenario(flow: &ir::Flow, start: &Start, campaign: Option<&ir::Campaign>) -> String {
    let mut out = String::new();
    let uses = |f: fn(&Op) -> bool| flow.nodes.iter().any(|n| f(&n.op));
    out.push_str(&format!(
        "// Generated by ivrc from {} (flow `{}`); edit the .ivr file and rebuild, not this file.\n",
        flow.span.file.replace('\n', " "),
        flow.name
    ));
    out.push_str(match start {
        Start::Inbound => "// Starts on an inbound call (AppEvents.CallAlerting).\n",
        Start::CallList => "// Starts for each call-list task (AppEvents.Started); the flow places its own calls.\n",
        Start::CallListDialing(_) => "// Starts for each call-list task (AppEvents.Started) and first calls the lead.\n",
    });
    out.push_str("\"use strict\";\n");
    if uses(|op| matches!(op, Op::Listen { .. })) {
        out.push_str("require(Modules.ASR);\n");
    }
    if uses(|op| matches!(op, Op::Record { .. })) {
        out.push_str("require(Modules.Recorder);\n");
    }
    if uses(|op| matches!(op, Op::Sms { .. })) {
        out.push_str("require(Modules.VoximplantAPI);\n");
    }
    out.push('\n');
    out.push_str(&negations());
    out.push_str(RUNTIME);
    if let Some(zones) = speech_zones(flow, campaign) {
        out.push_str("\n/* ---- speech helpers ---- */\n");
        out.push_str(&format!("const $sZones = {zones};\n"));
        out.push_str(SPEECH);
    }
    out.push_str("\n/* ---- the flow ---- */\n");
    out.push_str(&flow_table(flow, start, campaign));
    out.push('\n');
    out.push_str(&startup(start));
    out
}

/// When the flow calls a speech helper: the `$sZones` table of the time zones its `date` and
/// `time` name in quotes, and of the zones in the campaign's leads where a helper takes its
/// zone from a parameter (the lead's zone). Any other zone taken from a value must be one of
/// them or a fixed offset. The helpers are found in the IR's JSON, which reaches every
/// template of every statement.
fn speech_zones(flow: &ir::Flow, campaign: Option<&ir::Campaign>) -> Option<String> {
    /// What the walk finds: whether a helper is used, the quoted zones, the variables read
    /// as zones.
    #[derive(Default)]
    struct Found {
        uses: bool,
        zones: Vec<String>,
        zone_vars: Vec<u64>,
    }
    fn walk(v: &serde_json::Value, found: &mut Found) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(helper) = map.get("helper") {
                    found.uses = true;
                    for kind in ["date", "time"] {
                        let zone = &helper[kind]["zone"];
                        if let Some(id) = zone["id"].as_u64().filter(|_| zone["expr"] == "var") {
                            found.zone_vars.push(id);
                        }
                        if zone["expr"] == "text" {
                            if let [serde_json::Value::Object(part)] =
                                zone["template"].as_array().map_or(&[][..], Vec::as_slice)
                            {
                                if let Some(text) = part.get("text").and_then(|t| t.as_str()) {
                                    found.zones.push(text.to_string());
                                }
                            }
                        }
                    }
                }
                map.values().for_each(|x| walk(x, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, found)),
            _ => {}
        }
    }
    let mut found = Found::default();
    walk(&serde_json::to_value(&flow.nodes).ok()?, &mut found);
    if !found.uses {
        return None;
    }
    // The checker accepted every quoted zone. A lead's cell that is no zone is left out: the
    // helper fails on that lead's call, as it does in the engine.
    let mut zones = found.zones;
    for id in found.zone_vars {
        let Some(var) = flow.vars.get(id as usize) else {
            continue;
        };
        let cells = campaign
            .into_iter()
            .flat_map(|c| &c.leads_rows)
            .filter_map(|lead| lead.values.get(&var.name));
        zones.extend(
            cells
                .filter(|cell| crate::speech::zone_table([cell.as_str()]).is_ok())
                .cloned(),
        );
    }
    let table = crate::speech::zone_table(zones.iter().map(String::as_str)).unwrap_or_default();
    serde_json::to_string(&table).ok()
}

/// The negation rule's words and reach (`crate::phrase`), for the runtime's `$says`.
fn negations() -> String {
    let words: Vec<String> = crate::phrase::NEGATIONS
        .iter()
        .map(|w| js::string(w))
        .collect();
    format!(
        "const $NEGATIONS = [{}];\nconst $NEGATION_REACH = {};\n",
        words.join(", "),
        crate::phrase::NEGATION_REACH
    )
}

fn flow_table(flow: &ir::Flow, start: &Start, campaign: Option<&ir::Campaign>) -> String {
    let file = flow
        .span
        .file
        .rsplit('/')
        .next()
        .unwrap_or(&flow.span.file)
        .to_string();
    let voice = voice(flow).unwrap_or_else(|| "VoiceList.Default.ru_RU_Female".into());
    let mut o = String::new();
    o.push_str("const FLOW = {\n");
    o.push_str(&format!("  name: {},\n", js::string(&flow.name)));
    o.push_str(&format!(
        "  sayOptions: {{ voice: {voice}, language: {voice} }},\n"
    ));
    o.push_str(&format!("  asrProfile: {},\n", asr_profile(flow)));
    let caller_id = flow
        .settings
        .caller_id_number()
        .map_or_else(|| "null".into(), js::string);
    o.push_str(&format!("  callerId: {caller_id},\n"));
    let detect_lead = campaign.is_some_and(|c| c.detect_machine);
    let phones = match campaign.map(|c| c.normalize) {
        Some(crate::phone::Normalization::Ru) => "ru",
        Some(crate::phone::Normalization::E164) | None => "e164",
    };
    let webhook = format!(
        "phones: \"{phones}\", campaign: {}, resultWebhook: {}",
        campaign.map_or("null".into(), |c| js::string(&c.name)),
        campaign
            .and_then(|c| c.result_webhook.as_deref())
            .map_or("null".into(), js::string)
    );
    o.push_str(&format!(
        "  callList: {},\n",
        match start {
            Start::Inbound => "null".to_string(),
            Start::CallList => format!("{{ dialsLead: false, detectMachine: false, {webhook} }}"),
            Start::CallListDialing(_) => {
                format!("{{ dialsLead: true, detectMachine: {detect_lead}, {webhook} }}")
            }
        }
    ));
    let uses_amd = detect_lead
        || flow.nodes.iter().any(|n| {
            matches!(
                n.op,
                Op::Dial {
                    detect_machine: true,
                    ..
                }
            )
        });
    o.push_str(&format!(
        "  amdModel: {},\n",
        amd_model(flow).filter(|_| uses_amd).unwrap_or("null")
    ));
    o.push_str(&format!(
        "  recordCalls: {},\n",
        campaign.is_some_and(|c| c.record_calls.is_some())
    ));
    let params: Vec<String> = flow
        .params
        .iter()
        .map(|id| {
            let v = &flow.vars[id.0 as usize];
            format!(
                "{{ name: {}, var: {}, type: {} }}",
                js::string(&v.name),
                id.0,
                js::string(v.ty.name())
            )
        })
        .collect();
    o.push_str(&format!("  params: [{}],\n", params.join(", ")));
    o.push_str(&format!(
        "  legs: [{}],\n",
        flow.legs
            .iter()
            .map(|l| js::string(&l.name))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let loops: Vec<String> = flow
        .loops
        .iter()
        .map(|l| {
            format!(
                "{{ max: {}, within: {} }}",
                opt_num(l.max_count.map(u64::from)),
                opt_num(l.within_ms)
            )
        })
        .collect();
    o.push_str(&format!("  loops: [{}],\n", loops.join(", ")));
    o.push_str(&format!("  entry: {},\n", flow.entry.0));
    let h = &flow.handlers;
    o.push_str(&format!(
        "  handlers: {{ hangup: {}, error: {}, sms: {} }},\n",
        opt_num(h.hangup.map(|n| u64::from(n.0))),
        opt_num(h.error.map(|n| u64::from(n.0))),
        opt_num(h.sms.map(|n| u64::from(n.0)))
    ));
    o.push_str("  nodes: [\n");
    for n in &flow.nodes {
        o.push_str(&format!("    // {}:{}\n", file, n.span.line));
        o.push_str(&format!("    {},\n", node(n)));
    }
    o.push_str("  ],\n};\n");
    o
}

fn opt_num(n: Option<u64>) -> String {
    n.map_or("null".into(), |n| n.to_string())
}

fn edges(n: &ir::Node) -> String {
    let e: Vec<String> = n
        .edges
        .iter()
        .map(|e| format!("{}: {}", js::string(&String::from(e.on.clone())), e.to.0))
        .collect();
    format!("{{ {} }}", e.join(", "))
}

fn node(n: &ir::Node) -> String {
    let id = n.id.0;
    let e = edges(n);
    let body = match &n.op {
        Op::Answer { leg } => format!("op: \"answer\", leg: {}", leg.0),
        Op::Say { leg, text } => format!("op: \"say\", leg: {}, text: {}", leg.0, template(text)),
        Op::Play { leg, audio } => match audio {
            ir::Audio::Url { url } | ir::Audio::File { path: url } => format!("op: \"play\", leg: {}, url: {}", leg.0, template(url)),
            ir::Audio::Record { id } => format!("op: \"play\", leg: {}, record: {id}", leg.0),
        },
        Op::Pause { ms } => format!("op: \"pause\", ms: {ms}"),
        Op::Collect { leg, var, kind, prompt, reprompt, retries, min_digits, max_digits, end_key, timeout_ms, digit_timeout_ms, valid_if, barge_in } => {
            format!(
                "op: \"collect\", leg: {}, var: {}, kind: {}, prompt: {}, reprompt: {}, retries: {retries}, minDigits: {min_digits}, maxDigits: {max_digits}, endKey: {}, timeout: {timeout_ms}, digitTimeout: {digit_timeout_ms}, validIf: {}, bargeIn: {barge_in}",
                leg.0,
                var.0,
                js::string(if *kind == ir::CollectKind::Number { "number" } else { "digits" }),
                prompt_js(prompt),
                reprompt.as_ref().map_or("null".into(), template),
                end_key.as_ref().map_or("null".into(), |k| js::string(k)),
                valid_if.as_ref().map_or("null".into(), |e| format!("(s) => {}", expr(e))),
            )
        }
        Op::Menu { leg, prompt, reprompt, retries, timeout_ms, keys, barge_in } => format!(
            "op: \"menu\", leg: {}, prompt: {}, reprompt: {}, retries: {retries}, timeout: {timeout_ms}, keys: [{}], bargeIn: {barge_in}",
            leg.0,
            prompt_js(prompt),
            reprompt.as_ref().map_or("null".into(), template),
            keys.iter().map(|k| js::string(k)).collect::<Vec<_>>().join(", ")
        ),
        Op::Listen { leg, prompt, phrases, within_ms, barge_in } => format!(
            "op: \"listen\", leg: {}, prompt: {}, phrases: [{}], within: {within_ms}, bargeIn: {barge_in}",
            leg.0,
            prompt_js(prompt),
            phrases.iter().map(|g| format!("[{}]", g.iter().map(|p| js::string(p)).collect::<Vec<_>>().join(", "))).collect::<Vec<_>>().join(", ")
        ),
        Op::Dial { leg, target, timeout_ms, caller_id, detect_machine } => format!(
            "op: \"dial\", leg: {}, target: (s) => {}, timeout: {timeout_ms}, callerId: {}, amd: {detect_machine}",
            leg.0,
            phone_expr(target),
            caller_id.as_ref().map_or("null".into(), |e| format!("(s) => {}", phone_expr(e)))
        ),
        Op::Bridge { a, b, max_length_ms } => format!("op: \"bridge\", a: {}, b: {}, maxLength: {max_length_ms}", a.0, b.0),
        Op::Transfer { leg, target } => format!("op: \"transfer\", leg: {}, target: (s) => {}", leg.0, phone_expr(target)),
        Op::Fetch { var, method, url, params, headers, timeout_ms } => format!(
            "op: \"fetch\", var: {}, method: {}, url: {}, params: [{}], headers: [{}], timeout: {timeout_ms}",
            var.0,
            js::string(if *method == ir::Method::Get { "GET" } else { "POST" }),
            url_template(url),
            params.iter().map(|(k, e)| format!("[{}, (s) => {}]", js::string(k), expr(e))).collect::<Vec<_>>().join(", "),
            headers.iter().map(|(k, t)| format!("[{}, {}]", js::string(k), template(t))).collect::<Vec<_>>().join(", ")
        ),
        Op::Assign { var, value } => format!("op: \"assign\", var: {}, value: (s) => {}", var.0, expr(value)),
        Op::Branch { cond } => format!("op: \"branch\", cond: (s) => {}", expr(cond)),
        Op::LoopStart { id } => format!("op: \"loop_start\", loop: {}", id.0),
        Op::LoopCheck { id } => format!("op: \"loop_check\", loop: {}", id.0),
        Op::Label { name } => format!("op: \"label\", name: {}", js::string(name)),
        Op::Report { ok, data, reason } => format!(
            "op: \"report\", ok: {ok}, data: [{}], reason: {}",
            data.iter().map(|(k, e)| format!("[{}, (s) => {}]", js::string(k), expr(e))).collect::<Vec<_>>().join(", "),
            reason.as_ref().map_or("null".into(), template)
        ),
        Op::Hangup { leg } => format!("op: \"hangup\", leg: {}", leg.map_or("null".into(), |l| l.0.to_string())),
        Op::Raise { reason } => format!("op: \"raise\", reason: {}", js::string(reason)),
        Op::End => "op: \"end\"".to_string(),
        Op::Record { leg, var, max_length_ms, end_key } => format!(
            "op: \"record\", leg: {}, var: {}, maxMs: {max_length_ms}, endKey: {}",
            leg.0,
            var.0,
            end_key.as_ref().map_or("null".into(), |k| js::string(k))
        ),
        Op::Sms { to, text } => format!("op: \"sms\", to: (s) => {}, text: {}", phone_expr(to), template(text)),
        // Refused by `flow_capabilities` before emission.
        Op::Block { .. } => "op: \"unsupported\"".to_string(),
    };
    format!("{{ id: {id}, {body}, e: {e} }}")
}

fn prompt_js(p: &Option<ir::Prompt>) -> String {
    match p {
        None => "null".into(),
        Some(p) => format!(
            "{{ text: {}, looped: {}, pause: {} }}",
            template(&p.text),
            p.looped,
            p.pause_ms
        ),
    }
}

/// A template as a function of the state `s` returning the text.
fn template(t: &Template) -> String {
    format!("(s) => {}", template_expr(t))
}

fn template_expr(t: &Template) -> String {
    parts_expr(&t.parts, "$r")
}

/// A template's parts as one JavaScript string expression; `value` renders a value (`$r`, or
/// `$enc` to percent-encode it in a URL).
fn parts_expr(parts: &[TemplatePart], value: &str) -> String {
    if parts.is_empty() {
        return js::string("");
    }
    let parts: Vec<String> = parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text(s) => js::string(s),
            TemplatePart::Value(e) => format!("{value}({})", expr(e)),
            TemplatePart::Helper { lang, helper } => {
                format!("{value}({})", helper_call(lang, helper))
            }
            TemplatePart::If {
                cond,
                negated,
                then,
                otherwise,
            } => format!(
                "($present({}) !== {negated} ? ({}) : ({}))",
                expr(cond),
                parts_expr(then, value),
                parts_expr(otherwise, value)
            ),
        })
        .collect();
    parts.join(" + ")
}

/// A speech helper's call into speech.js (the mirror of `crate::speech`, compared with it by
/// tests/speech_js.rs).
fn helper_call(lang: &str, helper: &ir::Helper) -> String {
    let lang = js::string(match lang.parse::<crate::speech::Lang>() {
        Ok(crate::speech::Lang::En) => "en",
        _ => "ru",
    });
    let strings = |items: &[String]| {
        let items: Vec<String> = items.iter().map(|s| js::string(s)).collect();
        format!("[{}]", items.join(", "))
    };
    match helper {
        ir::Helper::Plural { n, forms } => {
            format!("$sPlural({lang}, {}, {})", expr(n), strings(forms))
        }
        ir::Helper::Words { n, gender, case } => format!(
            "$sWords({lang}, {}, {}, {})",
            expr(n),
            js::string(gender),
            js::string(case)
        ),
        ir::Helper::Digits { text, groups } => {
            let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
            format!("$sDigits($r({}), [{}])", expr(text), groups.join(", "))
        }
        ir::Helper::Money {
            amount,
            currency,
            style,
        } => format!(
            "$sMoney({lang}, $r({}), {}, {})",
            expr(amount),
            js::string(currency),
            js::string(style)
        ),
        ir::Helper::Date { when, zone } => {
            format!("$sDate({lang}, $r({}), $r({}))", expr(when), expr(zone))
        }
        ir::Helper::Time { when, zone } => {
            format!("$sTime({lang}, $r({}), $r({}))", expr(when), expr(zone))
        }
    }
}

/// A URL template: values are percent-encoded.
fn url_template(t: &Template) -> String {
    format!("(s) => {}", parts_expr(&t.parts, "$enc"))
}

fn phone_expr(e: &Expr) -> String {
    match e {
        Expr::Phone { value } => js::string(value),
        other => format!("$phone({})", expr(other)),
    }
}

/// An IR expression as JavaScript over the state `s`.
fn expr(e: &Expr) -> String {
    match e {
        Expr::Number { value } => format!("{value}n"),
        Expr::Text { template } => format!("({})", template_expr(template)),
        Expr::Phone { value } => js::string(value),
        Expr::Duration { ms } => format!("{{ d: {ms} }}"),
        Expr::Bool { value } => value.to_string(),
        Expr::Var { id } => format!("$var(s, {})", id.0),
        Expr::LegNumber { leg } => format!("$legNumber(s, {})", leg.0),
        Expr::Builtin { name } => format!(
            "$builtin(s, {})",
            js::string(match name {
                ir::Builtin::CalledNumber => "called",
                ir::Builtin::CallId => "call_id",
                ir::Builtin::SmsText => "sms_text",
                ir::Builtin::SmsFrom => "sms_from",
            })
        ),
        Expr::Field { base, path } => format!(
            "$field({}, [{}])",
            expr(base),
            path.iter()
                .map(|p| js::string(p))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Call { func, arg, .. } => {
            let f = match func {
                ir::Func::Number => "$number",
                ir::Func::Text => "$text",
                ir::Func::Digits => "$digits",
                ir::Func::Phone => "$phone",
                ir::Func::Len => "$len",
            };
            format!("{f}({})", expr(arg))
        }
        Expr::Unary { op, arg } => match op {
            ir::UnaryOp::Neg => format!("$neg({})", expr(arg)),
            ir::UnaryOp::Not => format!("!$truthy({})", expr(arg)),
        },
        Expr::Binary { op, lhs, rhs } => {
            let (l, r) = (expr(lhs), expr(rhs));
            match op {
                ir::BinaryOp::Add => format!("$add({l}, {r})"),
                ir::BinaryOp::Sub => format!("$sub({l}, {r})"),
                ir::BinaryOp::Mul => format!("$mul({l}, {r})"),
                ir::BinaryOp::Div => format!("$div({l}, {r})"),
                ir::BinaryOp::Rem => format!("$rem({l}, {r})"),
                ir::BinaryOp::Concat => format!("($r({l}) + $r({r}))"),
                ir::BinaryOp::Eq => format!("$eq({l}, {r})"),
                ir::BinaryOp::Ne => format!("!$eq({l}, {r})"),
                ir::BinaryOp::Lt => format!("($cmp({l}, {r}) < 0)"),
                ir::BinaryOp::Le => format!("($cmp({l}, {r}) <= 0)"),
                ir::BinaryOp::Gt => format!("($cmp({l}, {r}) > 0)"),
                ir::BinaryOp::Ge => format!("($cmp({l}, {r}) >= 0)"),
                ir::BinaryOp::And => format!("($truthy({l}) && $truthy({r}))"),
                ir::BinaryOp::Or => format!("($truthy({l}) || $truthy({r}))"),
            }
        }
    }
}

fn startup(start: &Start) -> String {
    match start {
        Start::Inbound => "VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {\n  ivrcRun(FLOW, (rt) => {\n    rt.attach(0, e.call);\n    rt.setCalled(e.destination, e.call.id());\n    e.call.handleTones(true);\n    rt.begin({}, e.callerid, true);\n  });\n});\n".to_string(),
        Start::CallList => "VoxEngine.addEventListener(AppEvents.Started, () => {\n  const row = JSON.parse(VoxEngine.customData() || \"{}\");\n  ivrcRun(FLOW, (rt) => rt.begin(row, null, false));\n});\n".to_string(),
        Start::CallListDialing(column) => format!(
            "VoxEngine.addEventListener(AppEvents.Started, () => {{\n  const row = JSON.parse(VoxEngine.customData() || \"{{}}\");\n  ivrcRun(FLOW, (rt) => rt.dialLead(row, {col}));\n}});\n",
            col = js::string(column)
        ),
    }
}

/// The CallList CSV: UTF-8 without BOM, `;`-delimited, the flow's parameters as columns, and
/// the reserved `__start_execution_time`/`__end_execution_time` columns (UTC) for a window.
fn call_list_csv(c: &ir::Campaign, flow: &ir::Flow) -> String {
    let columns: Vec<String> = flow
        .params
        .iter()
        .map(|id| flow.vars[id.0 as usize].name.clone())
        .collect();
    let cell = |v: &str| {
        if v.contains([';', '"', '\n', '\r']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_string()
        }
    };
    let window = match (c.window, c.utc_offset_minutes) {
        (Some(w), Some(offset)) => Some((
            utc_clock(w.from_minute, offset),
            utc_clock(w.to_minute, offset),
        )),
        _ => None,
    };
    let mut header: Vec<String> = columns.iter().map(|c| cell(c)).collect();
    if window.is_some() {
        header.push("__start_execution_time".into());
        header.push("__end_execution_time".into());
    }
    let mut out = header.join(";");
    out.push('\n');
    for lead in &c.leads_rows {
        let mut row: Vec<String> = columns
            .iter()
            .map(|col| cell(lead.values.get(col).map_or("", String::as_str)))
            .collect();
        if let Some((from, to)) = &window {
            row.push(from.clone());
            row.push(to.clone());
        }
        out.push_str(&row.join(";"));
        out.push('\n');
    }
    out
}

/// A local time of day (minutes after midnight) as `HH:MM:SS` in UTC; a window that crosses
/// midnight in UTC has its start after its end, which call lists read as wrapping.
fn utc_clock(local_minute: u32, offset_minutes: i32) -> String {
    let utc = (i64::from(local_minute) - i64::from(offset_minutes)).rem_euclid(24 * 60);
    format!("{:02}:{:02}:00", utc / 60, utc % 60)
}

/// The CreateCallList request, with the routing rule left for the user to fill in.
fn create_call_list(c: &ir::Campaign) -> String {
    let body = serde_json::json!({
        "rule_id": "<RULE_ID: the routing rule that starts the scenario>",
        "priority": 1,
        "max_simultaneous": c.lines,
        "num_attempts": c.attempts,
        "interval_seconds": c.retry_after_ms / 1000,
        "name": c.name,
        "encoding": "utf-8",
        "delimiter": ";",
        "file_content": format!("@{}.calllist.csv", c.name),
    });
    serde_json::to_string_pretty(&body).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Outcome;

    #[test]
    fn windows_move_to_utc_and_may_wrap_past_midnight() {
        assert_eq!(utc_clock(9 * 60, 180), "06:00:00");
        assert_eq!(utc_clock(21 * 60, 180), "18:00:00");
        assert_eq!(utc_clock(60, 180), "22:00:00");
        assert_eq!(utc_clock(9 * 60, -330), "14:30:00");
        assert_eq!(utc_clock(24 * 60, 600), "14:00:00");
    }

    #[test]
    fn outcome_names_match_the_runtime() {
        for (o, name) in [
            (Outcome::Key("1".into()), "key:1"),
            (Outcome::Phrase(0), "phrase:0"),
            (Outcome::NoAnswer, "no_answer"),
        ] {
            assert_eq!(String::from(o), name);
            assert!(RUNTIME.contains(name.split(':').next().unwrap_or(name)));
        }
    }
}

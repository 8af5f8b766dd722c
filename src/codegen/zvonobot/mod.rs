//! `ivrc build --target zvonobot`: a campaign's robocall as Zvonobot create-call requests
//! (`POST /apiCalls/create`, one per lead), the same calls as arguments of Salebot's
//! `zvonobot_call` / `zvonobot_digits_call`, and a script that sends the requests
//! (targets.md §C, seed 004).
//!
//! A Zvonobot call plays one record — a moderated record id, or text its TTS reads with a
//! male or female voice — and then takes at most one key, each key running one action:
//! another record, a transfer to a manager, an SMS to the lead, or the blacklist
//! (`shape`). The API key is never written: the send script reads `ZVONOBOT_API_KEY`.
//! Item keys the sources do not confirm are [`Options`], defaulting to Salebot's names.

mod shape;

use super::{Artifact, Caveat, Generated, Unsupported};
use crate::engine::value::{self, Scope};
use crate::engine::Value as FlowValue;
use crate::ir::{self, Builtin, Expr, Lead, LegId, Template, VarId};
use serde_json::{json, Value};
use shape::{Action, Audio1, Call};

/// The target's name in diagnostics.
const TARGET: &str = "zvonobot";
/// Where the API is, unless `ZVONOBOT_API` says otherwise (targets.md §C).
const DEFAULT_API: &str = "https://lk.zvonobot.ru";
/// Zvonobot's moderation refuses records shorter than this (seed 004).
const MIN_RECORD_SECONDS: usize = 7;
/// Characters a TTS voice reads in a second, for the length estimate of text records
/// (a brisk reading; slower voices only make a record longer).
const TTS_CHARS_PER_SECOND: usize = 14;

/// Choices where the sources disagree or are silent (docs/targets/zvonobot.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The `ivrs` item key that plays another record (Salebot's `record` by default).
    pub record_key: String,
    /// The `ivrs` item key that transfers to a manager (Salebot's `managerPhone`).
    pub transfer_key: String,
    /// The `gender` value of a female voice (the male one is the other of 0 and 1).
    pub female_gender: u8,
    /// Send leads whose calls are otherwise the same as one request with a `phones` list.
    pub phones_list: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            record_key: "record".into(),
            transfer_key: "managerPhone".into(),
            female_gender: 1,
            phones_list: false,
        }
    }
}

/// Builds the requests, the Salebot calls and the send script of every campaign.
pub fn generate(program: &ir::Program, options: &Options) -> Generated {
    let (mut out, any) = Generated::for_campaigns(
        program,
        TARGET,
        "Zvonobot calls leads: add `campaign NAME for FLOW { leads \"…\"; dial PARAM }`",
        "Zvonobot only places campaign calls; bind the flow with `campaign NAME for FLOW { … }` or build it for another target",
    );
    if !any {
        return out;
    }
    for c in &program.campaigns {
        let Some(flow) = program.flows.iter().find(|f| f.name == c.flow) else {
            continue;
        };
        let call = shape::read(flow, TARGET);
        let settings_ok = campaign_capabilities(c, flow, &mut out.refused);
        let call = match call {
            Ok(call) if settings_ok => call,
            Ok(_) => continue,
            Err(mut refused) => {
                out.refused.append(&mut refused);
                continue;
            }
        };
        let build = CampaignBuild {
            campaign: c,
            flow,
            call: &call,
            options,
        };
        build.requests(&mut out);
        build.salebot(&mut out);
        build.length_caveat(&mut out.caveats);
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

/// Refuses the campaign settings a create-call request cannot hold; true when none.
fn campaign_capabilities(
    c: &ir::Campaign,
    flow: &ir::Flow,
    refused: &mut Vec<Unsupported>,
) -> bool {
    let before = refused.len();
    let later = "Zvonobot's create-call request places each call once, now; ";
    let mut no = |key: &str, construct: &str, help: String| {
        refused.push(refuse(c.setting_span(key), construct, &help));
    };
    if c.dial.is_none() {
        no(
            "",
            "a campaign without `dial`",
            "Zvonobot calls each lead itself: add `dial PARAM` naming the phone column".into(),
        );
    }
    if c.attempts > 1 || !c.redial.is_empty() {
        let key = match c.redial.first() {
            Some(r) if c.attempts <= 1 => redial_key(r.outcome),
            _ => "attempts".into(),
        };
        no(&key, "more than one attempt", format!("{later}read the call reports (`POST /api/calls/getPagination`) and send the request again for leads that did not answer"));
    }
    if c.rate.is_some() {
        no(
            "rate",
            "`rate`",
            format!(
                "{later}pace the requests yourself (the send script sends them one after another)"
            ),
        );
    }
    if c.lines > 1 {
        no(
            "lines",
            "`lines`",
            format!("{later}the send script sends the requests one after another"),
        );
    }
    if c.window.is_some() || c.utc_offset_minutes.is_some() {
        no(
            if c.window.is_some() {
                "window"
            } else {
                "timezone"
            },
            "a calling window",
            format!("{later}run the send script inside the calling hours"),
        );
    }
    if c.record_calls.is_some() {
        no(
            "record_calls",
            "`record_calls`",
            "Zvonobot does not record calls through this API".into(),
        );
    }
    if c.detect_machine {
        no(
            "detect_machine",
            "`detect_machine`",
            "Zvonobot's create-call request has no answering-machine detection".into(),
        );
    }
    if c.result_webhook.is_some() {
        no("result_webhook", "`result_webhook`", "the create-call request's webhook field is not confirmed (docs/targets/zvonobot.md); read the call reports instead".into());
    }
    for literal in [c.caller_id.as_deref(), flow.settings.caller_id_number()]
        .into_iter()
        .flatten()
    {
        if let Err(e) = wire_phone(literal) {
            no(
                "caller_id",
                "this `caller_id`",
                format!("Zvonobot numbers have 11 or more digits, country code first: {e}"),
            );
        }
    }
    refused.len() == before
}

/// The setting key of a redial rule: `redial busy`.
fn redial_key(outcome: ir::RedialOutcome) -> String {
    let name = match outcome {
        ir::RedialOutcome::Busy => "busy",
        ir::RedialOutcome::NoAnswer => "no_answer",
        ir::RedialOutcome::Machine => "machine",
        ir::RedialOutcome::Failed => "failed",
        ir::RedialOutcome::Unproductive => "unproductive",
    };
    format!("redial {name}")
}

/// A phone in Zvonobot's form: digits only, country code first, 11 or more digits.
fn wire_phone(e164: &str) -> Result<String, String> {
    let phone = crate::phone::parse_e164(e164).map_err(|e| format!("`{e164}`: {e}"))?;
    crate::phone::zvonobot_format(&phone).map_err(|e| format!("`{e164}`: {e}"))
}

/// A lead's line in the leads file and its phone in Zvonobot's form.
type LeadPhone = (usize, String);

/// One campaign being built.
struct CampaignBuild<'a> {
    campaign: &'a ir::Campaign,
    flow: &'a ir::Flow,
    call: &'a Call,
    options: &'a Options,
}

impl CampaignBuild<'_> {
    /// A value for one lead: literals as written, parameters from the lead's columns.
    fn value(&self, e: &Expr, lead: &Lead) -> Result<String, String> {
        let scope = LeadScope::new(self, lead)?;
        value::eval(e, &scope)
            .and_then(|v| v.render())
            .map_err(|e| e.to_string())
    }

    /// A text for one lead, rendered at build time the way the engine renders it at run time
    /// (blocks and speech helpers included), since a Zvonobot call carries fixed text.
    fn text(&self, t: &Template, lead: &Lead) -> Result<String, String> {
        let scope = LeadScope::new(self, lead)?;
        value::render(t, &scope).map_err(|e| e.to_string())
    }

    fn dial_phone<'l>(&self, lead: &'l Lead) -> &'l str {
        let dial = self.campaign.dial.as_deref().unwrap_or_default();
        lead.values.get(dial).map_or("", String::as_str)
    }

    fn caller_id(&self, lead: &Lead) -> Option<Result<String, String>> {
        if let Some(c) = &self.campaign.caller_id {
            return Some(Ok(c.clone()));
        }
        self.flow
            .settings
            .caller_id
            .as_ref()
            .map(|e| self.value(e, lead))
    }

    fn spoken_text(&self, texts: &[Template], lead: &Lead) -> Result<String, String> {
        let mut said = Vec::new();
        for t in texts {
            let text = self.text(t, lead)?;
            if !text.trim().is_empty() {
                said.push(text.trim().to_string());
            }
        }
        Ok(said.join(" "))
    }

    fn gender(&self) -> u8 {
        let female = self.options.female_gender;
        match self.flow.settings.voice.as_str() {
            "male" => 1 - female.min(1),
            _ => female,
        }
    }

    /// The create-call body of one lead, without `phone` and `apiKey`; a number not in
    /// Zvonobot's form, or a text the flow cannot say for the lead, is refused.
    fn body(&self, lead: &Lead, refused: &mut Vec<Unsupported>) -> serde_json::Map<String, Value> {
        let mut bad = |what: &str, help: String| {
            refused.push(refuse(
                &self.campaign.span,
                &format!("the {what} of the lead on line {}", lead.line),
                &help,
            ));
        };
        let phone_help =
            |e: String| format!("Zvonobot numbers have 11 or more digits, country code first: {e}");
        let text_help = |e: String| format!("the text cannot be said for this lead: {e}");
        let mut body = serde_json::Map::new();
        if let Some(cid) = self.caller_id(lead) {
            match cid.and_then(|cid| wire_phone(&cid)) {
                Ok(p) => {
                    body.insert("outgoingPhone".into(), json!(p));
                }
                Err(e) => bad("calling number", phone_help(e)),
            }
        }
        match &self.call.audio {
            Audio1::Record(id) => {
                body.insert("record".into(), json!({ "id": id }));
                body.insert("recordId".into(), json!(id));
            }
            Audio1::Text(texts) => match self.spoken_text(texts, lead) {
                Ok(text) => {
                    body.insert(
                        "record".into(),
                        json!({ "text": text, "gender": self.gender() }),
                    );
                }
                Err(e) => bad("record text", text_help(e)),
            },
        }
        let mut ivrs = Vec::new();
        for (digit, action) in &self.call.keys {
            let mut item = json!({ "digit": digit });
            match action {
                Action::Record(id) => item[&self.options.record_key] = json!(id),
                Action::Transfer(to) => match self.value(to, lead).and_then(|to| wire_phone(&to)) {
                    Ok(p) => item[&self.options.transfer_key] = json!(p),
                    Err(e) => bad("manager's number", phone_help(e)),
                },
                Action::Sms(text) => match self.text(text, lead) {
                    Ok(text) => item["smsText"] = json!(text),
                    Err(e) => bad("SMS text", text_help(e)),
                },
                Action::Block => item["needBlock"] = json!(1),
            }
            ivrs.push(item);
        }
        if !ivrs.is_empty() {
            body.insert("ivrs".into(), Value::Array(ivrs));
        }
        body
    }

    /// One request per lead, or per group of leads with the same call (`phones_list`).
    fn requests(&self, out: &mut Generated) {
        let mut groups: Vec<(serde_json::Map<String, Value>, Vec<LeadPhone>)> = Vec::new();
        for lead in &self.campaign.leads_rows {
            let phone = match wire_phone(self.dial_phone(lead)) {
                Ok(p) => p,
                Err(e) => {
                    out.refused.push(refuse(
                        &self.campaign.span,
                        &format!("the phone of the lead on line {}", lead.line),
                        &format!(
                            "Zvonobot numbers have 11 or more digits, country code first: {e}"
                        ),
                    ));
                    continue;
                }
            };
            let body = self.body(lead, &mut out.refused);
            match groups
                .iter_mut()
                .find(|(b, _)| self.options.phones_list && *b == body)
            {
                Some((_, phones)) => phones.push((lead.line, phone)),
                None => groups.push((body, vec![(lead.line, phone)])),
            }
        }
        let name = &self.campaign.name;
        for (mut body, phones) in groups {
            let path = if self.options.phones_list {
                body.insert(
                    "phones".into(),
                    json!(phones.iter().map(|(_, p)| p).collect::<Vec<_>>()),
                );
                format!("{name}.call-{}.json", phones[0].0)
            } else {
                body.insert("phone".into(), json!(phones[0].1));
                format!("{name}.call-{}.json", phones[0].0)
            };
            out.artifacts
                .push(Artifact::json(path, &Value::Object(body)));
        }
    }

    /// Salebot's `zvonobot_call` / `zvonobot_digits_call` arguments per lead, when the call
    /// plays a record id from a known number (Salebot takes nothing else).
    fn salebot(&self, out: &mut Generated) {
        let Audio1::Record(record_id) = self.call.audio else {
            out.caveats
                .push(self.no_salebot("a moderated record id: `play record ID` instead of `say`"));
            return;
        };
        let mut calls = Vec::new();
        for lead in &self.campaign.leads_rows {
            let Some(number) = self
                .caller_id(lead)
                .and_then(|c| c.and_then(|c| wire_phone(&c)).ok())
            else {
                out.caveats
                    .push(self.no_salebot("the calling number: set `caller_id +7…`"));
                return;
            };
            // `requests` refuses a lead whose phone or texts do not fit, failing the build.
            let Ok(client_phone) = wire_phone(self.dial_phone(lead)) else {
                continue;
            };
            let Ok(payload) = self.payload(lead) else {
                continue;
            };
            let mut call = json!({
                "line": lead.line,
                "number": number,
                "client_phone": client_phone,
                "record_id": record_id.to_string(),
            });
            if self.call.keys.is_empty() {
                call["function"] = json!("zvonobot_call");
            } else {
                call["function"] = json!("zvonobot_digits_call");
                call["payload"] = Value::Array(payload);
            }
            calls.push(call);
        }
        out.artifacts.push(Artifact::json(
            format!("{}.salebot.json", self.campaign.name),
            &Value::Array(calls),
        ));
    }

    /// The payload list: index = digit, one key per entry, `{}` for digits without action.
    fn payload(&self, lead: &Lead) -> Result<Vec<Value>, String> {
        let last = self.call.keys.iter().map(|(d, _)| *d).max().unwrap_or(0);
        (0..=last)
            .map(|digit| {
                Ok(match self.call.keys.iter().find(|(d, _)| *d == digit) {
                    None => json!({}),
                    Some((_, Action::Record(id))) => json!({ "record": id.to_string() }),
                    Some((_, Action::Transfer(to))) => {
                        json!({ "managerPhone": wire_phone(&self.value(to, lead)?)? })
                    }
                    Some((_, Action::Sms(text))) => json!({ "smsText": self.text(text, lead)? }),
                    Some((_, Action::Block)) => json!({ "needBlock": "1" }),
                })
            })
            .collect()
    }

    fn no_salebot(&self, needs: &str) -> Caveat {
        Caveat::new(
            TARGET,
            &self.campaign.span,
            &format!("campaign `{}`", self.campaign.name),
            "gets no Salebot form",
            &format!("Salebot's zvonobot_call needs {needs}; the API requests are built"),
        )
    }

    /// Warns when a text record is likely shorter than moderation allows.
    fn length_caveat(&self, caveats: &mut Vec<Caveat>) {
        let Audio1::Text(texts) = &self.call.audio else {
            return;
        };
        let shortest = self
            .campaign
            .leads_rows
            .iter()
            // `requests` refuses a lead whose texts cannot be said, failing the build.
            .filter_map(|lead| Some((lead.line, self.spoken_text(texts, lead).ok()?)))
            .map(|(line, text)| (line, text.chars().count()))
            .min_by_key(|(_, chars)| *chars);
        if let Some((line, chars)) = shortest {
            let seconds = chars.div_ceil(TTS_CHARS_PER_SECOND);
            if seconds < MIN_RECORD_SECONDS {
                caveats.push(Caveat::new(
                    TARGET,
                    &self.call.audio_span,
                    "the text record",
                    &format!("reads in about {seconds} s for the lead on line {line} ({chars} characters)"),
                    &format!("Zvonobot's moderation refuses records shorter than {MIN_RECORD_SECONDS} seconds; lengthen the text"),
                ));
            }
        }
    }
}

/// A script that sends every request of the campaign with the key from the environment.
fn send_script(campaign: &str) -> String {
    format!(
        r#"#!/bin/sh
# Sends the Zvonobot create-call requests of campaign `{campaign}` (generated by ivrc).
# Needs curl and jq. ZVONOBOT_API_KEY: your API key; ZVONOBOT_API: the API root.
set -eu
cd "$(dirname "$0")"
: "${{ZVONOBOT_API_KEY:?set ZVONOBOT_API_KEY to your Zvonobot API key}}"
api="${{ZVONOBOT_API:-{DEFAULT_API}}}"
failed=0
for request in {campaign}.call-*.json; do
  answer=$(jq --arg key "$ZVONOBOT_API_KEY" '.apiKey = $key' "$request" \
    | curl --fail-with-body -sS -X POST "$api/apiCalls/create" \
        -H 'Content-Type: application/json' -H 'accept: application/json' --data-binary @-) \
    || {{ echo "$request: $answer" >&2; failed=1; continue; }}
  if echo "$answer" | jq -e '.status == "success" and all(.data[]?; .status != "error")' >/dev/null; then
    echo "$request: sent"
  else
    echo "$request: refused: $answer" >&2
    failed=1
  fi
done
exit $failed
"#
    )
}

/// The values a flow sees on one lead's call, known at build time: its parameters from the
/// lead's columns and the dialled number. Everything else `shape::read` refuses.
struct LeadScope<'a> {
    /// Each variable's value, by id; `None` for variables that are not parameters.
    vars: Vec<Option<FlowValue>>,
    /// The number dialled.
    dialled: &'a str,
}

impl<'a> LeadScope<'a> {
    fn new(build: &CampaignBuild<'_>, lead: &'a Lead) -> Result<Self, String> {
        let mut vars = Vec::with_capacity(build.flow.vars.len());
        for var in &build.flow.vars {
            let value = match lead.values.get(&var.name) {
                Some(cell) if build.flow.params.contains(&var.id) => Some(
                    FlowValue::parse_as(cell, var.ty)
                        .map_err(|e| format!("column `{}`: {e}", var.name))?,
                ),
                _ => None,
            };
            vars.push(value);
        }
        Ok(LeadScope {
            vars,
            dialled: build.dial_phone(lead),
        })
    }
}

impl Scope for LeadScope<'_> {
    fn var(&self, id: VarId) -> Option<&FlowValue> {
        self.vars.get(id.0 as usize)?.as_ref()
    }

    fn leg_number(&self, leg: LegId) -> Option<&str> {
        (leg == LegId::CALLER).then_some(self.dialled)
    }

    fn builtin(&self, _: Builtin) -> Option<FlowValue> {
        None
    }
}

//! Lowering of campaigns and test blocks: settings with their defaults, and test steps as
//! the IR keeps them for the test runner.

use super::{defaults, src_span, u32_of};
use crate::check::Analysis;
use crate::ir::{self, Outcome};
use crate::span::Sources;
use crate::syntax::ast;

pub(super) fn campaign(sources: &Sources, analysis: &Analysis, c: &ast::Campaign) -> ir::Campaign {
    use ast::CampaignSettingKind as K;
    let mut out = ir::Campaign {
        name: c.name.name.clone(),
        flow: c.flow.name.clone(),
        leads: String::new(),
        delimiter: ";".into(),
        dial: None,
        attempts: defaults::ATTEMPTS,
        retry_after_ms: defaults::RETRY_AFTER_MS,
        lines: defaults::LINES,
        rate: None,
        window: None,
        redial: Vec::new(),
        normalize: crate::phone::Normalization::E164,
        on_bad_phone: ir::BadPhoneAction::Skip,
        record_calls: None,
        detect_machine: false,
        utc_offset_minutes: None,
        result_webhook: None,
        caller_id: None,
        leads_rows: analysis
            .leads
            .get(&c.span)
            .map(|l| l.rows.clone())
            .unwrap_or_default(),
        settings: c
            .settings
            .iter()
            .map(|s| ir::SettingAt {
                key: s.kind.key(),
                span: src_span(sources, s.span),
            })
            .collect(),
        span: src_span(sources, c.span),
    };
    for s in &c.settings {
        match &s.kind {
            K::Leads(t) => out.leads = t.as_plain().unwrap_or_default(),
            K::Delimiter(t) => out.delimiter = t.as_plain().unwrap_or_else(|| ";".into()),
            K::Dial(col) => out.dial = Some(col.name.clone()),
            K::Attempts(n) => out.attempts = u32_of(n.value),
            K::RetryAfter(d) => out.retry_after_ms = d.ms,
            K::Lines(n) => out.lines = u32_of(n.value),
            K::Rate { calls, per } => {
                let per_ms = match per {
                    ast::RatePeriod::Duration(d) => d.ms,
                    ast::RatePeriod::Unit(u) => match u.name.as_str() {
                        "m" => 60_000,
                        "h" => 3_600_000,
                        _ => 1_000,
                    },
                };
                out.rate = Some(ir::Rate {
                    calls: u32_of(calls.value),
                    per_ms,
                });
            }
            K::Window { from, to } => {
                out.window = Some(ir::Window {
                    from_minute: from.0,
                    to_minute: to.0,
                })
            }
            K::Timezone(t) => {
                out.utc_offset_minutes = t.as_plain().and_then(|t| crate::check::utc_offset(&t))
            }
            K::Redial { outcome, rule } => {
                let outcome = match outcome.name.as_str() {
                    "busy" => ir::RedialOutcome::Busy,
                    "no_answer" => ir::RedialOutcome::NoAnswer,
                    "machine" => ir::RedialOutcome::Machine,
                    "failed" => ir::RedialOutcome::Failed,
                    _ => ir::RedialOutcome::Unproductive,
                };
                out.redial.push(match rule {
                    Some((every, max)) => ir::Redial {
                        outcome,
                        every_ms: Some(every.ms),
                        max: u32_of(max.value),
                    },
                    None => ir::Redial {
                        outcome,
                        every_ms: None,
                        max: 0,
                    },
                });
            }
            K::Normalize { scheme, on_error } => {
                out.normalize = if scheme.name == "ru" {
                    crate::phone::Normalization::Ru
                } else {
                    crate::phone::Normalization::E164
                };
                if on_error.as_ref().is_some_and(|a| a.name == "flag") {
                    out.on_bad_phone = ir::BadPhoneAction::Flag;
                }
            }
            K::RecordCalls(trim) => {
                out.record_calls = Some(ir::RecordCalls {
                    trim_ms: trim.as_ref().map_or(0, |(_, d)| d.ms),
                })
            }
            K::DetectMachine => out.detect_machine = true,
            K::ResultWebhook(t) => out.result_webhook = Some(t.source_text()),
            K::CallerId(e) => {
                if let ast::ExprKind::Phone(p) = &e.kind {
                    out.caller_id = Some(p.clone());
                }
            }
        }
    }
    // The delimiter the file was read with, declared or detected.
    if let Some(d) = analysis.leads.get(&c.span).and_then(|l| l.delimiter) {
        out.delimiter = (d as char).to_string();
    }
    out
}

pub(super) fn test(sources: &Sources, t: &ast::Test) -> ir::Test {
    use ast::TestStepKind as K;
    use ir::TestStepKind as S;
    let leg = |l: &Option<ast::Ident>| l.as_ref().map(|l| l.name.clone());
    let steps = t
        .steps
        .iter()
        .map(|s| {
            let kind = match &s.kind {
                K::ExpectSay(l, p) => S::ExpectSay {
                    leg: leg(l),
                    pattern: p.source_text(),
                },
                K::ExpectPlay(l, a) => S::ExpectPlay {
                    leg: leg(l),
                    audio: match a {
                        ast::Audio::Record { id, .. } => ir::Audio::Record { id: *id },
                        ast::Audio::Location(p) => {
                            let text = p.source_text();
                            let template = ir::Template {
                                parts: vec![ir::TemplatePart::Text(text.clone())],
                            };
                            if text.starts_with("http://") || text.starts_with("https://") {
                                ir::Audio::Url { url: template }
                            } else {
                                ir::Audio::File { path: template }
                            }
                        }
                    },
                },
                K::ExpectDial(l) => S::ExpectDial {
                    leg: l.name.clone(),
                },
                K::ExpectBridge(a, b) => S::ExpectBridge {
                    a: a.name.clone(),
                    b: b.name.clone(),
                },
                K::ExpectTransfer(to) => S::ExpectTransfer {
                    to: to.as_ref().map(|(p, _)| p.clone()),
                },
                K::ExpectSms(p) => S::ExpectSms {
                    pattern: p.source_text(),
                },
                K::ExpectFetch(u) => S::ExpectFetch {
                    url: u.as_ref().map(|u| u.source_text()),
                },
                K::ExpectReportOk => S::ExpectReport {
                    ok: true,
                    reason: None,
                },
                K::ExpectReportRetry(r) => S::ExpectReport {
                    ok: false,
                    reason: r.as_ref().map(|r| r.source_text()),
                },
                K::ExpectHangup => S::ExpectHangup,
                K::ExpectBlock => S::ExpectBlock,
                K::Press(k, l) => S::Press {
                    keys: k.source_text(),
                    leg: leg(l),
                },
                K::Speak(text, l) => S::Speak {
                    text: text.source_text(),
                    leg: leg(l),
                },
                K::Wait(d) => S::Wait { ms: d.ms },
                K::Respond(json) => S::Respond { json: json.clone() },
                K::RespondFail => S::RespondFail,
                K::ReceiveSms(text) => S::ReceiveSms {
                    text: text.source_text(),
                },
                K::DialOutcome(o, l) => S::DialOutcome {
                    leg: l.name.clone(),
                    outcome: match o {
                        ast::PartyOutcome::Answer => Outcome::Answered,
                        ast::PartyOutcome::Busy => Outcome::Busy,
                        ast::PartyOutcome::NoAnswer => Outcome::NoAnswer,
                        ast::PartyOutcome::Fail => Outcome::Failed,
                        ast::PartyOutcome::Machine => Outcome::Machine,
                    },
                },
                K::PartyHangup(l) => S::Hangup { leg: leg(l) },
            };
            ir::TestStep {
                kind,
                span: src_span(sources, s.span),
            }
        })
        .collect();
    let literal = |e: &ast::Expr| match &e.kind {
        ast::ExprKind::Int(v) => ir::Expr::Number { value: *v },
        ast::ExprKind::Phone(p) => ir::Expr::Phone { value: p.clone() },
        ast::ExprKind::Bool(b) => ir::Expr::Bool { value: *b },
        ast::ExprKind::Duration(ms) => ir::Expr::Duration { ms: *ms },
        ast::ExprKind::Text(t) => ir::Expr::Text {
            template: ir::Template {
                parts: vec![ir::TemplatePart::Text(t.source_text())],
            },
        },
        _ => ir::Expr::Bool { value: false },
    };
    ir::Test {
        name: t.name.source_text(),
        flow: t.flow.name.clone(),
        from: t.from.as_ref().map(|(p, _)| p.clone()),
        params: t
            .params
            .iter()
            .map(|e| (e.key.name.clone(), literal(&e.value)))
            .collect(),
        steps,
        span: src_span(sources, t.span),
    }
}

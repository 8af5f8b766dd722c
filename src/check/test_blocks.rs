//! Checks of `test` blocks: the flow exists, parameters are given with literal values of
//! the right types, legs named in steps exist in the flow, and keys are phone keys.

use super::error::CheckError;
use super::suggest::did_you_mean;
use super::values;
use super::Analysis;
use crate::ir::Type;
use crate::syntax::ast::{ExprKind, Flow, Ident, Stmt, StmtKind, Test, TestStepKind};
use std::collections::HashMap;

/// Checks one test block.
pub fn check_test(
    t: &Test,
    flows: &HashMap<&str, &Flow>,
    analysis: &mut Analysis,
    out: &mut Vec<CheckError>,
) {
    if let Some((p, span)) = &t.from {
        values::phone_literal(p, *span, out);
    }
    let Some(flow) = super::flow_named(flows, &t.flow, out) else {
        return;
    };
    for entry in &t.params {
        let Some(param) = flow.params.iter().find(|p| p.name.name == entry.key.name) else {
            let help = did_you_mean(
                &entry.key.name,
                flow.params.iter().map(|p| p.name.name.as_str()),
                &format!("flow `{}` has no such parameter", flow.name.name),
            );
            out.push(CheckError::UnknownVariable {
                name: entry.key.name.clone(),
                help,
                at: entry.key.span.into(),
            });
            continue;
        };
        let want = Type::from_name(&param.ty.name);
        let found = match &entry.value.kind {
            ExprKind::Int(_) => Some(Type::Number),
            ExprKind::Text(t) if t.as_plain().is_some() => Some(Type::Text),
            ExprKind::Phone(p) => {
                values::phone_literal(p, entry.value.span, out).map(|_| Type::Phone)
            }
            ExprKind::Bool(_) => Some(Type::Bool),
            ExprKind::Duration(_) => Some(Type::Duration),
            _ => {
                out.push(CheckError::TypeMismatch {
                    expected: "a literal".into(),
                    found: "an expression".into(),
                    help: "test parameters are literal values such as `\"Иван\"`, `42` or `+79001234567`".into(),
                    at: entry.value.span.into(),
                });
                None
            }
        };
        if let (Some(w), Some(f)) = (want, found) {
            let ok = w == f
                || (w == Type::Digits && f == Type::Text)
                || (w == Type::Json && f == Type::Text);
            if ok {
                analysis.expr_types.insert(entry.value.span, w);
            } else {
                out.push(CheckError::TypeMismatch {
                    expected: super::types::article(w),
                    found: super::types::article(f),
                    help: format!("`{}` is declared `{}`", param.name.name, param.ty.name),
                    at: entry.value.span.into(),
                });
            }
        }
    }
    for p in &flow.params {
        if !t.params.iter().any(|e| e.key.name == p.name.name) {
            out.push(CheckError::MissingParameter {
                name: p.name.name.clone(),
                help: format!("add it: `with {{ {}: … }}`", p.name.name),
                at: t.flow.span.into(),
            });
        }
    }
    let mut legs = vec!["caller".to_string()];
    dial_legs(&flow.body, &mut legs);
    for h in &flow.handlers {
        dial_legs(&h.action, &mut legs);
    }
    let check_leg = |l: &Ident, out: &mut Vec<CheckError>| {
        if !legs.contains(&l.name) {
            let help = did_you_mean(
                &l.name,
                legs.iter().map(String::as_str),
                &format!("flow `{}` dials no leg of this name", flow.name.name),
            );
            out.push(CheckError::UnknownLeg {
                name: l.name.clone(),
                help,
                at: l.span.into(),
            });
        }
    };
    for step in &t.steps {
        match &step.kind {
            TestStepKind::ExpectSay(Some(l), _) | TestStepKind::ExpectPlay(Some(l), _) => {
                check_leg(l, out)
            }
            TestStepKind::ExpectDial(l) | TestStepKind::DialOutcome(_, l) => check_leg(l, out),
            TestStepKind::ExpectBridge(a, b) => {
                check_leg(a, out);
                check_leg(b, out);
            }
            TestStepKind::Press(keys, by) => {
                if let Some(l) = by {
                    check_leg(l, out);
                }
                values::keys(keys, false, out);
            }
            TestStepKind::Speak(_, Some(l)) | TestStepKind::PartyHangup(Some(l)) => {
                check_leg(l, out)
            }
            TestStepKind::ExpectTransfer(Some((p, span))) => {
                values::phone_literal(p, *span, out);
            }
            _ => {}
        }
    }
}

/// Names of every leg a flow dials, anywhere in it.
fn dial_legs(stmts: &[Stmt], out: &mut Vec<String>) {
    for s in stmts {
        if let StmtKind::Dial { leg, .. } = &s.kind {
            out.push(leg.name.clone());
        }
        super::flow::for_each_child_block(s, |b| dial_legs(b, out));
    }
}

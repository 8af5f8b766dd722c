//! The waiting statements of a flow — `collect`, `menu`, `listen`, `dial`, `fetch` — as IR
//! nodes: their options with defaults, and an edge for every outcome they take (`check::rules`),
//! to an arm's action or to the default (go on, or a `raise` node).

use super::options::{barge_in, retries, timeout, CollectOptions};
use super::{defaults, FlowLowerer};
use crate::check::rules;
use crate::ir::{self, Edge, LegId, NodeId, Op, Outcome, Type, VarId};
use crate::span::Span;
use crate::syntax::ast::{
    self, Arm, Body, Duration, Expr, Ident, MapEntry, OptKind, Pattern, Template,
};
use std::collections::HashMap;

impl FlowLowerer<'_> {
    /// `collect VAR: number|digits [from LEG] { … }`: a `Collect` node, its options with
    /// defaults, and an edge for each outcome.
    pub(super) fn collect(
        &mut self,
        var: &Ident,
        ty: &Ident,
        leg: Option<&Ident>,
        body: &Body,
        next: NodeId,
        span: Span,
    ) -> NodeId {
        let kind = if ty.name == "digits" {
            ir::CollectKind::Digits
        } else {
            ir::CollectKind::Number
        };
        let mut op_fields = CollectOptions::new(kind);
        for o in &body.options {
            op_fields.read(&o.kind);
        }
        let valid_if = body.options.iter().find_map(|o| match &o.kind {
            OptKind::Where(e) => Some(self.expr(e)),
            _ => None,
        });
        let reprompt = self.reprompt(body);
        let op = Op::Collect {
            leg: self.leg(leg),
            var: self.var_ids.get(&var.span).copied().unwrap_or(VarId(0)),
            kind,
            prompt: self.prompt(body),
            reprompt,
            retries: op_fields.retries,
            min_digits: op_fields.min_digits,
            max_digits: op_fields.max_digits,
            end_key: op_fields.end_key,
            timeout_ms: op_fields.timeout_ms,
            digit_timeout_ms: op_fields.digit_timeout_ms,
            valid_if,
            barge_in: op_fields.barge_in,
        };
        let edges = self.outcome_edges(body, &rules::COLLECT, next, span, &mut HashMap::new());
        self.add(op, edges, span)
    }

    /// `menu [from LEG] { … }`: a `Menu` node with an edge for each key of its arms, then one
    /// for each outcome.
    pub(super) fn menu(
        &mut self,
        leg: Option<&Ident>,
        body: &Body,
        next: NodeId,
        span: Span,
    ) -> NodeId {
        let mut lowered = HashMap::new();
        let keys = self.text_arms(body, next, &mut lowered);
        let mut edges: Vec<Edge> = keys
            .iter()
            .flat_map(|(ks, to)| {
                ks.iter().map(|k| Edge {
                    on: Outcome::Key(k.clone()),
                    to: *to,
                })
            })
            .collect();
        edges.extend(self.outcome_edges(body, &rules::MENU, next, span, &mut lowered));
        let reprompt = self.reprompt(body);
        let op = Op::Menu {
            leg: self.leg(leg),
            prompt: self.prompt(body),
            reprompt,
            retries: retries(body),
            timeout_ms: timeout(body, defaults::INPUT_TIMEOUT_MS),
            keys: keys.iter().flat_map(|(ks, _)| ks.iter().cloned()).collect(),
            barge_in: barge_in(body),
        };
        self.add(op, edges, span)
    }

    /// `listen [to LEG] within D { … }`: a `Listen` node with an edge for each phrase group
    /// of its arms (normalized), then one for each outcome.
    pub(super) fn listen(
        &mut self,
        leg: Option<&Ident>,
        within: &Duration,
        body: &Body,
        next: NodeId,
        span: Span,
    ) -> NodeId {
        let mut lowered = HashMap::new();
        let groups = self.text_arms(body, next, &mut lowered);
        let mut edges: Vec<Edge> = groups
            .iter()
            .enumerate()
            .map(|(i, (_, to))| Edge {
                on: Outcome::Phrase(u32::try_from(i).unwrap_or(u32::MAX)),
                to: *to,
            })
            .collect();
        edges.extend(self.outcome_edges(body, &rules::LISTEN, next, span, &mut lowered));
        let op = Op::Listen {
            leg: self.leg(leg),
            prompt: self.prompt(body),
            phrases: groups
                .iter()
                .map(|(ps, _)| ps.iter().map(|p| crate::phrase::normalize(p)).collect())
                .collect(),
            within_ms: within.ms,
            barge_in: barge_in(body),
        };
        self.add(op, edges, span)
    }

    /// `dial EXPR as LEG { … }`: a `Dial` node; without its own `caller_id` it shows the flow's.
    pub(super) fn dial(
        &mut self,
        target: &Expr,
        leg: &Ident,
        body: &Body,
        next: NodeId,
        span: Span,
    ) -> NodeId {
        let detect = body
            .options
            .iter()
            .any(|o| matches!(o.kind, OptKind::DetectMachine));
        let edges = self.outcome_edges(body, &rules::DIAL, next, span, &mut HashMap::new());
        // Without its own `caller_id`, a dial shows the flow's.
        let caller_id = body
            .options
            .iter()
            .find_map(|o| match &o.kind {
                OptKind::CallerId(e) => Some(self.coerce(e, Type::Phone)),
                _ => None,
            })
            .or_else(|| self.caller_id.clone());
        let op = Op::Dial {
            leg: self
                .leg_ids
                .get(&leg.span)
                .copied()
                .unwrap_or(LegId::CALLER),
            target: self.coerce(target, Type::Phone),
            timeout_ms: timeout(body, defaults::DIAL_TIMEOUT_MS),
            caller_id,
            detect_machine: detect,
        };
        self.add(op, edges, span)
    }

    /// `fetch VAR = get|post "url" [with { … }] { … }`: a `Fetch` node and an edge for each
    /// outcome.
    #[expect(
        clippy::too_many_arguments,
        reason = "the five fields of `StmtKind::Fetch`, and where it goes on"
    )]
    pub(super) fn fetch(
        &mut self,
        var: &Ident,
        method: &ast::Method,
        url: &Template,
        params: &[MapEntry],
        body: &Body,
        next: NodeId,
        span: Span,
    ) -> NodeId {
        let edges = self.outcome_edges(body, &rules::FETCH, next, span, &mut HashMap::new());
        let headers = body
            .options
            .iter()
            .filter_map(|o| match &o.kind {
                OptKind::Header(n, v) => Some((n.as_plain().unwrap_or_else(|| n.source_text()), v)),
                _ => None,
            })
            .collect::<Vec<_>>();
        let headers = headers
            .into_iter()
            .map(|(n, v)| (n, self.template(v)))
            .collect();
        let op = Op::Fetch {
            var: self.var_ids.get(&var.span).copied().unwrap_or(VarId(0)),
            method: match method {
                ast::Method::Get => ir::Method::Get,
                ast::Method::Post => ir::Method::Post,
            },
            url: self.template(url),
            params: params
                .iter()
                .map(|p| (p.key.name.clone(), self.expr(&p.value)))
                .collect(),
            headers,
            timeout_ms: timeout(body, defaults::FETCH_TIMEOUT_MS),
        };
        self.add(op, edges, span)
    }

    /// Edges for the outcomes `statement` takes with `body` (`check::rules`): an arm's
    /// action, or the default. The outcomes it always takes come first.
    fn outcome_edges(
        &mut self,
        body: &Body,
        statement: &rules::Statement,
        next: NodeId,
        span: Span,
        lowered: &mut HashMap<usize, NodeId>,
    ) -> Vec<Edge> {
        let (always, sometimes): (Vec<_>, Vec<_>) = statement
            .taken(body)
            .partition(|o| o.when == rules::When::Always);
        let mut edges = Vec::new();
        for o in always.into_iter().chain(sometimes) {
            let Ok(outcome) = Outcome::try_from(o.name.to_string()) else {
                continue; // every outcome of the table is one of the IR's (a test says so)
            };
            let name = o.name;
            let arm = body
                .arms
                .iter()
                .position(|a| {
                    a.patterns
                        .iter()
                        .any(|p| matches!(p, Pattern::Outcome(o) if o.name == name))
                })
                .or_else(|| body.arms.iter().position(|a| a.is_else));
            let to = match arm {
                Some(i) => self.arm(body, i, next, lowered),
                None if o.goes_on => next,
                None => self.raise(&format!("{} {name}", statement.word), span),
            };
            edges.push(Edge { on: outcome, to });
        }
        edges
    }

    /// Lowers arm `i` once; several outcomes of one arm share its nodes.
    fn arm(
        &mut self,
        body: &Body,
        i: usize,
        next: NodeId,
        lowered: &mut HashMap<usize, NodeId>,
    ) -> NodeId {
        if let Some(id) = lowered.get(&i) {
            return *id;
        }
        let arm: &Arm = &body.arms[i];
        self.next_to.push(next);
        let id = self.block(&arm.action, next);
        self.next_to.pop();
        lowered.insert(i, id);
        id
    }

    /// The key or phrase arms of a `menu` or `listen`: their texts, each with its action.
    fn text_arms(
        &mut self,
        body: &Body,
        next: NodeId,
        lowered: &mut HashMap<usize, NodeId>,
    ) -> Vec<(Vec<String>, NodeId)> {
        let mut out = Vec::new();
        for (i, a) in body.arms.iter().enumerate() {
            let texts: Vec<String> = a
                .patterns
                .iter()
                .filter_map(|p| match p {
                    Pattern::Text(t) => Some(t.as_plain().unwrap_or_else(|| t.source_text())),
                    Pattern::Outcome(_) => None,
                })
                .collect();
            if !texts.is_empty() {
                let to = self.arm(body, i, next, lowered);
                out.push((texts, to));
            }
        }
        out
    }

    /// The `prompt` option, with the pause of a looped prompt defaulted.
    fn prompt(&mut self, body: &Body) -> Option<ir::Prompt> {
        body.options.iter().find_map(|o| match &o.kind {
            OptKind::Prompt {
                looped,
                pause,
                text,
            } => Some(ir::Prompt {
                text: self.template(text),
                looped: *looped,
                pause_ms: pause.map_or(
                    if *looped {
                        defaults::PROMPT_LOOP_PAUSE_MS
                    } else {
                        0
                    },
                    |p| p.ms,
                ),
            }),
            _ => None,
        })
    }

    /// The `reprompt` option.
    fn reprompt(&mut self, body: &Body) -> Option<ir::Template> {
        body.options.iter().find_map(|o| match &o.kind {
            OptKind::Reprompt(t) => Some(self.template(t)),
            _ => None,
        })
    }
}

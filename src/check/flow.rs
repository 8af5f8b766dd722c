//! Checks one flow: names and legs in scope, statement options and outcome arms, and the
//! shape of its paths (unreachable code, bounded loops, gotos, `break`/`next`, reports).
//!
//! The walk computes, for every statement, how control can leave it ([`Exits`]); that one
//! fact drives the unreachable-code warning, the "may have no value" errors and the
//! missing-report warning. The waiting statements (options and arms) are in `waits.rs`,
//! expression types in `types.rs`, value ranges in `values.rs`.

use super::error::CheckError;
use super::rules;
use super::scope::{Binding, Kind, Scopes};
use super::suggest::did_you_mean;
use super::values;
use super::{Analysis, Resolved};
use crate::ir::Type;
use crate::span::Span;
use crate::syntax::ast::*;
use std::collections::HashMap;

/// What the program around a flow decides about it.
pub struct FlowContext {
    /// The campaign (name, span) that runs this flow without placing a call for it: the flow
    /// has no caller leg and must report every attempt.
    pub self_dialing: Option<(String, Span)>,
}

/// How control can leave a statement or block.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exits {
    /// Goes on to the next statement.
    pub falls: bool,
    /// Leaves the enclosing arm with `next`.
    pub next: bool,
    /// Leaves the enclosing loop with `break`.
    pub brk: bool,
}

impl Exits {
    pub(super) const FALLS: Exits = Exits {
        falls: true,
        next: false,
        brk: false,
    };
    pub(super) const ENDS: Exits = Exits {
        falls: false,
        next: false,
        brk: false,
    };

    pub(super) fn continues(self) -> bool {
        self.falls || self.next
    }
}

/// One block being walked: its statements, the labels directly in it, and the position
/// of the statement being walked.
struct BlockCtx<'a> {
    stmts: &'a [Stmt],
    labels: HashMap<&'a str, usize>,
    pos: usize,
}

/// The state of the walk over one flow.
pub struct FlowChecker<'a> {
    /// Problems found.
    pub out: &'a mut Vec<CheckError>,
    /// Side tables for `lower`.
    pub analysis: &'a mut Analysis,
    /// Visible names.
    pub scopes: Scopes,
    /// Whether the walk is inside `on sms`.
    pub in_sms: bool,
    blocks: Vec<BlockCtx<'a>>,
    labels: HashMap<String, Span>,
    loop_depth: usize,
    pub(super) arm_depth: usize,
    self_dialing: Option<(String, Span)>,
    caller_reported: bool,
    flow_name: String,
    pub(super) has_error_handler: bool,
    unset_reported: Vec<Span>,
    /// Forward gotos: (label, skipped name, goto span), applied when the label is reached.
    skips: Vec<(String, String, Span)>,
    /// Fetches whose failure ends the call (no `on error` anywhere): the variable's name,
    /// its definition and its first use, if any.
    pub(super) unguarded_fetches: Vec<(String, Span, Option<Span>)>,
    /// The flow's `lang`, as written, or the language's default.
    pub(super) lang: String,
}

/// Checks a flow, pushing problems to `out`.
pub fn check_flow(
    flow: &Flow,
    ctx: &FlowContext,
    analysis: &mut Analysis,
    out: &mut Vec<CheckError>,
) {
    let mut labels = HashMap::new();
    collect_labels(&flow.body, &mut labels, out);
    for h in &flow.handlers {
        collect_labels(&h.action, &mut labels, out);
    }
    let mut c = FlowChecker {
        out,
        analysis,
        scopes: Scopes::default(),
        in_sms: false,
        blocks: Vec::new(),
        labels,
        loop_depth: 0,
        arm_depth: 0,
        self_dialing: ctx.self_dialing.clone(),
        caller_reported: false,
        flow_name: flow.name.name.clone(),
        has_error_handler: flow.handlers.iter().any(|h| h.event.name == "error"),
        unset_reported: Vec::new(),
        skips: Vec::new(),
        unguarded_fetches: Vec::new(),
        lang: flow
            .settings
            .iter()
            .find_map(|s| match &s.kind {
                SettingKind::Lang(l) => Some(l.name.clone()),
                _ => None,
            })
            .unwrap_or_else(|| crate::lower::defaults::LANG.to_string()),
    };
    c.scopes.push();
    c.scopes.define(Binding {
        name: "caller".into(),
        kind: Kind::Leg,
        def: flow.name.span,
        is_caller: true,
        unset: None,
        skipped_by: None,
    });
    c.params(&flow.params);
    c.settings(&flow.settings);
    c.handlers(&flow.handlers);
    let exits = c.block(&flow.body);
    if exits.falls {
        let end = flow.span.end as usize;
        c.unreported_end(Span::new(flow.span.file, end.saturating_sub(1), end));
    }
    for (name, def, used) in std::mem::take(&mut c.unguarded_fetches) {
        if let Some(used) = used {
            c.out.push(CheckError::UnhandledFetchError {
                name,
                at: def.into(),
                used: Some(used.into()),
            });
        }
    }
}

fn collect_labels(stmts: &[Stmt], labels: &mut HashMap<String, Span>, out: &mut Vec<CheckError>) {
    for s in stmts {
        match &s.kind {
            StmtKind::Label(l) => {
                if let Some(first) = labels.get(&l.name) {
                    out.push(CheckError::DuplicateLabel {
                        name: l.name.clone(),
                        at: l.span.into(),
                        first: Some((*first).into()),
                    });
                } else {
                    labels.insert(l.name.clone(), l.span);
                }
            }
            _ => for_each_child_block(s, |b| collect_labels(b, labels, out)),
        }
    }
}

/// Calls `f` on every block nested directly in a statement (branches, loop bodies, arms).
pub fn for_each_child_block(s: &Stmt, mut f: impl FnMut(&[Stmt])) {
    match &s.kind {
        StmtKind::If {
            branches,
            otherwise,
        } => {
            for (_, b) in branches {
                f(b);
            }
            if let Some(b) = otherwise {
                f(b);
            }
        }
        StmtKind::Repeat { body, .. } => f(body),
        StmtKind::Collect { body, .. }
        | StmtKind::Menu { body, .. }
        | StmtKind::Listen { body, .. }
        | StmtKind::Dial { body, .. }
        | StmtKind::Record { body, .. }
        | StmtKind::Fetch { body, .. } => {
            for a in &body.arms {
                f(&a.action);
            }
        }
        _ => {}
    }
}

/// Statements that define a name directly in their block.
fn defines(s: &Stmt) -> Option<&Ident> {
    match &s.kind {
        StmtKind::Let { name, .. } => Some(name),
        StmtKind::Collect { var, .. }
        | StmtKind::Record { var, .. }
        | StmtKind::Fetch { var, .. } => Some(var),
        StmtKind::Dial { leg, .. } => Some(leg),
        _ => None,
    }
}

impl<'a> FlowChecker<'a> {
    fn params(&mut self, params: &[Param]) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for p in params {
            if let Some(first) = seen.get(p.name.name.as_str()) {
                self.out.push(CheckError::DuplicateParameter {
                    name: p.name.name.clone(),
                    at: p.name.span.into(),
                    first: Some((*first).into()),
                });
                continue;
            }
            seen.insert(&p.name.name, p.name.span);
            let t = self.type_name(&p.ty);
            if p.name.name == "caller" {
                self.out.push(CheckError::DuplicateVariable {
                    name: "caller".into(),
                    at: p.name.span.into(),
                    first: None,
                });
                continue;
            }
            match t {
                Some(t) => self.define_value(&p.name, t, None),
                None => self.define_broken(&p.name),
            }
        }
    }

    /// Resolves a type name.
    pub fn type_name(&mut self, t: &Ident) -> Option<Type> {
        let ty = Type::from_name(&t.name);
        if ty.is_none() {
            let help = did_you_mean(
                &t.name,
                Type::NAMES,
                "the types are number, digits, text, phone, duration, bool and json",
            );
            self.out.push(CheckError::UnknownType {
                name: t.name.clone(),
                help,
                at: t.span.into(),
            });
        }
        ty
    }

    fn settings(&mut self, settings: &[Setting]) {
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        for s in settings {
            let key = match &s.kind {
                SettingKind::Lang(l) => {
                    let ok = l.name.split('-').count() <= 3
                        && l.name
                            .split('-')
                            .next()
                            .is_some_and(|p| (2..=3).contains(&p.len()));
                    if !ok {
                        self.out.push(CheckError::InvalidSetting {
                            setting: "lang".into(),
                            value: l.name.clone(),
                            help: "write a language tag such as `ru-RU` or `en-US`".into(),
                            at: l.span.into(),
                        });
                    } else if !super::langs::is_known(&l.name) {
                        let tags: Vec<String> = super::langs::nearest(&l.name)
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect();
                        let help = match tags.as_slice() {
                            [] => "no target speaks it; the targets speak tags such as `ru-RU` and `en-US` (docs/language.md lists them all)".to_string(),
                            [one] => format!("did you mean {one}?"),
                            [init @ .., last] => format!("did you mean {} or {last}?", init.join(", ")),
                        };
                        self.out.push(CheckError::UnknownLang {
                            tag: l.name.clone(),
                            help,
                            at: l.span.into(),
                        });
                    }
                    "lang"
                }
                SettingKind::Voice(_) => "voice",
                SettingKind::CallerId(e) => {
                    self.expect(e, Type::Phone, "write the number as `+74950000000`");
                    "caller_id"
                }
            };
            if let Some(first) = seen.get(key) {
                self.out.push(CheckError::DuplicateSetting {
                    name: key.into(),
                    at: s.span.into(),
                    first: Some((*first).into()),
                });
            } else {
                seen.insert(key, s.span);
            }
        }
    }

    fn handlers(&mut self, handlers: &'a [Handler]) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for h in handlers {
            let name = h.event.name.as_str();
            if !matches!(name, "hangup" | "error" | "sms") {
                let help = did_you_mean(
                    name,
                    ["hangup", "error", "sms"],
                    "the flow-wide handlers are `on hangup`, `on error` and `on sms`",
                );
                self.out.push(CheckError::UnknownHandler {
                    name: name.into(),
                    help,
                    at: h.event.span.into(),
                });
            } else if let Some(first) = seen.get(name) {
                self.out.push(CheckError::DuplicateHandler {
                    name: name.into(),
                    at: h.event.span.into(),
                    first: Some((*first).into()),
                });
            } else {
                seen.insert(name, h.event.span);
            }
            self.in_sms = name == "sms";
            if self.block(&h.action).falls {
                let end = h.span.end as usize;
                self.unreported_end(Span::new(h.span.file, end.saturating_sub(1), end));
            }
            self.in_sms = false;
        }
    }

    pub(super) fn define_value(&mut self, name: &Ident, t: Type, unset: Option<(String, Span)>) {
        if let Some(b) = self.scopes.get(&name.name) {
            let first = (b.def.file == name.span.file && !b.is_caller).then_some(b.def.into());
            if b.kind == Kind::Leg {
                self.out.push(CheckError::DuplicateLeg {
                    name: name.name.clone(),
                    at: name.span.into(),
                    first,
                });
            } else {
                self.out.push(CheckError::DuplicateVariable {
                    name: name.name.clone(),
                    at: name.span.into(),
                    first,
                });
            }
            return;
        }
        self.analysis.var_types.insert(name.span, t);
        self.scopes.define(Binding {
            name: name.name.clone(),
            kind: Kind::Value(t),
            def: name.span,
            is_caller: false,
            unset,
            skipped_by: None,
        });
    }

    /// Defines a name whose definition was already reported as wrong.
    pub(super) fn define_broken(&mut self, name: &Ident) {
        if self.scopes.get(&name.name).is_none() {
            self.scopes.define(Binding {
                name: name.name.clone(),
                kind: Kind::Broken,
                def: name.span,
                is_caller: false,
                unset: None,
                skipped_by: None,
            });
        }
    }

    /// In a flow whose campaign needs a report, warns that the attempt ends at `at` without one.
    fn unreported_end(&mut self, at: Span) {
        if let Some((_, campaign)) = self.self_dialing {
            self.out.push(CheckError::MissingReport {
                flow: self.flow_name.clone(),
                at: at.into(),
                campaign: (campaign.file == at.file).then_some(campaign.into()),
            });
        }
    }

    /// Refuses every arm of a statement that has no outcomes.
    fn no_arms(&mut self, statement: &str, goes_on: &str, body: &Body) {
        for arm in &body.arms {
            let name = match arm.patterns.first() {
                Some(Pattern::Outcome(o)) => o.name.clone(),
                Some(Pattern::Text(t)) => t.source_text(),
                None => "else".into(),
            };
            self.out.push(CheckError::UnknownOutcome {
                statement: statement.into(),
                name,
                help: format!("`{statement}` has no outcomes; {goes_on}"),
                at: arm.span.into(),
            });
        }
    }

    /// Marks the names that forward gotos to `label` jump over.
    fn mark_skipped(&mut self, label: &str) {
        let skips: Vec<(String, String, Span)> = self
            .skips
            .iter()
            .filter(|(l, _, _)| l == label)
            .cloned()
            .collect();
        for (label, name, goto) in skips {
            if let Some(b) = self.scopes.get_mut(&name) {
                b.skipped_by.get_or_insert((label, goto));
            }
        }
    }

    /// Records what `id` refers to and reports a use without a value.
    pub fn note_use(&mut self, id: &Ident, b: &Binding) {
        let r = match b.kind {
            Kind::Leg if b.is_caller => Resolved::Caller,
            Kind::Leg => Resolved::Leg(b.def),
            Kind::Value(_) => Resolved::Var(b.def),
            Kind::Broken => return,
        };
        if let Some(f) = self
            .unguarded_fetches
            .iter_mut()
            .find(|f| f.1 == b.def && f.2.is_none())
        {
            f.2 = Some(id.span);
        }
        self.analysis.resolved.insert(id.span, r);
        if b.is_caller {
            self.require_caller(id.span);
        }
        if let Some((label, goto)) = &b.skipped_by {
            if !self.unset_reported.contains(&b.def) {
                self.unset_reported.push(b.def);
                self.out.push(CheckError::GotoSkipsDefinition {
                    label: label.clone(),
                    name: id.name.clone(),
                    at: (*goto).into(),
                    definition: Some(b.def.into()),
                });
            }
        }
        if let Some((outcome, arm)) = &b.unset {
            if !self.unset_reported.contains(&b.def) {
                self.unset_reported.push(b.def);
                self.out.push(CheckError::MaybeUnset {
                    name: id.name.clone(),
                    outcome: outcome.clone(),
                    at: id.span.into(),
                    arm: Some((*arm).into()),
                });
            }
        }
    }

    fn require_caller(&mut self, at: Span) {
        if self.in_sms {
            return;
        }
        if let Some((campaign, campaign_at)) =
            self.self_dialing.clone().filter(|_| !self.caller_reported)
        {
            // Once per flow: the fix is the same for every statement.
            self.caller_reported = true;
            self.out.push(CheckError::NoCallerLeg {
                flow: self.flow_name.clone(),
                campaign,
                at: at.into(),
                campaign_at: (campaign_at.file == at.file).then_some(campaign_at.into()),
            });
        }
    }

    /// Checks the leg a statement acts on (`None`: the caller).
    pub(super) fn leg(&mut self, leg: Option<&Ident>, stmt: Span) {
        let Some(l) = leg else {
            self.require_caller(stmt);
            return;
        };
        match self.scopes.get(&l.name).cloned() {
            Some(b) if b.kind == Kind::Leg => self.note_use(l, &b),
            Some(b) if b.kind == Kind::Broken => {}
            Some(b) => {
                self.out.push(CheckError::WrongKindOfName {
                    name: l.name.clone(),
                    is: "variable".into(),
                    wanted: "leg".into(),
                    help: "legs are created by `dial NUMBER as NAME`".into(),
                    at: l.span.into(),
                });
                let _ = b;
            }
            None => {
                let names = self.scopes.names(true);
                let help = did_you_mean(
                    &l.name,
                    names,
                    "create the leg first with `dial NUMBER as NAME`",
                );
                self.out.push(CheckError::UnknownLeg {
                    name: l.name.clone(),
                    help,
                    at: l.span.into(),
                });
            }
        }
    }

    /// Walks a block in its own scope.
    pub fn block(&mut self, stmts: &'a [Stmt]) -> Exits {
        self.scopes.push();
        let labels = stmts
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.kind {
                StmtKind::Label(l) => Some((l.name.as_str(), i)),
                _ => None,
            })
            .collect();
        self.blocks.push(BlockCtx {
            stmts,
            labels,
            pos: 0,
        });
        let mut acc = Exits::FALLS;
        let mut ended_by: Option<Span> = None;
        let mut warned = false;
        for (i, s) in stmts.iter().enumerate() {
            if let Some(b) = self.blocks.last_mut() {
                b.pos = i;
            }
            if let StmtKind::Label(l) = &s.kind {
                acc.falls = true;
                ended_by = None;
                self.mark_skipped(&l.name);
            }
            if !acc.falls && !warned {
                warned = true;
                self.out.push(CheckError::Unreachable {
                    at: s.span.into(),
                    ended_by: ended_by.map(Into::into),
                });
            }
            let ex = self.stmt(s);
            acc.next |= ex.next;
            acc.brk |= ex.brk;
            if !ex.falls && acc.falls {
                acc.falls = false;
                ended_by = Some(s.span);
            }
        }
        self.blocks.pop();
        self.scopes.pop();
        acc
    }

    fn stmt(&mut self, s: &'a Stmt) -> Exits {
        match &s.kind {
            StmtKind::Answer => {
                self.leg(None, s.span);
                Exits::FALLS
            }
            StmtKind::Say { leg, text } => {
                self.leg(leg.as_ref(), s.span);
                self.spoken("say", text);
                Exits::FALLS
            }
            StmtKind::Play { leg, audio } => {
                self.leg(leg.as_ref(), s.span);
                if let Audio::Location(t) = audio {
                    self.template(t);
                }
                Exits::FALLS
            }
            StmtKind::Pause(d) => {
                values::duration("pause", d, values::PAUSE, self.out);
                Exits::FALLS
            }
            StmtKind::Collect { var, ty, leg, body } => {
                self.collect(var, ty, leg.as_ref(), body, s.span)
            }
            StmtKind::Menu { leg, body } => self.menu(leg.as_ref(), body, s.span),
            StmtKind::Listen { leg, within, body } => {
                self.listen(leg.as_ref(), within, body, s.span)
            }
            StmtKind::Dial { target, leg, body } => self.dial(target, leg, body, s.span),
            StmtKind::Bridge { a, b, body } => {
                self.leg(Some(a), s.span);
                self.leg(Some(b), s.span);
                self.options(&rules::BRIDGE, body);
                self.no_arms(
                    "bridge",
                    "it goes on when a party hangs up or its `max_length` passes",
                    body,
                );
                Exits::FALLS
            }
            StmtKind::Transfer { leg, target } => {
                self.leg(leg.as_ref(), s.span);
                self.expect(
                    target,
                    Type::Phone,
                    "transfer to a phone number such as `+74951234567`",
                );
                let of_caller = leg.as_ref().is_none_or(|l| l.name == "caller");
                if of_caller {
                    Exits::ENDS
                } else {
                    Exits::FALLS
                }
            }
            StmtKind::Record { var, leg, body } => {
                self.leg(leg.as_ref(), s.span);
                self.options(&rules::RECORD, body);
                self.no_arms("record", "it goes on when the recording ends", body);
                self.define_value(var, Type::Text, None);
                Exits::FALLS
            }
            StmtKind::Sms { to, text } => {
                match to {
                    Some(e) => {
                        self.expect(e, Type::Phone, "text a phone number such as `+79001234567`");
                    }
                    None => self.require_caller(s.span),
                }
                self.spoken("sms", text);
                Exits::FALLS
            }
            StmtKind::Fetch {
                var,
                url,
                params,
                body,
                ..
            } => self.fetch(var, url, params, body),
            StmtKind::Let { name, ty, value } => {
                let declared = ty.as_ref().and_then(|t| self.type_name(t));
                let found = self.type_of(value);
                let t = match (declared, found) {
                    (Some(d), Some(f)) => {
                        if !super::types::assignable(d, f) {
                            self.out.push(CheckError::TypeMismatch {
                                expected: super::types::article(d),
                                found: super::types::article(f),
                                help: format!(
                                    "{}, or change the declared type",
                                    super::types::conversion_help(d)
                                ),
                                at: value.span.into(),
                            });
                        }
                        Some(d)
                    }
                    (d, f) => d.or(f),
                };
                match t {
                    Some(t) => self.define_value(name, t, None),
                    None => self.define_broken(name),
                }
                Exits::FALLS
            }
            StmtKind::Set { name, value } => {
                match self.scopes.get(&name.name).cloned() {
                    Some(b) => match b.kind {
                        Kind::Value(t) => {
                            self.note_use(name, &b);
                            self.expect(
                                value,
                                t,
                                &format!("`{}` holds {}", name.name, super::types::article(t)),
                            );
                        }
                        Kind::Broken => {
                            self.type_of(value);
                        }
                        Kind::Leg => {
                            self.out.push(CheckError::WrongKindOfName {
                                name: name.name.clone(),
                                is: "leg".into(),
                                wanted: "variable".into(),
                                help: "a leg cannot be assigned; dial a new leg with another name"
                                    .into(),
                                at: name.span.into(),
                            });
                            self.type_of(value);
                        }
                    },
                    None => {
                        let names = self.scopes.names(false);
                        let help = did_you_mean(&name.name, names, "declare it first with `let`");
                        self.out.push(CheckError::UnknownVariable {
                            name: name.name.clone(),
                            help,
                            at: name.span.into(),
                        });
                        self.type_of(value);
                    }
                }
                Exits::FALLS
            }
            StmtKind::If {
                branches,
                otherwise,
            } => {
                let mut acc = Exits::ENDS;
                for (cond, b) in branches {
                    self.condition(cond);
                    let ex = self.block(b);
                    acc = merge(acc, ex);
                }
                match otherwise {
                    Some(b) => {
                        let ex = self.block(b);
                        acc = merge(acc, ex);
                    }
                    None => acc.falls = true,
                }
                acc
            }
            StmtKind::Goto { label, max } => self.goto(label, max.as_ref(), s.span),
            StmtKind::Label(_) => Exits::FALLS,
            StmtKind::Repeat {
                count,
                within,
                body,
            } => {
                if count.is_none() && within.is_none() {
                    self.out.push(CheckError::UnboundedLoop {
                        help: "say how often or how long: `repeat 3 times { … }` or `repeat within 1m { … }`".into(),
                        at: s.span.into(),
                    });
                }
                if let Some(n) = count {
                    values::count("repeat", n, 1, 1000, self.out);
                }
                if let Some(d) = within {
                    values::duration("repeat within", d, values::REPEAT_WITHIN, self.out);
                }
                self.loop_depth += 1;
                let ex = self.block(body);
                self.loop_depth -= 1;
                Exits {
                    falls: true,
                    next: ex.next,
                    brk: false,
                }
            }
            StmtKind::Break => {
                if self.loop_depth == 0 {
                    self.out
                        .push(CheckError::BreakOutsideLoop { at: s.span.into() });
                }
                Exits {
                    falls: false,
                    next: false,
                    brk: true,
                }
            }
            StmtKind::Next => {
                if self.arm_depth == 0 {
                    self.out
                        .push(CheckError::NextOutsideArm { at: s.span.into() });
                    return Exits::FALLS;
                }
                Exits {
                    falls: false,
                    next: true,
                    brk: false,
                }
            }
            StmtKind::ReportOk(data) => {
                for e in data {
                    self.type_of(&e.value);
                }
                Exits::ENDS
            }
            StmtKind::ReportRetry(reason) => {
                if let Some(t) = reason {
                    self.template(t);
                }
                Exits::ENDS
            }
            StmtKind::Block => {
                self.require_caller(s.span);
                Exits::FALLS
            }
            StmtKind::Hangup(leg) => match leg {
                Some(l) => {
                    self.leg(Some(l), s.span);
                    if l.name == "caller" {
                        Exits::ENDS
                    } else {
                        Exits::FALLS
                    }
                }
                None => {
                    self.unreported_end(s.span);
                    Exits::ENDS
                }
            },
        }
    }

    fn goto(&mut self, label: &Ident, max: Option<&Int>, span: Span) -> Exits {
        if let Some(n) = max {
            values::count("goto max", n, 1, 1000, self.out);
        }
        // Find the label in this block or an enclosing one.
        let found = self
            .blocks
            .iter()
            .enumerate()
            .rev()
            .find_map(|(depth, b)| b.labels.get(label.name.as_str()).map(|j| (depth, *j)));
        match found {
            None => match self.labels.get(&label.name) {
                Some(l) => self.out.push(CheckError::LabelNotVisible {
                    name: label.name.clone(),
                    at: label.span.into(),
                    label: Some((*l).into()),
                }),
                None => {
                    let help = did_you_mean(
                        &label.name,
                        self.labels.keys().map(String::as_str),
                        "define it with `label NAME` in this block or one around it",
                    );
                    self.out.push(CheckError::UnknownLabel {
                        name: label.name.clone(),
                        help,
                        at: label.span.into(),
                    });
                }
            },
            Some((depth, j)) => {
                let b = &self.blocks[depth];
                let k = b.pos;
                let nested = depth + 1 < self.blocks.len();
                if j <= k {
                    if max.is_none() {
                        self.out.push(CheckError::UnboundedLoop {
                            help: format!("a jump back repeats the statements between; bound it: `goto {} max 3`", label.name),
                            at: span.into(),
                        });
                    }
                } else {
                    // Names defined between here and the label have no value after the label
                    // when reached by this jump; uses there are reported (see `mark_skipped`).
                    let from = if nested { k } else { k + 1 };
                    let skipped: Vec<String> = b.stmts[from..j]
                        .iter()
                        .filter_map(defines)
                        .map(|d| d.name.clone())
                        .collect();
                    for name in skipped {
                        self.skips.push((label.name.clone(), name, span));
                    }
                }
            }
        }
        if max.is_some() {
            Exits::FALLS
        } else {
            Exits::ENDS
        }
    }
}

fn merge(a: Exits, b: Exits) -> Exits {
    Exits {
        falls: a.falls || b.falls,
        next: a.next || b.next,
        brk: a.brk || b.brk,
    }
}

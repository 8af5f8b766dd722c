//! The waiting statements of a flow — `collect`, `menu`, `listen`, `dial`, `fetch` — with
//! their options and outcome arms: which options and outcomes each takes, what each arm
//! sees, and how control leaves the statement (which outcomes go on, which raise).

use super::error::CheckError;
use super::flow::{Exits, FlowChecker};
use super::rules::{self, Statement};
use super::scope::{Binding, Kind};
use super::values::{self, Phrase};
use crate::ir::Type;
use crate::phrase;
use crate::span::Span;
use crate::syntax::ast::*;
use std::collections::HashMap;

/// The most phrases one `listen` may wait for.
const MAX_PHRASES: usize = 200;

/// What the arms of one statement may match.
pub(super) struct ArmRules {
    /// The statement's outcomes, and what else its arms may name.
    statement: &'static Statement,
    /// The statement's new variable or leg, seen by the arms of the outcomes that bind it.
    binding: Option<Binding>,
}

impl ArmRules {
    /// "`statement` has `a`, `b`": the outcomes, for help lines.
    fn what_it_has(&self) -> String {
        let outcomes: Vec<String> = self
            .statement
            .outcome_names()
            .map(|x| format!("`{x}`"))
            .collect();
        format!("`{}` has {}", self.statement.word, outcomes.join(", "))
    }
}

/// What the walk learned about one arm.
pub(super) struct ArmInfo {
    outcomes: Vec<String>,
    texts: Vec<Template>,
    is_else: bool,
    exits: Exits,
    span: Span,
}

impl<'a> FlowChecker<'a> {
    /// Reports options `rules` does not allow and options given twice.
    pub(super) fn options(&mut self, rules: &Statement, body: &Body) {
        let (statement, allowed) = (rules.word, rules.options);
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for o in &body.options {
            let k = o.kind.keyword();
            let looped_prompt = matches!(o.kind, OptKind::Prompt { looped: true, .. });
            if !rules.option_names().any(|n| n == k) || (looped_prompt && statement != "listen") {
                let help = if looped_prompt {
                    "`prompt loop` is for `listen`; for keys use `retries` and `reprompt`"
                        .to_string()
                } else if allowed.is_empty() {
                    format!("`{statement}` takes no options")
                } else {
                    format!(
                        "`{statement}` takes {}",
                        allowed
                            .iter()
                            .map(|a| format!("`{}`", a.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                self.out.push(CheckError::OptionNotAllowed {
                    option: k.into(),
                    statement: statement.into(),
                    help,
                    at: o.span.into(),
                });
            } else if let Some(first) = seen.get(k).filter(|_| k != "header") {
                self.out.push(CheckError::DuplicateSetting {
                    name: k.into(),
                    at: o.span.into(),
                    first: Some((*first).into()),
                });
            } else {
                seen.insert(k, o.span);
            }
        }
        for o in &body.options {
            match &o.kind {
                OptKind::Prompt { pause, text, .. } => {
                    if let Some(p) = pause {
                        values::duration("prompt pause", p, values::PROMPT_PAUSE, self.out);
                    }
                    self.spoken("prompt", text);
                }
                OptKind::Reprompt(t) => self.spoken("reprompt", t),
                OptKind::Retries(n) => {
                    values::count("retries", n, 0, 10, self.out);
                }
                OptKind::EndKey(t) => {
                    values::key(t, self.out);
                }
                OptKind::DigitTimeout(d) => {
                    values::duration("digit_timeout", d, values::DIGIT_TIMEOUT, self.out)
                }
                OptKind::CallerId(e) => {
                    self.expect(e, Type::Phone, "write the number as `+74950000000`");
                }
                OptKind::Header(n, v) => {
                    self.template(n);
                    self.template(v);
                }
                OptKind::MaxLength(d) => {
                    let range = if statement == "bridge" {
                        values::BRIDGE_LENGTH
                    } else {
                        values::RECORD_LENGTH
                    };
                    values::duration("max_length", d, range, self.out)
                }
                _ => {}
            }
        }
    }

    /// Validates and walks the arms of a statement.
    pub(super) fn arms(&mut self, rules: ArmRules, body: &'a Body) -> Vec<ArmInfo> {
        let mut infos = Vec::new();
        let mut covered: HashMap<String, Span> = HashMap::new();
        for arm in &body.arms {
            let mut outcomes = Vec::new();
            let mut texts = Vec::new();
            if arm.is_else {
                if let Some(first) = covered.get("else") {
                    self.out.push(CheckError::DuplicateOutcome {
                        name: "else".into(),
                        at: arm.span.into(),
                        first: Some((*first).into()),
                    });
                }
                covered.insert("else".into(), arm.span);
            }
            for p in &arm.patterns {
                match p {
                    Pattern::Outcome(o) => {
                        if !rules.statement.outcome_names().any(|n| n == o.name) {
                            let help = format!(
                                "{}{}",
                                rules.what_it_has(),
                                rules
                                    .statement
                                    .texts
                                    .map_or(String::new(), |t| format!(" and {t} in quotes"))
                            );
                            let help = match super::suggest::closest(
                                &o.name,
                                rules.statement.outcome_names(),
                            ) {
                                Some(c) => format!("did you mean `{c}`? {help}"),
                                None => help,
                            };
                            self.out.push(CheckError::UnknownOutcome {
                                statement: rules.statement.word.into(),
                                name: o.name.clone(),
                                help,
                                at: o.span.into(),
                            });
                            continue;
                        }
                        if let Some(first) = covered.get(&o.name) {
                            self.out.push(CheckError::DuplicateOutcome {
                                name: o.name.clone(),
                                at: o.span.into(),
                                first: Some((*first).into()),
                            });
                        }
                        covered.insert(o.name.clone(), o.span);
                        outcomes.push(o.name.clone());
                    }
                    Pattern::Text(t) => match rules.statement.texts {
                        Some(_) => texts.push(t.clone()),
                        None => {
                            self.out.push(CheckError::UnknownOutcome {
                                statement: rules.statement.word.into(),
                                name: t.source_text(),
                                help: rules.what_it_has(),
                                at: t.span.into(),
                            });
                        }
                    },
                }
            }
            let binds = |name: &String| {
                let mut of = rules.statement.outcomes.iter();
                of.any(|r| r.binds && r.name == name)
            };
            let sees_binding = rules.binding.as_ref().filter(|_| {
                !arm.is_else
                    && texts.is_empty()
                    && !outcomes.is_empty()
                    && outcomes.iter().all(binds)
            });
            self.arm_depth += 1;
            self.scopes.push();
            if let Some(b) = sees_binding {
                self.scopes.define(b.clone());
            }
            let exits = self.block(&arm.action);
            self.scopes.pop();
            self.arm_depth -= 1;
            infos.push(ArmInfo {
                outcomes,
                texts,
                is_else: arm.is_else,
                exits,
                span: arm.span,
            });
        }
        infos
    }

    pub(super) fn collect(
        &mut self,
        var: &Ident,
        ty: &Ident,
        leg: Option<&Ident>,
        body: &'a Body,
        span: Span,
    ) -> Exits {
        self.leg(leg, span);
        let t = self.type_name(ty);
        let t = match t {
            Some(t @ (Type::Number | Type::Digits)) => Some(t),
            Some(other) => {
                self.out.push(CheckError::TypeMismatch {
                    expected: "number or digits".into(),
                    found: super::types::article(other),
                    help: "keys are collected as `number` (arithmetic) or `digits` (codes, leading zeros kept)".into(),
                    at: ty.span.into(),
                });
                None
            }
            None => None,
        };
        self.options(&rules::COLLECT, body);
        let (mut min, mut max) = (1i64, if t == Some(Type::Number) { 18 } else { 32 });
        let limit = if t == Some(Type::Number) { 18 } else { 64 };
        let mut where_expr = None;
        for o in &body.options {
            match &o.kind {
                OptKind::MinDigits(n) if values::count("min_digits", n, 1, limit, self.out) => {
                    min = n.value
                }
                OptKind::MaxDigits(n) => {
                    let help_limit = limit;
                    if n.value < 1 || n.value > help_limit {
                        self.out.push(CheckError::CountOutOfRange {
                            what: "max_digits".into(),
                            value: n.value,
                            help: if t == Some(Type::Number) {
                                "a `number` holds at most 18 digits, so that every input fits in 64 bits; use `digits` for longer codes".into()
                            } else {
                                format!("use a whole number from 1 to {help_limit}")
                            },
                            at: n.span.into(),
                        });
                    } else {
                        max = n.value;
                    }
                }
                OptKind::Timeout(d) => {
                    values::duration("timeout", d, values::INPUT_TIMEOUT, self.out)
                }
                OptKind::Where(e) => where_expr = Some(e),
                _ => {}
            }
        }
        if min > max {
            if let Some(o) = body
                .options
                .iter()
                .find(|o| matches!(o.kind, OptKind::MinDigits(_)))
            {
                self.out.push(CheckError::CountOutOfRange {
                    what: "min_digits".into(),
                    value: min,
                    help: format!("`min_digits` must not exceed `max_digits` ({max})"),
                    at: o.span.into(),
                });
            }
        }
        let binding = t.map(|t| Binding {
            name: var.name.clone(),
            kind: Kind::Value(t),
            def: var.span,
            is_caller: false,
            unset: None,
            skipped_by: None,
        });
        if let (Some(e), Some(b)) = (where_expr, &binding) {
            self.scopes.push();
            self.scopes.define(b.clone());
            self.condition(e);
            self.scopes.pop();
        }
        let infos = self.arms(
            ArmRules {
                statement: &rules::COLLECT,
                binding: binding.clone(),
            },
            body,
        );
        let (exits, unset) = self.summarize(&rules::COLLECT, body, &infos);
        match t {
            Some(t) => self.define_value(var, t, unset),
            None => self.define_broken(var),
        }
        exits
    }

    /// Exits of a statement with arms: the outcomes it takes that go on continue when they
    /// have no arm, the others raise. Also returns the first failure arm that continues.
    pub(super) fn summarize(
        &self,
        rules: &Statement,
        body: &Body,
        infos: &[ArmInfo],
    ) -> (Exits, Option<(String, Span)>) {
        let (go_on, failures): (Vec<_>, Vec<_>) = rules.taken(body).partition(|o| o.goes_on);
        let mut exits = Exits::ENDS;
        let mut unset = None;
        let else_arm = infos.iter().find(|a| a.is_else);
        for o in go_on.iter().map(|o| o.name) {
            let arm = infos
                .iter()
                .find(|a| a.outcomes.iter().any(|x| x == o))
                .or(else_arm);
            match arm {
                Some(a) => exits.falls |= a.exits.continues(),
                None => exits.falls = true,
            }
        }
        for o in failures.iter().map(|o| o.name) {
            let arm = infos
                .iter()
                .find(|a| a.outcomes.iter().any(|x| x == o))
                .or(else_arm);
            if let Some(a) = arm {
                if a.exits.continues() {
                    exits.falls = true;
                    if unset.is_none() {
                        unset = Some((
                            if a.is_else {
                                "else".to_string()
                            } else {
                                o.to_string()
                            },
                            a.span,
                        ));
                    }
                }
            }
        }
        for a in infos {
            exits.brk |= a.exits.brk;
            if !a.texts.is_empty() {
                exits.falls |= a.exits.continues();
            }
        }
        (exits, unset)
    }

    pub(super) fn menu(&mut self, leg: Option<&Ident>, body: &'a Body, span: Span) -> Exits {
        self.leg(leg, span);
        self.options(&rules::MENU, body);
        for o in &body.options {
            if let OptKind::Timeout(d) = &o.kind {
                values::duration("timeout", d, values::INPUT_TIMEOUT, self.out);
            }
        }
        let infos = self.arms(
            ArmRules {
                statement: &rules::MENU,
                binding: None,
            },
            body,
        );
        let mut keys: HashMap<String, Span> = HashMap::new();
        for a in &infos {
            for t in &a.texts {
                if let Some(k) = values::key(t, self.out) {
                    if let Some(first) = keys.get(&k) {
                        self.out.push(CheckError::DuplicateKey {
                            key: k,
                            at: t.span.into(),
                            first: Some((*first).into()),
                        });
                    } else {
                        keys.insert(k, t.span);
                    }
                }
            }
        }
        if keys.is_empty() && !infos.iter().any(|a| !a.texts.is_empty()) {
            self.out.push(CheckError::NothingToWaitFor {
                statement: "menu".into(),
                what: "keys".into(),
                example: "\"1\"".into(),
                at: span.into(),
            });
        }
        self.summarize(&rules::MENU, body, &infos).0
    }

    pub(super) fn listen(
        &mut self,
        leg: Option<&Ident>,
        within: &Duration,
        body: &'a Body,
        span: Span,
    ) -> Exits {
        self.leg(leg, span);
        values::duration("listen within", within, values::LISTEN_WITHIN, self.out);
        self.options(&rules::LISTEN, body);
        let infos = self.arms(
            ArmRules {
                statement: &rules::LISTEN,
                binding: None,
            },
            body,
        );
        let mut list = Vec::new();
        for (i, a) in infos.iter().enumerate() {
            for t in &a.texts {
                let text = t.as_plain().unwrap_or_else(|| t.source_text());
                list.push(Phrase {
                    text: phrase::normalize(&text),
                    arm: i,
                    span: t.span,
                });
            }
        }
        if list.is_empty() {
            self.out.push(CheckError::NothingToWaitFor {
                statement: "listen".into(),
                what: "phrases".into(),
                example: "\"да\"".into(),
                at: span.into(),
            });
        }
        if list.len() > MAX_PHRASES {
            self.out.push(CheckError::CountOutOfRange {
                what: "listen phrases".into(),
                value: i64::try_from(list.len()).unwrap_or(i64::MAX),
                help: format!("a `listen` takes at most {MAX_PHRASES} phrases; recognizers take hints, not dictionaries"),
                at: span.into(),
            });
            return self.summarize(&rules::LISTEN, body, &infos).0;
        }
        values::phrases(&list, self.out);
        self.summarize(&rules::LISTEN, body, &infos).0
    }

    pub(super) fn dial(&mut self, target: &Expr, leg: &Ident, body: &'a Body, span: Span) -> Exits {
        self.expect(
            target,
            Type::Phone,
            "dial a phone number such as `+74951234567` or a `phone` parameter",
        );
        self.options(&rules::DIAL, body);
        let mut detect = false;
        for o in &body.options {
            match &o.kind {
                OptKind::Timeout(d) => {
                    values::duration("timeout", d, values::DIAL_TIMEOUT, self.out)
                }
                OptKind::DetectMachine => detect = true,
                _ => {}
            }
        }
        // The new leg is connected in the `answered` and `machine` arms, so they may use it.
        let connected = Binding {
            name: leg.name.clone(),
            kind: Kind::Leg,
            def: leg.span,
            is_caller: false,
            unset: None,
            skipped_by: None,
        };
        let infos = self.arms(
            ArmRules {
                statement: &rules::DIAL,
                binding: Some(connected),
            },
            body,
        );
        for a in &body.arms {
            for p in &a.patterns {
                if let Pattern::Outcome(o) = p {
                    if o.name == "machine" && !detect {
                        self.out
                            .push(CheckError::MachineWithoutDetection { at: o.span.into() });
                    }
                }
            }
        }
        let has_else = infos.iter().any(|a| a.is_else);
        let unhandled: Vec<&str> = rules::DIAL
            .taken(body)
            .filter(|f| !f.goes_on)
            .map(|f| f.name)
            .filter(|f| !has_else && !infos.iter().any(|a| a.outcomes.iter().any(|o| o == f)))
            .collect();
        if !unhandled.is_empty() && !self.has_error_handler {
            self.out.push(CheckError::UnhandledDialOutcome {
                outcomes: unhandled
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                first: unhandled[0].to_string(),
                at: span.into(),
            });
        }
        let (exits, unset) = self.summarize(&rules::DIAL, body, &infos);
        match self.scopes.get(&leg.name) {
            Some(b) => {
                let first = (b.def.file == leg.span.file && !b.is_caller).then_some(b.def.into());
                self.out.push(CheckError::DuplicateLeg {
                    name: leg.name.clone(),
                    at: leg.span.into(),
                    first,
                });
            }
            None => {
                self.scopes.define(Binding {
                    name: leg.name.clone(),
                    kind: Kind::Leg,
                    def: leg.span,
                    is_caller: false,
                    unset,
                    skipped_by: None,
                });
            }
        }
        exits
    }

    pub(super) fn fetch(
        &mut self,
        var: &Ident,
        url: &Template,
        params: &[MapEntry],
        body: &'a Body,
    ) -> Exits {
        values::url(url, self.out);
        self.template(url);
        for p in params {
            self.type_of(&p.value);
        }
        self.options(&rules::FETCH, body);
        for o in &body.options {
            if let OptKind::Timeout(d) = &o.kind {
                values::duration("timeout", d, values::FETCH_TIMEOUT, self.out);
            }
        }
        let binding = Binding {
            name: var.name.clone(),
            kind: Kind::Value(Type::Json),
            def: var.span,
            is_caller: false,
            unset: None,
            skipped_by: None,
        };
        let infos = self.arms(
            ArmRules {
                statement: &rules::FETCH,
                binding: Some(binding),
            },
            body,
        );
        let handled = infos
            .iter()
            .any(|a| a.is_else || a.outcomes.iter().any(|o| o == "error"));
        if !handled && !self.has_error_handler {
            self.unguarded_fetches
                .push((var.name.clone(), var.span, None));
        }
        let (exits, unset) = self.summarize(&rules::FETCH, body, &infos);
        self.define_value(var, Type::Json, unset);
        exits
    }
}

//! Lowering: a checked AST and its [`Analysis`] → [`ir::Program`]. The only module that sees
//! both the AST and the IR.
//!
//! Statements are lowered back to front, each given the node that follows it, so a
//! statement's outcomes point straight at their targets. Labels are allocated before the
//! walk so that jumps in either direction resolve. Every default of a missing arm is made
//! explicit here (a failure without an arm becomes a `raise` node), and JSON values assigned
//! to typed places get their conversion. Finally nodes are renumbered in path order so the
//! IR reads top to bottom. Lowering assumes a program without check errors.

mod expr;
mod items;
mod options;
mod renumber;
mod waits;

use crate::check::{Analysis, Resolved};
use crate::ir::{self, Edge, LegId, LoopId, Node, NodeId, Op, Outcome, Type, VarId, VarOrigin};
use crate::span::{FileId, Sources, Span, SpanMap};
use crate::syntax::ast::{self, Item, Module, Stmt, StmtKind, TemplatePart};
use options::{end_key, max_length};
use std::collections::HashMap;

/// Defaults of options left out (docs/language.md lists them).
pub mod defaults {
    /// `collect`/`menu` wait for the first key (as Twilio's Gather).
    pub const INPUT_TIMEOUT_MS: u64 = 5_000;
    /// `collect` wait between keys.
    pub const DIGIT_TIMEOUT_MS: u64 = 5_000;
    /// `collect`/`menu` retries after timeout or invalid input.
    pub const RETRIES: u32 = 2;
    /// `dial` ring time.
    pub const DIAL_TIMEOUT_MS: u64 = 30_000;
    /// `fetch` time limit.
    pub const FETCH_TIMEOUT_MS: u64 = 5_000;
    /// `record` longest recording.
    pub const RECORD_MAX_MS: u64 = 60_000;
    /// `bridge` longest connection.
    pub const BRIDGE_MAX_MS: u64 = 4 * 3_600_000;
    /// A flow's `lang`.
    pub const LANG: &str = "ru-RU";
    /// A flow's `voice`.
    pub const VOICE: &str = "female";
    /// `prompt loop` pause between repetitions.
    pub const PROMPT_LOOP_PAUSE_MS: u64 = 1_000;
    /// Campaign attempts per lead.
    pub const ATTEMPTS: u32 = 1;
    /// Campaign pause before another attempt.
    pub const RETRY_AFTER_MS: u64 = 10 * 60_000;
    /// Campaign simultaneous calls.
    pub const LINES: u32 = 1;
}

/// Lowers the modules of a checked program.
pub fn lower(sources: &Sources, modules: &[(FileId, &Module)], analysis: &Analysis) -> ir::Program {
    let mut program = ir::Program {
        ir_version: ir::IR_VERSION,
        flows: Vec::new(),
        campaigns: Vec::new(),
        tests: Vec::new(),
    };
    for (_, module) in modules {
        for item in &module.items {
            match item {
                Item::Flow(f) => program
                    .flows
                    .push(FlowLowerer::new(sources, analysis).flow(f)),
                Item::Campaign(c) => program
                    .campaigns
                    .push(items::campaign(sources, analysis, c)),
                Item::Test(t) => program.tests.push(items::test(sources, t)),
                Item::Import(_) => {}
            }
        }
    }
    program
}

/// A span as the IR keeps it.
fn src_span(sources: &Sources, span: Span) -> ir::SrcSpan {
    let (line, _) = sources.line_col(span.file, span.start);
    ir::SrcSpan {
        file: sources
            .get(span.file)
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        start: span.start,
        end: span.end,
        line: u32::try_from(line).unwrap_or(u32::MAX),
    }
}

struct FlowLowerer<'a> {
    sources: &'a Sources,
    analysis: &'a Analysis,
    nodes: Vec<Node>,
    vars: Vec<ir::Var>,
    var_names: std::collections::HashSet<String>,
    var_ids: SpanMap<VarId>,
    legs: Vec<ir::Leg>,
    leg_ids: SpanMap<LegId>,
    loops: Vec<ir::Loop>,
    labels: HashMap<String, NodeId>,
    break_to: Vec<NodeId>,
    next_to: Vec<NodeId>,
    in_sms: bool,
    /// The flow's `caller_id` setting, for dials without their own.
    caller_id: Option<ir::Expr>,
    /// The flow's language, for its speech helpers.
    lang: String,
}

fn u32_of(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> FlowLowerer<'a> {
    fn new(sources: &'a Sources, analysis: &'a Analysis) -> Self {
        FlowLowerer {
            sources,
            analysis,
            nodes: Vec::new(),
            vars: Vec::new(),
            var_names: std::collections::HashSet::new(),
            var_ids: SpanMap::default(),
            legs: vec![ir::Leg {
                id: LegId::CALLER,
                name: "caller".into(),
                kind: ir::LegKind::Caller,
            }],
            leg_ids: SpanMap::default(),
            loops: Vec::new(),
            labels: HashMap::new(),
            break_to: Vec::new(),
            next_to: Vec::new(),
            in_sms: false,
            caller_id: None,
            lang: defaults::LANG.into(),
        }
    }

    fn span(&self, span: Span) -> ir::SrcSpan {
        src_span(self.sources, span)
    }

    fn add(&mut self, op: Op, edges: Vec<Edge>, span: Span) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        let span = self.span(span);
        self.nodes.push(Node {
            id,
            op,
            edges,
            span,
        });
        id
    }

    fn then(&mut self, op: Op, next: NodeId, span: Span) -> NodeId {
        self.add(
            op,
            vec![Edge {
                on: Outcome::Next,
                to: next,
            }],
            span,
        )
    }

    fn flow(mut self, f: &ast::Flow) -> ir::Flow {
        let mut params = Vec::new();
        for p in &f.params {
            if let Some(id) = self.declare(&p.name, VarOrigin::Param) {
                params.push(id);
            }
        }
        self.declare_in(&f.body);
        for h in &f.handlers {
            self.declare_in(&h.action);
        }
        let mut settings = ir::FlowSettings {
            lang: defaults::LANG.into(),
            voice: defaults::VOICE.into(),
            ..ir::FlowSettings::default()
        };
        for s in &f.settings {
            let key = match &s.kind {
                ast::SettingKind::Lang(l) => {
                    settings.lang.clone_from(&l.name);
                    "lang"
                }
                ast::SettingKind::Voice(v) => {
                    settings.voice.clone_from(&v.name);
                    "voice"
                }
                ast::SettingKind::CallerId(e) => {
                    settings.caller_id = Some(self.coerce(e, Type::Phone));
                    "caller_id"
                }
            };
            settings.at.push(ir::SettingAt {
                key: key.into(),
                span: self.span(s.span),
            });
        }
        self.caller_id = settings.caller_id.clone();
        self.lang.clone_from(&settings.lang);
        let end_span = Span::new(
            f.span.file,
            (f.span.end as usize).saturating_sub(1),
            f.span.end as usize,
        );
        let end = self.add(Op::End, Vec::new(), end_span);
        let entry = self.block(&f.body, end);
        let mut handlers = ir::Handlers::default();
        for h in &f.handlers {
            self.in_sms = h.event.name == "sms";
            let end = self.add(Op::End, Vec::new(), h.span);
            let id = self.block(&h.action, end);
            self.in_sms = false;
            match h.event.name.as_str() {
                "hangup" => handlers.hangup = Some(id),
                "error" => handlers.error = Some(id),
                _ => handlers.sms = Some(id),
            }
        }
        let (nodes, entry, handlers) = renumber::renumber(self.nodes, entry, handlers);
        ir::Flow {
            name: f.name.name.clone(),
            params,
            settings,
            vars: self.vars,
            legs: self.legs,
            loops: self.loops,
            entry,
            handlers,
            nodes,
            span: src_span(self.sources, f.span),
        }
    }

    fn declare(&mut self, name: &ast::Ident, origin: VarOrigin) -> Option<VarId> {
        let ty = *self.analysis.var_types.get(&name.span)?;
        let id = VarId(u32::try_from(self.vars.len()).unwrap_or(u32::MAX));
        let mut unique = name.name.clone();
        let mut k = 2;
        while self.var_names.contains(&unique) {
            unique = format!("{}#{k}", name.name);
            k += 1;
        }
        self.var_names.insert(unique.clone());
        let span = self.span(name.span);
        self.vars.push(ir::Var {
            id,
            name: unique,
            ty,
            origin,
            span,
        });
        self.var_ids.insert(name.span, id);
        Some(id)
    }

    /// Declares every variable, leg, label and loop target in a block, before lowering.
    fn declare_in(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            match &s.kind {
                StmtKind::Let { name, .. } => {
                    self.declare(name, VarOrigin::Let);
                }
                StmtKind::Collect { var, .. } => {
                    self.declare(var, VarOrigin::Collect);
                }
                StmtKind::Fetch { var, .. } => {
                    self.declare(var, VarOrigin::Fetch);
                }
                StmtKind::Record { var, .. } => {
                    self.declare(var, VarOrigin::Record);
                }
                StmtKind::Dial { leg, .. } => {
                    let id = LegId(u32::try_from(self.legs.len()).unwrap_or(u32::MAX));
                    self.legs.push(ir::Leg {
                        id,
                        name: leg.name.clone(),
                        kind: ir::LegKind::Dialed,
                    });
                    self.leg_ids.insert(leg.span, id);
                }
                StmtKind::Label(l) => {
                    let id = self.add(
                        Op::Label {
                            name: l.name.clone(),
                        },
                        Vec::new(),
                        s.span,
                    );
                    self.labels.insert(l.name.clone(), id);
                }
                _ => {}
            }
            crate::check::for_each_child_block(s, |b| self.declare_in(b));
        }
    }

    fn leg(&self, leg: Option<&ast::Ident>) -> LegId {
        match leg.and_then(|l| self.analysis.resolved.get(&l.span)) {
            Some(Resolved::Leg(def)) => self.leg_ids.get(def).copied().unwrap_or(LegId::CALLER),
            _ => LegId::CALLER,
        }
    }

    fn block(&mut self, stmts: &[Stmt], next: NodeId) -> NodeId {
        stmts.iter().rev().fold(next, |cont, s| self.stmt(s, cont))
    }

    fn raise(&mut self, what: &str, span: Span) -> NodeId {
        self.add(
            Op::Raise {
                reason: what.to_string(),
            },
            Vec::new(),
            span,
        )
    }

    fn stmt(&mut self, s: &Stmt, next: NodeId) -> NodeId {
        let span = s.span;
        match &s.kind {
            StmtKind::Answer => self.then(Op::Answer { leg: LegId::CALLER }, next, span),
            StmtKind::Say { leg, text } => {
                let op = Op::Say {
                    leg: self.leg(leg.as_ref()),
                    text: self.template(text),
                };
                self.then(op, next, span)
            }
            StmtKind::Play { leg, audio } => {
                let op = Op::Play {
                    leg: self.leg(leg.as_ref()),
                    audio: self.audio(audio),
                };
                self.then(op, next, span)
            }
            StmtKind::Pause(d) => self.then(Op::Pause { ms: d.ms }, next, span),
            StmtKind::Collect { var, ty, leg, body } => {
                self.collect(var, ty, leg.as_ref(), body, next, span)
            }
            StmtKind::Menu { leg, body } => self.menu(leg.as_ref(), body, next, span),
            StmtKind::Listen { leg, within, body } => {
                self.listen(leg.as_ref(), within, body, next, span)
            }
            StmtKind::Dial { target, leg, body } => self.dial(target, leg, body, next, span),
            StmtKind::Bridge { a, b, body } => {
                let op = Op::Bridge {
                    a: self.leg(Some(a)),
                    b: self.leg(Some(b)),
                    max_length_ms: max_length(body).unwrap_or(defaults::BRIDGE_MAX_MS),
                };
                self.then(op, next, span)
            }
            StmtKind::Transfer { leg, target } => {
                let leg_id = self.leg(leg.as_ref());
                let op = Op::Transfer {
                    leg: leg_id,
                    target: self.coerce(target, Type::Phone),
                };
                if leg_id == LegId::CALLER {
                    self.add(op, Vec::new(), span)
                } else {
                    self.then(op, next, span)
                }
            }
            StmtKind::Record { var, leg, body } => {
                let op = Op::Record {
                    leg: self.leg(leg.as_ref()),
                    var: self.var_ids.get(&var.span).copied().unwrap_or(VarId(0)),
                    max_length_ms: max_length(body).unwrap_or(defaults::RECORD_MAX_MS),
                    end_key: end_key(body),
                };
                self.then(op, next, span)
            }
            StmtKind::Sms { to, text } => {
                let to = match to {
                    Some(e) => self.coerce(e, Type::Phone),
                    None if self.in_sms => ir::Expr::Builtin {
                        name: ir::Builtin::SmsFrom,
                    },
                    None => ir::Expr::LegNumber { leg: LegId::CALLER },
                };
                let op = Op::Sms {
                    to,
                    text: self.template(text),
                };
                self.then(op, next, span)
            }
            StmtKind::Fetch {
                var,
                method,
                url,
                params,
                body,
            } => self.fetch(var, method, url, params, body, next, span),
            StmtKind::Let { name, value, .. } => {
                let ty = self
                    .analysis
                    .var_types
                    .get(&name.span)
                    .copied()
                    .unwrap_or(Type::Text);
                let op = Op::Assign {
                    var: self.var_ids.get(&name.span).copied().unwrap_or(VarId(0)),
                    value: self.coerce(value, ty),
                };
                self.then(op, next, span)
            }
            StmtKind::Set { name, value } => {
                let def = match self.analysis.resolved.get(&name.span) {
                    Some(Resolved::Var(def)) => *def,
                    _ => name.span,
                };
                let ty = self
                    .analysis
                    .var_types
                    .get(&def)
                    .copied()
                    .unwrap_or(Type::Text);
                let op = Op::Assign {
                    var: self.var_ids.get(&def).copied().unwrap_or(VarId(0)),
                    value: self.coerce(value, ty),
                };
                self.then(op, next, span)
            }
            StmtKind::If {
                branches,
                otherwise,
            } => {
                let mut cont = match otherwise {
                    Some(b) => self.block(b, next),
                    None => next,
                };
                for (cond, b) in branches.iter().rev() {
                    let yes = self.block(b, next);
                    let c = self.expr(cond);
                    cont = self.add(
                        Op::Branch { cond: c },
                        vec![
                            Edge {
                                on: Outcome::True,
                                to: yes,
                            },
                            Edge {
                                on: Outcome::False,
                                to: cont,
                            },
                        ],
                        span,
                    );
                }
                cont
            }
            StmtKind::Goto { label, max } => {
                let target = self.labels.get(&label.name).copied().unwrap_or(next);
                match max {
                    None => target,
                    Some(n) => {
                        let id = self.new_loop(Some(u32_of(n.value)), None);
                        self.add(
                            Op::LoopCheck { id },
                            vec![
                                Edge {
                                    on: Outcome::Body,
                                    to: target,
                                },
                                Edge {
                                    on: Outcome::Done,
                                    to: next,
                                },
                            ],
                            span,
                        )
                    }
                }
            }
            StmtKind::Label(l) => {
                let id = self.labels.get(&l.name).copied().unwrap_or(next);
                if let Some(n) = self.nodes.get_mut(id.0 as usize) {
                    n.edges = vec![Edge {
                        on: Outcome::Next,
                        to: next,
                    }];
                }
                id
            }
            StmtKind::Repeat {
                count,
                within,
                body,
            } => {
                let id = self.new_loop(count.map(|n| u32_of(n.value)), within.map(|d| d.ms));
                let check = self.add(Op::LoopCheck { id }, Vec::new(), span);
                self.break_to.push(next);
                let body_entry = self.block(body, check);
                self.break_to.pop();
                if let Some(n) = self.nodes.get_mut(check.0 as usize) {
                    n.edges = vec![
                        Edge {
                            on: Outcome::Body,
                            to: body_entry,
                        },
                        Edge {
                            on: Outcome::Done,
                            to: next,
                        },
                    ];
                }
                self.then(Op::LoopStart { id }, check, span)
            }
            StmtKind::Break => self.break_to.last().copied().unwrap_or(next),
            StmtKind::Next => self.next_to.last().copied().unwrap_or(next),
            StmtKind::ReportOk(data) => {
                let data = data
                    .iter()
                    .map(|e| (e.key.name.clone(), self.expr(&e.value)))
                    .collect();
                self.add(
                    Op::Report {
                        ok: true,
                        data,
                        reason: None,
                    },
                    Vec::new(),
                    span,
                )
            }
            StmtKind::ReportRetry(reason) => {
                let reason = reason.as_ref().map(|t| self.template(t));
                self.add(
                    Op::Report {
                        ok: false,
                        data: Vec::new(),
                        reason,
                    },
                    Vec::new(),
                    span,
                )
            }
            StmtKind::Block => self.then(Op::Block { leg: LegId::CALLER }, next, span),
            StmtKind::Hangup(leg) => match leg {
                None => self.add(Op::Hangup { leg: None }, Vec::new(), span),
                Some(l) => {
                    let id = self.leg(Some(l));
                    if id == LegId::CALLER {
                        self.add(Op::Hangup { leg: Some(id) }, Vec::new(), span)
                    } else {
                        self.then(Op::Hangup { leg: Some(id) }, next, span)
                    }
                }
            },
        }
    }

    fn new_loop(&mut self, max_count: Option<u32>, within_ms: Option<u64>) -> LoopId {
        let id = LoopId(u32::try_from(self.loops.len()).unwrap_or(u32::MAX));
        self.loops.push(ir::Loop {
            id,
            max_count,
            within_ms,
        });
        id
    }

    fn audio(&mut self, audio: &ast::Audio) -> ir::Audio {
        match audio {
            ast::Audio::Record { id, .. } => ir::Audio::Record { id: *id },
            ast::Audio::Location(t) => {
                let lead = match t.parts.first() {
                    Some(TemplatePart::Text(s)) => s.as_str(),
                    _ => "",
                };
                if lead.starts_with("http://") || lead.starts_with("https://") {
                    ir::Audio::Url {
                        url: self.template(t),
                    }
                } else {
                    ir::Audio::File {
                        path: self.template(t),
                    }
                }
            }
        }
    }
}

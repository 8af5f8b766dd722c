//! The symbol index of a program: every definition (flows, parameters, variables, legs,
//! labels, campaigns, tests) with its span, every reference to one, and where each variable,
//! parameter and leg is in scope.
//!
//! References to variables, parameters and legs are the checker's own resolutions
//! (`Analysis::resolved`), so navigation agrees with the diagnostics. What the checker does
//! not record is resolved here by name as the checker does: a `goto` to its flow's label, a
//! campaign's or test's flow, a campaign's `dial` column, a test's parameters and legs.
//! Scopes follow `check::flow` and docs/language.md: a name is visible from the end of its
//! definition to the end of its block; the variable of `collect` and `fetch` also in their
//! `on ok` arms (and `collect`'s `where`), a dialled leg in its `answered`/`machine` arms;
//! a flow's body is not visible in its handlers. Nothing here reports problems.

use crate::check::{Analysis, Resolved};
use crate::ir::Type;
use crate::span::{FileId, Sources, Span};
use crate::syntax::ast::*;
use std::collections::HashMap;

/// The index of a symbol in [`SymbolIndex::symbols`].
pub type SymbolId = usize;

/// What a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    /// `flow NAME`.
    Flow,
    /// A flow parameter.
    Parameter,
    /// A variable of `let`, `collect`, `record` or `fetch`.
    Variable,
    /// A leg of `dial … as NAME`.
    Leg,
    /// `label NAME`.
    Label,
    /// `campaign NAME`.
    Campaign,
    /// `test "NAME"`.
    Test,
}

impl SymbolKind {
    /// The word for it in messages.
    pub fn word(self) -> &'static str {
        match self {
            SymbolKind::Flow => "flow",
            SymbolKind::Parameter => "parameter",
            SymbolKind::Variable => "variable",
            SymbolKind::Leg => "leg",
            SymbolKind::Label => "label",
            SymbolKind::Campaign => "campaign",
            SymbolKind::Test => "test",
        }
    }
}

/// A definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The name (a test's name without quotes).
    pub name: String,
    /// What it is.
    pub kind: SymbolKind,
    /// Where the name is written.
    pub name_span: Span,
    /// The whole definition: the item, or the statement that defines the name.
    pub span: Span,
    /// The value's type, as the checker inferred it (else as declared).
    pub ty: Option<Type>,
    /// The flow a parameter, variable, leg or label belongs to; a campaign's or test's flow.
    pub flow: Option<SymbolId>,
    /// A flow's parameters (`(name: text)`), a campaign's or test's flow (`for order`).
    pub detail: Option<String>,
    /// Byte ranges (inclusive at both ends) of its file where the name is in scope.
    scope: Vec<(u32, u32)>,
}

/// Every definition and reference of a program.
#[derive(Debug, Default)]
pub struct SymbolIndex {
    /// The definitions, in source order per file.
    pub symbols: Vec<Symbol>,
    /// Every reference: where it is written and what it names.
    pub references: Vec<(Span, SymbolId)>,
}

impl SymbolIndex {
    /// The index of `modules`, with the checker's `analysis` of them.
    pub fn build(sources: &Sources, modules: &[(FileId, &Module)], analysis: &Analysis) -> Self {
        let mut b = Builder {
            index: SymbolIndex::default(),
            by_def: HashMap::new(),
            sources,
        };
        for (_, module) in modules {
            for item in &module.items {
                if let Item::Flow(f) = item {
                    b.flow(f, analysis);
                }
            }
        }
        for (_, module) in modules {
            for item in &module.items {
                match item {
                    Item::Campaign(c) => b.campaign(c),
                    Item::Test(t) => b.test(t),
                    Item::Flow(_) | Item::Import(_) => {}
                }
            }
        }
        let mut uses: Vec<(&Span, &Resolved)> = analysis.resolved.iter().collect();
        uses.sort_by_key(|(s, _)| (s.file, s.start));
        for (span, r) in uses {
            if let Resolved::Var(def) | Resolved::Leg(def) = r {
                if let Some(&id) = b.by_def.get(def) {
                    b.index.references.push((*span, id));
                }
            }
        }
        b.index
            .references
            .sort_by_key(|(s, _)| (s.file, s.start, s.end));
        b.index
    }

    /// The symbol named or defined at byte `offset` of `file` (the end of a name counts).
    pub fn at(&self, file: FileId, offset: usize) -> Option<SymbolId> {
        self.occurrence_at(file, offset).map(|(_, id)| id)
    }

    /// The name at byte `offset` of `file`, a reference or a definition, and its symbol.
    pub fn occurrence_at(&self, file: FileId, offset: usize) -> Option<(Span, SymbolId)> {
        let hit = |s: &Span| s.file == file && within(offset, s.start, s.end);
        self.references
            .iter()
            .find(|(s, _)| hit(s))
            .copied()
            .or_else(|| {
                let id = self.symbols.iter().position(|s| hit(&s.name_span))?;
                Some((self.symbols[id].name_span, id))
            })
    }

    /// The references to `id`, in source order.
    pub fn references_to(&self, id: SymbolId) -> impl Iterator<Item = Span> + '_ {
        self.references
            .iter()
            .filter(move |(_, s)| *s == id)
            .map(|(span, _)| *span)
    }

    /// The innermost flow whose text contains `offset` of `file`.
    pub fn flow_at(&self, file: FileId, offset: usize) -> Option<SymbolId> {
        self.symbols.iter().position(|s| {
            s.kind == SymbolKind::Flow
                && s.span.file == file
                && within(offset, s.span.start, s.span.end)
        })
    }

    /// The parameters, variables and legs in scope at `offset` of `file`, in order of
    /// definition.
    pub fn in_scope(&self, file: FileId, offset: usize) -> Vec<SymbolId> {
        (0..self.symbols.len())
            .filter(|&id| {
                let s = &self.symbols[id];
                s.name_span.file == file && s.scope.iter().any(|&(a, b)| within(offset, a, b))
            })
            .collect()
    }

    /// The symbols of `kind` belonging to `flow`.
    pub fn of_flow(&self, flow: SymbolId, kind: SymbolKind) -> Vec<SymbolId> {
        (0..self.symbols.len())
            .filter(|&id| self.symbols[id].flow == Some(flow) && self.symbols[id].kind == kind)
            .collect()
    }

    /// The first flow named `name` (the one the checker keeps).
    pub fn flow_named(&self, name: &str) -> Option<SymbolId> {
        self.symbols
            .iter()
            .position(|s| s.kind == SymbolKind::Flow && s.name == name)
    }
}

fn within(offset: usize, start: u32, end: u32) -> bool {
    start as usize <= offset && offset <= end as usize
}

struct Builder<'a> {
    index: SymbolIndex,
    /// Symbols by the span of their name, for the checker's resolutions.
    by_def: HashMap<Span, SymbolId>,
    sources: &'a Sources,
}

impl Builder<'_> {
    fn add(&mut self, symbol: Symbol) -> SymbolId {
        let id = self.index.symbols.len();
        self.by_def.entry(symbol.name_span).or_insert(id);
        self.index.symbols.push(symbol);
        id
    }

    fn refer(&mut self, span: Span, id: Option<SymbolId>) {
        if let Some(id) = id {
            self.index.references.push((span, id));
        }
    }

    fn flow(&mut self, f: &Flow, analysis: &Analysis) {
        let params: Vec<String> = f
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name.name, p.ty.name))
            .collect();
        let flow = self.add(Symbol {
            name: f.name.name.clone(),
            kind: SymbolKind::Flow,
            name_span: f.name.span,
            span: f.span,
            ty: None,
            flow: None,
            detail: Some(format!("({})", params.join(", "))),
            scope: Vec::new(),
        });
        for p in &f.params {
            let ty = analysis
                .var_types
                .get(&p.name.span)
                .copied()
                .or_else(|| Type::from_name(&p.ty.name));
            self.add(Symbol {
                name: p.name.name.clone(),
                kind: SymbolKind::Parameter,
                name_span: p.name.span,
                span: p.name.span.to(p.ty.span),
                ty,
                flow: Some(flow),
                detail: None,
                scope: vec![(f.span.start, f.span.end)],
            });
        }
        let mut walk = Walk {
            b: self,
            flow,
            analysis,
            labels: Vec::new(),
            gotos: Vec::new(),
        };
        let holes: Vec<Span> = f.handlers.iter().map(|h| walk.trimmed(h.span)).collect();
        walk.block(&f.body, f.span.end, &holes);
        for h in &f.handlers {
            let end = walk.block_end(&h.action, walk.trimmed(h.span).end);
            walk.block(&h.action, end, &[]);
        }
        let Walk { labels, gotos, .. } = walk;
        for goto in gotos {
            let label = labels.iter().find(|(n, _)| *n == goto.name).map(|l| l.1);
            self.refer(goto.span, label);
        }
    }

    fn campaign(&mut self, c: &Campaign) {
        let flow = self.index.flow_named(&c.flow.name);
        self.add(Symbol {
            name: c.name.name.clone(),
            kind: SymbolKind::Campaign,
            name_span: c.name.span,
            span: c.span,
            ty: None,
            flow,
            detail: Some(format!("for {}", c.flow.name)),
            scope: Vec::new(),
        });
        self.refer(c.flow.span, flow);
        for s in &c.settings {
            if let CampaignSettingKind::Dial(column) = &s.kind {
                let param = self.of_flow_named(flow, SymbolKind::Parameter, &column.name);
                self.refer(column.span, param);
            }
        }
    }

    fn test(&mut self, t: &Test) {
        let flow = self.index.flow_named(&t.flow.name);
        let name = t.name.source_text();
        self.add(Symbol {
            name,
            kind: SymbolKind::Test,
            name_span: t.name.span,
            span: t.span,
            ty: None,
            flow,
            detail: Some(format!("for {}", t.flow.name)),
            scope: Vec::new(),
        });
        self.refer(t.flow.span, flow);
        for e in &t.params {
            let param = self.of_flow_named(flow, SymbolKind::Parameter, &e.key.name);
            self.refer(e.key.span, param);
        }
        for step in &t.steps {
            let legs: [Option<&Ident>; 2] = match &step.kind {
                TestStepKind::ExpectSay(l, _) | TestStepKind::ExpectPlay(l, _) => {
                    [l.as_ref(), None]
                }
                TestStepKind::Press(_, l)
                | TestStepKind::Speak(_, l)
                | TestStepKind::PartyHangup(l) => [l.as_ref(), None],
                TestStepKind::ExpectDial(l) | TestStepKind::DialOutcome(_, l) => [Some(l), None],
                TestStepKind::ExpectBridge(a, b) => [Some(a), Some(b)],
                _ => [None, None],
            };
            for leg in legs.into_iter().flatten() {
                let id = self.of_flow_named(flow, SymbolKind::Leg, &leg.name);
                self.refer(leg.span, id);
            }
        }
    }

    /// The first symbol of `kind` named `name` in `flow`.
    fn of_flow_named(
        &self,
        flow: Option<SymbolId>,
        kind: SymbolKind,
        name: &str,
    ) -> Option<SymbolId> {
        let flow = flow?;
        self.index
            .of_flow(flow, kind)
            .into_iter()
            .find(|&id| self.index.symbols[id].name == name)
    }
}

/// A `goto` waiting for its flow's labels.
struct Goto {
    name: String,
    span: Span,
}

/// The walk over one flow's statements.
struct Walk<'b, 'a> {
    b: &'b mut Builder<'a>,
    flow: SymbolId,
    analysis: &'b Analysis,
    labels: Vec<(String, SymbolId)>,
    gotos: Vec<Goto>,
}

impl Walk<'_, '_> {
    /// Walks `stmts`, a block that ends at byte `end`; `holes` are parts of it where its
    /// names are not visible (a flow body's handlers).
    fn block(&mut self, stmts: &[Stmt], end: u32, holes: &[Span]) {
        for s in stmts {
            let stmt_end = self.trimmed(s.span).end;
            let after = cut((stmt_end.saturating_add(1), end), holes);
            match &s.kind {
                StmtKind::Let { name, ty, .. } => {
                    let declared = ty.as_ref().and_then(|t| Type::from_name(&t.name));
                    self.define(name, SymbolKind::Variable, s.span, declared, after);
                }
                StmtKind::Collect { var, ty, body, .. } => {
                    let mut scope = self.arms_seeing(body, &["ok"]);
                    for o in &body.options {
                        if let OptKind::Where(e) = &o.kind {
                            scope.push((e.span.start, e.span.end));
                        }
                    }
                    scope.extend(after);
                    let declared = Type::from_name(&ty.name);
                    self.define(var, SymbolKind::Variable, s.span, declared, scope);
                }
                StmtKind::Fetch { var, body, .. } => {
                    let mut scope = self.arms_seeing(body, &["ok"]);
                    scope.extend(after);
                    self.define(var, SymbolKind::Variable, s.span, Some(Type::Json), scope);
                }
                StmtKind::Record { var, .. } => {
                    self.define(var, SymbolKind::Variable, s.span, Some(Type::Text), after);
                }
                StmtKind::Dial { leg, body, .. } => {
                    let mut scope = self.arms_seeing(body, &["answered", "machine"]);
                    scope.extend(after);
                    self.define(leg, SymbolKind::Leg, s.span, None, scope);
                }
                StmtKind::Label(l) => {
                    let id = self.define(l, SymbolKind::Label, s.span, None, Vec::new());
                    if !self.labels.iter().any(|(n, _)| *n == l.name) {
                        self.labels.push((l.name.clone(), id));
                    }
                }
                StmtKind::Goto { label, .. } => self.gotos.push(Goto {
                    name: label.name.clone(),
                    span: label.span,
                }),
                _ => {}
            }
            self.children(s);
        }
    }

    /// Walks the blocks nested in `s`.
    fn children(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::If {
                branches,
                otherwise,
            } => {
                for (_, b) in branches {
                    let end = self.block_end(b, s.span.end);
                    self.block(b, end, &[]);
                }
                if let Some(b) = otherwise {
                    let end = self.block_end(b, s.span.end);
                    self.block(b, end, &[]);
                }
            }
            StmtKind::Repeat { body, .. } => {
                let end = self.block_end(body, s.span.end);
                self.block(body, end, &[]);
            }
            StmtKind::Collect { body, .. }
            | StmtKind::Menu { body, .. }
            | StmtKind::Listen { body, .. }
            | StmtKind::Dial { body, .. }
            | StmtKind::Record { body, .. }
            | StmtKind::Fetch { body, .. } => {
                for a in &body.arms {
                    let end = self.block_end(&a.action, self.trimmed(a.span).end);
                    self.block(&a.action, end, &[]);
                }
            }
            _ => {}
        }
    }

    /// Where the block of `stmts` closes: the `}` after its last statement (only blanks,
    /// `;` and comments may come between), else `fallback` (a single-statement action).
    fn block_end(&self, stmts: &[Stmt], fallback: u32) -> u32 {
        let Some(last) = stmts.last() else {
            return fallback;
        };
        let text = self
            .b
            .sources
            .get(last.span.file)
            .map_or("", |f| f.text.as_str());
        let mut rest = text
            .get(self.trimmed(last.span).end as usize..)
            .unwrap_or("");
        loop {
            let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
            match trimmed.strip_prefix("//") {
                Some(comment) => rest = comment.split_once('\n').map_or("", |(_, r)| r),
                None => {
                    rest = trimmed;
                    break;
                }
            }
        }
        if rest.starts_with('}') {
            u32::try_from(text.len() - rest.len()).unwrap_or(fallback)
        } else {
            fallback
        }
    }

    /// The spans of the arms of `body` that see a statement's new name: arms naming only
    /// outcomes among `outcomes` (not `else`, not keys or phrases).
    fn arms_seeing(&self, body: &Body, outcomes: &[&str]) -> Vec<(u32, u32)> {
        body.arms
            .iter()
            .filter(|a| {
                !a.is_else
                    && !a.patterns.is_empty()
                    && a.patterns.iter().all(
                        |p| matches!(p, Pattern::Outcome(o) if outcomes.contains(&o.name.as_str())),
                    )
            })
            .map(|a| {
                let a = self.trimmed(a.span);
                (a.start, a.end)
            })
            .collect()
    }

    /// `span` without its trailing blanks.
    fn trimmed(&self, span: Span) -> Span {
        let text = self
            .b
            .sources
            .get(span.file)
            .map_or("", |f| f.text.as_str());
        super::lexical::trimmed(text, span)
    }

    fn define(
        &mut self,
        name: &Ident,
        kind: SymbolKind,
        span: Span,
        declared: Option<Type>,
        scope: Vec<(u32, u32)>,
    ) -> SymbolId {
        let ty = self
            .analysis
            .var_types
            .get(&name.span)
            .copied()
            .or(declared);
        self.b.add(Symbol {
            name: name.name.clone(),
            kind,
            name_span: name.span,
            span,
            ty,
            flow: Some(self.flow),
            detail: None,
            scope,
        })
    }
}

/// The range `(start, end)` without the parts covered by `holes`.
fn cut((start, end): (u32, u32), holes: &[Span]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut from = start;
    let mut holes: Vec<&Span> = holes
        .iter()
        .filter(|h| h.end > start && h.start < end)
        .collect();
    holes.sort_by_key(|h| h.start);
    for h in holes {
        if h.start > from {
            out.push((from, h.start - 1));
        }
        from = from.max(h.end + 1);
    }
    if from <= end {
        out.push((from, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index of one file, and the byte offset of the `n`th occurrence of `needle`.
    fn index(text: &str) -> (SymbolIndex, impl Fn(&str, usize) -> usize + '_) {
        let mut sources = Sources::new();
        let file = sources.add("t.ivr", text);
        let (module, errors) = crate::syntax::parse(file, text);
        assert!(errors.is_empty(), "{errors:?}");
        let modules = [(file, &module)];
        let (analysis, _) = crate::check::check(&modules, &Default::default());
        let index = SymbolIndex::build(&sources, &modules, &analysis);
        let at = move |needle: &str, n: usize| {
            text.match_indices(needle)
                .nth(n)
                .unwrap_or_else(|| panic!("no {n}th `{needle}`"))
                .0
        };
        (index, at)
    }

    fn names(index: &SymbolIndex, ids: &[SymbolId]) -> Vec<String> {
        ids.iter().map(|&i| index.symbols[i].name.clone()).collect()
    }

    const FLOW: &str = r#"flow order(phone: phone) {
  on hangup -> say "{{phone}}"
  let tries = 0
  collect code: digits {
    where len(code) > 3
    on ok -> say "Код {{code}}"
    on timeout -> say "Нет кода"
  }
  if tries > 0 {
    let inner = 1
    say "{{inner}}"
  } else {
    say "пусто"
  }
  dial phone as client {
    on answered -> say to client "Алло"
    on busy -> hangup
  }
  label again
  say to client "Код {{code}}"
  goto again max 2
}
campaign shop for order {
  leads "leads.csv"
  dial phone
}
test "звонок" for order with { phone: +79001234567 } {
  expect dial client
  answer client
}
"#;

    #[test]
    fn references_resolve_as_the_checker_does() {
        let (index, at) = index(FLOW);
        let file = FileId(0);
        let code_def = index.at(file, at("code", 0)).unwrap();
        assert_eq!(index.symbols[code_def].kind, SymbolKind::Variable);
        assert_eq!(index.symbols[code_def].ty, Some(Type::Digits));
        let uses: Vec<usize> = index
            .references_to(code_def)
            .map(|s| s.start as usize)
            .collect();
        assert_eq!(uses, [at("code", 1), at("code", 2), at("code", 3)]);
        // The `goto` names the label; the campaign and the test the flow, the parameter
        // and the leg.
        let label = index.at(file, at("again", 1)).unwrap();
        assert_eq!(
            index.symbols[label].name_span.start as usize,
            at("again", 0)
        );
        let flow = index.at(file, at("order", 1)).unwrap();
        assert_eq!(index.symbols[flow].kind, SymbolKind::Flow);
        assert_eq!(index.at(file, at("order", 2)), Some(flow));
        let phone = index.at(file, at("phone", 0)).unwrap();
        assert_eq!(index.symbols[phone].kind, SymbolKind::Parameter);
        assert_eq!(index.symbols[phone].ty, Some(Type::Phone));
        let phone_uses: Vec<usize> = index
            .references_to(phone)
            .map(|s| s.start as usize)
            .collect();
        assert_eq!(
            phone_uses,
            [
                at("phone", 2),
                at("phone", 3),
                at("phone", 4),
                at("phone:", 1)
            ]
        );
        let client = index.at(file, at("client", 0)).unwrap();
        assert_eq!(index.symbols[client].kind, SymbolKind::Leg);
        assert_eq!(index.references_to(client).count(), 4);
        // The end of a name still names it.
        assert_eq!(index.at(file, at("code", 1) + 4), Some(code_def));
        assert_eq!(index.at(file, at("leads", 0)), None);
    }

    #[test]
    fn scopes_follow_blocks_arms_and_handlers() {
        let (index, at) = index(FLOW);
        let file = FileId(0);
        let visible = |offset: usize| names(&index, &index.in_scope(file, offset));
        // In the handler: the parameter only, not the body's names.
        assert_eq!(visible(at("{{phone}}", 0)), ["phone"]);
        // `where` and the `on ok` arm see `code`; the `on timeout` arm does not.
        assert_eq!(visible(at("len(code)", 0)), ["phone", "tries", "code"]);
        assert_eq!(visible(at("Код {{code}}", 0)), ["phone", "tries", "code"]);
        assert_eq!(visible(at("Нет кода", 0)), ["phone", "tries"]);
        // A `let` inside `if` is gone in `else` and after the `if`.
        assert_eq!(
            visible(at("{{inner}}", 0)),
            ["phone", "tries", "code", "inner"]
        );
        assert_eq!(visible(at("пусто", 0)), ["phone", "tries", "code"]);
        // The leg: in its `answered` arm, not in `busy`, and after the dial.
        assert_eq!(visible(at("Алло", 0)), ["phone", "tries", "code", "client"]);
        assert_eq!(visible(at("on busy", 0)), ["phone", "tries", "code"]);
        assert_eq!(visible(at("goto", 0)), ["phone", "tries", "code", "client"]);
        // Outside every flow nothing is in scope.
        assert!(visible(at("leads", 0)).is_empty());
        let flow = index.flow_at(file, at("goto", 0)).unwrap();
        assert_eq!(
            names(&index, &index.of_flow(flow, SymbolKind::Label)),
            ["again"]
        );
    }

    #[test]
    fn a_block_ends_at_its_brace_past_comments() {
        assert_eq!(
            cut((10, 100), &[Span::new(FileId(0), 20, 30)]),
            [(10, 19), (31, 100)]
        );
        assert_eq!(cut((10, 100), &[Span::new(FileId(0), 0, 200)]), []);
        let text = "flow f {\n  repeat 2 times {\n    let a = 1 ; // note\n    say \"{{a}}\"\n  }\n  say \"x\"\n}\n";
        let (index, at) = index(text);
        let a = index.at(FileId(0), at("a =", 0)).unwrap();
        let end = at("\n  }", 0) as u32 + 3;
        assert_eq!(index.symbols[a].scope, [(at("a = 1", 0) as u32 + 6, end)]);
        assert!(index.in_scope(FileId(0), at("\"x\"", 0)).is_empty());
    }
}

//! Builds the AST from pest's pairs.
//!
//! The grammar guarantees the shape of every pair, so this module only walks it; values
//! that the grammar cannot bound (numbers that overflow, escapes, placeholders, unclosed
//! strings) are reported as `SyntaxError`s and replaced by harmless stand-ins so that the
//! rest of the file is still read.

use super::ast::*;
use super::error::{is_keyword, SyntaxError, RESERVED};
use super::grammar::Rule;
use super::template;
use crate::span::{FileId, Span};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::OnceLock;

type P<'i> = Pair<'i, Rule>;

/// The most operators in one expression, parentheses included. Expressions are walked
/// recursively by later phases, so their depth must stay small.
const MAX_OPERANDS: usize = 256;

/// Walks pairs of one file, collecting errors.
pub struct Builder {
    file: FileId,
    /// Byte offset of the parsed text within the file.
    base: usize,
    /// Problems found so far.
    pub errors: Vec<SyntaxError>,
}

/// The children of a pair without keyword tokens.
fn kids<'i>(p: &P<'i>) -> impl Iterator<Item = P<'i>> {
    p.clone().into_inner().filter(|c| !is_keyword(c.as_rule()))
}

/// The first child of `p` with rule `r`.
fn child<'i>(p: &P<'i>, r: Rule) -> Option<P<'i>> {
    p.clone().into_inner().find(|c| c.as_rule() == r)
}

/// Whether `p` has a keyword child `r`.
fn has(p: &P<'_>, r: Rule) -> bool {
    p.clone().into_inner().any(|c| c.as_rule() == r)
}

impl Builder {
    /// A builder for text that starts at byte `base` of `file`.
    pub fn new(file: FileId, base: usize) -> Builder {
        Builder {
            file,
            base,
            errors: Vec::new(),
        }
    }

    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }

    fn ident(&mut self, p: &P<'_>) -> Ident {
        let name = p.as_str().to_string();
        let span = self.span(p);
        if p.as_rule() == Rule::ident && RESERVED.binary_search(&name.as_str()).is_ok() {
            self.errors.push(SyntaxError::ReservedWord {
                word: name.clone(),
                at: span.into(),
            });
        }
        Ident { name, span }
    }

    fn first_ident(&mut self, p: &P<'_>) -> Ident {
        match child(p, Rule::ident).or_else(|| child(p, Rule::word)) {
            Some(c) => self.ident(&c),
            None => Ident {
                name: String::new(),
                span: self.span(p),
            },
        }
    }

    /// Reads the items of a `file` pair (or of a fragment holding items).
    pub fn module(&mut self, p: P<'_>) -> Module {
        let mut items = Vec::new();
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::import => {
                    let span = self.span(&c);
                    let path = self.plain_in(&c, "import paths");
                    items.push(Item::Import(Import { path, span }));
                }
                Rule::flow => items.push(Item::Flow(self.flow(c))),
                Rule::campaign => items.push(Item::Campaign(self.campaign(c))),
                Rule::test => items.push(Item::Test(self.test(c))),
                _ => {}
            }
        }
        Module { items }
    }

    fn template(&mut self, p: &P<'_>) -> Template {
        let start = self.base + p.as_span().start();
        if p.as_rule() == Rule::unterminated_string {
            self.errors.push(SyntaxError::UnterminatedString {
                at: self.span(p).into(),
            });
            let mut ignored = Vec::new();
            return template::decode(self.file, p.as_str(), start, &mut ignored);
        }
        template::decode(self.file, p.as_str(), start, &mut self.errors)
    }

    /// Reports the placeholders of a template that must be fixed text.
    fn require_plain(&mut self, t: &Template, what: &str) {
        for part in &t.parts {
            if let TemplatePart::Placeholder(ph) = part {
                self.errors.push(SyntaxError::PlaceholderNotAllowed {
                    what: what.to_string(),
                    at: ph.span.into(),
                });
            }
        }
    }

    /// The template of the first string child of `p`, which must be fixed text.
    fn plain_in(&mut self, p: &P<'_>, what: &str) -> Template {
        let t = self.template_in(p);
        self.require_plain(&t, what);
        t
    }

    /// The template of the first string child of `p`.
    fn template_in(&mut self, p: &P<'_>) -> Template {
        match p
            .clone()
            .into_inner()
            .find(|c| matches!(c.as_rule(), Rule::string | Rule::unterminated_string))
        {
            Some(s) => self.template(&s),
            None => Template {
                parts: Vec::new(),
                span: self.span(p),
            },
        }
    }

    fn templates_in(&mut self, p: &P<'_>) -> Vec<Template> {
        let strings: Vec<P<'_>> = p
            .clone()
            .into_inner()
            .filter(|c| matches!(c.as_rule(), Rule::string | Rule::unterminated_string))
            .collect();
        strings.iter().map(|s| self.template(s)).collect()
    }

    fn int(&mut self, p: &P<'_>) -> Int {
        let span = self.span(p);
        let value = p.as_str().parse::<i64>().unwrap_or_else(|_| {
            self.errors
                .push(SyntaxError::NumberTooLarge { at: span.into() });
            0
        });
        Int { value, span }
    }

    fn duration(&mut self, p: &P<'_>) -> Duration {
        let span = self.span(p);
        let text = p.as_str();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(digits_end);
        let factor: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            _ => 3_600_000,
        };
        let ms = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor));
        let ms = ms.unwrap_or_else(|| {
            self.errors
                .push(SyntaxError::NumberTooLarge { at: span.into() });
            0
        });
        Duration { ms, span }
    }

    fn duration_in(&mut self, p: &P<'_>) -> Duration {
        match child(p, Rule::duration) {
            Some(d) => self.duration(&d),
            None => Duration {
                ms: 0,
                span: self.span(p),
            },
        }
    }

    fn int_in(&mut self, p: &P<'_>) -> Int {
        match child(p, Rule::integer) {
            Some(d) => self.int(&d),
            None => Int {
                value: 0,
                span: self.span(p),
            },
        }
    }

    fn leg_in(&mut self, p: &P<'_>, r: Rule) -> Option<Ident> {
        child(p, r).map(|l| self.first_ident(&l))
    }

    fn flow(&mut self, p: P<'_>) -> Flow {
        let span = self.span(&p);
        let name = self.first_ident(&p);
        let mut flow = Flow {
            name,
            params: Vec::new(),
            settings: Vec::new(),
            handlers: Vec::new(),
            body: Vec::new(),
            span,
        };
        for c in kids(&p).skip(1) {
            match c.as_rule() {
                Rule::params => {
                    for param in c.into_inner() {
                        let mut it = param.into_inner();
                        if let (Some(n), Some(t)) = (it.next(), it.next()) {
                            flow.params.push(Param {
                                name: self.ident(&n),
                                ty: self.ident(&t),
                            });
                        }
                    }
                }
                Rule::setting => {
                    let span = self.span(&c);
                    if let Some(s) = c.into_inner().next() {
                        let kind = match s.as_rule() {
                            Rule::lang_setting => {
                                SettingKind::Lang(match child(&s, Rule::lang_tag) {
                                    Some(t) => self.ident(&t),
                                    None => self.first_ident(&s),
                                })
                            }
                            Rule::voice_setting => {
                                let v = kids(&s).next();
                                SettingKind::Voice(match v {
                                    Some(v) if v.as_rule() == Rule::word => self.ident(&v),
                                    Some(v) => {
                                        let t = self.template(&v);
                                        self.require_plain(&t, "voice names");
                                        Ident {
                                            name: t.as_plain().unwrap_or_default(),
                                            span: t.span,
                                        }
                                    }
                                    None => self.first_ident(&s),
                                })
                            }
                            _ => SettingKind::CallerId(self.expr_in(&s)),
                        };
                        flow.settings.push(Setting { kind, span });
                    }
                }
                Rule::handler => {
                    let span = self.span(&c);
                    let event = self.first_ident(&c);
                    let action = self.action_in(&c);
                    flow.handlers.push(Handler {
                        event,
                        action,
                        span,
                    });
                }
                _ => {
                    if let Some(s) = self.stmt(c) {
                        flow.body.push(s);
                    }
                }
            }
        }
        flow
    }

    fn action_in(&mut self, p: &P<'_>) -> Vec<Stmt> {
        let Some(a) = child(p, Rule::action) else {
            return Vec::new();
        };
        let Some(inner) = a.into_inner().next() else {
            return Vec::new();
        };
        if inner.as_rule() == Rule::block {
            self.block(inner)
        } else {
            self.stmt(inner).into_iter().collect()
        }
    }

    fn block(&mut self, p: P<'_>) -> Vec<Stmt> {
        p.into_inner().filter_map(|s| self.stmt(s)).collect()
    }

    fn block_in(&mut self, p: &P<'_>) -> Vec<Stmt> {
        child(p, Rule::block)
            .map(|b| self.block(b))
            .unwrap_or_default()
    }

    fn body_in(&mut self, p: &P<'_>) -> Body {
        let Some(b) = child(p, Rule::body) else {
            return Body::default();
        };
        let mut body = Body::default();
        for c in b.into_inner() {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::arm => {
                    let is_else = has(&c, Rule::else_pattern);
                    let mut patterns = Vec::new();
                    for pat in c
                        .clone()
                        .into_inner()
                        .filter(|x| x.as_rule() == Rule::pattern)
                    {
                        if let Some(inner) = pat.into_inner().next() {
                            if inner.as_rule() == Rule::word {
                                patterns.push(Pattern::Outcome(self.ident(&inner)));
                            } else {
                                let t = self.template(&inner);
                                self.require_plain(&t, "keys and phrases");
                                patterns.push(Pattern::Text(t));
                            }
                        }
                    }
                    let action = self.action_in(&c);
                    body.arms.push(Arm {
                        patterns,
                        is_else,
                        action,
                        span,
                    });
                }
                Rule::option => {
                    if let Some(o) = c.into_inner().next() {
                        if let Some(kind) = self.option(&o) {
                            body.options.push(Opt { kind, span });
                        }
                    }
                }
                _ => {}
            }
        }
        body
    }

    fn option(&mut self, o: &P<'_>) -> Option<OptKind> {
        Some(match o.as_rule() {
            Rule::prompt_opt => OptKind::Prompt {
                looped: has(o, Rule::k_loop),
                pause: child(o, Rule::duration).map(|d| self.duration(&d)),
                text: self.template_in(o),
            },
            Rule::reprompt_opt => OptKind::Reprompt(self.template_in(o)),
            Rule::retries_opt => OptKind::Retries(self.int_in(o)),
            Rule::min_digits_opt => OptKind::MinDigits(self.int_in(o)),
            Rule::max_digits_opt => OptKind::MaxDigits(self.int_in(o)),
            Rule::end_key_opt => OptKind::EndKey(self.plain_in(o, "keys")),
            Rule::timeout_opt => OptKind::Timeout(self.duration_in(o)),
            Rule::digit_timeout_opt => OptKind::DigitTimeout(self.duration_in(o)),
            Rule::where_opt => OptKind::Where(self.expr_in(o)),
            Rule::barge_in_opt => OptKind::BargeInOff,
            Rule::caller_id_opt => OptKind::CallerId(self.expr_in(o)),
            Rule::detect_machine_opt => OptKind::DetectMachine,
            Rule::header_opt => {
                let mut t = self.templates_in(o).into_iter();
                let name = t.next()?;
                self.require_plain(&name, "header names");
                let value = t.next()?;
                OptKind::Header(name, value)
            }
            Rule::max_length_opt => OptKind::MaxLength(self.duration_in(o)),
            _ => return None,
        })
    }

    fn audio(&mut self, p: &P<'_>) -> Audio {
        match child(p, Rule::audio).and_then(|a| a.into_inner().next()) {
            Some(r) if r.as_rule() == Rule::record_id => {
                let span = self.span(&r);
                let id = child(&r, Rule::integer)
                    .and_then(|i| i.as_str().parse::<u64>().ok())
                    .unwrap_or_else(|| {
                        self.errors
                            .push(SyntaxError::NumberTooLarge { at: span.into() });
                        0
                    });
                Audio::Record { id, span }
            }
            Some(s) => Audio::Location(self.template(&s)),
            None => Audio::Location(Template {
                parts: Vec::new(),
                span: self.span(p),
            }),
        }
    }

    fn map_in(&mut self, p: &P<'_>) -> Vec<MapEntry> {
        let Some(m) = child(p, Rule::map) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in m.into_inner() {
            let mut it = e.into_inner();
            let (Some(k), Some(v)) = (it.next(), it.next()) else {
                continue;
            };
            let key = if k.as_rule() == Rule::string {
                let t = self.template(&k);
                self.require_plain(&t, "names");
                Ident {
                    name: t.as_plain().unwrap_or_default(),
                    span: t.span,
                }
            } else {
                self.ident(&k)
            };
            let value = self.expr(v);
            out.push(MapEntry { key, value });
        }
        out
    }

    fn stmt(&mut self, p: P<'_>) -> Option<Stmt> {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::answer => StmtKind::Answer,
            Rule::say => StmtKind::Say {
                leg: self.leg_in(&p, Rule::to_leg),
                text: self.template_in(&p),
            },
            Rule::play => StmtKind::Play {
                leg: self.leg_in(&p, Rule::to_leg),
                audio: self.audio(&p),
            },
            Rule::pause => StmtKind::Pause(self.duration_in(&p)),
            Rule::collect => {
                let mut it = kids(&p);
                let var = it.next().map(|v| self.ident(&v));
                let ty = it.next().map(|t| self.ident(&t));
                StmtKind::Collect {
                    var: var.unwrap_or_else(|| self.first_ident(&p)),
                    ty: ty.unwrap_or_else(|| self.first_ident(&p)),
                    leg: self.leg_in(&p, Rule::from_leg),
                    body: self.body_in(&p),
                }
            }
            Rule::menu => StmtKind::Menu {
                leg: self.leg_in(&p, Rule::from_leg),
                body: self.body_in(&p),
            },
            Rule::listen => StmtKind::Listen {
                leg: self.leg_in(&p, Rule::to_leg),
                within: self.duration_in(&p),
                body: self.body_in(&p),
            },
            Rule::dial => StmtKind::Dial {
                target: self.expr_in(&p),
                leg: self.first_ident(&p),
                body: self.body_in(&p),
            },
            Rule::bridge => {
                let legs: Vec<Ident> = kids(&p)
                    .filter(|l| l.as_rule() == Rule::ident)
                    .map(|l| self.ident(&l))
                    .collect();
                let a = legs.first().cloned()?;
                let b = legs.get(1).cloned()?;
                StmtKind::Bridge {
                    a,
                    b,
                    body: self.body_in(&p),
                }
            }
            Rule::transfer => StmtKind::Transfer {
                leg: self.leg_in(&p, Rule::transfer_leg),
                target: self.expr_in(&p),
            },
            Rule::record => StmtKind::Record {
                var: self.first_ident(&p),
                leg: self.leg_in(&p, Rule::from_leg),
                body: self.body_in(&p),
            },
            Rule::sms => StmtKind::Sms {
                to: child(&p, Rule::sms_to).map(|t| self.expr_in(&t)),
                text: self.template_in(&p),
            },
            Rule::fetch => StmtKind::Fetch {
                var: self.first_ident(&p),
                method: if child(&p, Rule::method).is_some_and(|m| has(&m, Rule::k_post)) {
                    Method::Post
                } else {
                    Method::Get
                },
                url: self.template_in(&p),
                params: self.map_in(&p),
                body: self.body_in(&p),
            },
            Rule::let_stmt => StmtKind::Let {
                name: self.first_ident(&p),
                ty: child(&p, Rule::word).map(|w| self.ident(&w)),
                value: self.expr_in(&p),
            },
            Rule::set_stmt => StmtKind::Set {
                name: self.first_ident(&p),
                value: self.expr_in(&p),
            },
            Rule::if_stmt => {
                let mut branches = Vec::new();
                let mut otherwise = None;
                let mut cond = None;
                for c in kids(&p) {
                    match c.as_rule() {
                        Rule::expr => cond = Some(self.expr(c)),
                        Rule::block => {
                            if let Some(e) = cond.take() {
                                let b = self.block(c);
                                branches.push((e, b));
                            }
                        }
                        Rule::else_if => {
                            let e = self.expr_in(&c);
                            let b = self.block_in(&c);
                            branches.push((e, b));
                        }
                        Rule::else_block => otherwise = Some(self.block_in(&c)),
                        _ => {}
                    }
                }
                StmtKind::If {
                    branches,
                    otherwise,
                }
            }
            Rule::goto => StmtKind::Goto {
                label: self.first_ident(&p),
                max: child(&p, Rule::integer).map(|i| self.int(&i)),
            },
            Rule::label => StmtKind::Label(self.first_ident(&p)),
            Rule::repeat => StmtKind::Repeat {
                count: child(&p, Rule::integer).map(|i| self.int(&i)),
                within: child(&p, Rule::duration).map(|d| self.duration(&d)),
                body: self.block_in(&p),
            },
            Rule::break_stmt => StmtKind::Break,
            Rule::next_stmt => StmtKind::Next,
            Rule::report => match kids(&p).next() {
                Some(r) if r.as_rule() == Rule::report_ok => StmtKind::ReportOk(self.map_in(&r)),
                Some(r) => {
                    let reason = if child(&r, Rule::string).is_some()
                        || child(&r, Rule::unterminated_string).is_some()
                    {
                        Some(self.template_in(&r))
                    } else {
                        None
                    };
                    StmtKind::ReportRetry(reason)
                }
                None => return None,
            },
            Rule::block_stmt => StmtKind::Block,
            Rule::hangup => StmtKind::Hangup(child(&p, Rule::leg_name).map(|i| self.ident(&i))),
            _ => return None,
        };
        Some(Stmt { kind, span })
    }

    fn expr_in(&mut self, p: &P<'_>) -> Expr {
        match child(p, Rule::expr) {
            Some(e) => self.expr(e),
            None => Expr {
                kind: ExprKind::Bool(false),
                span: self.span(p),
            },
        }
    }

    /// Builds an expression from an `expr` pair (operators by precedence) or a primary.
    fn expr(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr => {
                // Operators are counted over the whole expression, parentheses included, so
                // that the tree's depth (and every recursive walk of it) stays bounded.
                let operators = p
                    .clone()
                    .into_inner()
                    .flatten()
                    .filter(|x| is_operator(x.as_rule()))
                    .count();
                if operators > MAX_OPERANDS {
                    self.errors.push(SyntaxError::ExpressionTooLong {
                        limit: MAX_OPERANDS,
                        at: span.into(),
                    });
                    return Expr {
                        kind: ExprKind::Bool(false),
                        span,
                    };
                }
                let (file, base) = (self.file, self.base);
                let e = pratt()
                    .map_primary(|primary| self.primary(primary))
                    .map_prefix(move |op, arg| {
                        let s = Span::new(file, base + op.as_span().start(), arg.span.end as usize);
                        let op = if op.as_rule() == Rule::k_not {
                            UnaryOp::Not
                        } else {
                            UnaryOp::Neg
                        };
                        Expr {
                            kind: ExprKind::Unary(op, Box::new(arg)),
                            span: s,
                        }
                    })
                    .map_infix(|lhs, op, rhs| {
                        let s = lhs.span.to(rhs.span);
                        Expr {
                            kind: ExprKind::Binary(
                                op_of(op.as_rule()),
                                Box::new(lhs),
                                Box::new(rhs),
                            ),
                            span: s,
                        }
                    })
                    .parse(p.into_inner());
                // The IR nests one JSON object per operator; common JSON readers stop at a
                // depth of 128, so expressions stay well below it.
                if depth(&e) > MAX_EXPR_DEPTH {
                    self.errors.push(SyntaxError::ExpressionTooLong {
                        limit: MAX_OPERANDS,
                        at: span.into(),
                    });
                    return Expr {
                        kind: ExprKind::Bool(false),
                        span,
                    };
                }
                e
            }
            _ => self.primary(p),
        }
    }

    /// Builds a primary expression.
    fn primary(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::paren => match child(&p, Rule::expr) {
                Some(c) => {
                    let mut e = self.expr(c);
                    e.span = span;
                    e
                }
                None => Expr {
                    kind: ExprKind::Bool(false),
                    span,
                },
            },
            Rule::integer => {
                let i = self.int(&p);
                Expr {
                    kind: ExprKind::Int(i.value),
                    span,
                }
            }
            Rule::duration => {
                let d = self.duration(&p);
                Expr {
                    kind: ExprKind::Duration(d.ms),
                    span,
                }
            }
            Rule::phone => Expr {
                kind: ExprKind::Phone(p.as_str().to_string()),
                span,
            },
            Rule::string | Rule::unterminated_string => {
                let t = self.template(&p);
                Expr {
                    kind: ExprKind::Text(t),
                    span,
                }
            }
            Rule::boolean => Expr {
                kind: ExprKind::Bool(has(&p, Rule::k_true)),
                span,
            },
            Rule::call => {
                let func = self.first_ident(&p);
                let args = p
                    .into_inner()
                    .filter(|c| c.as_rule() == Rule::expr)
                    .map(|c| self.expr(c))
                    .collect();
                Expr {
                    kind: ExprKind::Call { func, args },
                    span,
                }
            }
            Rule::path => {
                let segs = p.into_inner().map(|c| self.ident(&c)).collect();
                Expr {
                    kind: ExprKind::Path(segs),
                    span,
                }
            }
            _ => Expr {
                kind: ExprKind::Bool(false),
                span,
            },
        }
    }

    fn campaign(&mut self, p: P<'_>) -> Campaign {
        let span = self.span(&p);
        let mut names = p
            .clone()
            .into_inner()
            .filter(|c| c.as_rule() == Rule::ident);
        let name = names
            .next()
            .map(|n| self.ident(&n))
            .unwrap_or_else(|| self.first_ident(&p));
        let flow = names
            .next()
            .map(|n| self.ident(&n))
            .unwrap_or_else(|| name.clone());
        let mut settings = Vec::new();
        for c in p
            .into_inner()
            .filter(|c| c.as_rule() == Rule::campaign_setting)
        {
            let span = self.span(&c);
            let Some(s) = c.into_inner().next() else {
                continue;
            };
            let kind = match s.as_rule() {
                Rule::leads_setting => CampaignSettingKind::Leads(self.plain_in(&s, "file paths")),
                Rule::delimiter_setting => {
                    CampaignSettingKind::Delimiter(self.plain_in(&s, "delimiters"))
                }
                Rule::dial_column => CampaignSettingKind::Dial(self.first_ident(&s)),
                Rule::attempts_setting => CampaignSettingKind::Attempts(self.int_in(&s)),
                Rule::retry_after_setting => CampaignSettingKind::RetryAfter(self.duration_in(&s)),
                Rule::lines_setting => CampaignSettingKind::Lines(self.int_in(&s)),
                Rule::rate_setting => CampaignSettingKind::Rate {
                    calls: self.int_in(&s),
                    per: match child(&s, Rule::duration) {
                        Some(d) => RatePeriod::Duration(self.duration(&d)),
                        None => RatePeriod::Unit(self.first_ident(&s)),
                    },
                },
                Rule::window_setting => {
                    let times: Vec<(u32, Span)> = s
                        .clone()
                        .into_inner()
                        .filter(|t| t.as_rule() == Rule::time_of_day)
                        .map(|t| (minutes_of(t.as_str()), self.span(&t)))
                        .collect();
                    let (Some(from), Some(to)) = (times.first().copied(), times.get(1).copied())
                    else {
                        continue;
                    };
                    CampaignSettingKind::Window { from, to }
                }
                Rule::timezone_setting => {
                    CampaignSettingKind::Timezone(self.plain_in(&s, "time zones"))
                }
                Rule::redial_setting => CampaignSettingKind::Redial {
                    outcome: self.first_ident(&s),
                    rule: match child(&s, Rule::duration) {
                        Some(d) => {
                            let d = self.duration(&d);
                            Some((d, self.int_in(&s)))
                        }
                        None => None,
                    },
                },
                Rule::normalize_setting => {
                    let words: Vec<Ident> = s
                        .clone()
                        .into_inner()
                        .filter(|w| w.as_rule() == Rule::word)
                        .map(|w| self.ident(&w))
                        .collect();
                    let Some(scheme) = words.first().cloned() else {
                        continue;
                    };
                    CampaignSettingKind::Normalize {
                        scheme,
                        on_error: words.get(1).cloned(),
                    }
                }
                Rule::record_calls_setting => CampaignSettingKind::RecordCalls(
                    child(&s, Rule::word).map(|w| (self.ident(&w), self.duration_in(&s))),
                ),
                Rule::detect_machine_opt => CampaignSettingKind::DetectMachine,
                Rule::result_webhook_setting => {
                    CampaignSettingKind::ResultWebhook(self.plain_in(&s, "a campaign's webhook"))
                }
                _ => CampaignSettingKind::CallerId(self.expr_in(&s)),
            };
            settings.push(CampaignSetting { kind, span });
        }
        Campaign {
            name,
            flow,
            settings,
            span,
        }
    }

    fn test(&mut self, p: P<'_>) -> Test {
        let span = self.span(&p);
        let name = self.template_in(&p);
        let flow = self.first_ident(&p);
        let from = child(&p, Rule::phone).map(|ph| (ph.as_str().to_string(), self.span(&ph)));
        let params = self.map_in(&p);
        let mut steps = Vec::new();
        for c in p.into_inner().filter(|c| c.as_rule() == Rule::test_step) {
            let span = self.span(&c);
            let Some(s) = c.into_inner().next() else {
                continue;
            };
            let by = self.leg_in(&s, Rule::by_leg);
            let kind = match s.as_rule() {
                Rule::expect_step => {
                    let Some(e) = kids(&s).next() else { continue };
                    match e.as_rule() {
                        Rule::expect_say => TestStepKind::ExpectSay(
                            self.leg_in(&e, Rule::to_leg),
                            self.template_in(&e),
                        ),
                        Rule::expect_play => {
                            TestStepKind::ExpectPlay(self.leg_in(&e, Rule::to_leg), self.audio(&e))
                        }
                        Rule::expect_dial => TestStepKind::ExpectDial(self.first_ident(&e)),
                        Rule::expect_bridge => {
                            let legs: Vec<Ident> = kids(&e).map(|l| self.ident(&l)).collect();
                            let (Some(a), Some(b)) = (legs.first().cloned(), legs.get(1).cloned())
                            else {
                                continue;
                            };
                            TestStepKind::ExpectBridge(a, b)
                        }
                        Rule::expect_transfer => TestStepKind::ExpectTransfer(
                            child(&e, Rule::phone)
                                .map(|ph| (ph.as_str().to_string(), self.span(&ph))),
                        ),
                        Rule::expect_sms => TestStepKind::ExpectSms(self.template_in(&e)),
                        Rule::expect_fetch => {
                            TestStepKind::ExpectFetch(kids(&e).next().map(|t| self.template(&t)))
                        }
                        Rule::expect_report if has(&e, Rule::k_ok) => TestStepKind::ExpectReportOk,
                        Rule::expect_report => TestStepKind::ExpectReportRetry(
                            kids(&e).next().map(|t| self.template(&t)),
                        ),
                        Rule::expect_hangup => TestStepKind::ExpectHangup,
                        _ => TestStepKind::ExpectBlock,
                    }
                }
                Rule::press_step => TestStepKind::Press(self.template_in(&s), by),
                Rule::speak_step => TestStepKind::Speak(self.template_in(&s), by),
                Rule::wait_step => TestStepKind::Wait(self.duration_in(&s)),
                Rule::respond_step => match child(&s, Rule::json_value) {
                    Some(v) => TestStepKind::Respond(self.json(v)),
                    None => TestStepKind::RespondFail,
                },
                Rule::receive_step => TestStepKind::ReceiveSms(self.template_in(&s)),
                _ => {
                    let leg = child(&s, Rule::ident)
                        .or_else(|| child(&s, Rule::leg_name))
                        .map(|i| self.ident(&i));
                    let outcome = if has(&s, Rule::k_answer) {
                        Some(PartyOutcome::Answer)
                    } else if has(&s, Rule::k_busy) {
                        Some(PartyOutcome::Busy)
                    } else if has(&s, Rule::k_no_answer) {
                        Some(PartyOutcome::NoAnswer)
                    } else if has(&s, Rule::k_fail) {
                        Some(PartyOutcome::Fail)
                    } else if has(&s, Rule::k_machine) {
                        Some(PartyOutcome::Machine)
                    } else {
                        None
                    };
                    match (outcome, leg) {
                        (Some(o), Some(l)) => TestStepKind::DialOutcome(o, l),
                        (_, leg) => TestStepKind::PartyHangup(leg),
                    }
                }
            };
            steps.push(TestStep { kind, span });
        }
        Test {
            name,
            flow,
            from,
            params,
            steps,
            span,
        }
    }

    fn json(&mut self, p: P<'_>) -> serde_json::Value {
        use serde_json::Value;
        let Some(v) = p.into_inner().next() else {
            return Value::Null;
        };
        match v.as_rule() {
            Rule::json_object => {
                let mut map = serde_json::Map::new();
                for pair in v.into_inner() {
                    let mut it = pair.into_inner();
                    let (Some(k), Some(val)) = (it.next(), it.next()) else {
                        continue;
                    };
                    let key = self.template(&k).as_plain().unwrap_or_default();
                    let value = self.json(val);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            Rule::json_array => Value::Array(v.into_inner().map(|x| self.json(x)).collect()),
            Rule::string => {
                let t = self.template(&v);
                Value::String(t.source_text())
            }
            Rule::json_number => serde_json::from_str(v.as_str()).unwrap_or(Value::Null),
            Rule::k_true => Value::Bool(true),
            Rule::k_false => Value::Bool(false),
            _ => Value::Null,
        }
    }
}

/// The most operators and conversions nested in one expression.
const MAX_EXPR_DEPTH: usize = 32;

/// The nesting depth of an expression (bounded: operators ≤ 256, brackets ≤ 64).
fn depth(e: &Expr) -> usize {
    match &e.kind {
        ExprKind::Unary(_, a) => 1 + depth(a),
        ExprKind::Binary(_, l, r) => 1 + depth(l).max(depth(r)),
        ExprKind::Call { args, .. } => 1 + args.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether a token is an operator of an expression.
fn is_operator(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::k_or
            | Rule::k_and
            | Rule::k_not
            | Rule::op_neg
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_rem
            | Rule::op_eq
            | Rule::op_ne
            | Rule::op_lt
            | Rule::op_le
            | Rule::op_gt
            | Rule::op_ge
    )
}

/// The binary operator of an operator token.
fn op_of(rule: Rule) -> BinaryOp {
    match rule {
        Rule::k_or => BinaryOp::Or,
        Rule::k_and => BinaryOp::And,
        Rule::op_add => BinaryOp::Add,
        Rule::op_sub => BinaryOp::Sub,
        Rule::op_mul => BinaryOp::Mul,
        Rule::op_div => BinaryOp::Div,
        Rule::op_rem => BinaryOp::Rem,
        Rule::op_eq => BinaryOp::Eq,
        Rule::op_ne => BinaryOp::Ne,
        Rule::op_lt => BinaryOp::Lt,
        Rule::op_le => BinaryOp::Le,
        Rule::op_gt => BinaryOp::Gt,
        _ => BinaryOp::Ge,
    }
}

/// The precedence table, loosest first.
fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::k_or, Assoc::Left))
            .op(Op::infix(Rule::k_and, Assoc::Left))
            .op(Op::prefix(Rule::k_not))
            .op(Op::infix(Rule::op_eq, Assoc::Left)
                | Op::infix(Rule::op_ne, Assoc::Left)
                | Op::infix(Rule::op_lt, Assoc::Left)
                | Op::infix(Rule::op_le, Assoc::Left)
                | Op::infix(Rule::op_gt, Assoc::Left)
                | Op::infix(Rule::op_ge, Assoc::Left))
            .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
            .op(Op::infix(Rule::op_mul, Assoc::Left)
                | Op::infix(Rule::op_div, Assoc::Left)
                | Op::infix(Rule::op_rem, Assoc::Left))
            .op(Op::prefix(Rule::op_neg))
    })
}

/// Minutes after midnight of `HH:MM`.
/// An impossible time (`25:00`, `10:75`) becomes `u32::MAX`, which the checker reports.
fn minutes_of(text: &str) -> u32 {
    let (h, m) = text.split_once(':').unwrap_or((text, ""));
    match (h.parse::<u32>(), m.parse::<u32>()) {
        (Ok(h), Ok(m)) if m < 60 && (h < 24 || (h == 24 && m == 0)) => h * 60 + m,
        _ => u32::MAX,
    }
}

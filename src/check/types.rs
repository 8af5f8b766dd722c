//! Types of expressions, paths and placeholders.
//!
//! Every expression gets a type or, after reporting why, `None` (so one mistake is reported
//! once, not again by every expression around it). Types land in `Analysis::expr_types`
//! for `lower`. JSON values (fetch results) may be used where a condition is expected
//! (JSON truthiness) and assigned to a declared type (a checked conversion at run time);
//! everywhere else they need an explicit conversion.

use super::error::CheckError;
use super::flow::FlowChecker;
use super::rules::{self, and_list, CONVERSIONS};
use super::scope::Kind;
use super::suggest::did_you_mean;
use super::values;
use super::Resolved;
use crate::ir::Type;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Ident, Template, TemplatePart, UnaryOp};

/// "a number", "a phone", … for messages.
pub fn article(t: Type) -> String {
    match t {
        Type::Json => "a JSON value".into(),
        other => format!("a {}", other.name()),
    }
}

impl FlowChecker<'_> {
    /// The type of `e`, or `None` after reporting a problem.
    pub fn type_of(&mut self, e: &Expr) -> Option<Type> {
        let t = self.infer(e)?;
        self.analysis.expr_types.insert(e.span, t);
        Some(t)
    }

    /// Types `e` and reports unless it is assignable to `want`.
    pub fn expect(&mut self, e: &Expr, want: Type, help: &str) -> Option<Type> {
        let t = self.type_of(e)?;
        if assignable(want, t) {
            Some(t)
        } else {
            self.out.push(CheckError::TypeMismatch {
                expected: article(want),
                found: article(t),
                help: help.to_string(),
                at: e.span.into(),
            });
            None
        }
    }

    /// Types a condition: bool, or JSON truthiness.
    pub fn condition(&mut self, e: &Expr) {
        let Some(t) = self.type_of(e) else { return };
        if !matches!(t, Type::Bool | Type::Json) {
            self.mismatch(Type::Bool, t, e, "write a comparison such as `tries < 3`");
        }
    }

    /// Checks every placeholder of a template.
    pub fn template(&mut self, t: &Template) {
        self.template_parts(&t.parts);
    }

    fn template_parts(&mut self, parts: &[TemplatePart]) {
        for part in parts {
            match part {
                TemplatePart::Text(_) => {}
                TemplatePart::Placeholder(p) => {
                    if let Some(t) = self.path(&p.path) {
                        self.analysis.expr_types.insert(p.span, t);
                    }
                }
                TemplatePart::Block(b) => {
                    if let Some(t) = self.path(&b.cond.path) {
                        self.analysis.expr_types.insert(b.cond.span, t);
                        if !matches!(t, Type::Bool | Type::Text | Type::Digits | Type::Json) {
                            let help = match t {
                                Type::Phone => "a phone always has a value: test what decides whether to say it".into(),
                                _ => format!("compare it in a `let` first: `let big = {} > 100`", b.cond.dotted()),
                            };
                            self.out.push(CheckError::TemplateCondition {
                                block: if b.negated { "unless" } else { "if" }.into(),
                                ty: t.name().into(),
                                help,
                                at: b.cond.span.into(),
                            });
                        }
                    }
                    self.template_parts(&b.then);
                    self.template_parts(&b.otherwise);
                }
                TemplatePart::Helper(h) => self.helper(h),
            }
        }
    }

    /// Checks a text to be spoken or sent (`say`, a prompt, an `sms` body): a template, and
    /// one that is not empty, since an empty text says nothing at best and is refused by
    /// some platforms at worst.
    pub fn spoken(&mut self, what: &str, t: &Template) {
        self.template(t);
        if t.as_plain().is_some_and(|text| text.trim().is_empty()) {
            let help = if what == "sms" {
                "write the message to send".to_string()
            } else {
                "write what the caller should hear; to wait in silence use `pause`".to_string()
            };
            self.out.push(CheckError::EmptyText {
                what: what.to_string(),
                help,
                at: t.span.into(),
            });
        }
    }

    fn infer(&mut self, e: &Expr) -> Option<Type> {
        match &e.kind {
            ExprKind::Int(_) => Some(Type::Number),
            ExprKind::Text(t) => {
                self.template(t);
                Some(Type::Text)
            }
            ExprKind::Phone(p) => {
                values::phone_literal(p, e.span, self.out)?;
                Some(Type::Phone)
            }
            ExprKind::Duration(_) => Some(Type::Duration),
            ExprKind::Bool(_) => Some(Type::Bool),
            ExprKind::Path(segs) => self.path(segs),
            ExprKind::Call { func, args } => self.call(func, args, e),
            ExprKind::Unary(op, arg) => {
                let t = self.type_of(arg)?;
                let (want, ok) = match op {
                    UnaryOp::Neg => (Type::Number, t == Type::Number),
                    UnaryOp::Not => (Type::Bool, matches!(t, Type::Bool | Type::Json)),
                };
                if ok {
                    Some(want)
                } else {
                    self.mismatch(want, t, arg, "");
                    None
                }
            }
            ExprKind::Binary(op, l, r) => {
                let lt = self.type_of(l);
                let rt = self.type_of(r);
                let (lt, rt) = (lt?, rt?);
                self.binary(*op, lt, rt, l, r)
            }
        }
    }

    fn mismatch(&mut self, want: Type, found: Type, at: &Expr, help: &str) {
        self.out.push(CheckError::TypeMismatch {
            expected: article(want),
            found: article(found),
            help: if help.is_empty() {
                format!("convert it with `{}(…)`", want.name())
            } else {
                help.to_string()
            },
            at: at.span.into(),
        });
    }

    fn binary(&mut self, op: BinaryOp, lt: Type, rt: Type, l: &Expr, r: &Expr) -> Option<Type> {
        use Type::*;
        let textual = |t: Type| matches!(t, Text | Digits | Number | Phone);
        let result = match op {
            BinaryOp::Add => match (lt, rt) {
                (Number, Number) => Some(Number),
                (Duration, Duration) => Some(Duration),
                (Digits, Digits) => Some(Digits),
                (Text, t) | (t, Text) if textual(t) => Some(Text),
                _ => None,
            },
            BinaryOp::Sub => match (lt, rt) {
                (Number, Number) => Some(Number),
                (Duration, Duration) => Some(Duration),
                _ => None,
            },
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                (lt == Number && rt == Number).then_some(Number)
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                let same = lt == rt
                    || lt == Json
                    || rt == Json
                    || matches!((lt, rt), (Text, Digits) | (Digits, Text));
                same.then_some(Bool)
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                (lt == rt && matches!(lt, Number | Duration)).then_some(Bool)
            }
            BinaryOp::And | BinaryOp::Or => {
                let b = |t: Type| matches!(t, Bool | Json);
                (b(lt) && b(rt)).then_some(Bool)
            }
        };
        if result.is_none() {
            let (bad, want, found) = match op {
                BinaryOp::And | BinaryOp::Or => {
                    if matches!(lt, Bool | Json) {
                        (r, Bool, rt)
                    } else {
                        (l, Bool, lt)
                    }
                }
                BinaryOp::Add if lt == Text => (r, Text, rt),
                _ if lt == Number || lt == Duration => (r, lt, rt),
                _ => (l, if rt == Duration { Duration } else { Number }, lt),
            };
            let help = match op {
                BinaryOp::Add => "`+` adds numbers or durations, or joins text; convert with `number(…)` or `text(…)`",
                BinaryOp::Sub => "`-` subtracts numbers or durations",
                BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => "this operator works on numbers; convert with `number(…)`",
                BinaryOp::Eq | BinaryOp::Ne => "compare values of the same type; convert one side with `text(…)`, `number(…)`, `digits(…)` or `phone(…)`",
                BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => "order compares two numbers or two durations",
                BinaryOp::And | BinaryOp::Or => "`and` and `or` join conditions such as `tries < 3`",
            };
            self.mismatch(want, found, bad, help);
        }
        result
    }

    fn call(&mut self, func: &Ident, args: &[Expr], e: &Expr) -> Option<Type> {
        let Some(conversion) = CONVERSIONS.iter().find(|c| c.name == func.name) else {
            let names = CONVERSIONS.iter().map(|c| c.name);
            let help = did_you_mean(
                &func.name,
                names.clone(),
                &format!("the conversions are {}", and_list(names)),
            );
            self.out.push(CheckError::UnknownFunction {
                name: func.name.clone(),
                help,
                at: func.span.into(),
            });
            for a in args {
                self.type_of(a);
            }
            return None;
        };
        let (name, accepts) = (conversion.name, conversion.accepts);
        if args.len() != 1 {
            self.out.push(CheckError::WrongArity {
                name: name.to_string(),
                expected: 1,
                found: args.len(),
                at: e.span.into(),
            });
            return None;
        }
        let t = self.type_of(&args[0])?;
        if !accepts.contains(&t) {
            self.out.push(CheckError::TypeMismatch {
                expected: accepts
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(" or "),
                found: article(t),
                help: format!("`{name}` cannot convert {}", article(t)),
                at: args[0].span.into(),
            });
            return None;
        }
        Some(conversion.result)
    }

    /// Resolves a dotted path (variable, leg attribute, JSON field or built-in).
    pub fn path(&mut self, segs: &[Ident]) -> Option<Type> {
        let first = segs.first()?;
        let rest = &segs[1..];
        if let Some(b) = self.scopes.get(&first.name).cloned() {
            self.note_use(first, &b);
            return match b.kind {
                Kind::Broken => None,
                Kind::Value(t) => match rest.first() {
                    None => Some(t),
                    Some(_) if t == Type::Json => Some(Type::Json),
                    Some(f) => {
                        self.out.push(CheckError::NoSuchField {
                            name: first.name.clone(),
                            field: f.name.clone(),
                            help: format!(
                                "`{}` is {}; only JSON values (fetch results) have fields",
                                first.name,
                                article(t)
                            ),
                            at: f.span.into(),
                        });
                        None
                    }
                },
                Kind::Leg => match rest {
                    [f] if f.name == "number" => Some(Type::Phone),
                    _ => {
                        let at = rest.first().map_or(first.span, |f| f.span);
                        self.out.push(CheckError::NoSuchField {
                            name: first.name.clone(),
                            field: rest.first().map_or(String::new(), |f| f.name.clone()),
                            help: format!("a leg's value is its number: `{}.number`", first.name),
                            at: at.into(),
                        });
                        None
                    }
                },
            };
        }
        let builtin = match rest {
            [f] => rules::BUILTINS.iter().find(|b| {
                b.name.split_once('.') == Some((first.name.as_str(), f.name.as_str()))
                    && (self.in_sms || !b.sms_only)
            }),
            _ => None,
        };
        if let Some(b) = builtin {
            self.analysis
                .resolved
                .insert(first.span, Resolved::Builtin(b.builtin));
            return Some(b.ty);
        }
        // A built-in's first segment: say which built-ins there are (and where).
        let starts = |b: &rules::BuiltinValue| b.name.split_once('.').map(|(f, _)| f);
        let of_first = rules::BUILTINS
            .iter()
            .find(|b| starts(b) == Some(first.name.as_str()));
        let names = |sms_only: bool| {
            let of = rules::BUILTINS.iter().filter(|b| b.sms_only == sms_only);
            and_list(of.map(|b| b.name))
        };
        let help = if of_first.is_some_and(|b| b.sms_only) {
            format!("{} are known inside `on sms -> …` only", names(true))
        } else if of_first.is_some() {
            format!("the built-in values are {}", names(false))
        } else {
            let names = self.scopes.names(false);
            did_you_mean(
                &first.name,
                names,
                "define it with `let`, `collect`, `fetch` or as a flow parameter first",
            )
        };
        self.out.push(CheckError::UnknownVariable {
            name: first.name.clone(),
            help,
            at: first.span.into(),
        });
        None
    }
}

/// What to suggest when a value is not of type `want`.
pub fn conversion_help(want: Type) -> String {
    match want {
        Type::Number | Type::Text | Type::Digits | Type::Phone => {
            format!("convert it with `{}(…)`", want.name())
        }
        _ => format!("write {} here", article(want)),
    }
}

/// Whether a value of type `found` may be used where `want` is needed. A JSON value
/// converts to a number, digits, text or phone at run time (a failed conversion is a
/// runtime error); `lower` inserts the conversion.
pub fn assignable(want: Type, found: Type) -> bool {
    want == found
        || (found == Type::Json
            && matches!(want, Type::Number | Type::Digits | Type::Text | Type::Phone))
}

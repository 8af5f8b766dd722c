//! Lowering of expressions, paths and templates, with the conversions a JSON value needs
//! where a typed value is expected.

use super::FlowLowerer;
use crate::check::Resolved;
use crate::ir::{self, LegId, Type, VarId};
use crate::syntax::ast::{self, TemplatePart};

impl FlowLowerer<'_> {
    /// A template with its placeholders resolved.
    pub(super) fn template(&self, t: &ast::Template) -> ir::Template {
        ir::Template {
            parts: self.template_parts(&t.parts),
        }
    }

    fn template_parts(&self, parts: &[TemplatePart]) -> Vec<ir::TemplatePart> {
        parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(s) => ir::TemplatePart::Text(s.clone()),
                TemplatePart::Placeholder(ph) => ir::TemplatePart::Value(self.path(&ph.path)),
                TemplatePart::Block(b) => ir::TemplatePart::If {
                    cond: self.path(&b.cond.path),
                    negated: b.negated,
                    then: self.template_parts(&b.then),
                    otherwise: self.template_parts(&b.otherwise),
                },
                TemplatePart::Helper(h) => ir::TemplatePart::Helper {
                    lang: self.lang.clone(),
                    helper: self.helper(h),
                },
            })
            .collect()
    }

    /// A checked helper call, its options' defaults written out.
    fn helper(&self, h: &ast::HelperCall) -> ir::Helper {
        let arg = |i: usize, want: Type| match h.args.get(i) {
            Some(a) => self.helper_arg(a, want),
            None => ir::Expr::Bool { value: false }, // the checker counted them
        };
        let quoted = |a: &ast::HelperArg| match a {
            ast::HelperArg::Text(t) => t.clone(),
            ast::HelperArg::Number(n) => n.to_string(),
            ast::HelperArg::Bool(b) => b.to_string(),
            ast::HelperArg::Path(p) => p.dotted(),
        };
        let option = |key: &str, default: &str| {
            h.options
                .iter()
                .find(|(k, _)| k.name == key)
                .map_or_else(|| default.to_string(), |(_, v)| quoted(v))
        };
        match h.name.name.as_str() {
            "plural" => ir::Helper::Plural {
                n: arg(0, Type::Number),
                forms: h.args.iter().skip(1).map(quoted).collect(),
            },
            "words" => ir::Helper::Words {
                n: arg(0, Type::Number),
                gender: option("gender", "masculine"),
                case: option("case", "nominative"),
            },
            "digits" => ir::Helper::Digits {
                text: arg(0, Type::Text),
                groups: h
                    .options
                    .iter()
                    .find(|(k, _)| k.name == "group")
                    .and_then(|(_, v)| crate::check::group_sizes(&quoted(v)).ok())
                    .unwrap_or_default(),
            },
            "money" => ir::Helper::Money {
                amount: arg(0, Type::Text),
                currency: h.args.get(1).map(quoted).unwrap_or_default().to_uppercase(),
                style: option("style", "words"),
            },
            "date" => ir::Helper::Date {
                when: arg(0, Type::Text),
                zone: arg(1, Type::Text),
            },
            _ => ir::Helper::Time {
                when: arg(0, Type::Text),
                zone: arg(1, Type::Text),
            },
        }
    }

    /// A helper's argument as a value of type `want` (a JSON value converted).
    fn helper_arg(&self, a: &ast::HelperArg, want: Type) -> ir::Expr {
        match a {
            ast::HelperArg::Path(p) => {
                let lowered = self.path(&p.path);
                let func = if want == Type::Number {
                    ir::Func::Number
                } else {
                    ir::Func::Text
                };
                match self.analysis.expr_types.get(&p.span) {
                    Some(Type::Json) => ir::Expr::Call {
                        func,
                        arg: Box::new(lowered),
                        ty: want,
                    },
                    _ => lowered,
                }
            }
            ast::HelperArg::Number(n) => ir::Expr::Number { value: *n },
            ast::HelperArg::Text(t) => ir::Expr::Text {
                template: ir::Template {
                    parts: vec![ir::TemplatePart::Text(t.clone())],
                },
            },
            ast::HelperArg::Bool(b) => ir::Expr::Bool { value: *b },
        }
    }

    pub(super) fn path(&self, segs: &[ast::Ident]) -> ir::Expr {
        let Some(first) = segs.first() else {
            return ir::Expr::Bool { value: false };
        };
        let base = match self.analysis.resolved.get(&first.span) {
            Some(Resolved::Var(def)) => ir::Expr::Var {
                id: self.var_ids.get(def).copied().unwrap_or(VarId(0)),
            },
            Some(Resolved::Leg(def)) => {
                return ir::Expr::LegNumber {
                    leg: self.leg_ids.get(def).copied().unwrap_or(LegId::CALLER),
                }
            }
            Some(Resolved::Caller) => return ir::Expr::LegNumber { leg: LegId::CALLER },
            Some(Resolved::Builtin(b)) => return ir::Expr::Builtin { name: *b },
            None => return ir::Expr::Bool { value: false },
        };
        if segs.len() == 1 {
            base
        } else {
            ir::Expr::Field {
                base: Box::new(base),
                path: segs[1..].iter().map(|s| s.name.clone()).collect(),
            }
        }
    }

    /// Lowers `e`, converting a JSON value to `want`.
    pub(super) fn coerce(&self, e: &ast::Expr, want: Type) -> ir::Expr {
        let lowered = self.expr(e);
        let found = self.analysis.expr_types.get(&e.span).copied();
        let func = match want {
            Type::Number => Some(ir::Func::Number),
            Type::Digits => Some(ir::Func::Digits),
            Type::Text => Some(ir::Func::Text),
            Type::Phone => Some(ir::Func::Phone),
            _ => None,
        };
        match (found, func) {
            (Some(Type::Json), Some(func)) if want != Type::Json => ir::Expr::Call {
                func,
                arg: Box::new(lowered),
                ty: want,
            },
            _ => lowered,
        }
    }

    pub(super) fn expr(&self, e: &ast::Expr) -> ir::Expr {
        match &e.kind {
            ast::ExprKind::Int(v) => ir::Expr::Number { value: *v },
            ast::ExprKind::Text(t) => ir::Expr::Text {
                template: self.template(t),
            },
            ast::ExprKind::Phone(p) => ir::Expr::Phone { value: p.clone() },
            ast::ExprKind::Duration(ms) => ir::Expr::Duration { ms: *ms },
            ast::ExprKind::Bool(b) => ir::Expr::Bool { value: *b },
            ast::ExprKind::Path(segs) => self.path(segs),
            ast::ExprKind::Call { func, args } => {
                let f = match func.name.as_str() {
                    "number" => ir::Func::Number,
                    "text" => ir::Func::Text,
                    "digits" => ir::Func::Digits,
                    "phone" => ir::Func::Phone,
                    _ => ir::Func::Len,
                };
                let ty = self
                    .analysis
                    .expr_types
                    .get(&e.span)
                    .copied()
                    .unwrap_or(Type::Text);
                let arg = args
                    .first()
                    .map_or(ir::Expr::Bool { value: false }, |a| self.expr(a));
                ir::Expr::Call {
                    func: f,
                    arg: Box::new(arg),
                    ty,
                }
            }
            ast::ExprKind::Unary(op, arg) => ir::Expr::Unary {
                op: match op {
                    ast::UnaryOp::Neg => ir::UnaryOp::Neg,
                    ast::UnaryOp::Not => ir::UnaryOp::Not,
                },
                arg: Box::new(self.expr(arg)),
            },
            ast::ExprKind::Binary(op, l, r) => {
                let result = self.analysis.expr_types.get(&e.span).copied();
                let op = match op {
                    ast::BinaryOp::Add if matches!(result, Some(Type::Text | Type::Digits)) => {
                        ir::BinaryOp::Concat
                    }
                    ast::BinaryOp::Add => ir::BinaryOp::Add,
                    ast::BinaryOp::Sub => ir::BinaryOp::Sub,
                    ast::BinaryOp::Mul => ir::BinaryOp::Mul,
                    ast::BinaryOp::Div => ir::BinaryOp::Div,
                    ast::BinaryOp::Rem => ir::BinaryOp::Rem,
                    ast::BinaryOp::Eq => ir::BinaryOp::Eq,
                    ast::BinaryOp::Ne => ir::BinaryOp::Ne,
                    ast::BinaryOp::Lt => ir::BinaryOp::Lt,
                    ast::BinaryOp::Le => ir::BinaryOp::Le,
                    ast::BinaryOp::Gt => ir::BinaryOp::Gt,
                    ast::BinaryOp::Ge => ir::BinaryOp::Ge,
                    ast::BinaryOp::And => ir::BinaryOp::And,
                    ast::BinaryOp::Or => ir::BinaryOp::Or,
                };
                ir::Expr::Binary {
                    op,
                    lhs: Box::new(self.expr(l)),
                    rhs: Box::new(self.expr(r)),
                }
            }
        }
    }
}

//! Runtime values and the evaluation of IR expressions and templates.
//!
//! Integer arithmetic is exact 64-bit: overflow and division by zero are errors, never a wrap.
//! Templates render strictly: a placeholder whose value is missing (JSON null or absent field)
//! is an error. Errors are returned as [`EvalError`]; the engine turns them into the flow's
//! error path.

use crate::ir::{BinaryOp, Builtin, Expr, Func, Helper, Template, TemplatePart, Type, UnaryOp};
use crate::speech;
use std::fmt;

/// A value held by a variable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum Value {
    /// 64-bit integer.
    Number(i64),
    /// Phone keys, leading zeros kept.
    Digits(String),
    /// Text.
    Text(String),
    /// E.164 phone number.
    Phone(String),
    /// Milliseconds.
    Duration(u64),
    /// Boolean.
    Bool(bool),
    /// A JSON value.
    Json(serde_json::Value),
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(message.into()))
}

/// What expressions can read: variables, legs' numbers and built-ins.
pub trait Scope {
    /// The value of a variable, if it has one.
    fn var(&self, id: crate::ir::VarId) -> Option<&Value>;
    /// A leg's number, if known.
    fn leg_number(&self, leg: crate::ir::LegId) -> Option<&str>;
    /// A built-in value, if known.
    fn builtin(&self, name: Builtin) -> Option<Value>;
}

impl Value {
    /// Converts text given from outside (a leads cell, a command-line parameter) to `ty`.
    pub fn parse_as(text: &str, ty: Type) -> Result<Value, EvalError> {
        match ty {
            Type::Number => text
                .trim()
                .parse()
                .map(Value::Number)
                .or_else(|_| err(format!("`{text}` is not a whole number"))),
            Type::Digits => digits(text),
            Type::Text => Ok(Value::Text(text.to_string())),
            Type::Phone => crate::phone::normalize(text, crate::phone::Normalization::E164)
                .map(|p| Value::Phone(p.e164().to_string()))
                .or_else(|e| err(format!("`{text}`: {e}"))),
            Type::Duration => err("a duration cannot be given as text"),
            Type::Bool => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => err(format!("`{text}` is not `true` or `false`")),
            },
            Type::Json => serde_json::from_str(text)
                .map(Value::Json)
                .or_else(|e| err(format!("not JSON: {e}"))),
        }
    }

    /// Whether a template block says its text for the value: a true bool, a text or digits
    /// that are not empty, a JSON value that is there and not `false`, `0`, `""` or `[]`
    /// (Handlebars' own truthiness), any phone, a number or duration that is not zero.
    pub fn present(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Text(s) | Value::Digits(s) => !s.is_empty(),
            Value::Phone(_) => true,
            Value::Number(n) => *n != 0,
            Value::Duration(d) => *d != 0,
            Value::Json(j) => match j {
                serde_json::Value::Null => false,
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                serde_json::Value::String(s) => !s.is_empty(),
                serde_json::Value::Array(a) => !a.is_empty(),
                serde_json::Value::Object(_) => true,
            },
        }
    }

    /// The value as spoken or sent: numbers in decimal, phones in E.164, JSON strings without
    /// quotes. JSON null cannot be rendered (strict templates).
    pub fn render(&self) -> Result<String, EvalError> {
        Ok(match self {
            Value::Number(n) => n.to_string(),
            Value::Digits(s) | Value::Text(s) | Value::Phone(s) => s.clone(),
            Value::Duration(ms) => crate::ir::format_duration(*ms),
            Value::Bool(b) => b.to_string(),
            Value::Json(serde_json::Value::Null) => return err("the value is missing (JSON null)"),
            Value::Json(serde_json::Value::String(s)) => s.clone(),
            Value::Json(other) => other.to_string(),
        })
    }

    /// Truthiness for conditions: bools as they are; JSON null, false, 0, "" and missing
    /// fields are false, every other JSON value true.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Json(j) => match j {
                serde_json::Value::Null => false,
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                serde_json::Value::String(s) => !s.is_empty(),
                _ => true,
            },
            _ => true,
        }
    }

    /// The value as JSON (for fetch parameters and report data).
    pub fn as_json(&self) -> serde_json::Value {
        match self {
            Value::Number(n) => serde_json::Value::from(*n),
            Value::Digits(s) | Value::Text(s) | Value::Phone(s) => {
                serde_json::Value::from(s.clone())
            }
            Value::Duration(ms) => serde_json::Value::from(*ms),
            Value::Bool(b) => serde_json::Value::from(*b),
            Value::Json(j) => j.clone(),
        }
    }
}

fn digits(text: &str) -> Result<Value, EvalError> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    {
        Ok(Value::Digits(text.to_string()))
    } else {
        err(format!("`{text}` is not a string of phone keys"))
    }
}

/// Renders a template strictly.
pub fn render(t: &Template, scope: &dyn Scope) -> Result<String, EvalError> {
    let mut out = String::with_capacity(size_hint(&t.parts));
    render_parts(&t.parts, scope, false, &mut out)?;
    Ok(out)
}

/// Renders a URL template: values put into it are percent-encoded (RFC 3986 unreserved
/// characters stay as they are), so a `+7…` number or Cyrillic text arrives intact.
pub fn render_url(t: &Template, scope: &dyn Scope) -> Result<String, EvalError> {
    let mut out = String::with_capacity(size_hint(&t.parts));
    render_parts(&t.parts, scope, true, &mut out)?;
    Ok(out)
}

/// About how long a rendering is, so the text grows once: the fixed text, the longer branch
/// of each block, and room for a short value in each tag.
fn size_hint(parts: &[TemplatePart]) -> usize {
    /// Room for one value: a name, a number, a phone.
    const VALUE: usize = 16;
    parts
        .iter()
        .map(|part| match part {
            TemplatePart::Text(s) => s.len(),
            TemplatePart::Value(_) => VALUE,
            TemplatePart::Helper { .. } => 4 * VALUE,
            TemplatePart::If {
                then, otherwise, ..
            } => size_hint(then).max(size_hint(otherwise)),
        })
        .sum()
}

fn render_parts(
    parts: &[TemplatePart],
    scope: &dyn Scope,
    url: bool,
    out: &mut String,
) -> Result<(), EvalError> {
    for part in parts {
        match part {
            TemplatePart::Text(s) => out.push_str(s),
            TemplatePart::Value(e) if url => {
                out.push_str(&percent_encoded(&eval(e, scope)?.render()?));
            }
            TemplatePart::Value(e) => out.push_str(&eval(e, scope)?.render()?),
            TemplatePart::If {
                cond,
                negated,
                then,
                otherwise,
            } => {
                let present = eval(cond, scope)?.present() != *negated;
                render_parts(if present { then } else { otherwise }, scope, url, out)?;
            }
            TemplatePart::Helper { lang, helper } => {
                let said = say(lang, helper, scope)?;
                if url {
                    out.push_str(&percent_encoded(&said));
                } else {
                    out.push_str(&said);
                }
            }
        }
    }
    Ok(())
}

/// Text percent-encoded for a URL: RFC 3986 unreserved characters stay as they are.
fn percent_encoded(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a speech helper says (`crate::speech`); its failures are the flow's errors.
fn say(lang: &str, helper: &Helper, scope: &dyn Scope) -> Result<String, EvalError> {
    let failed = |e: speech::SpeechError| EvalError(e.to_string());
    let lang: speech::Lang = lang.parse().map_err(failed)?;
    let number = |e: &Expr| match eval(e, scope)? {
        Value::Number(n) => Ok(n),
        other => err(format!(
            "`{}` needs a number, got {}",
            helper.name(),
            other.render()?
        )),
    };
    let text = |e: &Expr| eval(e, scope)?.render();
    match helper {
        Helper::Plural { n, forms } => {
            let forms: Vec<&str> = forms.iter().map(String::as_str).collect();
            speech::plural(lang, number(n)?, &forms)
                .map(str::to_string)
                .map_err(failed)
        }
        Helper::Words { n, gender, case } => Ok(speech::words(
            lang,
            number(n)?,
            gender.parse().map_err(failed)?,
            case.parse().map_err(failed)?,
        )),
        Helper::Digits { text: t, groups } => {
            let groups: Vec<usize> = groups.iter().map(|g| *g as usize).collect();
            speech::digits(&text(t)?, &groups).map_err(failed)
        }
        Helper::Money {
            amount,
            currency,
            style,
        } => {
            let style = if style == "digits" {
                speech::Style::Digits
            } else {
                speech::Style::Words
            };
            speech::money(lang, &text(amount)?, currency, style).map_err(failed)
        }
        Helper::Date { when, zone } => {
            speech::date(lang, &text(when)?, &text(zone)?).map_err(failed)
        }
        Helper::Time { when, zone } => {
            speech::time(lang, &text(when)?, &text(zone)?).map_err(failed)
        }
    }
}

/// Evaluates an expression.
pub fn eval(e: &Expr, scope: &dyn Scope) -> Result<Value, EvalError> {
    Ok(match e {
        Expr::Number { value } => Value::Number(*value),
        Expr::Text { template } => Value::Text(render(template, scope)?),
        Expr::Phone { value } => Value::Phone(value.clone()),
        Expr::Duration { ms } => Value::Duration(*ms),
        Expr::Bool { value } => Value::Bool(*value),
        Expr::Var { id } => match scope.var(*id) {
            Some(v) => v.clone(),
            None => return err("a variable is used before it has a value"),
        },
        Expr::LegNumber { leg } => match scope.leg_number(*leg) {
            Some(n) => Value::Phone(n.to_string()),
            None => return err("the leg's number is not known"),
        },
        Expr::Builtin { name } => match scope.builtin(*name) {
            Some(v) => v,
            None => return err("the built-in value is not available here"),
        },
        Expr::Field { base, path } => {
            let mut j = eval(base, scope)?.as_json();
            for key in path {
                // Digits index arrays (`crm.items.0`); everything else names an object field.
                let next = match (&j, key.parse::<usize>()) {
                    (serde_json::Value::Array(items), Ok(i)) => items.get(i),
                    _ => j.get(key.as_str()),
                };
                j = next.cloned().unwrap_or(serde_json::Value::Null);
            }
            Value::Json(j)
        }
        Expr::Call { func, arg, .. } => call(*func, eval(arg, scope)?)?,
        Expr::Unary { op, arg } => match (op, eval(arg, scope)?) {
            (UnaryOp::Neg, Value::Number(n)) => match n.checked_neg() {
                Some(v) => Value::Number(v),
                None => return err("number overflow in `-`"),
            },
            (UnaryOp::Not, v) => Value::Bool(!v.truthy()),
            (_, v) => return err(format!("cannot negate {v:?}")),
        },
        Expr::Binary { op, lhs, rhs } => binary(*op, lhs, rhs, scope)?,
    })
}

fn call(func: Func, v: Value) -> Result<Value, EvalError> {
    let text = || match &v {
        Value::Json(serde_json::Value::String(s)) => Ok(s.clone()),
        other => other.render(),
    };
    match func {
        Func::Number => match &v {
            Value::Number(n) => Ok(Value::Number(*n)),
            Value::Json(serde_json::Value::Number(n)) => n
                .as_i64()
                .map(Value::Number)
                .ok_or_else(|| EvalError(format!("{n} is not a whole number"))),
            _ => Value::parse_as(&text()?, Type::Number),
        },
        Func::Text => Ok(Value::Text(text()?)),
        Func::Digits => match &v {
            Value::Number(n) if *n >= 0 => Ok(Value::Digits(n.to_string())),
            _ => digits(&text()?),
        },
        Func::Phone => Value::parse_as(&text()?, Type::Phone),
        Func::Len => Ok(Value::Number(
            i64::try_from(text()?.chars().count()).unwrap_or(i64::MAX),
        )),
    }
}

fn binary(op: BinaryOp, lhs: &Expr, rhs: &Expr, scope: &dyn Scope) -> Result<Value, EvalError> {
    // `and` and `or` short-circuit.
    match op {
        BinaryOp::And => {
            return Ok(Value::Bool(
                eval(lhs, scope)?.truthy() && eval(rhs, scope)?.truthy(),
            ));
        }
        BinaryOp::Or => {
            return Ok(Value::Bool(
                eval(lhs, scope)?.truthy() || eval(rhs, scope)?.truthy(),
            ));
        }
        _ => {}
    }
    let (l, r) = (eval(lhs, scope)?, eval(rhs, scope)?);
    let overflow = || EvalError(format!("number overflow in `{}`", op.symbol()));
    Ok(match (op, &l, &r) {
        (BinaryOp::Add, Value::Number(a), Value::Number(b)) => {
            Value::Number(a.checked_add(*b).ok_or_else(overflow)?)
        }
        (BinaryOp::Sub, Value::Number(a), Value::Number(b)) => {
            Value::Number(a.checked_sub(*b).ok_or_else(overflow)?)
        }
        (BinaryOp::Mul, Value::Number(a), Value::Number(b)) => {
            Value::Number(a.checked_mul(*b).ok_or_else(overflow)?)
        }
        (BinaryOp::Div | BinaryOp::Rem, Value::Number(_), Value::Number(0)) => {
            return err("division by zero")
        }
        (BinaryOp::Div, Value::Number(a), Value::Number(b)) => {
            Value::Number(a.checked_div(*b).ok_or_else(overflow)?)
        }
        (BinaryOp::Rem, Value::Number(a), Value::Number(b)) => {
            Value::Number(a.checked_rem(*b).ok_or_else(overflow)?)
        }
        (BinaryOp::Add, Value::Duration(a), Value::Duration(b)) => {
            Value::Duration(a.checked_add(*b).ok_or_else(overflow)?)
        }
        (BinaryOp::Sub, Value::Duration(a), Value::Duration(b)) => {
            Value::Duration(a.checked_sub(*b).ok_or_else(overflow)?)
        }
        (BinaryOp::Concat, Value::Digits(a), Value::Digits(b)) => Value::Digits(format!("{a}{b}")),
        (BinaryOp::Concat, a, b) => Value::Text(format!("{}{}", a.render()?, b.render()?)),
        (BinaryOp::Eq, a, b) => Value::Bool(equal(a, b)),
        (BinaryOp::Ne, a, b) => Value::Bool(!equal(a, b)),
        (BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge, a, b) => {
            let ord = match (a, b) {
                (Value::Number(x), Value::Number(y)) => x.cmp(y),
                (Value::Duration(x), Value::Duration(y)) => x.cmp(y),
                _ => return err("only numbers and durations can be ordered"),
            };
            Value::Bool(match op {
                BinaryOp::Lt => ord.is_lt(),
                BinaryOp::Le => ord.is_le(),
                BinaryOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        _ => return err(format!("`{}` cannot combine these values", op.symbol())),
    })
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Json(_), _) | (_, Value::Json(_)) => a.as_json() == b.as_json(),
        (Value::Digits(x) | Value::Text(x), Value::Digits(y) | Value::Text(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{LegId, VarId};

    struct Empty;
    impl Scope for Empty {
        fn var(&self, _: VarId) -> Option<&Value> {
            None
        }
        fn leg_number(&self, _: LegId) -> Option<&str> {
            None
        }
        fn builtin(&self, _: Builtin) -> Option<Value> {
            None
        }
    }

    fn num(n: i64) -> Box<Expr> {
        Box::new(Expr::Number { value: n })
    }

    #[test]
    fn arithmetic_is_exact_and_overflow_is_an_error() {
        let sum = Expr::Binary {
            op: BinaryOp::Add,
            lhs: num(999_999_999_999_999_999),
            rhs: num(1),
        };
        assert_eq!(
            eval(&sum, &Empty),
            Ok(Value::Number(1_000_000_000_000_000_000))
        );
        let over = Expr::Binary {
            op: BinaryOp::Add,
            lhs: num(i64::MAX),
            rhs: num(1),
        };
        assert!(eval(&over, &Empty).is_err());
        let div = Expr::Binary {
            op: BinaryOp::Div,
            lhs: num(1),
            rhs: num(0),
        };
        assert_eq!(
            eval(&div, &Empty),
            Err(EvalError("division by zero".into()))
        );
        let neg = Expr::Unary {
            op: UnaryOp::Neg,
            arg: Box::new(Expr::Binary {
                op: BinaryOp::Sub,
                lhs: num(-i64::MAX),
                rhs: num(1),
            }),
        };
        assert!(eval(&neg, &Empty).is_err());
    }

    #[test]
    fn json_truthiness_and_strict_rendering() {
        assert!(!Value::Json(serde_json::json!(null)).truthy());
        assert!(!Value::Json(serde_json::json!("")).truthy());
        assert!(Value::Json(serde_json::json!("0")).truthy());
        assert!(Value::Json(serde_json::json!([])).truthy());
        assert!(Value::Json(serde_json::json!(null)).render().is_err());
        assert_eq!(Value::Json(serde_json::json!("x")).render(), Ok("x".into()));
    }
}

//! Checking the speech helpers called in templates (docs/speech.md): the helper exists, its
//! arguments have the types it reads, its options and literal arguments are values
//! `crate::speech` accepts — so a checked call fails at run time only on its values.

use super::error::CheckError;
use super::flow::FlowChecker;
use crate::ir::Type;
use crate::speech::{self, Case, Gender, Lang, Style};
use crate::syntax::ast::{HelperArg, HelperCall, Ident};

/// The helpers, with what each takes, for messages and completion.
pub const HELPERS: &[(&str, &str)] = &[
    ("plural", "plural n 'рубль' 'рубля' 'рублей'"),
    ("words", "words n gender='feminine' case='genitive'"),
    ("digits", "digits value group='4 3 2'"),
    ("money", "money amount 'RUB' style='digits'"),
    ("date", "date when 'Europe/Moscow'"),
    ("time", "time when 'Europe/Moscow'"),
];

/// What an argument must be.
#[derive(Clone, Copy)]
enum Want {
    /// A number: a `number` or `json` value, or a number written in the tag.
    Number,
    /// Anything rendered as text: a value of any type but `bool` and `duration`, a quoted
    /// text or a number.
    Text,
    /// A quoted text.
    Quoted,
}

impl FlowChecker<'_> {
    /// Checks a helper call.
    pub(super) fn helper(&mut self, h: &HelperCall) {
        let name = h.name.name.as_str();
        let Some((_, usage)) = HELPERS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = HELPERS.iter().map(|(n, _)| *n).collect();
            self.out.push(CheckError::UnknownHelper {
                name: name.to_string(),
                help: format!("the helpers are {}", names.join(", ")),
                at: h.name.span.into(),
            });
            return;
        };
        let lang: Lang = match self.lang.parse() {
            Ok(lang) => lang,
            Err(e) => return self.bad_call(h, e.to_string(), usage),
        };
        let (wants, options): (Vec<Want>, &[&str]) = match name {
            "plural" => {
                let forms = if lang == Lang::Ru { 3 } else { 2 };
                let mut w = vec![Want::Number];
                w.extend(std::iter::repeat_n(Want::Quoted, forms));
                (w, &[])
            }
            "words" => (vec![Want::Number], &["gender", "case"]),
            "digits" => (vec![Want::Text], &["group"]),
            "money" => (vec![Want::Text, Want::Quoted], &["style"]),
            _ => (vec![Want::Text, Want::Text], &[]),
        };
        if h.args.len() != wants.len() {
            return self.bad_call(
                h,
                format!(
                    "`{name}` takes {} argument{}{}, got {}",
                    wants.len(),
                    if wants.len() == 1 { "" } else { "s" },
                    match (name, lang) {
                        ("plural", Lang::Ru) =>
                            " in Russian (the number and the forms for one, few and many)",
                        ("plural", Lang::En) =>
                            " in English (the number and the forms for one and other)",
                        _ => "",
                    },
                    h.args.len()
                ),
                usage,
            );
        }
        for (arg, want) in h.args.iter().zip(&wants) {
            if let Err(problem) = self.helper_arg(arg, *want) {
                return self.bad_call(h, problem, usage);
            }
        }
        for (key, value) in &h.options {
            if !options.contains(&key.name.as_str()) {
                let problem = if options.is_empty() {
                    format!("`{name}` takes no options, got `{}`", key.name)
                } else {
                    format!(
                        "`{name}` has no option `{}`; its options are {}",
                        key.name,
                        options.join(", ")
                    )
                };
                return self.bad_call(h, problem, usage);
            }
            if let Err(problem) = option(key, value) {
                return self.bad_call(h, problem, usage);
            }
        }
        let quoted = |i: usize| match h.args.get(i) {
            Some(HelperArg::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        let literal_problem = match name {
            "plural" => {
                let forms: Vec<&str> = (1..h.args.len()).filter_map(quoted).collect();
                speech::plural(lang, 1, &forms).err()
            }
            "money" => quoted(1).and_then(|c| speech::money(lang, "1", c, Style::Words).err()),
            "date" | "time" => {
                quoted(1).and_then(|zone| speech::date(lang, "1970-01-01T00:00:00Z", zone).err())
            }
            _ => None,
        };
        if let Some(e) = literal_problem {
            self.bad_call(h, e.to_string(), usage);
        }
    }

    /// Checks one argument, recording a value's type for `lower`.
    fn helper_arg(&mut self, arg: &HelperArg, want: Want) -> Result<(), String> {
        let ty = match arg {
            HelperArg::Path(p) => {
                let Some(ty) = self.path(&p.path) else {
                    return Ok(()); // reported by `path`
                };
                self.analysis.expr_types.insert(p.span, ty);
                match (want, ty) {
                    (Want::Number, Type::Number | Type::Json) => return Ok(()),
                    (Want::Text, t) if !matches!(t, Type::Bool | Type::Duration) => return Ok(()),
                    (Want::Quoted, _) => {
                        return Err(format!("`{}` must be written in quotes", p.dotted()))
                    }
                    _ => {
                        return Err(format!(
                            "`{}` is a {}, not {}",
                            p.dotted(),
                            ty.name(),
                            wanted(want)
                        ))
                    }
                }
            }
            HelperArg::Text(_) if !matches!(want, Want::Number) => return Ok(()),
            HelperArg::Number(_) if !matches!(want, Want::Quoted) => return Ok(()),
            HelperArg::Text(_) => "quoted text",
            HelperArg::Number(_) => "number",
            HelperArg::Bool(_) => "bool",
        };
        Err(format!("expected {}, got a {ty}", wanted(want)))
    }

    fn bad_call(&mut self, h: &HelperCall, problem: String, usage: &str) {
        self.out.push(CheckError::BadHelperCall {
            problem,
            help: format!("write `{{{{{usage}}}}}`; see docs/speech.md"),
            at: h.span.into(),
        });
    }
}

/// What an argument must be, in words.
fn wanted(want: Want) -> &'static str {
    match want {
        Want::Number => "a number",
        Want::Text => "a value to say",
        Want::Quoted => "a quoted text",
    }
}

/// Checks an option's value.
fn option(key: &Ident, value: &HelperArg) -> Result<(), String> {
    let text = match value {
        HelperArg::Text(t) => t.clone(),
        HelperArg::Number(n) if key.name == "group" => n.to_string(),
        _ => return Err(format!("`{}` takes a quoted text", key.name)),
    };
    match key.name.as_str() {
        "gender" => text
            .parse::<Gender>()
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "case" => text.parse::<Case>().map(|_| ()).map_err(|e| e.to_string()),
        "style" => match text.as_str() {
            "words" | "digits" => Ok(()),
            other => Err(format!("unknown style `{other}`: use `words` or `digits`")),
        },
        _ => group_sizes(&text).map(|_| ()),
    }
}

/// The group sizes of `digits`' `group` option: `'4 3 2'`, `'3'`.
pub fn group_sizes(text: &str) -> Result<Vec<u32>, String> {
    let sizes: Option<Vec<u32>> = text
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().ok().filter(|n| (1..=32).contains(n)))
        .collect();
    match sizes {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!(
            "`group` lists group sizes from 1 to 32, such as '4 3 2', got '{text}'"
        )),
    }
}

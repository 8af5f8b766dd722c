//! `ivrc graph`: a flow as a picture a product owner can read — a node per statement that
//! acts or decides, edges labelled by outcome (keys, phrases, dial outcomes), legs named on
//! the statements that use them, reports and the end drawn apart — written as Graphviz DOT or
//! Mermaid. Text reaches either format only through its escaping function.

use crate::ir::{self, Expr, Flow, LegId, Op, Outcome, TemplatePart};
use std::fmt::Write as _;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Where the flow or a handler starts.
    Start,
    /// A step that goes on.
    Step,
    /// A statement with several outcomes.
    Decision,
    /// `report ok` / `report retry`.
    Report,
    /// The end, a hang-up or a transfer.
    End,
}

/// Longest label text before it is cut with `…`.
const LABEL: usize = 48;

fn cut(text: &str) -> String {
    if text.chars().count() <= LABEL {
        return text.to_string();
    }
    let mut out: String = text.chars().take(LABEL - 1).collect();
    out.push('…');
    out
}

fn leg_name(flow: &Flow, leg: LegId) -> &str {
    flow.legs
        .get(leg.0 as usize)
        .map_or("?", |l| l.name.as_str())
}

fn expr_text(flow: &Flow, e: &Expr) -> String {
    match e {
        Expr::Number { value } => value.to_string(),
        Expr::Phone { value } => value.clone(),
        Expr::Bool { value } => value.to_string(),
        Expr::Duration { ms } => ir::format_duration(*ms),
        Expr::Text { template } => format!("\"{}\"", template_text(flow, template)),
        Expr::Var { id } => flow
            .vars
            .get(id.0 as usize)
            .map_or_else(|| "?".into(), |v| v.name.clone()),
        Expr::Binary { op, lhs, rhs } => format!(
            "{} {} {}",
            expr_text(flow, lhs),
            op.symbol(),
            expr_text(flow, rhs)
        ),
        Expr::Field { base, path } => format!("{}.{}", expr_text(flow, base), path.join(".")),
        Expr::LegNumber { leg } => format!("{}.number", leg_name(flow, *leg)),
        _ => "…".into(),
    }
}

fn template_text(flow: &Flow, t: &ir::Template) -> String {
    parts_text(flow, &t.parts)
}

fn parts_text(flow: &Flow, parts: &[TemplatePart]) -> String {
    parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text(s) => s.clone(),
            TemplatePart::Value(e) => format!("{{{{{}}}}}", expr_text(flow, e)),
            TemplatePart::Helper { helper, .. } => {
                let args: Vec<String> = helper
                    .exprs()
                    .into_iter()
                    .map(|e| expr_text(flow, e))
                    .collect();
                format!("{{{{{} {}}}}}", helper.name(), args.join(" "))
            }
            TemplatePart::If {
                cond,
                negated,
                then,
                otherwise,
            } => {
                let kind = if *negated { "unless" } else { "if" };
                let otherwise = if otherwise.is_empty() {
                    String::new()
                } else {
                    format!("{{{{else}}}}{}", parts_text(flow, otherwise))
                };
                format!(
                    "{{{{#{kind} {}}}}}{}{otherwise}{{{{/{kind}}}}}",
                    expr_text(flow, cond),
                    parts_text(flow, then)
                )
            }
        })
        .collect()
}

/// The words "to LEG" when a statement acts on a leg other than the caller.
fn to_leg(flow: &Flow, leg: LegId) -> String {
    if leg.0 == 0 {
        String::new()
    } else {
        format!(" to {}", leg_name(flow, leg))
    }
}

/// A node's label and shape.
fn describe(flow: &Flow, op: &Op) -> (String, Shape) {
    let prompt = |p: &Option<ir::Prompt>| {
        p.as_ref()
            .map(|p| format!(": {}", template_text(flow, &p.text)))
            .unwrap_or_default()
    };
    match op {
        Op::Say { leg, text } => (
            format!("say{}: {}", to_leg(flow, *leg), template_text(flow, text)),
            Shape::Step,
        ),
        Op::Collect {
            leg,
            var,
            prompt: p,
            ..
        } => (
            format!(
                "collect {}{}{}",
                flow.vars
                    .get(var.0 as usize)
                    .map_or("?", |v| v.name.as_str()),
                to_leg(flow, *leg),
                prompt(p)
            ),
            Shape::Decision,
        ),
        Op::Menu { leg, prompt: p, .. } => (
            format!("menu{}{}", to_leg(flow, *leg), prompt(p)),
            Shape::Decision,
        ),
        Op::Listen { leg, prompt: p, .. } => (
            format!("listen{}{}", to_leg(flow, *leg), prompt(p)),
            Shape::Decision,
        ),
        Op::Dial { leg, target, .. } => (
            format!(
                "dial {} as {}",
                expr_text(flow, target),
                leg_name(flow, *leg)
            ),
            Shape::Decision,
        ),
        Op::Bridge { a, b, .. } => (
            format!("bridge {} and {}", leg_name(flow, *a), leg_name(flow, *b)),
            Shape::Step,
        ),
        Op::Transfer { leg, target } => (
            format!(
                "transfer {} to {}",
                leg_name(flow, *leg),
                expr_text(flow, target)
            ),
            Shape::End,
        ),
        Op::Sms { to, text } => (
            format!("sms {}: {}", expr_text(flow, to), template_text(flow, text)),
            Shape::Step,
        ),
        Op::Fetch { url, .. } => (
            format!("fetch {}", template_text(flow, url)),
            Shape::Decision,
        ),
        Op::Assign { var, value } => (
            format!(
                "let {} = {}",
                flow.vars
                    .get(var.0 as usize)
                    .map_or("?", |v| v.name.as_str()),
                expr_text(flow, value)
            ),
            Shape::Step,
        ),
        Op::Branch { cond } => (format!("if {}", expr_text(flow, cond)), Shape::Decision),
        Op::Report { ok: true, .. } => ("report ok".into(), Shape::Report),
        Op::Report {
            ok: false, reason, ..
        } => (
            format!(
                "report retry{}",
                reason
                    .as_ref()
                    .map(|r| format!(": {}", template_text(flow, r)))
                    .unwrap_or_default()
            ),
            Shape::Report,
        ),
        Op::Hangup { leg } => (
            match leg {
                Some(l) if l.0 != 0 => format!("hang up {}", leg_name(flow, *l)),
                _ => "hang up".into(),
            },
            Shape::End,
        ),
        Op::End => ("end".into(), Shape::End),
        Op::Label { name } => (format!("label {name}"), Shape::Step),
        Op::Pause { ms } => (format!("pause {}", ir::format_duration(*ms)), Shape::Step),
        other => (other.keyword().to_string(), Shape::Step),
    }
}

/// An edge's label: the outcome, with a listen's phrases and a menu's keys spelled out.
fn edge_label(op: &Op, on: &Outcome) -> String {
    match (op, on) {
        (_, Outcome::Next) => String::new(),
        (Op::Listen { phrases, .. }, Outcome::Phrase(i)) => phrases
            .get(*i as usize)
            .map_or_else(|| "phrase".into(), |p| format!("«{}»", p.join("» | «"))),
        (_, Outcome::Key(k)) => format!("key {k}"),
        (_, other) => String::from(other.clone()),
    }
}

/// One flow as nodes and edges, ready for a writer.
struct Drawing {
    /// (id, label, shape)
    nodes: Vec<(String, String, Shape)>,
    /// (from, to, label)
    edges: Vec<(String, String, String)>,
}

fn drawing(flow: &Flow) -> Drawing {
    let id = |n: ir::NodeId| format!("{}_{}", flow.name, n.0);
    let mut d = Drawing {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let params: Vec<&str> = flow
        .params
        .iter()
        .filter_map(|p| flow.vars.get(p.0 as usize).map(|v| v.name.as_str()))
        .collect();
    let start = if params.is_empty() {
        format!("flow {}", flow.name)
    } else {
        format!("flow {}({})", flow.name, params.join(", "))
    };
    let mut starts = vec![(start, flow.entry)];
    for (name, entry) in [
        ("on hangup", flow.handlers.hangup),
        ("on error", flow.handlers.error),
        ("on sms", flow.handlers.sms),
    ] {
        if let Some(e) = entry {
            starts.push((name.to_string(), e));
        }
    }
    for (i, (label, entry)) in starts.into_iter().enumerate() {
        let sid = format!("{}_start{i}", flow.name);
        d.nodes.push((sid.clone(), label, Shape::Start));
        d.edges.push((sid, id(entry), String::new()));
    }
    for n in &flow.nodes {
        let (label, shape) = describe(flow, &n.op);
        d.nodes
            .push((id(n.id), format!("{}: {}", n.span.line, cut(&label)), shape));
        // Outcomes that lead to the same place share one edge: `busy | no_answer | failed`.
        let mut merged: Vec<(ir::NodeId, Vec<String>)> = Vec::new();
        for e in &n.edges {
            let label = edge_label(&n.op, &e.on);
            match merged.iter_mut().find(|(to, _)| *to == e.to) {
                Some((_, labels)) => labels.push(label),
                None => merged.push((e.to, vec![label])),
            }
        }
        for (to, labels) in merged {
            let labels: Vec<String> = labels.into_iter().filter(|l| !l.is_empty()).collect();
            d.edges.push((id(n.id), id(to), labels.join(" | ")));
        }
    }
    d
}

/// DOT's double-quoted string: backslashes and quotes escaped, line breaks as `\n`.
fn dot_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Mermaid label text in quotes: quotes and markup-significant characters as entity codes.
fn mermaid_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Draws `flows` in `format`.
pub fn render(flows: &[&Flow], format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Dot => {
            out.push_str("digraph ivr {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
            for flow in flows {
                let d = drawing(flow);
                let _ = writeln!(
                    out,
                    "  subgraph {} {{",
                    dot_quote(&format!("cluster_{}", flow.name))
                );
                let _ = writeln!(
                    out,
                    "    label={};",
                    dot_quote(&format!("flow {}", flow.name))
                );
                for (id, label, shape) in &d.nodes {
                    let attrs = match shape {
                        Shape::Start => "shape=oval, style=filled, fillcolor=\"#e8f0fe\"",
                        Shape::Step => "shape=box, style=rounded",
                        Shape::Decision => "shape=hexagon",
                        Shape::Report => {
                            "shape=box, style=\"rounded,filled\", fillcolor=\"#e6f4ea\""
                        }
                        Shape::End => "shape=box, style=\"rounded,filled\", fillcolor=\"#f1f3f4\"",
                    };
                    let _ = writeln!(
                        out,
                        "    {} [label={}, {attrs}];",
                        dot_quote(id),
                        dot_quote(label)
                    );
                }
                for (from, to, label) in &d.edges {
                    if label.is_empty() {
                        let _ = writeln!(out, "    {} -> {};", dot_quote(from), dot_quote(to));
                    } else {
                        let _ = writeln!(
                            out,
                            "    {} -> {} [label={}];",
                            dot_quote(from),
                            dot_quote(to),
                            dot_quote(label)
                        );
                    }
                }
                out.push_str("  }\n");
            }
            out.push_str("}\n");
        }
        Format::Mermaid => {
            out.push_str("flowchart TD\n");
            for flow in flows {
                let d = drawing(flow);
                let _ = writeln!(
                    out,
                    "  subgraph {} [{}]",
                    mermaid_id(&format!("flow_{}", flow.name)),
                    mermaid_quote(&format!("flow {}", flow.name))
                );
                for (id, label, shape) in &d.nodes {
                    let (open, close) = match shape {
                        Shape::Start => ("([", "])"),
                        Shape::Step => ("[", "]"),
                        Shape::Decision => ("{{", "}}"),
                        Shape::Report => ("[[", "]]"),
                        Shape::End => ("(", ")"),
                    };
                    let _ = writeln!(
                        out,
                        "    {}{open}{}{close}",
                        mermaid_id(id),
                        mermaid_quote(label)
                    );
                }
                for (from, to, label) in &d.edges {
                    if label.is_empty() {
                        let _ = writeln!(out, "    {} --> {}", mermaid_id(from), mermaid_id(to));
                    } else {
                        let _ = writeln!(
                            out,
                            "    {} -->|{}| {}",
                            mermaid_id(from),
                            mermaid_quote(label),
                            mermaid_id(to)
                        );
                    }
                }
                out.push_str("  end\n");
            }
        }
    }
    out
}

/// A Mermaid node id: ASCII letters, digits and `_` only (flow names may be Cyrillic).
fn mermaid_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_string()
            } else {
                format!("u{:x}", c as u32)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_markup_are_escaped_by_construction() {
        assert_eq!(dot_quote("say \"hi\" \\ \n"), "\"say \\\"hi\\\" \\\\ \\n\"");
        assert_eq!(
            mermaid_quote("a \"b\" <c> #d {{x}}"),
            "\"a #quot;b#quot; #lt;c#gt; #35;d #123;#123;x#125;#125;\""
        );
        assert_eq!(mermaid_id("flow_звонок"), "flow_u437u432u43eu43du43eu43a");
        assert_eq!(cut(&"x".repeat(60)).chars().count(), LABEL);
    }
}

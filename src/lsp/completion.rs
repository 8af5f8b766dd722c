//! Completion: the keywords that may start what is being written where it is written
//! (statements, the options and outcomes of the statement around, settings, test steps,
//! items), the names a position takes
//! (variables and parameters in scope, legs, labels, flows, a campaign flow's parameters,
//! types), and placeholders: after `{{` in a string, the values in scope, closed with `}}`.
//!
//! The position is read from the words before it on its line and from the tree around it.
//! A document being typed rarely parses, so when it does not, the tree and the scopes come
//! from the document with the line being written left out.

use super::keywords::{self, Keyword};
use super::lexical::{self, Place};
use super::program::{without_bom, View, ROOT};
use super::symbols::{SymbolIndex, SymbolKind};
use crate::check::rules::{self, Statement};
use crate::span::{Sources, Span};
use crate::syntax::ast::{Body, Item, Module, Stmt, StmtKind};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, TextEdit,
};

/// The blocks a tag may open, with what they do.
const BLOCKS: [(&str, &str); 2] = [
    ("#if", "`{{#if value}}…{{else}}…{{/if}}`: the text when the value is there (not empty, not false, not 0)"),
    ("#unless", "`{{#unless value}}…{{/unless}}`: the text when the value is not there"),
];

/// The character that asks for completion by itself: the second `{` of a placeholder.
pub const TRIGGER: &str = "{";

/// What may be written at `offset`; `trigger` is the character that asked, if one did.
pub fn complete(view: &View<'_>, offset: usize, trigger: Option<&str>) -> Vec<CompletionItem> {
    let text = &view.doc.text;
    let place = lexical::place(text, offset);
    let in_tag = matches!(place, Place::Placeholder(_) | Place::HelperArgument(_));
    let asked = if trigger.is_some() {
        in_tag
    } else {
        in_tag || place == Place::Code
    };
    if !asked {
        return Vec::new();
    }
    let parsed_cleanly = !view
        .program
        .loaded
        .syntax_errors
        .iter()
        .any(|(f, _)| *f == ROOT);
    let scratch;
    let (module, index) = if parsed_cleanly {
        let module = view.program.loaded.modules.first().map(|(_, m)| m);
        (module, &view.program.index)
    } else {
        scratch = without_line(text, offset);
        (Some(&scratch.0), &scratch.1)
    };
    let empty = Module::default();
    let at = At {
        view,
        offset,
        module: module.unwrap_or(&empty),
        index,
    };
    let (start, mut items) = match place {
        Place::Placeholder(start) => (start, at.placeholders(start)),
        Place::HelperArgument(start) => (start, at.helper_arguments(start)),
        _ => (lexical::word_start(text, offset), at.code()),
    };
    let typed = text.get(start..offset).unwrap_or_default();
    items.retain(|i| i.label.starts_with(typed));
    items
}

/// The tree and index of `text` with the line holding `offset` blanked out (same offsets).
fn without_line(text: &str, offset: usize) -> (Module, SymbolIndex) {
    let start = lexical::line_start(text, offset);
    let end = text
        .get(offset..)
        .and_then(|rest| rest.find(['\n', '\r']))
        .map_or(text.len(), |i| offset + i);
    let mut blanked = without_bom(text).into_owned();
    if blanked.get(start..end).is_some() {
        blanked.replace_range(start..end, &" ".repeat(end - start));
    }
    let mut sources = Sources::new();
    let file = sources.add("", blanked.as_str());
    let (module, _) = crate::syntax::parse(file, &blanked);
    let modules = [(file, &module)];
    let (analysis, _) = crate::check::check(&modules, &Default::default());
    let index = SymbolIndex::build(&sources, &modules, &analysis);
    (module, index)
}

/// Where in the tree a line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container<'m> {
    /// Between items.
    TopLevel,
    /// A campaign for this flow.
    Campaign(&'m str),
    /// A test of this flow.
    Test(&'m str),
    /// A flow's body.
    FlowBody,
    /// A block: a branch, a loop, an arm's or a handler's action.
    Block,
    /// The `{ … }` of options and arms of this statement.
    Options(&'static Statement),
}

/// A completion request.
struct At<'a> {
    view: &'a View<'a>,
    offset: usize,
    module: &'a Module,
    index: &'a SymbolIndex,
}

impl At<'_> {
    /// After `{{` in a string: values, and legs' numbers, in scope; the speech helpers; the
    /// blocks.
    fn placeholders(&self, start: usize) -> Vec<CompletionItem> {
        let text = &self.view.doc.text;
        let close = if text[self.offset..].starts_with("}}") {
            ""
        } else {
            "}}"
        };
        let mut items: Vec<CompletionItem> = self
            .values(false)
            .into_iter()
            .map(|(label, kind, detail)| {
                let insert = format!("{label}{close}");
                self.item(start, label, kind, Some(detail), None, insert)
            })
            .collect();
        for (name, usage) in crate::check::HELPERS {
            let doc = format!("`{{{{{usage}}}}}` — see docs/speech.md");
            let insert = format!("{name} ");
            let detail = Some("speech helper".to_string());
            items.push(self.item(
                start,
                name.to_string(),
                CompletionItemKind::FUNCTION,
                detail,
                Some(&doc),
                insert,
            ));
        }
        for (block, doc) in BLOCKS {
            let insert = format!("{block} ");
            let detail = Some("block".to_string());
            items.push(self.item(
                start,
                block.to_string(),
                CompletionItemKind::KEYWORD,
                detail,
                Some(doc),
                insert,
            ));
        }
        items
    }

    /// At an argument of a helper or a block: values in scope.
    fn helper_arguments(&self, start: usize) -> Vec<CompletionItem> {
        self.values(false)
            .into_iter()
            .map(|(label, kind, detail)| {
                let insert = label.clone();
                self.item(start, label, kind, Some(detail), None, insert)
            })
            .collect()
    }

    /// In code: what the words before the position on its line ask for.
    fn code(&self) -> Vec<CompletionItem> {
        let text = &self.view.doc.text;
        let start = lexical::word_start(text, self.offset);
        let tokens = lexical::tokens_before(text, start);
        let first = tokens.first().copied().unwrap_or_default();
        let container = self.container();
        let names = |kind| self.named(start, kind);
        match tokens.last().copied() {
            None | Some("{" | "}" | ";" | "->") => self.keywords_for(start, container, first),
            Some("goto") => names(self.labels()),
            Some("for") => names(self.flows()),
            Some("expect") => self.words(start, keywords::EXPECTATIONS),
            Some("to") if !matches!(first, "sms" | "transfer") => names(self.legs()),
            Some("from" | "hangup" | "bridge") => names(self.legs()),
            Some("and") if first == "bridge" || first == "expect" => names(self.legs()),
            Some("by" | "answer" | "busy" | "no_answer" | "fail" | "machine")
                if matches!(container, Container::Test(_)) =>
            {
                names(self.legs())
            }
            Some("dial") => match container {
                Container::Campaign(flow) => names(self.params_of(flow)),
                Container::Test(_) => names(self.legs()),
                _ => self.values_and_words(start),
            },
            Some("transfer") => {
                let mut items = names(self.legs());
                items.extend(self.values_and_words(start));
                items
            }
            Some("on" | "|") if matches!(container, Container::Options(_)) => {
                self.outcomes(start, container)
            }
            Some(":") if matches!(first, "let" | "collect" | "flow") => {
                self.words(start, keywords::TYPES)
            }
            Some(token) if is_operator(token) || EXPRESSION_AFTER.contains(&token) => {
                self.values_and_words(start)
            }
            Some(_) => Vec::new(),
        }
    }

    /// The keywords that may start a line in `container`.
    fn keywords_for(
        &self,
        start: usize,
        container: Container<'_>,
        first: &str,
    ) -> Vec<CompletionItem> {
        let statements = |extra: &[&str]| {
            let mut items = self.keyword_items(start, keywords::STATEMENTS);
            items.extend(self.words(start, extra));
            items
        };
        match container {
            Container::TopLevel => self.keyword_items(start, keywords::ITEMS),
            Container::Campaign(_) => self.words(start, keywords::CAMPAIGN_SETTINGS),
            Container::Test(_) => self.words(start, keywords::TEST_STEPS),
            Container::FlowBody => statements(keywords::FLOW_SETTINGS),
            // `on ok -> …` and `{ … }` after `->` take statements, the rest of a body options.
            Container::Options(statement) if first != "on" && first != "else" => {
                self.options(start, statement)
            }
            Container::Options(_) | Container::Block => statements(&[]),
        }
    }

    /// The options of `statement`, each with its value, then `on` and `else` if it has arms.
    fn options(&self, start: usize, statement: &Statement) -> Vec<CompletionItem> {
        let mut items: Vec<CompletionItem> = statement
            .options
            .iter()
            .map(|o| {
                let (kind, label) = (CompletionItemKind::KEYWORD, o.name.to_string());
                self.item(start, label.clone(), kind, Some(o.syntax()), None, label)
            })
            .collect();
        if statement.has_arms() {
            items.extend(self.words(start, &["on", "else"]));
        }
        items
    }

    /// After `on` or `|` in a statement's body: the outcomes of the statement.
    fn outcomes(&self, start: usize, container: Container<'_>) -> Vec<CompletionItem> {
        match container {
            Container::Options(statement) => {
                let names: Vec<&str> = statement.outcome_names().collect();
                self.words(start, &names)
            }
            _ => Vec::new(),
        }
    }

    /// Whether the span `s` holds the position (its ends and the blanks around excluded).
    fn inside(&self, s: Span) -> bool {
        let s = lexical::trimmed(&self.view.doc.text, s);
        (s.start as usize) < self.offset && self.offset < s.end as usize
    }

    /// Whether the position is in an `on sms` handler, where `sms.text` and `sms.from` are
    /// known.
    fn in_sms_handler(&self) -> bool {
        self.module.items.iter().any(|item| match item {
            Item::Flow(f) => f
                .handlers
                .iter()
                .any(|h| h.event.name == "sms" && self.inside(h.span)),
            _ => false,
        })
    }

    /// Where the line being written is, from the tree.
    fn container(&self) -> Container<'_> {
        let inside = |s: Span| self.inside(s);
        for item in &self.module.items {
            match item {
                Item::Campaign(c) if inside(c.span) => return Container::Campaign(&c.flow.name),
                Item::Test(t) if inside(t.span) => return Container::Test(&t.flow.name),
                Item::Flow(f) if inside(f.span) => {
                    return match f.handlers.iter().find(|h| inside(h.span)) {
                        Some(h) => in_stmts(&h.action, &inside).unwrap_or(Container::Block),
                        None => in_stmts(&f.body, &inside).unwrap_or(Container::FlowBody),
                    };
                }
                _ => {}
            }
        }
        Container::TopLevel
    }

    /// Values in scope, legs' numbers and the built-ins, and with `with_words` the words
    /// that start expressions: (text, kind, detail).
    fn values(&self, with_words: bool) -> Vec<(String, CompletionItemKind, String)> {
        if self.index.flow_at(ROOT, self.offset).is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut legs = vec!["caller".to_string()];
        for id in self.index.in_scope(ROOT, self.offset) {
            let s = &self.index.symbols[id];
            match s.kind {
                SymbolKind::Leg => legs.push(s.name.clone()),
                kind => {
                    let detail = match s.ty {
                        Some(t) => format!("{}: {}", kind.word(), t.name()),
                        None => kind.word().to_string(),
                    };
                    out.push((s.name.clone(), CompletionItemKind::VARIABLE, detail));
                }
            }
        }
        for leg in legs {
            let detail = "phone: the leg's number".to_string();
            out.push((format!("{leg}.number"), CompletionItemKind::FIELD, detail));
        }
        let in_sms = self.in_sms_handler();
        for b in rules::BUILTINS.iter().filter(|b| in_sms || !b.sms_only) {
            let detail = format!("{}: {}", b.ty.name(), b.doc);
            out.push((b.name.into(), CompletionItemKind::CONSTANT, detail));
        }
        if with_words {
            let conversions = rules::CONVERSIONS.iter().map(|c| c.name);
            for w in keywords::EXPRESSION_WORDS
                .iter()
                .copied()
                .chain(conversions)
            {
                out.push((w.into(), CompletionItemKind::KEYWORD, String::new()));
            }
        }
        out
    }

    fn values_and_words(&self, start: usize) -> Vec<CompletionItem> {
        self.values(true)
            .into_iter()
            .map(|(label, kind, detail)| {
                let detail = (!detail.is_empty()).then_some(detail);
                self.item(start, label.clone(), kind, detail, None, label)
            })
            .collect()
    }

    /// Legs in scope, `caller` first.
    fn legs(&self) -> Vec<(String, &'static str)> {
        if let Some(test_flow) = self.test_flow() {
            let mut legs = vec![("caller".to_string(), "leg")];
            legs.extend(self.of_flow(test_flow, SymbolKind::Leg));
            return legs;
        }
        if self.index.flow_at(ROOT, self.offset).is_none() {
            return Vec::new();
        }
        let mut legs = vec![("caller".to_string(), "leg")];
        for id in self.index.in_scope(ROOT, self.offset) {
            let s = &self.index.symbols[id];
            if s.kind == SymbolKind::Leg {
                legs.push((s.name.clone(), "leg"));
            }
        }
        legs
    }

    /// The labels of the flow being written.
    fn labels(&self) -> Vec<(String, &'static str)> {
        let Some(flow) = self.index.flow_at(ROOT, self.offset) else {
            return Vec::new();
        };
        let mut labels: Vec<(String, &'static str)> = Vec::new();
        for id in self.index.of_flow(flow, SymbolKind::Label) {
            let name = &self.index.symbols[id].name;
            if !labels.iter().any(|(n, _)| n == name) {
                labels.push((name.clone(), "label"));
            }
        }
        labels
    }

    /// Every flow of the program, imports included.
    fn flows(&self) -> Vec<(String, &'static str)> {
        let index = &self.view.program.index;
        let mut flows: Vec<(String, &'static str)> = Vec::new();
        for s in &index.symbols {
            if s.kind == SymbolKind::Flow && !flows.iter().any(|(n, _)| *n == s.name) {
                flows.push((s.name.clone(), "flow"));
            }
        }
        flows
    }

    /// The parameters of the flow named `flow`.
    fn params_of(&self, flow: &str) -> Vec<(String, &'static str)> {
        self.of_flow(flow, SymbolKind::Parameter)
    }

    fn of_flow(&self, flow: &str, kind: SymbolKind) -> Vec<(String, &'static str)> {
        let index = &self.view.program.index;
        let Some(flow) = index.flow_named(flow) else {
            return Vec::new();
        };
        let mut out: Vec<(String, &'static str)> = Vec::new();
        for id in index.of_flow(flow, kind) {
            let name = &index.symbols[id].name;
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.clone(), kind.word()));
            }
        }
        out
    }

    /// The flow of the test being written, if a test is.
    fn test_flow(&self) -> Option<&str> {
        match self.container() {
            Container::Test(flow) => Some(flow),
            _ => None,
        }
    }

    /// Items for names, filtered by what is typed.
    fn named(&self, start: usize, names: Vec<(String, &'static str)>) -> Vec<CompletionItem> {
        names
            .into_iter()
            .map(|(name, what)| {
                let kind = match what {
                    "label" => CompletionItemKind::REFERENCE,
                    "flow" => CompletionItemKind::FUNCTION,
                    _ => CompletionItemKind::VARIABLE,
                };
                self.item(start, name.clone(), kind, Some(what.into()), None, name)
            })
            .collect()
    }

    /// Items for plain keywords.
    fn words(&self, start: usize, words: &[&str]) -> Vec<CompletionItem> {
        words
            .iter()
            .map(|w| {
                let kind = CompletionItemKind::KEYWORD;
                self.item(start, (*w).into(), kind, None, None, (*w).into())
            })
            .collect()
    }

    /// Items for statements or items, with their syntax and doc.
    fn keyword_items(&self, start: usize, table: &[Keyword]) -> Vec<CompletionItem> {
        table
            .iter()
            .map(|k| {
                let detail = k.syntax.lines().next().map(str::to_string);
                let kind = CompletionItemKind::KEYWORD;
                self.item(
                    start,
                    k.word.into(),
                    kind,
                    detail,
                    Some(k.doc),
                    k.word.into(),
                )
            })
            .collect()
    }

    /// One item replacing the text from `start` to the position with `insert`.
    fn item(
        &self,
        start: usize,
        label: String,
        kind: CompletionItemKind,
        detail: Option<String>,
        doc: Option<&str>,
        insert: String,
    ) -> CompletionItem {
        CompletionItem {
            label,
            kind: Some(kind),
            detail,
            documentation: doc.map(|d| {
                Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: d.into(),
                })
            }),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range: self.view.doc.range(start, self.offset),
                new_text: insert,
            })),
            ..Default::default()
        }
    }
}

/// Words after which an expression comes.
const EXPRESSION_AFTER: &[&str] = &["if", "where", "not", "and", "or", "caller_id"];

/// Whether `token` is punctuation after which an expression comes: an operator, `=`, `(`,
/// `,` or `:`.
fn is_operator(token: &str) -> bool {
    token != "->" && token.chars().all(|c| "=!<>+-*/%(,:".contains(c))
}

/// Where in `stmts` the position `inside` tells of is, if in one of them.
fn in_stmts(stmts: &[Stmt], inside: &impl Fn(Span) -> bool) -> Option<Container<'static>> {
    let s = stmts.iter().find(|s| inside(s.span))?;
    Some(match &s.kind {
        StmtKind::If {
            branches,
            otherwise,
        } => branches
            .iter()
            .map(|(_, b)| b)
            .chain(otherwise)
            .find_map(|b| in_stmts(b, inside))
            .unwrap_or(Container::Block),
        StmtKind::Repeat { body, .. } => in_stmts(body, inside).unwrap_or(Container::Block),
        StmtKind::Collect { body, .. } => in_body(&rules::COLLECT, body, inside),
        StmtKind::Menu { body, .. } => in_body(&rules::MENU, body, inside),
        StmtKind::Listen { body, .. } => in_body(&rules::LISTEN, body, inside),
        StmtKind::Dial { body, .. } => in_body(&rules::DIAL, body, inside),
        StmtKind::Record { body, .. } => in_body(&rules::RECORD, body, inside),
        StmtKind::Fetch { body, .. } => in_body(&rules::FETCH, body, inside),
        StmtKind::Bridge { body, .. } => in_body(&rules::BRIDGE, body, inside),
        _ => Container::Block,
    })
}

/// Where in the body of `statement` the position is: in an arm's action, or among options.
fn in_body(
    statement: &'static Statement,
    body: &Body,
    inside: &impl Fn(Span) -> bool,
) -> Container<'static> {
    match body.arms.iter().find(|a| inside(a.span)) {
        Some(a) => in_stmts(&a.action, inside).unwrap_or(Container::Block),
        None => Container::Options(statement),
    }
}

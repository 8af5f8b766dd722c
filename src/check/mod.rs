//! The checker: everything that can be known about a program before a call is placed.
//!
//! Resolves names, types every expression and placeholder, proves that paths end and loops
//! are bounded, validates values (phones, durations, keys, phrases) and campaigns (including
//! the leads file, whose bytes the caller supplies). Every problem is collected; nothing
//! stops at the first. The result of a clean check is an [`Analysis`]: side tables that
//! `lower` reads instead of resolving names again. No I/O happens here.

mod campaign;
pub mod error;
mod flow;
mod helpers;
mod langs;
pub mod rules;
mod scope;
mod suggest;
mod test_blocks;
mod types;
mod values;
mod waits;

pub use error::CheckError;
pub use flow::for_each_child_block;
pub use helpers::{group_sizes, HELPERS};
pub use values::utc_offset;

use crate::ir::Type;
use crate::span::{FileId, Span, SpanMap};
use crate::syntax::ast::{CampaignSettingKind, Item, Module};
use std::collections::HashMap;

/// A checker diagnostic and the file its spans point into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    /// The file.
    pub file: FileId,
    /// The problem.
    pub error: CheckError,
    /// Places in other files that the problem is about (the rows of a leads file), each
    /// with its own label.
    pub related: Vec<Related>,
}

/// A labelled place in another file than the diagnostic's, such as a leads file's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where (its `file` is the other file).
    pub at: Span,
    /// What is there.
    pub label: String,
}

impl Diag {
    /// Whether this is only a warning.
    pub fn is_warning(&self) -> bool {
        matches!(
            miette::Diagnostic::severity(&self.error),
            Some(miette::Severity::Warning)
        )
    }
}

/// What a name in an expression or statement refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// A variable or parameter, by the span of its definition's name.
    Var(Span),
    /// A leg dialled by the `dial` whose leg name has this span.
    Leg(Span),
    /// The implicit caller leg.
    Caller,
    /// A built-in value.
    Builtin(crate::ir::Builtin),
}

/// Leads files by the file that names them and the path as written; `None` when missing.
pub type LeadsFiles = HashMap<(FileId, String), Option<LeadsFile>>;

/// A leads file as read: its bytes, and its text among the program's sources so that
/// diagnostics can point into it.
#[derive(Debug, Clone)]
pub struct LeadsFile {
    /// The file's id in the sources.
    pub file: FileId,
    /// The bytes as read.
    pub bytes: Vec<u8>,
}

impl LeadsFile {
    /// Adds the file to `sources` under `name` (as text, invalid UTF-8 replaced, so offsets
    /// hold up to the first invalid byte) and keeps its bytes for the checker.
    pub fn add(sources: &mut crate::span::Sources, name: String, bytes: Vec<u8>) -> LeadsFile {
        let file = sources.add(name, String::from_utf8_lossy(&bytes).into_owned());
        LeadsFile { file, bytes }
    }
}

/// Side tables of a checked program, keyed by spans in the AST.
#[derive(Debug, Default)]
pub struct Analysis {
    /// The type of every expression, by its span.
    pub expr_types: SpanMap<Type>,
    /// The target of every name use (first path segment, placeholder or leg name).
    pub resolved: SpanMap<Resolved>,
    /// The type of every variable, by the span of its definition's name.
    pub var_types: SpanMap<Type>,
    /// What was read from each campaign's leads file, by the campaign's span.
    pub leads: SpanMap<CampaignLeads>,
}

/// What the checker read from a campaign's leads file.
#[derive(Debug, Default, Clone)]
pub struct CampaignLeads {
    /// The valid rows.
    pub rows: Vec<crate::ir::Lead>,
    /// The delimiter used (declared or detected); `None` when the file was not read.
    pub delimiter: Option<u8>,
}

/// The leads files named by campaigns, for the caller to load before [`check`].
pub fn leads_paths(modules: &[(FileId, &Module)]) -> Vec<(FileId, String)> {
    let mut out = Vec::new();
    for (file, module) in modules {
        for item in &module.items {
            if let Item::Campaign(c) = item {
                for s in &c.settings {
                    if let CampaignSettingKind::Leads(t) = &s.kind {
                        if let Some(p) = t.as_plain() {
                            out.push((*file, p));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Checks a program made of `modules` (a file and its imports).
pub fn check(modules: &[(FileId, &Module)], leads: &LeadsFiles) -> (Analysis, Vec<Diag>) {
    let mut analysis = Analysis::default();
    let mut diags = Vec::new();
    let mut flows: HashMap<&str, &crate::syntax::ast::Flow> = HashMap::new();
    let mut campaigns: HashMap<&str, Span> = HashMap::new();
    let mut tests: HashMap<String, Span> = HashMap::new();
    let same_file = |a: Span, b: Span| (a.file == b.file).then_some(b.into());
    for (file, module) in modules {
        for item in &module.items {
            match item {
                Item::Flow(f) => {
                    if let Some(first) = flows.get(f.name.name.as_str()).map(|x| x.name.span) {
                        diags.push(Diag {
                            file: *file,
                            error: CheckError::DuplicateFlow {
                                name: f.name.name.clone(),
                                at: f.name.span.into(),
                                first: same_file(f.name.span, first),
                            },
                            related: Vec::new(),
                        });
                    } else {
                        flows.insert(f.name.name.as_str(), f);
                    }
                }
                Item::Campaign(c) => {
                    if let Some(first) = campaigns.get(c.name.name.as_str()) {
                        diags.push(Diag {
                            file: *file,
                            error: CheckError::DuplicateCampaign {
                                name: c.name.name.clone(),
                                at: c.name.span.into(),
                                first: same_file(c.name.span, *first),
                            },
                            related: Vec::new(),
                        });
                    } else {
                        campaigns.insert(c.name.name.as_str(), c.name.span);
                    }
                }
                Item::Test(t) => {
                    let name = t.name.source_text();
                    if let Some(first) = tests.get(&name) {
                        diags.push(Diag {
                            file: *file,
                            error: CheckError::DuplicateTest {
                                name,
                                at: t.name.span.into(),
                                first: same_file(t.name.span, *first),
                            },
                            related: Vec::new(),
                        });
                    } else {
                        tests.insert(name, t.name.span);
                    }
                }
                Item::Import(_) => {}
            }
        }
    }

    // Campaigns first: they decide whether a flow has a caller leg.
    let mut self_dialing: HashMap<&str, (String, Span)> = HashMap::new();
    for (file, module) in modules {
        for item in &module.items {
            if let Item::Campaign(c) = item {
                let mut out = Vec::new();
                let flow = flows.get(c.flow.name.as_str()).copied();
                let mut in_leads = Vec::new();
                let rows =
                    campaign::check_campaign(c, &flows, *file, leads, &mut out, &mut in_leads);
                analysis.leads.insert(c.span, rows);
                diags.extend(out.into_iter().map(|error| Diag {
                    file: *file,
                    error,
                    related: Vec::new(),
                }));
                diags.extend(in_leads.into_iter().map(|(error, related)| Diag {
                    file: *file,
                    error,
                    related,
                }));
                if flow.is_some() {
                    let dials = c
                        .settings
                        .iter()
                        .any(|s| matches!(s.kind, CampaignSettingKind::Dial(_)));
                    if !dials {
                        self_dialing
                            .entry(c.flow.name.as_str())
                            .or_insert((c.name.name.clone(), c.name.span));
                    }
                }
            }
        }
    }

    for (file, module) in modules {
        for item in &module.items {
            match item {
                Item::Flow(f) => {
                    let mut out = Vec::new();
                    let ctx = flow::FlowContext {
                        self_dialing: self_dialing.get(f.name.name.as_str()).cloned(),
                    };
                    flow::check_flow(f, &ctx, &mut analysis, &mut out);
                    diags.extend(out.into_iter().map(|error| Diag {
                        file: *file,
                        error,
                        related: Vec::new(),
                    }));
                }
                Item::Test(t) => {
                    let mut out = Vec::new();
                    test_blocks::check_test(t, &flows, &mut analysis, &mut out);
                    diags.extend(out.into_iter().map(|error| Diag {
                        file: *file,
                        error,
                        related: Vec::new(),
                    }));
                }
                Item::Campaign(_) | Item::Import(_) => {}
            }
        }
    }
    (analysis, diags)
}

/// The flow `name` refers to, or an `UnknownFlow` error (with the closest defined name) in `out`.
fn flow_named<'a>(
    flows: &HashMap<&str, &'a crate::syntax::ast::Flow>,
    name: &crate::syntax::ast::Ident,
    out: &mut Vec<error::CheckError>,
) -> Option<&'a crate::syntax::ast::Flow> {
    let flow = flows.get(name.name.as_str()).copied();
    if flow.is_none() {
        let help = suggest::did_you_mean(
            &name.name,
            flows.keys().copied(),
            "define the flow, or import the file that defines it",
        );
        out.push(error::CheckError::UnknownFlow {
            name: name.name.clone(),
            help,
            at: name.span.into(),
        });
    }
    flow
}

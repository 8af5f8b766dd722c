//! Code generation: the IR turned into what each platform runs.
//!
//! Every target has the same entry — `generate(&ir::Program) -> Result<Vec<Artifact>,
//! Vec<Unsupported>>` — in its own folder; targets never import each other. Text reaches
//! generated code only through the escaping writer of its language (`js` for JavaScript).
//! A construct a platform cannot run is refused with [`Unsupported`], pointing at it.

pub mod js;
pub mod limits;
pub mod twiml;
pub mod twin24;
pub mod voximplant;
pub mod zvonobot;

use crate::ir;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// File name, relative to the output directory.
    pub path: String,
    /// Its contents.
    pub contents: String,
}

/// A construct the target cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The target.
    pub target: &'static str,
    /// The construct, in words.
    pub construct: String,
    /// What to use instead.
    pub help: String,
    /// Where it is.
    pub span: ir::SrcSpan,
}

/// The diagnostic of an [`Unsupported`] construct.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{construct} is not supported by the {target} target")]
#[diagnostic(code(ivrc::codegen::unsupported_by_target), help("{help}"))]
pub struct UnsupportedByTarget {
    /// The target.
    pub target: String,
    /// The construct.
    pub construct: String,
    /// What to use instead.
    pub help: String,
    /// Where.
    #[label("not available on {target}")]
    pub at: miette::SourceSpan,
}

impl Artifact {
    /// A JSON file, pretty-printed (text in it is escaped by serde_json).
    pub fn json(path: String, body: &serde_json::Value) -> Artifact {
        Artifact {
            path,
            contents: serde_json::to_string_pretty(body).unwrap_or_default() + "\n",
        }
    }
}

impl Unsupported {
    /// A construct `target` cannot express, at `span`, with what to use instead.
    pub fn new(
        target: &'static str,
        span: &ir::SrcSpan,
        construct: &str,
        help: &str,
    ) -> Unsupported {
        Unsupported {
            target,
            construct: construct.to_string(),
            help: help.to_string(),
            span: span.clone(),
        }
    }

    /// The diagnostic to show for this problem.
    pub fn diagnostic(&self) -> UnsupportedByTarget {
        UnsupportedByTarget {
            target: self.target.to_string(),
            construct: self.construct.clone(),
            help: self.help.clone(),
            at: (
                self.span.start as usize,
                (self.span.end - self.span.start) as usize,
            )
                .into(),
        }
    }
}

/// Something a target builds with a consequence the user must know (a warning: the build
/// goes on), e.g. a flow whose dialogue has to be rebuilt in the platform's own editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caveat {
    /// The target.
    pub target: &'static str,
    /// The construct, in words.
    pub construct: String,
    /// What happens to it on this target.
    pub problem: String,
    /// What to do.
    pub help: String,
    /// Where it is.
    pub span: ir::SrcSpan,
}

/// The diagnostic of a [`Caveat`].
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{construct}: {problem}")]
#[diagnostic(code(ivrc::codegen::target_caveat), severity(Warning), help("{help}"))]
pub struct TargetCaveat {
    /// The construct.
    pub construct: String,
    /// What happens to it.
    pub problem: String,
    /// What to do.
    pub help: String,
    /// Where.
    #[label("on {target}")]
    pub at: miette::SourceSpan,
    /// The target.
    pub target: String,
}

impl Caveat {
    /// The diagnostic to show for this caveat.
    pub fn diagnostic(&self) -> TargetCaveat {
        TargetCaveat {
            construct: self.construct.clone(),
            problem: self.problem.clone(),
            help: self.help.clone(),
            at: (
                self.span.start as usize,
                (self.span.end - self.span.start) as usize,
            )
                .into(),
            target: self.target.to_string(),
        }
    }
}

impl Caveat {
    /// A caveat of `target` about `construct` at `span`: what happens to it and what to do.
    pub fn new(
        target: &'static str,
        span: &ir::SrcSpan,
        construct: &str,
        problem: &str,
        help: &str,
    ) -> Caveat {
        Caveat {
            target,
            construct: construct.to_string(),
            problem: problem.to_string(),
            help: help.to_string(),
            span: span.clone(),
        }
    }
}

/// What a target that builds with caveats produced: files when nothing was refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Generated {
    /// The files; empty when anything was refused.
    pub artifacts: Vec<Artifact>,
    /// Warnings.
    pub caveats: Vec<Caveat>,
    /// Constructs the target cannot express (errors).
    pub refused: Vec<Unsupported>,
}

impl Generated {
    /// The start of a target that only runs campaigns, and whether there is anything to build:
    /// a program without campaigns is refused at its first flow, and every flow no campaign
    /// runs gets a caveat. `add_one` and `bind` say how, in the target's words.
    pub fn for_campaigns(
        program: &ir::Program,
        target: &'static str,
        add_one: &str,
        bind: &str,
    ) -> (Generated, bool) {
        let mut out = Generated::default();
        if program.campaigns.is_empty() {
            if let Some(flow) = program.flows.first() {
                out.refused.push(Unsupported::new(
                    target,
                    &flow.span,
                    "a flow without a campaign",
                    add_one,
                ));
            }
            return (out, false);
        }
        for flow in program
            .flows
            .iter()
            .filter(|f| !program.campaigns.iter().any(|c| c.flow == f.name))
        {
            let construct = format!("flow `{}`", flow.name);
            out.caveats.push(Caveat::new(
                target,
                &flow.span,
                &construct,
                "is run by no campaign, so nothing is built for it",
                bind,
            ));
        }
        (out, true)
    }

    /// The result: no files when anything was refused.
    pub fn finish(mut self) -> Generated {
        if !self.refused.is_empty() {
            self.artifacts.clear();
        }
        self
    }
}

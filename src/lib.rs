//! ivrc: a compiler and runtime for `.ivr` phone call flows.
//!
//! ```text
//!  .ivr text ─► syntax (pest → AST) ─► check (names, types, paths, values) ─► lower ─► ir::Program
//!                                                                                │
//!       codegen (voximplant, twiml, zvonobot, twin24) ◄──────────────────────────┤
//!       engine (events → commands) ◄── sim + testing, serve (Twilio webhooks),   ┘
//!                                      runtime (SIP + RTP); fmt, graph and lsp beside
//! ```
//!
//! The binary loads files, imports and leads; [`compile`] runs the pipeline on one text with
//! no imports and no leads files, for tools and tests:
//!
//! ```
//! let compiled = ivrc::compile("sum.ivr", "flow sum { answer; say \"42\"; hangup }");
//! let program = compiled.program.expect("no errors");
//! assert_eq!(program.flows[0].name, "sum");
//! ```

pub mod check;
pub mod codegen;
pub mod console;
pub mod engine;
pub mod fetch;
pub mod fmt;
pub mod graph;
pub mod ir;
pub mod leads;
pub mod load;
pub mod lower;
pub mod lsp;
pub mod phone;
pub mod phrase;
pub mod runtime;
pub mod secret;
pub mod serve;
pub mod sim;
pub mod span;
pub mod speech;
pub mod stdio;
pub mod store;
pub mod syntax;
pub mod testing;

/// The outcome of [`compile`].
#[derive(Debug)]
pub struct Compiled {
    /// Syntax errors; when there are any, nothing was checked.
    pub syntax_errors: Vec<syntax::SyntaxError>,
    /// Checker diagnostics, warnings included.
    pub diagnostics: Vec<check::Diag>,
    /// The IR, when there were no errors (warnings allowed).
    pub program: Option<ir::Program>,
}

/// Parses, checks and lowers one source text named `name` (imports are not followed and
/// leads files are not read: campaigns report them as not found).
pub fn compile(name: &str, text: &str) -> Compiled {
    let mut sources = span::Sources::new();
    let id = sources.add(name, text);
    let (module, syntax_errors) = syntax::parse(id, text);
    if !syntax_errors.is_empty() {
        return Compiled {
            syntax_errors,
            diagnostics: Vec::new(),
            program: None,
        };
    }
    let modules = vec![(id, &module)];
    let (analysis, diagnostics) = check::check(&modules, &Default::default());
    let program = diagnostics
        .iter()
        .all(check::Diag::is_warning)
        .then(|| lower::lower(&sources, &modules, &analysis));
    Compiled {
        syntax_errors,
        diagnostics,
        program,
    }
}

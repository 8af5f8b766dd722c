//! Lexical scopes of a flow: variables, parameters and legs share one namespace.
//!
//! A name is visible from its definition to the end of the enclosing block. Shadowing is
//! not allowed (a second definition of a visible name is an error), which keeps every name
//! in a flow meaning one thing.

use crate::ir::Type;
use crate::span::Span;

/// What a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value of this type.
    Value(Type),
    /// A call leg.
    Leg,
    /// A name whose definition was already reported as wrong (an unknown type, a value
    /// that did not type); uses are accepted silently so one mistake is reported once.
    Broken,
}

/// A visible name.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The name.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// The span of its definition's name (the flow's name for `caller`).
    pub def: Span,
    /// Whether this is the implicit `caller`.
    pub is_caller: bool,
    /// The outcome arm after which the flow goes on without a value, if any.
    pub unset: Option<(String, Span)>,
    /// A forward `goto` (label, span) that jumps over this definition to a label the name
    /// is still visible at.
    pub skipped_by: Option<(String, Span)>,
}

/// A stack of blocks, each with its bindings, plus an index from name to binding so that
/// lookups stay constant-time in flows with thousands of variables.
#[derive(Debug, Default)]
pub struct Scopes {
    frames: Vec<Vec<Binding>>,
    /// For each visible name, (frame, position) of its binding.
    by_name: std::collections::HashMap<String, (usize, usize)>,
}

impl Scopes {
    /// Opens a block.
    pub fn push(&mut self) {
        self.frames.push(Vec::new());
    }

    /// Closes a block.
    pub fn pop(&mut self) {
        if let Some(frame) = self.frames.pop() {
            for b in frame {
                self.by_name.remove(&b.name);
            }
        }
    }

    /// The visible binding of `name`.
    pub fn get(&self, name: &str) -> Option<&Binding> {
        let (f, i) = *self.by_name.get(name)?;
        self.frames.get(f)?.get(i)
    }

    /// The visible binding of `name`, to update it.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Binding> {
        let (f, i) = *self.by_name.get(name)?;
        self.frames.get_mut(f)?.get_mut(i)
    }

    /// Adds a binding to the innermost block. Callers check first that the name is not
    /// visible (no shadowing), so a name maps to one binding.
    pub fn define(&mut self, binding: Binding) {
        if self.frames.is_empty() {
            self.frames.push(Vec::new());
        }
        let f = self.frames.len() - 1;
        if let Some(frame) = self.frames.last_mut() {
            self.by_name.insert(binding.name.clone(), (f, frame.len()));
            frame.push(binding);
        }
    }

    /// Names visible now, for suggestions.
    pub fn names(&self, legs: bool) -> Vec<&str> {
        self.frames
            .iter()
            .flat_map(|f| f.iter())
            .filter(|b| (b.kind == Kind::Leg) == legs)
            .map(|b| b.name.as_str())
            .collect()
    }
}

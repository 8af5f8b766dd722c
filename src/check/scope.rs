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
}

/// A stack of blocks, each with its bindings.
#[derive(Debug, Default)]
pub struct Scopes {
    frames: Vec<Vec<Binding>>,
}

impl Scopes {
    /// Opens a block.
    pub fn push(&mut self) {
        self.frames.push(Vec::new());
    }

    /// Closes a block.
    pub fn pop(&mut self) {
        self.frames.pop();
    }

    /// The visible binding of `name`.
    pub fn get(&self, name: &str) -> Option<&Binding> {
        self.frames.iter().rev().flat_map(|f| f.iter().rev()).find(|b| b.name == name)
    }

    /// Adds a binding to the innermost block.
    pub fn define(&mut self, binding: Binding) {
        if self.frames.is_empty() {
            self.frames.push(Vec::new());
        }
        if let Some(f) = self.frames.last_mut() {
            f.push(binding);
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

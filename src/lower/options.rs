//! The options of statements as the IR needs them, with the documented defaults.

use super::{defaults, u32_of};
use crate::ir;
use crate::syntax::ast::{Body, OptKind};

/// The options of a `collect`, with their defaults.
pub(super) struct CollectOptions {
    pub(super) retries: u32,
    pub(super) min_digits: u32,
    pub(super) max_digits: u32,
    pub(super) end_key: Option<String>,
    pub(super) timeout_ms: u64,
    pub(super) digit_timeout_ms: u64,
    pub(super) barge_in: bool,
}

impl CollectOptions {
    pub(super) fn new(kind: ir::CollectKind) -> Self {
        CollectOptions {
            retries: defaults::RETRIES,
            min_digits: 1,
            max_digits: if kind == ir::CollectKind::Number {
                18
            } else {
                32
            },
            end_key: None,
            timeout_ms: defaults::INPUT_TIMEOUT_MS,
            digit_timeout_ms: defaults::DIGIT_TIMEOUT_MS,
            barge_in: true,
        }
    }

    pub(super) fn read(&mut self, o: &OptKind) {
        match o {
            OptKind::Retries(n) => self.retries = u32_of(n.value),
            OptKind::MinDigits(n) => self.min_digits = u32_of(n.value),
            OptKind::MaxDigits(n) => self.max_digits = u32_of(n.value),
            OptKind::EndKey(t) => self.end_key = t.as_plain(),
            OptKind::Timeout(d) => self.timeout_ms = d.ms,
            OptKind::DigitTimeout(d) => self.digit_timeout_ms = d.ms,
            OptKind::BargeInOff => self.barge_in = false,
            _ => {}
        }
    }
}

pub(super) fn retries(body: &Body) -> u32 {
    body.options
        .iter()
        .find_map(|o| match &o.kind {
            OptKind::Retries(n) => Some(u32_of(n.value)),
            _ => None,
        })
        .unwrap_or(defaults::RETRIES)
}

pub(super) fn timeout(body: &Body, default: u64) -> u64 {
    body.options
        .iter()
        .find_map(|o| match &o.kind {
            OptKind::Timeout(d) => Some(d.ms),
            _ => None,
        })
        .unwrap_or(default)
}

pub(super) fn barge_in(body: &Body) -> bool {
    !body
        .options
        .iter()
        .any(|o| matches!(o.kind, OptKind::BargeInOff))
}

pub(super) fn end_key(body: &Body) -> Option<String> {
    body.options.iter().find_map(|o| match &o.kind {
        OptKind::EndKey(t) => t.as_plain(),
        _ => None,
    })
}

/// The `max_length` option, if given.
pub(super) fn max_length(body: &Body) -> Option<u64> {
    body.options.iter().find_map(|o| match &o.kind {
        OptKind::MaxLength(d) => Some(d.ms),
        _ => None,
    })
}

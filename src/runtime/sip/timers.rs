//! The transaction timers of the calls we answer and of our outbound legs: RFC 3261's
//! intervals, and a heap of (when, Call-ID, the dialog's generation when set, which timer). A
//! dialog bumps its generation when it changes state, so the timers of the old state are
//! skipped when they come due instead of being searched for and removed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// RFC 3261 T1: the round-trip estimate.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261 T2: the longest retransmit interval of non-INVITE requests and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// Timer H, F and J: 64·T1.
pub const TIMEOUT: Duration = Duration::from_secs(32);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Timer<K> {
    at: Reverse<Instant>,
    seq: u64,
    call_id: String,
    generation: u64,
    kind: K,
}

/// A timer that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<K> {
    /// The dialog.
    pub call_id: String,
    /// The dialog's generation when the timer was set.
    pub generation: u64,
    /// Which timer.
    pub kind: K,
}

/// Pending timers, soonest first.
#[derive(Debug)]
pub struct Timers<K> {
    heap: BinaryHeap<Timer<K>>,
    seq: u64,
}

impl<K: Ord> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<K: Ord> Timers<K> {
    /// Sets `kind` for `call_id` at `now + after`, for the dialog's `generation`.
    pub fn set(&mut self, now: Instant, after: Duration, call_id: &str, generation: u64, kind: K) {
        self.seq += 1;
        self.heap.push(Timer {
            at: Reverse(now + after),
            seq: self.seq,
            call_id: call_id.to_string(),
            generation,
            kind,
        });
    }

    /// When the next timer is due.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|t| t.at.0)
    }

    /// The next timer due at `now`, taken off the heap.
    pub fn pop_due(&mut self, now: Instant) -> Option<Due<K>> {
        if self.heap.peek().is_some_and(|t| t.at.0 <= now) {
            self.heap.pop().map(|t| Due {
                call_id: t.call_id,
                generation: t.generation,
                kind: t.kind,
            })
        } else {
            None
        }
    }

    /// Gives room back after a burst.
    pub fn shrink(&mut self) {
        self.heap.shrink_to_fit();
    }
}

/// A fresh token for tags and branches: the process id and a counter, mixed by `salt` so the
/// core's and the outbound legs' tokens differ.
pub fn token(counter: &mut u64, salt: u64) -> String {
    *counter += 1;
    format!("{:x}{:x}", std::process::id(), *counter ^ salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soonest_first_and_only_when_due() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.set(now, Duration::from_secs(2), "b", 0, 1u8);
        t.set(now, Duration::from_secs(1), "a", 3, 2u8);
        assert_eq!(t.next(), Some(now + Duration::from_secs(1)));
        assert_eq!(t.pop_due(now), None);
        let due = t.pop_due(now + Duration::from_secs(5)).unwrap();
        assert_eq!(
            (due.call_id.as_str(), due.generation, due.kind),
            ("a", 3, 2)
        );
        assert_eq!(
            t.pop_due(now + Duration::from_secs(5)).unwrap().call_id,
            "b"
        );
        assert_eq!(t.next(), None);
    }
}

//! Twin24's `cps` field: a call rate written as one number (targets.md §D, seed 002).
//!
//! N calls a second is `1 + N/100` (3/s → 1.03); one call every N seconds is `1 - N/100`
//! (1 per 60 s → 0.4). Only those two shapes exist, each for N from 1 to 99, so a rate must
//! come to a whole number of calls a second or a whole number of seconds per call.

use crate::ir::Rate;

/// The most calls a second, and the longest gap in seconds, the encoding can hold.
const MAX_N: u64 = 99;

/// Why a rate has no `cps` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpsError {
    /// Neither whole calls a second nor whole seconds per call, e.g. `2/5s`.
    NotWhole,
    /// More than 99 calls a second.
    TooFast(u64),
    /// More than 99 seconds between calls.
    TooSlow(u64),
}

impl std::fmt::Display for CpsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CpsError::NotWhole => f.write_str(
                "Twin24 takes N calls a second or one call every N seconds, and this rate is neither",
            ),
            CpsError::TooFast(n) => write!(f, "Twin24 takes at most 99 calls a second, this rate is {n}"),
            CpsError::TooSlow(n) => {
                write!(f, "Twin24 takes at most one call every 99 seconds, this rate is one every {n}")
            }
        }
    }
}

/// The `cps` value of a rate, as the decimal text Twin24 expects (`1.03`, `0.4`).
///
/// # Errors
///
/// [`CpsError`] when the rate has no encoding.
pub fn cps(rate: Rate) -> Result<String, CpsError> {
    let calls = u64::from(rate.calls);
    // calls per second = calls * 1000 / per_ms
    let milli_calls = calls * 1000;
    if rate.per_ms > 0 && milli_calls % rate.per_ms == 0 && milli_calls / rate.per_ms >= 1 {
        let n = milli_calls / rate.per_ms;
        if n > MAX_N {
            return Err(CpsError::TooFast(n));
        }
        return Ok(decimal(100 + n));
    }
    // seconds per call = per_ms / (calls * 1000)
    if milli_calls > 0 && rate.per_ms % milli_calls == 0 {
        let n = rate.per_ms / milli_calls;
        if n > MAX_N {
            return Err(CpsError::TooSlow(n));
        }
        return Ok(decimal(100 - n));
    }
    Err(CpsError::NotWhole)
}

/// Hundredths as the shortest decimal: 103 → `1.03`, 40 → `0.4`, 110 → `1.1`.
fn decimal(hundredths: u64) -> String {
    let whole = hundredths / 100;
    let frac = hundredths % 100;
    if frac == 0 {
        format!("{whole}")
    } else if frac % 10 == 0 {
        format!("{whole}.{}", frac / 10)
    } else {
        format!("{whole}.{frac:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(calls: u32, per_ms: u64) -> Result<String, CpsError> {
        cps(Rate { calls, per_ms })
    }

    #[test]
    fn calls_a_second() {
        assert_eq!(rate(1, 1000), Ok("1.01".into()));
        assert_eq!(rate(3, 1000), Ok("1.03".into()));
        assert_eq!(rate(10, 1000), Ok("1.1".into()));
        assert_eq!(rate(99, 1000), Ok("1.99".into()));
        assert_eq!(rate(120, 60_000), Ok("1.02".into()));
        assert_eq!(rate(1, 500), Ok("1.02".into()));
    }

    #[test]
    fn seconds_per_call() {
        assert_eq!(rate(1, 2000), Ok("0.98".into()));
        assert_eq!(rate(1, 60_000), Ok("0.4".into()));
        assert_eq!(rate(20, 60_000), Ok("0.97".into()));
        assert_eq!(rate(100, 3_600_000), Ok("0.64".into()));
        assert_eq!(rate(1, 99_000), Ok("0.01".into()));
    }

    #[test]
    fn out_of_range_and_unencodable() {
        assert_eq!(rate(100, 1000), Err(CpsError::TooFast(100)));
        assert_eq!(rate(1000, 1000), Err(CpsError::TooFast(1000)));
        assert_eq!(rate(1, 100_000), Err(CpsError::TooSlow(100)));
        assert_eq!(rate(1, 3_600_000), Err(CpsError::TooSlow(3600)));
        assert_eq!(rate(2, 5000), Err(CpsError::NotWhole));
        assert_eq!(rate(3, 2000), Err(CpsError::NotWhole));
        assert_eq!(rate(1, 1500), Err(CpsError::NotWhole));
    }
}

//! The per-source rate limit of requests (`--rate-limit`): two token buckets per source. A
//! request that finds a token in the first passes; over the limit, one that finds a token in
//! the second (a tenth of the rate and of the burst) is refused with 503 and Retry-After; the
//! rest of a flood is dropped without an answer, so it costs a lookup and nothing more.
//!
//! A source is an IPv4 address, or an IPv6 /64 (one subscriber's prefix: its addresses are
//! one source). Sources idle long enough to be full again are forgotten every few seconds, so
//! a flood from spoofed addresses holds memory only for a moment.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often full buckets are forgotten.
const SWEEP: Duration = Duration::from_secs(10);

/// A rate limit: `per_second` requests a second, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests a second.
    pub per_second: f64,
    /// Requests at once above the rate (the bucket's size).
    pub burst: f64,
}

impl Rate {
    /// The default: 2,000 requests a second, with a second's worth at once. The benchmarks
    /// send up to 1,000 new calls a second from one address (`bench/load.sh setup 1000`), whose
    /// ACKs, BYEs and retransmissions are in-dialog and not counted: twice that leaves room.
    pub const DEFAULT: Rate = Rate {
        per_second: 2000.0,
        burst: 2000.0,
    };

    /// The budget of 503s: a tenth of the rate and of the burst, at least one.
    fn refusals(self) -> Rate {
        Rate {
            per_second: (self.per_second / 10.0).max(1.0),
            burst: (self.burst / 10.0).max(1.0),
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// Reads `N/s` (or `N`), with the burst after a comma: `200/s,400`; the burst defaults to
    /// a second's worth.
    fn from_str(text: &str) -> Result<Rate, String> {
        let (rate, burst) = text.split_once(',').unwrap_or((text, ""));
        let rate = rate.trim();
        let number = rate.strip_suffix("/s").unwrap_or(rate).trim();
        let per_second: f64 = number
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 1.0)
            .ok_or_else(|| format!("`{text}` is not a rate like 200/s (at least 1/s) or `off`"))?;
        let burst = if burst.trim().is_empty() {
            per_second
        } else {
            burst
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite() && *n >= 1.0)
                .ok_or_else(|| format!("`{text}`: the burst must be a number of at least 1"))?
        };
        Ok(Rate { per_second, burst })
    }
}

/// What a request from a source gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Pass,
    /// Over it: 503 with Retry-After of this many seconds.
    Refuse(u32),
    /// Far over it: no answer.
    Drop,
}

/// A bucket's level and when it was last filled.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            level: rate.burst,
            at: now,
        }
    }

    /// Fills it for the time since it was last filled; whether it is full.
    fn fill(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
        self.level >= rate.burst
    }

    /// Takes a token if there is one.
    fn take(&mut self) -> bool {
        let has = self.level >= 1.0;
        if has {
            self.level -= 1.0;
        }
        has
    }
}

/// The buckets of every source seen lately.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    sources: HashMap<IpAddr, (Bucket, Bucket)>,
    next_sweep: Option<Instant>,
}

impl Limiter {
    /// A limiter at `rate`.
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            rate,
            sources: HashMap::new(),
            next_sweep: None,
        }
    }

    /// Counts a request from `ip` at `now`.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        self.sweep(now);
        let (pass, refuse) = (self.rate, self.rate.refusals());
        let (first, second) = self
            .sources
            .entry(source(ip))
            .or_insert_with(|| (Bucket::full(pass, now), Bucket::full(refuse, now)));
        first.fill(pass, now);
        second.fill(refuse, now);
        if first.take() {
            Verdict::Pass
        } else if second.take() {
            let wait = (1.0 - first.level) / pass.per_second;
            Verdict::Refuse(wait.ceil().clamp(1.0, 3600.0) as u32)
        } else {
            Verdict::Drop
        }
    }

    /// Sources being tracked.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Forgets the sources whose buckets are full again.
    fn sweep(&mut self, now: Instant) {
        if self.next_sweep.is_some_and(|at| now < at) {
            return;
        }
        self.next_sweep = Some(now + SWEEP);
        let (pass, refuse) = (self.rate, self.rate.refusals());
        self.sources
            .retain(|_, (a, b)| !(a.fill(pass, now) & b.fill(refuse, now)));
    }
}

/// The source an address counts as: itself, or its /64 for IPv6.
fn source(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn rates_are_read_with_their_bursts() {
        let r: Rate = "200/s".parse().expect("rate");
        assert_eq!((r.per_second, r.burst), (200.0, 200.0));
        let r: Rate = "50/s,500".parse().expect("rate");
        assert_eq!((r.per_second, r.burst), (50.0, 500.0));
        let r: Rate = "10".parse().expect("rate");
        assert_eq!(r.per_second, 10.0);
        for bad in ["", "fast", "0/s", "-3/s", "10/s,0", "NaN/s", "10/m"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_flood_passes_at_the_rate_gets_a_few_503s_and_is_dropped_beyond() {
        let mut limiter = Limiter::new(Rate {
            per_second: 100.0,
            burst: 100.0,
        });
        let start = Instant::now();
        let flood = ip("192.0.2.7");
        let mut seen = [0u32; 3];
        // 5,000 requests a second for two seconds.
        for i in 0..10_000u32 {
            let now = start + Duration::from_micros(u64::from(i) * 200);
            match limiter.check(flood, now) {
                Verdict::Pass => seen[0] += 1,
                Verdict::Refuse(after) => {
                    assert_eq!(after, 1);
                    seen[1] += 1;
                }
                Verdict::Drop => seen[2] += 1,
            }
        }
        // The burst plus two seconds at 100/s; ten 503s plus two seconds at 10/s.
        assert!((295..=302).contains(&seen[0]), "{seen:?}");
        assert!((28..=32).contains(&seen[1]), "{seen:?}");
        assert_eq!(seen.iter().sum::<u32>(), 10_000);
        // Another source is not touched by the first one's flood.
        let now = start + Duration::from_secs(2);
        assert_eq!(limiter.check(ip("192.0.2.8"), now), Verdict::Pass);
    }

    #[test]
    fn a_source_within_the_rate_always_passes_and_is_forgotten_when_idle() {
        let mut limiter = Limiter::new(Rate {
            per_second: 10.0,
            burst: 2.0,
        });
        let start = Instant::now();
        for i in 0..100u64 {
            let now = start + Duration::from_millis(i * 110);
            assert_eq!(limiter.check(ip("198.51.100.1"), now), Verdict::Pass, "{i}");
        }
        assert_eq!(limiter.sources(), 1);
        limiter.check(ip("198.51.100.2"), start + Duration::from_secs(60));
        assert_eq!(limiter.sources(), 1, "the idle source was forgotten");
    }

    #[test]
    fn the_default_takes_the_benchmarks_busiest_load_from_one_address() {
        // `bench/load.sh setup 1000`: 1,000 INVITEs a second for 20 s from 127.0.0.1, here
        // with a 300 ms stall each second that sipp then catches up on at once.
        let mut limiter = Limiter::new(Rate::DEFAULT);
        let start = Instant::now();
        let sipp = ip("127.0.0.1");
        for second in 0..20u64 {
            for i in 0..1000u64 {
                let late = if i < 300 { 300_000 } else { i * 1000 };
                let now = start + Duration::from_secs(second) + Duration::from_micros(late);
                assert_eq!(limiter.check(sipp, now), Verdict::Pass, "{second} s, {i}");
            }
        }
    }

    #[test]
    fn ipv6_sources_are_their_64s() {
        let mut limiter = Limiter::new(Rate {
            per_second: 1.0,
            burst: 1.0,
        });
        let now = Instant::now();
        assert_eq!(limiter.check(ip("2001:db8:1:2::1"), now), Verdict::Pass);
        assert_eq!(
            limiter.check(ip("2001:db8:1:2:ffff::9"), now),
            Verdict::Refuse(1)
        );
        assert_eq!(limiter.check(ip("2001:db8:1:3::1"), now), Verdict::Pass);
    }
}

//! The dialer's rules, without I/O or a clock of their own: what follows an attempt (done,
//! failed, or another attempt when) and how its lead's row changes, the calling window in the
//! recipients' local time, and when an instance renews its leases and fences itself.

use crate::ir::{Campaign, RedialOutcome, Window};
use crate::store::campaign::{LeadRow, LeadState};
use std::collections::BTreeMap;
use std::time::Duration;

/// How an attempt ended, as the dialer counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The flow reported `ok`.
    Ok,
    /// The flow reported `retry`, with its reason.
    Retry(String),
    /// The lead's phone was not reached (busy, no answer, failed).
    Unreached(RedialOutcome),
    /// The call ended without a report (a flow defect; counted as a retry).
    NoReport,
    /// The runtime stopped during the attempt (found on restart).
    Interrupted,
    /// The lead's number is on the block list (a flow's `block`): not called, never again.
    Blocked,
}

impl Attempt {
    /// The outcome's name in the store and the results.
    pub fn name(&self) -> &'static str {
        match self {
            Attempt::Ok => "ok",
            Attempt::Retry(_) => "retry",
            Attempt::Unreached(RedialOutcome::Busy) => "busy",
            Attempt::Unreached(RedialOutcome::NoAnswer) => "no_answer",
            Attempt::Unreached(RedialOutcome::Machine) => "machine",
            Attempt::Unreached(RedialOutcome::Failed) => "failed",
            Attempt::Unreached(RedialOutcome::Unproductive) => "unproductive",
            Attempt::NoReport => "no_report",
            Attempt::Interrupted => "interrupted",
            Attempt::Blocked => "blocked",
        }
    }

    /// The redial rule an outcome falls under.
    fn rule_outcome(&self) -> Option<RedialOutcome> {
        match self {
            Attempt::Unreached(o) => Some(*o),
            Attempt::Retry(_) | Attempt::NoReport => Some(RedialOutcome::Unproductive),
            Attempt::Ok | Attempt::Interrupted | Attempt::Blocked => None,
        }
    }
}

/// What a lead does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Finished: reported ok.
    Done,
    /// Finished without success, and why.
    Failed(String),
    /// Another attempt, not before this time (ms since the epoch).
    RetryAt(u64),
}

/// A campaign's rules at a time scale: what [`after`] needs besides the attempt.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The campaign.
    pub campaign: &'a Campaign,
    /// Its intervals run this many times faster.
    pub time_scale: f64,
}

/// Decides what follows an attempt. `attempts` counts the attempts made so far (this one
/// included), `redials` the redials already made per outcome; the outcome's redial count is
/// bumped when it schedules one. Intervals are divided by `time_scale`.
pub fn after(
    campaign: &Campaign,
    attempt: &Attempt,
    attempts: u32,
    redials: &mut BTreeMap<String, u32>,
    now_ms: u64,
    time_scale: f64,
) -> Next {
    match attempt {
        Attempt::Ok => return Next::Done,
        Attempt::Blocked => return Next::Failed("the number is on the block list".into()),
        _ => {}
    }
    let reason = match attempt {
        Attempt::Retry(r) if !r.is_empty() => r.clone(),
        other => other.name().to_string(),
    };
    if attempts >= campaign.attempts {
        return Next::Failed(format!("{reason} (all {attempts} attempts used)"));
    }
    let scaled = |ms: u64| (ms as f64 / time_scale.max(1.0)) as u64;
    let rule = attempt
        .rule_outcome()
        .and_then(|o| campaign.redial.iter().find(|r| r.outcome == o));
    match rule {
        Some(r) => {
            let key = Attempt::Unreached(r.outcome).name();
            let Some(every) = r.every_ms else {
                return Next::Failed(format!("{reason} (no redial after {key})"));
            };
            let used = redials.entry(key.to_string()).or_insert(0);
            if *used >= r.max {
                return Next::Failed(format!("{reason} ({} redials after {key} used)", r.max));
            }
            *used += 1;
            Next::RetryAt(now_ms + scaled(every))
        }
        None => Next::RetryAt(now_ms + scaled(campaign.retry_after_ms)),
    }
}

/// Settles an attempt of `lead`: [`after`] decides what follows, and the lead takes it — its
/// state, next time, redials, outcome and reason, and the report's data when there is one.
pub fn settle(
    rules: Rules<'_>,
    lead: &mut LeadRow,
    attempt: &Attempt,
    result: Option<serde_json::Value>,
    now_ms: u64,
) {
    let next = after(
        rules.campaign,
        attempt,
        lead.attempts,
        &mut lead.redials,
        now_ms,
        rules.time_scale,
    );
    lead.outcome = attempt.name().to_string();
    (lead.state, lead.next_at_ms, lead.reason) = match next {
        Next::Done => (LeadState::Done, now_ms, String::new()),
        Next::Failed(why) => (LeadState::Failed, now_ms, why),
        Next::RetryAt(at) => (
            LeadState::Pending,
            at,
            match attempt {
                Attempt::Retry(r) => r.clone(),
                other => other.name().to_string(),
            },
        ),
    };
    if result.is_some() {
        lead.result = result;
    }
}

/// How often an instance renews its leases: three times a lease, so two renewals may fail
/// before it fences itself.
pub fn renew_every(lease: Duration) -> Duration {
    lease / 3
}

/// Whether an instance must fence itself — claim nothing and hang up its campaign calls —
/// because its leases were last renewed `since_renewal` ago: from two thirds of a lease on,
/// so its calls are down before any of its leases can expire and another instance rescue
/// (and ring) their leads.
pub fn fenced(since_renewal: Duration, lease: Duration) -> bool {
    since_renewal >= lease * 2 / 3
}

const DAY_MS: u64 = 86_400_000;

/// The minute of the recipients' day at `now_ms` (UTC ms), `offset_minutes` east of UTC.
fn local_minute(now_ms: u64, offset_minutes: i32) -> u64 {
    let local = now_ms as i64 + i64::from(offset_minutes) * 60_000;
    (local.rem_euclid(DAY_MS as i64) / 60_000) as u64
}

/// Whether calls may start at `now_ms`; a window may run past midnight (`22:00-02:00`).
pub fn in_window(window: Option<Window>, offset_minutes: i32, now_ms: u64) -> bool {
    let Some(w) = window else {
        return true;
    };
    let m = local_minute(now_ms, offset_minutes);
    let (from, to) = (u64::from(w.from_minute), u64::from(w.to_minute));
    if from <= to {
        (from..to).contains(&m)
    } else {
        m >= from || m < to
    }
}

/// When the window opens next (now when it is open).
pub fn window_opens(window: Option<Window>, offset_minutes: i32, now_ms: u64) -> u64 {
    if in_window(window, offset_minutes, now_ms) {
        return now_ms;
    }
    let Some(w) = window else {
        return now_ms;
    };
    let m = local_minute(now_ms, offset_minutes);
    let into_minute = now_ms % 60_000;
    let wait_minutes = (u64::from(w.from_minute) + 1440 - m) % 1440;
    now_ms + wait_minutes * 60_000 - into_minute
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Redial;

    fn campaign() -> Campaign {
        let compiled = crate::compile(
            "t.ivr",
            "campaign c for f {\n  leads \"x.csv\"\n  dial phone\n  attempts 4\n  retry_after 1h\n  redial busy every 10m max 2\n  redial machine off\n}\nflow f(phone: phone) {\n  say \"hi\"\n  report ok\n}\n",
        );
        let program = compiled.program.expect("compiles");
        let mut c = program.campaigns[0].clone();
        c.redial.push(Redial {
            outcome: RedialOutcome::Unproductive,
            every_ms: Some(120_000),
            max: 1,
        });
        c
    }

    #[test]
    fn outcomes_follow_the_rules() {
        let c = campaign();
        let mut redials = BTreeMap::new();
        assert_eq!(after(&c, &Attempt::Ok, 1, &mut redials, 0, 1.0), Next::Done);
        // busy: every 10 m, twice; then failed.
        let busy = Attempt::Unreached(RedialOutcome::Busy);
        assert_eq!(
            after(&c, &busy, 1, &mut redials, 0, 1.0),
            Next::RetryAt(600_000)
        );
        assert_eq!(
            after(&c, &busy, 2, &mut redials, 0, 60.0),
            Next::RetryAt(10_000)
        );
        assert!(
            matches!(after(&c, &busy, 3, &mut redials, 0, 1.0), Next::Failed(r) if r.contains("2 redials"))
        );
        // no rule for no_answer: retry_after.
        let mut fresh = BTreeMap::new();
        let silent = Attempt::Unreached(RedialOutcome::NoAnswer);
        assert_eq!(
            after(&c, &silent, 1, &mut fresh, 5, 1.0),
            Next::RetryAt(3_600_005)
        );
        // machine off.
        let machine = Attempt::Unreached(RedialOutcome::Machine);
        assert!(matches!(
            after(&c, &machine, 1, &mut fresh, 0, 1.0),
            Next::Failed(_)
        ));
        // retry and a missing report fall under `unproductive`.
        let retry = Attempt::Retry("клиент отказался".into());
        assert_eq!(
            after(&c, &retry, 1, &mut fresh, 0, 1.0),
            Next::RetryAt(120_000)
        );
        assert!(matches!(
            after(&c, &Attempt::NoReport, 2, &mut fresh, 0, 1.0),
            Next::Failed(_)
        ));
        // the attempts limit wins over everything.
        let mut again = BTreeMap::new();
        assert!(matches!(
            after(&c, &Attempt::Interrupted, 4, &mut again, 0, 1.0),
            Next::Failed(r) if r.contains("all 4 attempts")
        ));
        assert_eq!(
            after(&c, &Attempt::Interrupted, 3, &mut again, 0, 1.0),
            Next::RetryAt(3_600_000)
        );
        // a blocked number is never tried again, with attempts left.
        assert_eq!(
            after(&c, &Attempt::Blocked, 1, &mut again, 0, 1.0),
            Next::Failed("the number is on the block list".into())
        );
    }

    #[test]
    fn an_instance_fences_itself_before_its_leases_expire() {
        let lease = Duration::from_secs(15);
        assert_eq!(renew_every(lease), Duration::from_secs(5));
        assert!(!fenced(Duration::from_millis(9_999), lease));
        assert!(fenced(Duration::from_secs(10), lease));
        // Two renewals may fail; the third failing one fences.
        assert!(!fenced(
            renew_every(lease) * 2 - Duration::from_millis(1),
            lease
        ));
        assert!(fenced(renew_every(lease) * 2, lease));
    }

    #[test]
    fn windows_in_local_time_and_across_midnight() {
        let nine_to_nine = Some(Window {
            from_minute: 9 * 60,
            to_minute: 21 * 60,
        });
        let at = |h: u64, m: u64| (h * 60 + m) * 60_000;
        assert!(in_window(nine_to_nine, 0, at(9, 0)));
        assert!(!in_window(nine_to_nine, 0, at(21, 0)));
        // 07:00 UTC is 10:00 in Moscow (+180).
        assert!(in_window(nine_to_nine, 180, at(7, 0)));
        assert!(!in_window(nine_to_nine, 180, at(19, 0)));
        assert_eq!(window_opens(nine_to_nine, 0, at(8, 30)), at(9, 0));
        assert_eq!(window_opens(nine_to_nine, 0, at(22, 0)), at(24 + 9, 0));
        let night = Some(Window {
            from_minute: 22 * 60,
            to_minute: 2 * 60,
        });
        assert!(in_window(night, 0, at(23, 0)) && in_window(night, 0, at(1, 0)));
        assert!(!in_window(night, 0, at(12, 0)));
        assert!(in_window(None, 0, 0));
    }
}

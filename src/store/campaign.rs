//! A campaign's progress in the embedded store (the same SQLite file as the call records):
//! each lead's state, attempts and next time, and every attempt with its outcome. An attempt
//! is written before its call starts and after it ends, each in one transaction, so a killed
//! process loses nothing: on restart, attempts still marked as calling are closed as
//! interrupted and count against the lead's limit.

use super::plan::{self, Attempt, Next, Rules};
use crate::leads::Lead;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::Path;

/// Where a lead is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadState {
    /// Waiting for its next attempt.
    Pending,
    /// A call is on.
    Calling,
    /// Reported ok.
    Done,
    /// Out of attempts or redials.
    Failed,
}

impl LeadState {
    /// Its name in the store and the results.
    pub fn name(self) -> &'static str {
        match self {
            LeadState::Pending => "pending",
            LeadState::Calling => "calling",
            LeadState::Done => "done",
            LeadState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<LeadState> {
        Some(match text {
            "pending" => LeadState::Pending,
            "calling" => LeadState::Calling,
            "done" => LeadState::Done,
            "failed" => LeadState::Failed,
            _ => return None,
        })
    }

    /// Whether the lead is finished.
    pub fn is_final(self) -> bool {
        matches!(self, LeadState::Done | LeadState::Failed)
    }
}

/// A lead and its progress.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LeadRow {
    /// The leads file line (its identity within the campaign).
    pub line: usize,
    /// The flow's parameters.
    pub params: BTreeMap<String, String>,
    /// Where it is.
    pub state: LeadState,
    /// Attempts made.
    pub attempts: u32,
    /// Not called before this time (ms since the epoch).
    pub next_at_ms: u64,
    /// Redials made per outcome.
    pub redials: BTreeMap<String, u32>,
    /// The last attempt's outcome.
    pub outcome: String,
    /// Why it failed, or the last retry's reason.
    pub reason: String,
    /// The last report's data.
    pub result: Option<serde_json::Value>,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AttemptRow {
    /// The lead's line.
    pub line: usize,
    /// 1, 2, …
    pub attempt: u32,
    /// The call's id.
    pub call_id: String,
    /// When it started.
    pub started_ms: u64,
    /// When it ended (`None` while calling).
    pub ended_ms: Option<u64>,
    /// How it ended.
    pub outcome: Option<String>,
}

/// Why the campaign state cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite refused.
    #[error("the campaign store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row this version did not write.
    #[error("the campaign store holds a lead in an unknown state `{0}`")]
    Corrupt(String),
}

/// A campaign's state, open.
pub struct CampaignState {
    db: Connection,
    campaign: String,
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl CampaignState {
    /// Opens the state of `campaign` in the store at `path` (tables created when needed).
    ///
    /// # Errors
    ///
    /// SQLite cannot open or create it.
    pub fn open(path: &Path, campaign: &str) -> Result<CampaignState, StateError> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a finished attempt is on disk before the next call starts.
        db.pragma_update(None, "synchronous", "FULL")?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS campaign_leads (
                campaign TEXT NOT NULL,
                line INTEGER NOT NULL,
                params TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                next_at_ms INTEGER NOT NULL,
                redials TEXT NOT NULL,
                outcome TEXT NOT NULL,
                reason TEXT NOT NULL,
                result TEXT,
                PRIMARY KEY (campaign, line)
            );
            CREATE TABLE IF NOT EXISTS campaign_attempts (
                campaign TEXT NOT NULL,
                line INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                call_id TEXT NOT NULL,
                started_ms INTEGER NOT NULL,
                ended_ms INTEGER,
                outcome TEXT,
                PRIMARY KEY (campaign, line, attempt)
            );",
        )?;
        Ok(CampaignState {
            db,
            campaign: campaign.to_string(),
        })
    }

    /// Adds the leads not seen before (by line); the count added.
    ///
    /// # Errors
    ///
    /// SQLite refused.
    pub fn add_leads(&mut self, leads: &[Lead], now_ms: u64) -> Result<usize, StateError> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut added = 0;
        {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO campaign_leads
                 (campaign, line, params, state, attempts, next_at_ms, redials, outcome, reason)
                 VALUES (?1, ?2, ?3, 'pending', 0, ?4, '{}', '', '')",
            )?;
            for lead in leads {
                let params = serde_json::to_string(&lead.values).unwrap_or_default();
                added += insert.execute(params![
                    self.campaign,
                    lead.line as i64,
                    params,
                    as_i64(now_ms)
                ])?;
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Closes the attempts a killed process left calling, as interrupted; the lines.
    ///
    /// # Errors
    ///
    /// SQLite refused.
    pub fn recover(&mut self, rules: Rules<'_>, now_ms: u64) -> Result<Vec<usize>, StateError> {
        let calling: Vec<LeadRow> = self
            .leads()?
            .into_iter()
            .filter(|l| l.state == LeadState::Calling)
            .collect();
        let mut lines = Vec::new();
        for mut lead in calling {
            let number = lead.attempts;
            self.end_attempt(
                rules,
                &mut lead,
                number,
                &Attempt::Interrupted,
                None,
                now_ms,
            )?;
            lines.push(lead.line);
        }
        Ok(lines)
    }

    /// Every lead of the campaign, by line.
    ///
    /// # Errors
    ///
    /// SQLite refused, or a row is not ours.
    pub fn leads(&self) -> Result<Vec<LeadRow>, StateError> {
        let mut q = self.db.prepare(
            "SELECT line, params, state, attempts, next_at_ms, redials, outcome, reason, result
             FROM campaign_leads WHERE campaign = ?1 ORDER BY line",
        )?;
        let rows = q.query_map(params![self.campaign], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (line, params, state, attempts, next, redials, outcome, reason, result) = row?;
            out.push(LeadRow {
                line: usize::try_from(line).unwrap_or(0),
                params: serde_json::from_str(&params)
                    .map_err(|_| StateError::Corrupt(params.clone()))?,
                state: LeadState::parse(&state).ok_or(StateError::Corrupt(state))?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                next_at_ms: u64::try_from(next).unwrap_or(0),
                redials: serde_json::from_str(&redials).unwrap_or_default(),
                outcome,
                reason,
                result: result.and_then(|r| serde_json::from_str(&r).ok()),
            });
        }
        Ok(out)
    }

    /// Marks the lead as calling and records the attempt, before the call starts; the
    /// attempt's number.
    ///
    /// # Errors
    ///
    /// SQLite refused (the call must not start then).
    pub fn begin(&mut self, line: usize, call_id: &str, now_ms: u64) -> Result<u32, StateError> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let attempts: i64 = tx
            .query_row(
                "SELECT attempts FROM campaign_leads WHERE campaign = ?1 AND line = ?2",
                params![self.campaign, line as i64],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let attempt = attempts + 1;
        tx.execute(
            "UPDATE campaign_leads SET state = 'calling', attempts = ?3
             WHERE campaign = ?1 AND line = ?2",
            params![self.campaign, line as i64, attempt],
        )?;
        tx.execute(
            "INSERT INTO campaign_attempts (campaign, line, attempt, call_id, started_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![self.campaign, line as i64, attempt, call_id, as_i64(now_ms)],
        )?;
        tx.commit()?;
        Ok(u32::try_from(attempt).unwrap_or(u32::MAX))
    }

    /// Ends an attempt: the campaign's rules ([`plan::after`]) decide what the lead does
    /// next, `lead` is updated to it (state, next time, redials, outcome, reason, result) and
    /// both the attempt and the lead are written in one transaction.
    ///
    /// # Errors
    ///
    /// SQLite refused.
    pub fn end_attempt(
        &mut self,
        rules: Rules<'_>,
        lead: &mut LeadRow,
        attempt_number: u32,
        attempt: &Attempt,
        result: Option<serde_json::Value>,
        now_ms: u64,
    ) -> Result<(), StateError> {
        let next = plan::after(
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
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE campaign_attempts SET ended_ms = ?4, outcome = ?5
             WHERE campaign = ?1 AND line = ?2 AND attempt = ?3",
            params![
                self.campaign,
                lead.line as i64,
                attempt_number,
                as_i64(now_ms),
                lead.outcome
            ],
        )?;
        tx.execute(
            "UPDATE campaign_leads SET state = ?3, next_at_ms = ?4, redials = ?5, outcome = ?6,
             reason = ?7, result = ?8
             WHERE campaign = ?1 AND line = ?2",
            params![
                self.campaign,
                lead.line as i64,
                lead.state.name(),
                as_i64(lead.next_at_ms),
                serde_json::to_string(&lead.redials).unwrap_or_default(),
                lead.outcome,
                lead.reason,
                lead.result.as_ref().map(serde_json::Value::to_string)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every attempt of the campaign, by line and number.
    ///
    /// # Errors
    ///
    /// SQLite refused.
    pub fn attempts(&self) -> Result<Vec<AttemptRow>, StateError> {
        let mut q = self.db.prepare(
            "SELECT line, attempt, call_id, started_ms, ended_ms, outcome
             FROM campaign_attempts WHERE campaign = ?1 ORDER BY line, attempt",
        )?;
        let rows = q.query_map(params![self.campaign], |r| {
            Ok(AttemptRow {
                line: usize::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                attempt: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                call_id: r.get(2)?,
                started_ms: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                ended_ms: r
                    .get::<_, Option<i64>>(4)?
                    .map(|v| u64::try_from(v).unwrap_or(0)),
                outcome: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(line: usize, phone: &str) -> Lead {
        Lead {
            line,
            values: [("phone".to_string(), phone.to_string())].into(),
        }
    }

    fn campaign() -> crate::ir::Campaign {
        crate::compile(
            "t.ivr",
            "campaign c for f {\n  leads \"x.csv\"\n  attempts 2\n  retry_after 1m\n}\nflow f(phone: phone) {\n  report ok\n}\n",
        )
        .program
        .expect("compiles")
        .campaigns[0]
            .clone()
    }

    #[test]
    fn attempts_survive_a_reopen_and_interrupted_ones_count() {
        let dir = std::env::temp_dir().join(format!("ivrc-dialer-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        let c = campaign();
        let rules = Rules {
            campaign: &c,
            time_scale: 1.0,
        };
        {
            let mut s = CampaignState::open(&path, "c").unwrap();
            assert_eq!(
                s.add_leads(&[lead(2, "+79000000001"), lead(3, "+79000000002")], 0)
                    .unwrap(),
                2
            );
            assert_eq!(s.begin(2, "call-a", 10).unwrap(), 1);
            assert_eq!(s.begin(3, "call-b", 10).unwrap(), 1);
            let mut l3 = s.leads().unwrap().remove(1);
            s.end_attempt(
                rules,
                &mut l3,
                1,
                &Attempt::Ok,
                Some(serde_json::json!({"x": 1})),
                20,
            )
            .unwrap();
            // killed here: lead 2 is still calling.
        }
        let mut s = CampaignState::open(&path, "c").unwrap();
        assert_eq!(
            s.add_leads(&[lead(2, "+79000000001")], 30).unwrap(),
            0,
            "known leads stay"
        );
        assert_eq!(s.recover(rules, 40).unwrap(), vec![2]);
        let leads = s.leads().unwrap();
        assert_eq!(
            (leads[0].state, leads[0].attempts, leads[0].next_at_ms),
            (LeadState::Pending, 1, 60_040)
        );
        assert_eq!(leads[0].outcome, "interrupted");
        assert_eq!(
            (leads[1].state, leads[1].result.clone()),
            (LeadState::Done, Some(serde_json::json!({"x": 1})))
        );
        // The second attempt uses the last one allowed.
        assert_eq!(s.begin(2, "call-c", 70_000).unwrap(), 2);
        assert_eq!(s.recover(rules, 80_000).unwrap(), vec![2]);
        let l2 = &s.leads().unwrap()[0];
        assert_eq!(l2.state, LeadState::Failed);
        let attempts = s.attempts().unwrap();
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a.ended_ms.is_some()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

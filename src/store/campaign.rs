//! A campaign's progress, for the dialer of `ivrc run --campaign`: each lead's state,
//! attempts and next time, and every attempt with its outcome. An attempt is written before
//! its call starts and after it ends, each in one transaction synced to disk, so a killed
//! process loses nothing: on restart the dialer finds the attempts still marked as calling.
//! What follows an attempt is the dialer's to decide; this part writes what it decided.

use super::{as_i64, connect, Durability, StoreError};
use crate::ir::Lead;
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

/// A campaign's state, open.
pub struct CampaignState {
    db: Connection,
    campaign: String,
}

impl CampaignState {
    /// Opens the state of `campaign` in the store at `path` (tables created when needed).
    ///
    /// # Errors
    ///
    /// SQLite cannot open or create it, or its tables are of a later ivrc.
    pub fn open(path: &Path, campaign: &str) -> Result<CampaignState, StoreError> {
        // Synced at every commit: a finished attempt is on disk before the next call starts.
        let db = connect(path, Durability::Machine)?;
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
    pub fn add_leads(&mut self, leads: &[Lead], now_ms: u64) -> Result<usize, StoreError> {
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

    /// Every lead of the campaign, by line.
    ///
    /// # Errors
    ///
    /// SQLite refused, or a row is not ours.
    pub fn leads(&self) -> Result<Vec<LeadRow>, StoreError> {
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
                    .map_err(|_| StoreError::Unreadable(format!("lead parameters `{params}`")))?,
                state: LeadState::parse(&state).ok_or_else(|| {
                    StoreError::Unreadable(format!("a lead in an unknown state `{state}`"))
                })?,
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
    pub fn begin(&mut self, line: usize, call_id: &str, now_ms: u64) -> Result<u32, StoreError> {
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

    /// Ends attempt `attempt_number` of `lead` with the lead's outcome, and writes the lead as
    /// the dialer left it (state, next time, redials, outcome, reason, result), in one
    /// transaction.
    ///
    /// # Errors
    ///
    /// SQLite refused.
    pub fn end_attempt(
        &mut self,
        lead: &LeadRow,
        attempt_number: u32,
        now_ms: u64,
    ) -> Result<(), StoreError> {
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
    pub fn attempts(&self) -> Result<Vec<AttemptRow>, StoreError> {
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

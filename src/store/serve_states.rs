//! The latest sealed state of each `ivrc serve` call, for the requests that do not carry one:
//! a dialled party's step reaching the call's `<Dial>` action, and the status callback that
//! runs `on hangup`.

use super::{as_i64, lock, Db, Store, StoreError};
use rusqlite::params;

/// The latest state of a call `ivrc serve` keeps, for the requests that do not carry it: a
/// dialled party's step reaching the call's `<Dial>` action, and the status callback that
/// runs `on hangup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// Twilio's id of the call (of the call that dialled, for a dialled party's step).
    pub call_sid: String,
    /// The flow.
    pub flow: String,
    /// The turn it was sealed after.
    pub turn: u32,
    /// The sealed state.
    pub state: String,
}

impl Store {
    /// Keeps `state`, a call's sealed state after turn `turn`, unless a later turn's is kept
    /// (so several `ivrc serve` sharing a PostgreSQL store keep the latest whatever the order
    /// their requests commit in).
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn keep_call_state(&self, saved: &SavedState, at_ms: u64) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(db) => {
                lock(db)
                    .prepare_cached(
                        "INSERT INTO call_states (call_sid, flow, turn, state, at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (call_sid) DO UPDATE SET flow = excluded.flow,
                           turn = excluded.turn, state = excluded.state, at_ms = excluded.at_ms
                         WHERE excluded.turn > call_states.turn",
                    )?
                    .execute(params![
                        saved.call_sid,
                        saved.flow,
                        saved.turn,
                        saved.state,
                        as_i64(at_ms)
                    ])?;
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                c.execute(
                    "INSERT INTO call_states (call_sid, flow, turn, state, at_ms)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (call_sid) DO UPDATE SET flow = excluded.flow,
                       turn = excluded.turn, state = excluded.state, at_ms = excluded.at_ms
                     WHERE excluded.turn > call_states.turn",
                    &[
                        &saved.call_sid,
                        &saved.flow,
                        &i64::from(saved.turn),
                        &saved.state,
                        &as_i64(at_ms),
                    ],
                )?;
                Ok(())
            })?,
        }
        Ok(())
    }

    /// The latest kept state of a call.
    ///
    /// # Errors
    ///
    /// The database refused, or the kept turn is out of range.
    pub fn call_state(&self, call_sid: &str) -> Result<Option<SavedState>, StoreError> {
        let found: Option<(String, i64, String)> = match &self.db {
            Db::Sqlite(db) => {
                let db = lock(db);
                let mut query = db.prepare_cached(
                    "SELECT flow, turn, state FROM call_states WHERE call_sid = ?1",
                )?;
                let mut rows = query.query([call_sid])?;
                match rows.next()? {
                    None => None,
                    Some(r) => Some((r.get(0)?, r.get(1)?, r.get(2)?)),
                }
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                Ok(
                    match c.query_opt(
                        "SELECT flow, turn, state FROM call_states WHERE call_sid = $1",
                        &[&call_sid],
                    )? {
                        None => None,
                        Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
                    },
                )
            })?,
        };
        let Some((flow, turn, state)) = found else {
            return Ok(None);
        };
        let turn = u32::try_from(turn)
            .map_err(|_| StoreError::Unreadable(format!("a call state of turn {turn}")))?;
        Ok(Some(SavedState {
            call_sid: call_sid.to_string(),
            flow,
            turn,
            state,
        }))
    }

    /// Forgets the kept state of a call that has ended, and any kept before `before_ms`.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn forget_call_state(&self, call_sid: &str, before_ms: u64) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(db) => {
                lock(db)
                    .prepare_cached("DELETE FROM call_states WHERE call_sid = ?1 OR at_ms < ?2")?
                    .execute(params![call_sid, as_i64(before_ms)])?;
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                c.execute(
                    "DELETE FROM call_states WHERE call_sid = $1 OR at_ms < $2",
                    &[&call_sid, &as_i64(before_ms)],
                )?;
                Ok(())
            })?,
        }
        Ok(())
    }
}

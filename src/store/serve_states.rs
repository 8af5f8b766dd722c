//! The latest sealed state of each `ivrc serve` call, for the requests that do not carry one:
//! a dialled party's step reaching the call's `<Dial>` action, and the status callback that
//! runs `on hangup`.

use super::{as_i64, Store, StoreError};
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
    /// Keeps `state`, a call's sealed state after turn `turn`, unless a later turn's is kept.
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn keep_call_state(&self, saved: &SavedState, at_ms: u64) -> Result<(), StoreError> {
        self.sqlite("ivrc serve's call states")?
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
        Ok(())
    }

    /// The latest kept state of a call.
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn call_state(&self, call_sid: &str) -> Result<Option<SavedState>, StoreError> {
        let db = self.sqlite("ivrc serve's call states")?;
        let mut query =
            db.prepare_cached("SELECT flow, turn, state FROM call_states WHERE call_sid = ?1")?;
        let mut rows = query.query([call_sid])?;
        match rows.next()? {
            None => Ok(None),
            Some(r) => Ok(Some(SavedState {
                call_sid: call_sid.to_string(),
                flow: r.get(0)?,
                turn: r.get(1)?,
                state: r.get(2)?,
            })),
        }
    }

    /// Forgets the kept state of a call that has ended, and any kept before `before_ms`.
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn forget_call_state(&self, call_sid: &str, before_ms: u64) -> Result<(), StoreError> {
        self.sqlite("ivrc serve's call states")?
            .prepare_cached("DELETE FROM call_states WHERE call_sid = ?1 OR at_ms < ?2")?
            .execute(params![call_sid, as_i64(before_ms)])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::scratch;
    use super::*;

    #[test]
    fn a_call_keeps_its_latest_state_until_it_is_forgotten() {
        let (dir, path) = scratch("states");
        let store = Store::open(&path).expect("opens");
        let saved = |turn: u32, state: &str| SavedState {
            call_sid: "CA1".into(),
            flow: "callback".into(),
            turn,
            state: state.into(),
        };
        store
            .keep_call_state(&saved(2, "second"), 1_000)
            .expect("kept");
        // A turn that arrives late does not replace a later one.
        store
            .keep_call_state(&saved(1, "first"), 1_001)
            .expect("kept");
        assert_eq!(
            store.call_state("CA1").expect("reads"),
            Some(saved(2, "second"))
        );
        store
            .keep_call_state(&saved(3, "third"), 1_002)
            .expect("kept");
        assert_eq!(
            store.call_state("CA1").expect("reads"),
            Some(saved(3, "third"))
        );
        assert_eq!(store.call_state("CA2").expect("reads"), None);
        store.forget_call_state("CA1", 0).expect("forgotten");
        assert_eq!(store.call_state("CA1").expect("reads"), None);
        // States older than the cut-off go with any forgotten call.
        store.keep_call_state(&saved(1, "old"), 500).expect("kept");
        store.forget_call_state("CA9", 600).expect("forgotten");
        assert_eq!(store.call_state("CA1").expect("reads"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

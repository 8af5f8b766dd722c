//! Registrations: how `ivrc run`'s registration at each provider account stood at its last
//! change, written by the runtime as it changes and read by `ivrc calls` — the runtime's
//! stderr says the same as it happens; this is what a later look (or another terminal) sees.

use super::{as_i64, Store, StoreError};
use rusqlite::{params, Connection};

/// The last change of one account's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationState {
    /// The address of record registered, `sip:USER@DOMAIN`.
    pub account: String,
    /// `registered`, `failed`, `refused`, `unregistered` or `not_unregistered`.
    pub state: String,
    /// Why it failed or was refused; empty otherwise.
    pub detail: String,
    /// When it changed, ms since the epoch.
    pub at_ms: u64,
    /// Registered: when the binding lapses unless refreshed; failed: when the next attempt
    /// goes out. `None` otherwise.
    pub until_ms: Option<u64>,
}

/// Writes `r` in place of the account's previous state, within the caller's transaction.
pub(super) fn upsert(db: &Connection, r: &RegistrationState) -> Result<(), StoreError> {
    db.prepare_cached(
        "INSERT OR REPLACE INTO registrations (account, state, detail, at_ms, until_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        r.account,
        r.state,
        r.detail,
        as_i64(r.at_ms),
        r.until_ms.map(as_i64)
    ])?;
    Ok(())
}

impl Store {
    /// Every account's last registration state, by account.
    ///
    /// # Errors
    ///
    /// SQLite refused, or a row holds a time this version does not write.
    pub fn registrations(&self) -> Result<Vec<RegistrationState>, StoreError> {
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT account, state, detail, at_ms, until_ms FROM registrations ORDER BY account",
        )?;
        let rows = query.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (account, state, detail, at_ms, until_ms) = row?;
            let time = |ms: i64| {
                u64::try_from(ms)
                    .map_err(|_| StoreError::Unreadable(format!("a registration time of {ms}")))
            };
            out.push(RegistrationState {
                account,
                state,
                detail,
                at_ms: time(at_ms)?,
                until_ms: until_ms.map(time).transpose()?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{tests::scratch, Row};
    use super::*;

    #[test]
    fn the_last_change_of_each_account_is_kept() {
        let (dir, path) = scratch("registrations");
        let store = Store::open(&path).expect("opens");
        let state = |account: &str, state: &str, at_ms: u64| RegistrationState {
            account: account.into(),
            state: state.into(),
            detail: String::new(),
            at_ms,
            until_ms: Some(at_ms + 60_000),
        };
        store
            .add_rows(&[
                Row::Registration(state("sip:a@p", "failed", 1)),
                Row::Registration(state("sip:b@p", "registered", 2)),
                Row::Registration(state("sip:a@p", "registered", 3)),
            ])
            .expect("written");
        assert_eq!(
            store.registrations().expect("read"),
            [
                state("sip:a@p", "registered", 3),
                state("sip:b@p", "registered", 2)
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

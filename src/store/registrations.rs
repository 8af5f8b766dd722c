//! Registrations: how `ivrc run`'s registration at each provider account stood at its last
//! change, written by the runtime as it changes and read by `ivrc calls` — the runtime's
//! stderr says the same as it happens; this is what a later look (or another terminal) sees.

use super::{as_i64, lock, Db, Store, StoreError};
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

/// [`upsert`] in PostgreSQL.
pub(super) fn upsert_pg(
    tx: &mut postgres::Transaction<'_>,
    r: &RegistrationState,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO registrations (account, state, detail, at_ms, until_ms)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account) DO UPDATE SET state = excluded.state,
           detail = excluded.detail, at_ms = excluded.at_ms, until_ms = excluded.until_ms",
        &[
            &r.account,
            &r.state,
            &r.detail,
            &as_i64(r.at_ms),
            &r.until_ms.map(as_i64),
        ],
    )?;
    Ok(())
}

/// The columns of one registration as stored.
type Columns = (String, String, String, i64, Option<i64>);

impl Store {
    /// Every account's last registration state, by account (in byte order).
    ///
    /// # Errors
    ///
    /// The database refused, or a row holds a time this version does not write.
    pub fn registrations(&self) -> Result<Vec<RegistrationState>, StoreError> {
        let rows: Vec<Columns> = match &self.db {
            Db::Sqlite(db) => {
                let db = lock(db);
                let mut query = db.prepare_cached(
                    "SELECT account, state, detail, at_ms, until_ms FROM registrations
                     ORDER BY account",
                )?;
                let rows = query.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
                rows.collect::<Result<_, _>>()?
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                Ok(c.query(
                    "SELECT account, state, detail, at_ms, until_ms FROM registrations
                     ORDER BY account COLLATE \"C\"",
                    &[],
                )?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                    ))
                })
                .collect::<Result<_, postgres::Error>>()?)
            })?,
        };
        let time = |ms: i64| {
            u64::try_from(ms)
                .map_err(|_| StoreError::Unreadable(format!("a registration time of {ms}")))
        };
        rows.into_iter()
            .map(|(account, state, detail, at_ms, until_ms)| {
                Ok(RegistrationState {
                    account,
                    state,
                    detail,
                    at_ms: time(at_ms)?,
                    until_ms: until_ms.map(time).transpose()?,
                })
            })
            .collect()
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

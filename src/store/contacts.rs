//! Contacts as the agent console lists them: everyone with an entry, by last activity, with
//! what they last did, how many of their messages an agent has not seen, and whether they
//! opted out of texts.

use super::entries::{self, Stored};
use super::{lock, Db, Store, StoreError};
use postgres::Client;
use rusqlite::params;

/// The kinds that count as unread until an agent opens the contact.
const UNREAD_KINDS: &str = "'sms_in', 'voicemail'";

/// One contact in the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactSummary {
    /// The contact's number (E.164).
    pub contact: String,
    /// Their last entry (delivery statuses left out).
    pub last: Stored,
    /// How many of their messages and voicemails came after the last one an agent saw.
    pub unread: u32,
    /// Whether their latest opt-out or opt-in entry is an opt-out.
    pub opted_out: bool,
}

impl Store {
    /// Contacts by last activity, newest first: at most `limit`, those whose last entry is
    /// older than row `before` (all when `None`), and when `search` is given, only contacts
    /// with an entry whose text holds it, or — for a search written like a phone number —
    /// whose number holds its digits.
    ///
    /// # Errors
    ///
    /// The database refused, or an entry is of a kind this version does not write.
    pub fn contacts(
        &self,
        search: Option<&str>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<ContactSummary>, StoreError> {
        let pattern = search.map(like_pattern);
        // A search written like a phone number (digits, spaces, `+ - ( ) .`) matches numbers.
        let digits = search
            .filter(|s| {
                s.chars()
                    .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+-().".contains(c))
            })
            .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|d| !d.is_empty())
            .map(|d| format!("%{d}%"));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let before = before.unwrap_or(i64::MAX);
        match &self.db {
            Db::Sqlite(db) => {
                let db = lock(db);
                let lasts = {
                    let mut query = db.prepare_cached(
                        "SELECT e.id, e.at_ms, e.kind, e.contact, e.our_number, e.flow, e.sid,
                           e.body, e.url
                         FROM contact_last l JOIN entries e ON e.id = l.last_id
                         WHERE l.last_id < ?1
                           AND (?2 IS NULL
                                OR (?3 IS NOT NULL AND l.contact LIKE ?3)
                                OR EXISTS (SELECT 1 FROM entries t WHERE t.contact = l.contact
                                           AND t.body LIKE ?2 ESCAPE '\\'))
                         ORDER BY l.last_id DESC LIMIT ?4",
                    )?;
                    let rows = query
                        .query_map(params![before, pattern, digits, limit], entries::read_row)?;
                    entries::collect(rows.collect::<Result<_, _>>()?)?
                };
                lasts
                    .into_iter()
                    .map(|last| {
                        let contact = last.entry.contact.clone();
                        Ok(ContactSummary {
                            unread: unread(&db, &contact)?,
                            opted_out: opted_out(&db, &contact)?,
                            contact,
                            last,
                        })
                    })
                    .collect()
            }
            // ILIKE: PostgreSQL folds the case of every letter (SQLite's LIKE, ASCII only).
            Db::Postgres(pg) => lock(pg).with(|c| {
                let rows = c.query(
                    "SELECT e.id, e.at_ms, e.kind, e.contact, e.our_number, e.flow, e.sid,
                       e.body, e.url
                     FROM contact_last l JOIN entries e ON e.id = l.last_id
                     WHERE l.last_id < $1
                       AND ($2::text IS NULL
                            OR ($3::text IS NOT NULL AND l.contact LIKE $3)
                            OR EXISTS (SELECT 1 FROM entries t WHERE t.contact = l.contact
                                       AND t.body ILIKE $2 ESCAPE '\\'))
                     ORDER BY l.last_id DESC LIMIT $4",
                    &[&before, &pattern, &digits, &limit],
                )?;
                let lasts = entries::collect(
                    rows.iter()
                        .map(entries::read_pg_row)
                        .collect::<Result<_, _>>()?,
                )?;
                lasts
                    .into_iter()
                    .map(|last| {
                        let contact = last.entry.contact.clone();
                        Ok(ContactSummary {
                            unread: unread_pg(c, &contact)?,
                            opted_out: opted_out_pg(c, &contact)?,
                            contact,
                            last,
                        })
                    })
                    .collect()
            }),
        }
    }

    /// How many messages and voicemails of all contacts an agent has not seen.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn unread_total(&self) -> Result<u32, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM entries e LEFT JOIN contact_reads r ON r.contact = e.contact
             WHERE e.kind IN ({UNREAD_KINDS}) AND e.id > COALESCE(r.seen_id, 0)"
        );
        let n: i64 = match &self.db {
            Db::Sqlite(db) => lock(db).prepare_cached(&sql)?.query_row([], |r| r.get(0))?,
            Db::Postgres(pg) => lock(pg).with(|c| Ok(c.query_one(&sql, &[])?.try_get(0)?))?,
        };
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Whether the contact's latest opt-out or opt-in entry is an opt-out.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn opted_out(&self, contact: &str) -> Result<bool, StoreError> {
        match &self.db {
            Db::Sqlite(db) => opted_out(&lock(db), contact),
            Db::Postgres(pg) => lock(pg).with(|c| opted_out_pg(c, contact)),
        }
    }

    /// Every number a flow's `block` put on the block list.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn blocked_numbers(&self) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT DISTINCT contact FROM entries WHERE kind = 'blocked' ORDER BY contact";
        match &self.db {
            Db::Sqlite(db) => {
                let db = lock(db);
                let mut query = db.prepare_cached(sql)?;
                let rows = query.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                c.query(sql, &[])?
                    .iter()
                    .map(|r| Ok(r.try_get(0)?))
                    .collect()
            }),
        }
    }

    /// How many of the contact's messages and voicemails an agent has not seen.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn unread(&self, contact: &str) -> Result<u32, StoreError> {
        match &self.db {
            Db::Sqlite(db) => unread(&lock(db), contact),
            Db::Postgres(pg) => lock(pg).with(|c| unread_pg(c, contact)),
        }
    }

    /// Records that an agent has seen the contact's entries up to row `seen` (never going
    /// back to an earlier row).
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn mark_read(&self, contact: &str, seen: i64) -> Result<(), StoreError> {
        self.set_read_mark(
            contact,
            seen,
            "MAX(seen_id, excluded.seen_id)",
            "GREATEST(contact_reads.seen_id, excluded.seen_id)",
        )
    }

    /// Makes the contact's messages unread again from row `from` on (an agent's "mark
    /// unread").
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn mark_unread(&self, contact: &str, from: i64) -> Result<(), StoreError> {
        self.set_read_mark(
            contact,
            from - 1,
            "MIN(seen_id, excluded.seen_id)",
            "LEAST(contact_reads.seen_id, excluded.seen_id)",
        )
    }

    /// Sets the contact's read mark to `seen`, or on a contact with one, to the expression
    /// of the old and the new mark (`sqlite_keep` / `postgres_keep`).
    fn set_read_mark(
        &self,
        contact: &str,
        seen: i64,
        sqlite_keep: &str,
        postgres_keep: &str,
    ) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(db) => {
                lock(db)
                    .prepare_cached(&format!(
                        "INSERT INTO contact_reads (contact, seen_id) VALUES (?1, ?2)
                         ON CONFLICT (contact) DO UPDATE SET seen_id = {sqlite_keep}"
                    ))?
                    .execute(params![contact, seen])?;
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                c.execute(
                    &format!(
                        "INSERT INTO contact_reads (contact, seen_id) VALUES ($1, $2)
                         ON CONFLICT (contact) DO UPDATE SET seen_id = {postgres_keep}"
                    ),
                    &[&contact, &seen],
                )?;
                Ok(())
            })?,
        }
        Ok(())
    }
}

/// `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn unread(db: &rusqlite::Connection, contact: &str) -> Result<u32, StoreError> {
    let n: i64 = db
        .prepare_cached(&format!(
            // By contact: a contact has few entries, while the index by kind would walk every
            // contact's texts (10 ms a contact at 100,000 entries).
            "SELECT COUNT(*) FROM entries INDEXED BY entries_by_contact
             WHERE contact = ?1 AND kind IN ({UNREAD_KINDS})
             AND id > COALESCE((SELECT seen_id FROM contact_reads WHERE contact = ?1), 0)"
        ))?
        .query_row([contact], |r| r.get(0))?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn opted_out(db: &rusqlite::Connection, contact: &str) -> Result<bool, StoreError> {
    let last: Option<String> = db
        .prepare_cached(
            "SELECT kind FROM entries INDEXED BY entries_by_contact
             WHERE contact = ?1 AND kind IN ('opt_out', 'opt_in')
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([contact], |r| r.get(0))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    Ok(last.as_deref() == Some("opt_out"))
}

/// [`unread`] in PostgreSQL.
fn unread_pg(c: &mut Client, contact: &str) -> Result<u32, StoreError> {
    let n: i64 = c
        .query_one(
            &format!(
                "SELECT COUNT(*) FROM entries WHERE contact = $1 AND kind IN ({UNREAD_KINDS})
                 AND id > COALESCE((SELECT seen_id FROM contact_reads WHERE contact = $1), 0)"
            ),
            &[&contact],
        )?
        .try_get(0)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// [`opted_out`] in PostgreSQL.
fn opted_out_pg(c: &mut Client, contact: &str) -> Result<bool, StoreError> {
    let last: Option<String> = c
        .query_opt(
            "SELECT kind FROM entries WHERE contact = $1 AND kind IN ('opt_out', 'opt_in')
             ORDER BY id DESC LIMIT 1",
            &[&contact],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    Ok(last.as_deref() == Some("opt_out"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::scratch;
    use super::*;

    #[test]
    fn a_version_1_file_lists_its_contacts_after_the_upgrade() {
        let (dir, path) = scratch("contacts-v1");
        {
            let db = rusqlite::Connection::open(&path).expect("creates");
            db.execute_batch(
                "CREATE TABLE entries (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                   kind TEXT NOT NULL, contact TEXT NOT NULL, our_number TEXT NOT NULL,
                   flow TEXT NOT NULL, sid TEXT NOT NULL, body TEXT, url TEXT);
                 INSERT INTO entries (at_ms, kind, contact, our_number, flow, sid, body)
                   VALUES (1, 'sms_in', '+15146300808', '+16502907793', 'f', 'SM1', 'a'),
                          (2, 'sms_in', '+79001234567', '+16502907793', 'f', 'SM2', 'b'),
                          (3, 'sms_out', '+15146300808', '+16502907793', 'f', 'SM3', 'c');
                 PRAGMA user_version = 1;",
            )
            .expect("a version 1 file");
        }
        let store = Store::open(&path).expect("upgrades");
        let listed: Vec<(String, i64)> = store
            .contacts(None, None, 10)
            .expect("lists")
            .into_iter()
            .map(|c| (c.contact, c.last.id))
            .collect();
        assert_eq!(
            listed,
            [
                ("+15146300808".to_string(), 3),
                ("+79001234567".to_string(), 2)
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

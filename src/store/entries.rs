//! Entries: every call, recording and text message, attached to a contact by phone number —
//! a customer's timeline, written by `ivrc serve` and `ivrc run`, read by `ivrc entries`.

use super::{as_i64, lock, Db, Store, StoreError};
use rusqlite::{params, Connection};

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A call came in, or was placed.
    Call,
    /// A call ended: its status and duration (Twilio's status callback).
    CallEnded,
    /// A recording the caller left (`record`): `url` is where it is, `body` its length in
    /// whole seconds when known.
    Voicemail,
    /// A text message received.
    SmsIn,
    /// A text message sent.
    SmsOut,
    /// A flow's `report` (a campaign attempt's result): `body` holds it as JSON.
    Report,
    /// An agent's note on the contact (`body`), written in the console.
    Note,
    /// A call an agent placed from the console: `body` holds how it ended (Twilio's
    /// `DialCallStatus`: `completed`, `busy`, `no-answer`, `failed`, `canceled`).
    CallOut,
    /// A delivery status of a text we sent (`sid` names it): `body` holds Twilio's
    /// `MessageStatus`, and `url` the error code of a failed one.
    SmsStatus,
    /// The contact asked us to stop texting (a STOP-family message, or Twilio error 21610).
    OptOut,
    /// The contact opted back in (START, UNSTOP, YES).
    OptIn,
    /// A whole call recorded (a campaign's `record_calls`): `url` is the two-channel WAV file
    /// (the contact, and what they heard), `body` its length in whole seconds.
    CallRecording,
    /// A flow's `block` put the contact on the block list (`flow` and `sid` name the call):
    /// the dialer does not call them and their calls to `ivrc run` are declined.
    Blocked,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::Call => "call",
            EntryKind::CallEnded => "call_ended",
            EntryKind::Voicemail => "voicemail",
            EntryKind::SmsIn => "sms_in",
            EntryKind::SmsOut => "sms_out",
            EntryKind::Report => "report",
            EntryKind::Note => "note",
            EntryKind::CallOut => "call_out",
            EntryKind::SmsStatus => "sms_status",
            EntryKind::OptOut => "opt_out",
            EntryKind::OptIn => "opt_in",
            EntryKind::Blocked => "blocked",
            EntryKind::CallRecording => "call_recording",
        }
    }

    fn parse(s: &str) -> Option<EntryKind> {
        [
            EntryKind::Call,
            EntryKind::CallEnded,
            EntryKind::Voicemail,
            EntryKind::SmsIn,
            EntryKind::SmsOut,
            EntryKind::Report,
            EntryKind::Note,
            EntryKind::CallOut,
            EntryKind::SmsStatus,
            EntryKind::OptOut,
            EntryKind::OptIn,
            EntryKind::Blocked,
            EntryKind::CallRecording,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One interaction with a contact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    pub kind: EntryKind,
    /// The customer's number.
    pub contact: String,
    /// Our number: the one called or texted, or the sender of our texts.
    pub our_number: String,
    /// The flow that handled it.
    pub flow: String,
    /// The platform's id of the call or message.
    pub sid: String,
    /// The text of a message.
    pub body: Option<String>,
    /// The address of a recording.
    pub url: Option<String>,
}

/// An entry as stored, with its row id: ids grow with every entry written, so "after id N"
/// is what a reader has not seen yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stored {
    /// The row id.
    pub id: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
}

/// The columns every entry query reads, in the order [`read_row`] takes them.
const COLUMNS: &str = "id, at_ms, kind, contact, our_number, flow, sid, body, url";

/// One row of [`COLUMNS`] before its time and kind are checked: the id, the time, the kind's
/// name, the entry.
pub(super) type Columns = (i64, i64, String, Entry);

/// One row of [`COLUMNS`].
pub(super) fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        Entry {
            at_ms: 0,
            kind: EntryKind::Call,
            contact: r.get(3)?,
            our_number: r.get(4)?,
            flow: r.get(5)?,
            sid: r.get(6)?,
            body: r.get(7)?,
            url: r.get(8)?,
        },
    ))
}

/// One row of [`COLUMNS`] from PostgreSQL.
pub(super) fn read_pg_row(r: &postgres::Row) -> Result<Columns, postgres::Error> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        Entry {
            at_ms: 0,
            kind: EntryKind::Call,
            contact: r.try_get(3)?,
            our_number: r.try_get(4)?,
            flow: r.try_get(5)?,
            sid: r.try_get(6)?,
            body: r.try_get(7)?,
            url: r.try_get(8)?,
        },
    ))
}

/// The rows of an entry query, checked: a kind this version does not write is an error.
pub(super) fn collect(rows: Vec<Columns>) -> Result<Vec<Stored>, StoreError> {
    let mut out = Vec::new();
    for (id, at, kind, mut entry) in rows {
        entry.at_ms = u64::try_from(at).unwrap_or(0);
        entry.kind = EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::Unreadable(format!("an unknown entry kind `{kind}`")))?;
        out.push(Stored { id, entry });
    }
    Ok(out)
}

/// Writes an entry within the caller's transaction; its row id.
pub(super) fn insert(db: &Connection, e: &Entry) -> Result<i64, StoreError> {
    db.prepare_cached(
        "INSERT INTO entries (at_ms, kind, contact, our_number, flow, sid, body, url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        as_i64(e.at_ms),
        e.kind.as_str(),
        e.contact,
        e.our_number,
        e.flow,
        e.sid,
        e.body,
        e.url
    ])?;
    let id = db.last_insert_rowid();
    // The contact list is by last activity; a delivery status is no activity.
    if e.kind != EntryKind::SmsStatus {
        db.prepare_cached(
            "INSERT INTO contact_last (contact, last_id) VALUES (?1, ?2)
             ON CONFLICT (contact) DO UPDATE SET last_id = MAX(last_id, excluded.last_id)",
        )?
        .execute(params![e.contact, id])?;
    }
    Ok(id)
}

/// The advisory lock every transaction adding entries to PostgreSQL takes first (ASCII
/// "ivre"). Entry ids come from a sequence when the row is inserted, but become visible when
/// its transaction commits; with several writers (servers, the console) a reader of "the
/// entries after id N" could pass over a row whose transaction commits late with a lower id.
/// Held until commit, the lock makes ids follow commit order, so every reader sees a prefix.
const ENTRY_ORDER_LOCK: i64 = 0x6976_7265;

/// Takes [`ENTRY_ORDER_LOCK`] for the rest of `tx`; before its first entry.
pub(super) fn hold_entry_order(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ENTRY_ORDER_LOCK])?;
    Ok(())
}

/// [`insert`] in PostgreSQL, within a transaction that holds [`hold_entry_order`].
pub(super) fn insert_pg(tx: &mut postgres::Transaction<'_>, e: &Entry) -> Result<i64, StoreError> {
    let id: i64 = tx
        .query_one(
            "INSERT INTO entries (at_ms, kind, contact, our_number, flow, sid, body, url)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &as_i64(e.at_ms),
                &e.kind.as_str(),
                &e.contact,
                &e.our_number,
                &e.flow,
                &e.sid,
                &e.body,
                &e.url,
            ],
        )?
        .try_get(0)?;
    if e.kind != EntryKind::SmsStatus {
        tx.execute(
            "INSERT INTO contact_last (contact, last_id) VALUES ($1, $2)
             ON CONFLICT (contact) DO UPDATE
             SET last_id = GREATEST(contact_last.last_id, excluded.last_id)",
            &[&e.contact, &id],
        )?;
    }
    Ok(id)
}

/// What the agent console needs of a store of entries: the [`Store`] today; a
/// document store (the Talkdesk seed's MongoDB) could stand behind the same calls. Ids are
/// increasing row numbers, as "after id N" needs.
pub trait EntryStore: Send + Sync {
    /// Adds an entry; its id.
    fn add_entry(&self, e: &Entry) -> Result<i64, StoreError>;
    /// A contact's entries, oldest first.
    fn contact_entries(&self, contact: &str) -> Result<Vec<Entry>, StoreError>;
    /// See [`Store::timeline_page`].
    fn page(
        &self,
        contact: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Stored>, StoreError>;
    /// See [`Store::delivery_statuses`].
    fn statuses(&self, contact: &str) -> Result<Vec<Stored>, StoreError>;
    /// See [`Store::entries_after`].
    fn after(&self, after: i64, limit: usize) -> Result<Vec<Stored>, StoreError>;
    /// See [`Store::last_entry_id`].
    fn last_id(&self) -> Result<i64, StoreError>;
    /// See [`Store::contacts`].
    fn contact_list(
        &self,
        search: Option<&str>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<super::ContactSummary>, StoreError>;
    /// See [`Store::opted_out`].
    fn is_opted_out(&self, contact: &str) -> Result<bool, StoreError>;
    /// See [`Store::unread`].
    fn unread_count(&self, contact: &str) -> Result<u32, StoreError>;
    /// See [`Store::unread_total`].
    fn unread_everywhere(&self) -> Result<u32, StoreError>;
    /// See [`Store::mark_read`].
    fn read_up_to(&self, contact: &str, seen: i64) -> Result<(), StoreError>;
    /// See [`Store::mark_unread`].
    fn unread_from(&self, contact: &str, from: i64) -> Result<(), StoreError>;
}

impl EntryStore for Store {
    fn add_entry(&self, e: &Entry) -> Result<i64, StoreError> {
        self.add(e)
    }
    fn contact_entries(&self, contact: &str) -> Result<Vec<Entry>, StoreError> {
        self.timeline(contact)
    }
    fn page(
        &self,
        contact: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Stored>, StoreError> {
        self.timeline_page(contact, before, limit)
    }
    fn statuses(&self, contact: &str) -> Result<Vec<Stored>, StoreError> {
        self.delivery_statuses(contact)
    }
    fn after(&self, after: i64, limit: usize) -> Result<Vec<Stored>, StoreError> {
        self.entries_after(after, limit)
    }
    fn last_id(&self) -> Result<i64, StoreError> {
        self.last_entry_id()
    }
    fn contact_list(
        &self,
        search: Option<&str>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<super::ContactSummary>, StoreError> {
        self.contacts(search, before, limit)
    }
    fn is_opted_out(&self, contact: &str) -> Result<bool, StoreError> {
        self.opted_out(contact)
    }
    fn unread_count(&self, contact: &str) -> Result<u32, StoreError> {
        self.unread(contact)
    }
    fn unread_everywhere(&self) -> Result<u32, StoreError> {
        self.unread_total()
    }
    fn read_up_to(&self, contact: &str, seen: i64) -> Result<(), StoreError> {
        self.mark_read(contact, seen)
    }
    fn unread_from(&self, contact: &str, from: i64) -> Result<(), StoreError> {
        self.mark_unread(contact, from)
    }
}

impl Store {
    /// Entries of one query, written for each database: `sqlite` with `?N` parameters,
    /// `postgres` with `$N`, both selecting [`COLUMNS`].
    fn select_entries(
        &self,
        sqlite: &str,
        sqlite_params: &[&dyn rusqlite::ToSql],
        postgres: &str,
        postgres_params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Stored>, StoreError> {
        let rows = match &self.db {
            Db::Sqlite(db) => {
                let db = lock(db);
                let mut query = db.prepare_cached(sqlite)?;
                let rows = query.query_map(sqlite_params, read_row)?;
                rows.collect::<Result<_, _>>()?
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                Ok(c.query(postgres, postgres_params)?
                    .iter()
                    .map(read_pg_row)
                    .collect::<Result<_, _>>()?)
            })?,
        };
        collect(rows)
    }

    /// Adds an entry; its row id.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn add(&self, e: &Entry) -> Result<i64, StoreError> {
        match &self.db {
            Db::Sqlite(db) => insert(&lock(db), e),
            Db::Postgres(pg) => lock(pg).with(|c| {
                let mut tx = c.transaction()?;
                hold_entry_order(&mut tx)?;
                let id = insert_pg(&mut tx, e)?;
                tx.commit()?;
                Ok(id)
            }),
        }
    }

    /// A contact's entries, oldest first.
    ///
    /// # Errors
    ///
    /// The database refused, or an entry is of a kind this version does not write.
    pub fn timeline(&self, contact: &str) -> Result<Vec<Entry>, StoreError> {
        let stored = self.select_entries(
            &format!("SELECT {COLUMNS} FROM entries WHERE contact = ?1 ORDER BY at_ms, id"),
            &[&contact],
            &format!("SELECT {COLUMNS} FROM entries WHERE contact = $1 ORDER BY at_ms, id"),
            &[&contact],
        )?;
        Ok(stored.into_iter().map(|s| s.entry).collect())
    }

    /// A page of a contact's timeline in the order written: the last `limit` entries before
    /// row `before` (the newest when `None`), delivery statuses left out.
    ///
    /// # Errors
    ///
    /// The database refused, or an entry is of a kind this version does not write.
    pub fn timeline_page(
        &self,
        contact: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Stored>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let before = before.unwrap_or(i64::MAX);
        let mut page = self.select_entries(
            &format!(
                "SELECT {COLUMNS} FROM entries
                 WHERE contact = ?1 AND id < ?2 AND kind <> 'sms_status'
                 ORDER BY id DESC LIMIT ?3"
            ),
            &[&contact, &before, &limit],
            &format!(
                "SELECT {COLUMNS} FROM entries
                 WHERE contact = $1 AND id < $2 AND kind <> 'sms_status'
                 ORDER BY id DESC LIMIT $3"
            ),
            &[&contact, &before, &limit],
        )?;
        page.reverse();
        Ok(page)
    }

    /// The delivery statuses of a contact's texts, in the order written.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn delivery_statuses(&self, contact: &str) -> Result<Vec<Stored>, StoreError> {
        self.select_entries(
            &format!(
                "SELECT {COLUMNS} FROM entries WHERE contact = ?1 AND kind = 'sms_status' ORDER BY id"
            ),
            &[&contact],
            &format!(
                "SELECT {COLUMNS} FROM entries WHERE contact = $1 AND kind = 'sms_status' ORDER BY id"
            ),
            &[&contact],
        )
    }

    /// Every contact's entries written after row `after`, at most `limit`, in the order
    /// written: what a reader that has seen up to `after` missed.
    ///
    /// # Errors
    ///
    /// The database refused, or an entry is of a kind this version does not write.
    pub fn entries_after(&self, after: i64, limit: usize) -> Result<Vec<Stored>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.select_entries(
            &format!("SELECT {COLUMNS} FROM entries WHERE id > ?1 ORDER BY id LIMIT ?2"),
            &[&after, &limit],
            &format!("SELECT {COLUMNS} FROM entries WHERE id > $1 ORDER BY id LIMIT $2"),
            &[&after, &limit],
        )
    }

    /// The id of the last entry written (0 for none).
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn last_entry_id(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(MAX(id), 0) FROM entries";
        Ok(match &self.db {
            Db::Sqlite(db) => lock(db).query_row(sql, [], |r| r.get(0))?,
            Db::Postgres(pg) => lock(pg).with(|c| Ok(c.query_one(sql, &[])?.try_get(0)?))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::scratch;
    use super::*;

    fn entry(at_ms: u64, kind: EntryKind, contact: &str) -> Entry {
        Entry {
            at_ms,
            kind,
            contact: contact.into(),
            our_number: "+16502907793".into(),
            flow: "support".into(),
            sid: "CA1".into(),
            body: Some("Перезвоните мне".into()),
            url: None,
        }
    }

    #[test]
    fn a_contacts_timeline_is_in_time_order_and_survives_reopening() {
        let (dir, path) = scratch("store");
        {
            let store = Store::open(&path).expect("opens");
            store
                .add(&entry(2_000, EntryKind::SmsOut, "+15146300808"))
                .expect("added");
            store
                .add(&entry(1_000, EntryKind::SmsIn, "+15146300808"))
                .expect("added");
            store
                .add(&entry(1_500, EntryKind::Call, "+15550000000"))
                .expect("added");
        }
        let store = Store::open(&path).expect("reopens");
        let t = store.timeline("+15146300808").expect("reads");
        assert_eq!(
            t.iter().map(|e| (e.at_ms, e.kind)).collect::<Vec<_>>(),
            [(1_000, EntryKind::SmsIn), (2_000, EntryKind::SmsOut)]
        );
        assert_eq!(t[0].body.as_deref(), Some("Перезвоните мне"));
        assert!(store.timeline("+10000000000").expect("reads").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_writer_writes_everything_queued_before_it_is_dropped() {
        let (dir, path) = scratch("writer");
        let writer = Store::open(&path).expect("opens").into_writer();
        for i in 0..2_000 {
            writer.add(entry(i, EntryKind::SmsIn, "+15146300808"));
        }
        drop(writer);
        let t = Store::open(&path)
            .expect("reopens")
            .timeline("+15146300808")
            .expect("reads");
        assert_eq!(t.len(), 2_000);
        assert!(t.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

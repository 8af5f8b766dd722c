//! Entries: every call, recording and text message, attached to a contact by phone number —
//! a customer's timeline, written by `ivrc serve` and `ivrc run`, read by `ivrc entries`.

use super::{as_i64, Store, StoreError};
use rusqlite::{params, Connection};

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A call came in, or was placed.
    Call,
    /// A call ended: its status and duration (Twilio's status callback).
    CallEnded,
    /// A recording the caller left (`record`).
    Voicemail,
    /// A text message received.
    SmsIn,
    /// A text message sent.
    SmsOut,
    /// A flow's `report` (a campaign attempt's result): `body` holds it as JSON.
    Report,
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

/// Writes an entry within the caller's transaction.
pub(super) fn insert(db: &Connection, e: &Entry) -> Result<(), StoreError> {
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
    Ok(())
}

impl Store {
    /// Adds an entry.
    ///
    /// # Errors
    ///
    /// SQLite refused.
    pub fn add(&self, e: &Entry) -> Result<(), StoreError> {
        insert(&self.db(), e)
    }

    /// A contact's entries, oldest first.
    ///
    /// # Errors
    ///
    /// SQLite refused, or an entry is of a kind this version does not write.
    pub fn timeline(&self, contact: &str) -> Result<Vec<Entry>, StoreError> {
        let db = self.db();
        let mut query = db.prepare_cached(
            "SELECT at_ms, kind, contact, our_number, flow, sid, body, url FROM entries
             WHERE contact = ?1 ORDER BY at_ms, id",
        )?;
        let rows = query.query_map([contact], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                Entry {
                    at_ms: 0,
                    kind: EntryKind::Call,
                    contact: r.get(2)?,
                    our_number: r.get(3)?,
                    flow: r.get(4)?,
                    sid: r.get(5)?,
                    body: r.get(6)?,
                    url: r.get(7)?,
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, kind, mut e) = row?;
            e.at_ms = u64::try_from(at).unwrap_or(0);
            e.kind = EntryKind::parse(&kind)
                .ok_or_else(|| StoreError::Unreadable(format!("an unknown entry kind `{kind}`")))?;
            out.push(e);
        }
        Ok(out)
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

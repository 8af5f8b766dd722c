//! Contacts as the agent console lists them: everyone with an entry, by last activity, with
//! what they last did, how many of their messages an agent has not seen, and whether they
//! opted out of texts.

use super::entries::{collect, Stored};
use super::{Store, StoreError};
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
    /// SQLite refused, the store is in PostgreSQL, or an entry is of a kind this version does
    /// not write.
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
        let db = self.sqlite("the console's contact list")?;
        let mut query = db.prepare_cached(
            "SELECT e.id, e.at_ms, e.kind, e.contact, e.our_number, e.flow, e.sid, e.body, e.url
             FROM contact_last l JOIN entries e ON e.id = l.last_id
             WHERE l.last_id < ?1
               AND (?2 IS NULL
                    OR (?3 IS NOT NULL AND l.contact LIKE ?3)
                    OR EXISTS (SELECT 1 FROM entries t WHERE t.contact = l.contact
                               AND t.body LIKE ?2 ESCAPE '\\'))
             ORDER BY l.last_id DESC LIMIT ?4",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query.query_map(
            params![before.unwrap_or(i64::MAX), pattern, digits, limit],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    super::entries::Entry {
                        at_ms: 0,
                        kind: super::EntryKind::Call,
                        contact: r.get(3)?,
                        our_number: r.get(4)?,
                        flow: r.get(5)?,
                        sid: r.get(6)?,
                        body: r.get(7)?,
                        url: r.get(8)?,
                    },
                ))
            },
        )?;
        let lasts = collect(rows.collect::<Result<_, _>>()?)?;
        drop(query);
        let mut out = Vec::with_capacity(lasts.len());
        for last in lasts {
            let contact = last.entry.contact.clone();
            out.push(ContactSummary {
                unread: unread(&db, &contact)?,
                opted_out: opted_out(&db, &contact)?,
                contact,
                last,
            });
        }
        Ok(out)
    }

    /// How many messages and voicemails of all contacts an agent has not seen.
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn unread_total(&self) -> Result<u32, StoreError> {
        let n: i64 = self
            .sqlite("the console's unread count")?
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM entries e LEFT JOIN contact_reads r ON r.contact = e.contact
                 WHERE e.kind IN ({UNREAD_KINDS}) AND e.id > COALESCE(r.seen_id, 0)"
            ))?
            .query_row([], |r| r.get(0))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Whether the contact's latest opt-out or opt-in entry is an opt-out.
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn opted_out(&self, contact: &str) -> Result<bool, StoreError> {
        opted_out(&*self.sqlite("the console's opt-outs")?, contact)
    }

    /// How many of the contact's messages and voicemails an agent has not seen.
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn unread(&self, contact: &str) -> Result<u32, StoreError> {
        unread(&*self.sqlite("the console's unread count")?, contact)
    }

    /// Records that an agent has seen the contact's entries up to row `seen` (never going
    /// back to an earlier row).
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn mark_read(&self, contact: &str, seen: i64) -> Result<(), StoreError> {
        self.sqlite("the console's read marks")?
            .prepare_cached(
                "INSERT INTO contact_reads (contact, seen_id) VALUES (?1, ?2)
                 ON CONFLICT (contact) DO UPDATE SET seen_id = MAX(seen_id, excluded.seen_id)",
            )?
            .execute(params![contact, seen])?;
        Ok(())
    }

    /// Makes the contact's messages unread again from row `from` on (an agent's "mark
    /// unread").
    ///
    /// # Errors
    ///
    /// SQLite refused, or the store is in PostgreSQL (not kept there yet).
    pub fn mark_unread(&self, contact: &str, from: i64) -> Result<(), StoreError> {
        self.sqlite("the console's read marks")?
            .prepare_cached(
                "INSERT INTO contact_reads (contact, seen_id) VALUES (?1, ?2)
                 ON CONFLICT (contact) DO UPDATE SET seen_id = MIN(seen_id, excluded.seen_id)",
            )?
            .execute(params![contact, from - 1])?;
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

#[cfg(test)]
mod tests {
    use super::super::tests::scratch;
    use super::super::{Entry, EntryKind};
    use super::*;

    fn entry(kind: EntryKind, contact: &str, body: &str) -> Entry {
        Entry {
            at_ms: 1_000,
            kind,
            contact: contact.into(),
            our_number: "+16502907793".into(),
            flow: "support".into(),
            sid: "SM1".into(),
            body: Some(body.into()),
            url: None,
        }
    }

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

    #[test]
    fn contacts_come_by_last_activity_with_unread_counts_and_opt_outs() {
        let (dir, path) = scratch("contacts");
        let store = Store::open(&path).expect("opens");
        let (a, b) = ("+15146300808", "+79001234567");
        store
            .add(&entry(EntryKind::SmsIn, a, "Please call me"))
            .expect("added");
        let seen = store
            .add(&entry(EntryKind::SmsIn, a, "100% _sure_"))
            .expect("added");
        store
            .add(&entry(EntryKind::SmsIn, b, "Перезвоните"))
            .expect("added");
        let last_b = store
            .add(&entry(EntryKind::SmsOut, b, "Звоню"))
            .expect("added");
        store
            .add(&entry(EntryKind::SmsStatus, b, "delivered"))
            .expect("added");

        let all = store.contacts(None, None, 50).expect("lists");
        let order: Vec<(&str, u32)> = all.iter().map(|c| (c.contact.as_str(), c.unread)).collect();
        assert_eq!(order, [(b, 1), (a, 2)], "statuses are no activity");
        assert_eq!(all[0].last.id, last_b);
        assert_eq!(store.unread_total().expect("counts"), 3);
        store.mark_read(a, seen).expect("read");
        store.mark_read(a, seen - 1).expect("never back");
        assert_eq!(store.unread(a).expect("counts"), 0);
        store.mark_unread(a, seen).expect("unread");
        assert_eq!(store.unread(a).expect("counts"), 1);
        assert_eq!(store.unread_total().expect("counts"), 2);

        // Paging by the last row seen, and searching digits or text (LIKE's wildcards literal).
        let next = store
            .contacts(None, Some(all[0].last.id), 50)
            .expect("lists");
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].contact, a);
        let found = |q: &str| -> Vec<String> {
            store
                .contacts(Some(q), None, 50)
                .expect("searches")
                .into_iter()
                .map(|c| c.contact)
                .collect()
        };
        assert_eq!(found("900 123"), [b]);
        assert_eq!(
            found("перезвон"),
            Vec::<String>::new(),
            "SQLite folds ASCII case only"
        );
        assert_eq!(found("Перезвон"), [b]);
        assert_eq!(found("100%"), [a]);
        assert_eq!(found("0% _s"), [a]);
        assert_eq!(found("%"), [a], "a literal percent sign");
        assert!(found("no such text").is_empty());

        assert!(!store.opted_out(a).expect("reads"));
        store
            .add(&entry(EntryKind::OptOut, a, "STOP"))
            .expect("added");
        assert!(store.opted_out(a).expect("reads"));
        store
            .add(&entry(EntryKind::OptIn, a, "START"))
            .expect("added");
        assert!(!store.opted_out(a).expect("reads"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

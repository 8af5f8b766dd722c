//! The entries store: every call, recording and text message, attached to a contact by phone
//! number, in an embedded SQLite file — a customer's timeline, the "entries" of the Talkdesk
//! seed — and the SIP runtime's call records (what each call did, step by step). Shared by
//! the drivers that meet real calls (`ivrc serve`, `ivrc run`).
//!
//! Owns the schema and its queries. Times are given by the caller (milliseconds since the
//! Unix epoch) and printed in UTC; this module reads no clock. It does not decide which events
//! become entries: the drivers do.

use rusqlite::{params, Connection};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// Entries queued for the writer thread before `add` waits (backpressure, not loss).
const QUEUE: usize = 10_000;
/// The most entries written in one transaction.
const BATCH: usize = 512;

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

/// What one call on the SIP runtime did (`ivrc calls` lists them).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CallRecord {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The flow that ran.
    pub flow: String,
    /// The caller's number (the From user).
    pub caller: String,
    /// The called number (the request-URI user).
    pub called: String,
    /// When the INVITE arrived, milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// When the call was answered.
    pub answered_ms: Option<u64>,
    /// When it ended.
    pub ended_ms: u64,
    /// Who ended it: `caller`, `flow`, `cancel`, `transfer`, `shutdown`, `no_ack`, `error`.
    pub ended_by: String,
    /// The keys pressed, in order.
    pub keys: String,
    /// The statements that ran, as source lines, in order (repeats of a line kept once).
    pub path: Vec<u32>,
    /// Every variable with a value at the end, rendered as text.
    pub values: Vec<(String, String)>,
    /// What was said and played, in order.
    pub prompts: Vec<String>,
    /// The phrases recognized, in order.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// The flow's `report`: `ok` or `retry`, its reason and data.
    pub report: Option<serde_json::Value>,
    /// Runtime errors (a failed prompt, an unhandled outcome …).
    pub errors: Vec<String>,
    /// The legs the flow dialled.
    #[serde(default)]
    pub legs: Vec<LegRecord>,
    /// The texts the flow sent (`to NUMBER: TEXT`).
    #[serde(default)]
    pub texts: Vec<String>,
}

/// A leg a call dialled.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LegRecord {
    /// The leg's name in the flow.
    pub leg: String,
    /// The number called.
    pub number: String,
    /// Its SIP Call-ID.
    pub sip_id: String,
    /// When the INVITE went out, ms since the epoch.
    pub started_ms: u64,
    /// When it answered.
    pub answered_ms: Option<u64>,
    /// When it ended.
    pub ended_ms: Option<u64>,
    /// `answered`, `busy`, `no_answer`, `failed`, or `cancelled` (the flow gave up first).
    pub outcome: String,
    /// The SIP status or why it failed.
    pub detail: String,
    /// Who ended it: `callee`, `flow`, `rtp_timeout`, `dial_timeout`, `shutdown`.
    pub ended_by: String,
}

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

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (cannot open, disk full, a broken file …).
    #[error("the entries store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row holds something this version does not write.
    #[error("the entries store holds an unknown entry kind `{0}`")]
    UnknownKind(String),
}

/// An open store.
pub struct Store {
    db: Mutex<Connection>,
}

impl Store {
    /// Opens (creating when needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Connection::open(path)?;
        // WAL lets `ivrc entries` read while a server writes; NORMAL syncs at checkpoints,
        // which keeps every committed entry across a crash of the process.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        // The campaign dialer writes to the same file from its own connection.
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS entries (
                id INTEGER PRIMARY KEY,
                at_ms INTEGER NOT NULL,
                kind TEXT NOT NULL,
                contact TEXT NOT NULL,
                our_number TEXT NOT NULL,
                flow TEXT NOT NULL,
                sid TEXT NOT NULL,
                body TEXT,
                url TEXT
            );
            CREATE INDEX IF NOT EXISTS entries_by_contact ON entries (contact, at_ms);
            CREATE TABLE IF NOT EXISTS calls (
                id INTEGER PRIMARY KEY,
                started_ms INTEGER NOT NULL,
                call_id TEXT NOT NULL,
                flow TEXT NOT NULL,
                record TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS calls_by_start ON calls (started_ms);
            CREATE TABLE IF NOT EXISTS call_states (
                call_sid TEXT PRIMARY KEY,
                flow TEXT NOT NULL,
                turn INTEGER NOT NULL,
                state TEXT NOT NULL,
                at_ms INTEGER NOT NULL
            );",
        )?;
        Ok(Store { db: Mutex::new(db) })
    }

    /// Adds an entry.
    pub fn add(&self, e: &Entry) -> Result<(), StoreError> {
        self.add_all(std::slice::from_ref(e))
    }

    /// Adds entries in one transaction.
    pub fn add_all(&self, entries: &[Entry]) -> Result<(), StoreError> {
        let mut db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let tx = db.transaction()?;
        for e in entries {
            insert(&tx, e)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Adds call records (and their entries) in one transaction.
    pub fn add_rows(&self, rows: &[Row]) -> Result<(), StoreError> {
        let mut db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let tx = db.transaction()?;
        for row in rows {
            match row {
                Row::Entry(e) => insert(&tx, e)?,
                Row::Call(c) => {
                    let json = serde_json::to_string(c).unwrap_or_default();
                    tx.prepare_cached(
                        "INSERT INTO calls (started_ms, call_id, flow, record) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        i64::try_from(c.started_ms).unwrap_or(i64::MAX),
                        c.call_id,
                        c.flow,
                        json
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Call records that started at or after `since_ms`, oldest first.
    pub fn calls(&self, since_ms: u64) -> Result<Vec<CallRecord>, StoreError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let mut query = db.prepare_cached(
            "SELECT record FROM calls WHERE started_ms >= ?1 ORDER BY started_ms, id",
        )?;
        let rows = query.query_map([i64::try_from(since_ms).unwrap_or(i64::MAX)], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = Vec::new();
        for row in rows {
            let text = row?;
            let record = serde_json::from_str(&text)
                .map_err(|e| StoreError::UnknownKind(format!("call record: {e}")))?;
            out.push(record);
        }
        Ok(out)
    }

    /// Moves the store to a writer thread: [`Writer::add`] queues and returns at once, and
    /// the thread commits what is queued in batches. Dropping the writer writes what is left.
    pub fn into_writer(self) -> Writer {
        let (tx, rx) = sync_channel::<Row>(QUEUE);
        let thread = std::thread::spawn(move || write_batches(&self, &rx));
        Writer {
            queue: Some(tx),
            thread: Some(thread),
        }
    }

    /// Keeps `state`, a call's sealed state after turn `turn`, unless a later turn's is kept.
    pub fn keep_call_state(&self, saved: &SavedState, at_ms: u64) -> Result<(), StoreError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        db.prepare_cached(
            "INSERT INTO call_states (call_sid, flow, turn, state, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (call_sid) DO UPDATE SET flow = excluded.flow, turn = excluded.turn,
               state = excluded.state, at_ms = excluded.at_ms
             WHERE excluded.turn > call_states.turn",
        )?
        .execute(params![
            saved.call_sid,
            saved.flow,
            saved.turn,
            saved.state,
            i64::try_from(at_ms).unwrap_or(i64::MAX)
        ])?;
        Ok(())
    }

    /// The latest kept state of a call.
    pub fn call_state(&self, call_sid: &str) -> Result<Option<SavedState>, StoreError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
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
    pub fn forget_call_state(&self, call_sid: &str, before_ms: u64) -> Result<(), StoreError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        db.prepare_cached("DELETE FROM call_states WHERE call_sid = ?1 OR at_ms < ?2")?
            .execute(params![
                call_sid,
                i64::try_from(before_ms).unwrap_or(i64::MAX)
            ])?;
        Ok(())
    }

    /// A contact's entries, oldest first.
    pub fn timeline(&self, contact: &str) -> Result<Vec<Entry>, StoreError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
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
            e.kind = EntryKind::parse(&kind).ok_or(StoreError::UnknownKind(kind))?;
            out.push(e);
        }
        Ok(out)
    }
}

fn insert(db: &Connection, e: &Entry) -> Result<(), StoreError> {
    db.prepare_cached(
        "INSERT INTO entries (at_ms, kind, contact, our_number, flow, sid, body, url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        i64::try_from(e.at_ms).unwrap_or(i64::MAX),
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

/// The writer thread: waits for an entry, takes what else is queued (up to [`BATCH`]) and
/// commits them together, until the queue is closed and empty.
fn write_batches(store: &Store, queue: &Receiver<Row>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(row) => batch.push(row),
                Err(_) => break,
            }
        }
        if let Err(e) = store.add_rows(&batch) {
            crate::errln!(
                "ivrc: cannot write {} entries and call records: {e}",
                batch.len()
            );
        }
    }
}

/// What the writer thread writes.
#[derive(Debug, Clone)]
pub enum Row {
    /// An entry of a contact's timeline.
    Entry(Entry),
    /// A call record.
    Call(Box<CallRecord>),
}

/// Queues entries for a store's writer thread.
pub struct Writer {
    queue: Option<SyncSender<Row>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Queues an entry; waits only while the queue is full.
    pub fn add(&self, entry: Entry) {
        self.queue(Row::Entry(entry));
    }

    /// Queues a call record.
    pub fn add_call(&self, record: CallRecord) {
        self.queue(Row::Call(Box::new(record)));
    }

    fn queue(&self, row: Row) {
        if let Some(q) = &self.queue {
            if q.send(row).is_err() {
                crate::errln!("ivrc: the entries writer has stopped; a row was not written");
            }
        }
    }
}

impl Drop for Writer {
    /// Closes the queue and waits until everything queued is written.
    fn drop(&mut self) {
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc(at_ms: u64) -> String {
    let secs = at_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar), by
    // counting 400-year eras of 146,097 days from 0000-03-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for a test's store, and the store's path in it.
    fn scratch(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ivrc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("entries.db");
        (dir, path)
    }

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

    #[test]
    fn times_print_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_312_861_000), "2026-11-22 02:01:01");
    }
}

//! The store: one embedded SQLite file (the default) or a PostgreSQL database (`--store
//! postgresql://…`, shared by several instances) that every driver meeting real calls writes
//! to. It holds a contact's timeline of calls, recordings and texts ([`entries`], the "entries" of
//! the Talkdesk seed, with [`contacts`] listing them for the console), the SIP runtime's call
//! records ([`calls`]) and its registrations at providers ([`registrations`]), the latest
//! sealed state of
//! `ivrc serve` calls ([`serve_states`]) and each campaign's leads and attempts ([`campaign`]).
//!
//! This module owns the file: opening it ([`Location`] says where), its pragmas, every table
//! (the schema and its version), the one error type and the writer thread that batches
//! entries and call records; `pg` does the same for PostgreSQL. The parts hold their rows
//! and queries, each for both databases side by side, so callers use one [`Store`] and never
//! care which is behind it. In PostgreSQL this version keeps entries, call records,
//! registrations and campaigns; the console's contact list and `ivrc serve`'s call states are
//! in SQLite only so far, and asking a PostgreSQL store for them is a [`StoreError`]. Only
//! `src/store/` imports rusqlite and postgres. Times are given by the caller (milliseconds
//! since the Unix epoch) and printed in UTC; the store reads no clock of the machine (a
//! campaign on PostgreSQL takes the database's, so instances share one). It does not decide
//! which events become entries (the drivers do) nor what follows a campaign attempt (the
//! dialer's plan does).

pub mod calls;
pub mod campaign;
pub mod contacts;
pub mod entries;
mod location;
mod pg;
pub mod registrations;
pub mod serve_states;

pub use calls::{CallRecord, LegRecord, MediaQuality, PeerReport, SrtpUse};
pub use contacts::ContactSummary;
pub use entries::{Entry, EntryKind, EntryStore, Stored};
pub use location::{Location, LocationError, PostgresUrl};
pub use registrations::RegistrationState;
pub use serve_states::SavedState;

use rusqlite::Connection;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Entries queued for the writer thread before `add` waits (backpressure, not loss).
const QUEUE: usize = 10_000;
/// The most entries written in one transaction.
const BATCH: usize = 512;

/// The version of the tables below, kept in the file's `user_version`. Files written before
/// it was kept read 0 and have the tables of version 1; version 2 added `contact_reads`,
/// `contact_last` (filled from the entries on the way up, [`UP_TO_2`]) and the index of
/// entries by kind; version 3 added `registrations`; version 4 the index of calls by Call-ID
/// (a call's record is written when it starts and replaced when it ends); version 5 the
/// campaign claim protocol: `campaigns` (limits, pacing), each lead's owner, lease and fence,
/// each attempt's owner and fence ([`UP_TO_5`]).
/// Every statement of [`SCHEMA`] may run again on an older file, which brings it up to date.
const SCHEMA_VERSION: i64 = 5;

/// Every table of the store.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS entries (
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
    CREATE INDEX IF NOT EXISTS entries_by_kind ON entries (kind, id);
    CREATE TABLE IF NOT EXISTS contact_reads (
        contact TEXT PRIMARY KEY,
        seen_id INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS contact_last (
        contact TEXT PRIMARY KEY,
        last_id INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS contact_last_by_id ON contact_last (last_id);
    CREATE TABLE IF NOT EXISTS calls (
        id INTEGER PRIMARY KEY,
        started_ms INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        flow TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS calls_by_start ON calls (started_ms);
    CREATE INDEX IF NOT EXISTS calls_by_call_id ON calls (call_id);
    CREATE TABLE IF NOT EXISTS registrations (
        account TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        detail TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        until_ms INTEGER
    );
    CREATE TABLE IF NOT EXISTS call_states (
        call_sid TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        turn INTEGER NOT NULL,
        state TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS campaign_leads (
        campaign TEXT NOT NULL,
        line INTEGER NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_at_ms INTEGER NOT NULL,
        redials TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        result TEXT,
        owner TEXT,
        lease_until_ms INTEGER,
        fence INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign, line)
    );
    CREATE TABLE IF NOT EXISTS campaign_attempts (
        campaign TEXT NOT NULL,
        line INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        ended_ms INTEGER,
        outcome TEXT,
        owner TEXT NOT NULL DEFAULT '',
        fence INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign, line, attempt)
    );
    CREATE TABLE IF NOT EXISTS campaigns (
        name TEXT PRIMARY KEY,
        interval_ms REAL NOT NULL,
        pace_next_ms REAL NOT NULL,
        max_lines INTEGER NOT NULL,
        nonce TEXT NOT NULL
    );";

/// The columns version 5 added to tables an older file already has (`CREATE TABLE IF NOT
/// EXISTS` leaves those as they are): table, column, declaration.
const COLUMNS_5: [(&str, &str, &str); 5] = [
    ("campaign_leads", "owner", "TEXT"),
    ("campaign_leads", "lease_until_ms", "INTEGER"),
    ("campaign_leads", "fence", "INTEGER NOT NULL DEFAULT 0"),
    ("campaign_attempts", "owner", "TEXT NOT NULL DEFAULT ''"),
    ("campaign_attempts", "fence", "INTEGER NOT NULL DEFAULT 0"),
];

/// What a file older than version 5 needs once its columns are there: the index of due leads,
/// and a lead an older ivrc left calling (killed during a call) holds an expired lease, so the
/// next start rescues it as the older version's recovery did.
const UP_TO_5: &str = "
    CREATE INDEX IF NOT EXISTS campaign_leads_by_state ON campaign_leads (campaign, state, next_at_ms);
    UPDATE campaign_leads SET owner = '', lease_until_ms = 0
        WHERE state = 'calling' AND lease_until_ms IS NULL;";

/// What a file of version 0 or 1 needs beyond the tables: each contact's last entry.
const UP_TO_2: &str = "
    INSERT OR REPLACE INTO contact_last (contact, last_id)
        SELECT contact, MAX(id) FROM entries WHERE kind <> 'sms_status' GROUP BY contact;";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (cannot open, disk full, a broken file …).
    #[error("the store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused, or cannot be reached.
    #[error("the store (PostgreSQL): {}", pg::describe(.0))]
    Postgres(#[from] postgres::Error),
    /// A row holds something this version does not write.
    #[error("the store holds {0}, which this version does not write")]
    Unreadable(String),
    /// The file's or database's tables are of a later version of ivrc.
    #[error("the store's tables are version {found}, newer than this ivrc's {known}")]
    Newer {
        /// The version found.
        found: i64,
        /// The latest version this ivrc knows.
        known: i64,
    },
}

/// What opening a store did to its tables (`ivrc store migrate` says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The version found (0: no tables yet).
    pub from: i64,
    /// The version it is at now.
    pub to: i64,
}

/// How hard a connection's commits wait for the disk.
#[derive(Debug, Clone, Copy)]
enum Durability {
    /// Synced at checkpoints: every committed row survives a crash of the process.
    Process,
    /// Synced at every commit: a committed row survives a crash of the machine.
    Machine,
}

/// Opens (creating when needed) the store's file at `path` with its pragmas and tables.
fn connect(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    Ok(connect_migrating(path, durability)?.0)
}

/// [`connect`], and what it did to the tables.
fn connect_migrating(
    path: &Path,
    durability: Durability,
) -> Result<(Connection, Migrated), StoreError> {
    let mut db = Connection::open(path)?;
    // Several connections write to one file (the dialer, the call records, a server's
    // writers), and several may open it at once: they wait for each other, also while one
    // switches the file to WAL or creates the tables.
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL lets `ivrc entries` read while a server writes.
    db.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Machine => "FULL",
    };
    db.pragma_update(None, "synchronous", synchronous)?;
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version < SCHEMA_VERSION {
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        if version < 2 {
            tx.execute_batch(UP_TO_2)?;
        }
        for (table, column, declaration) in COLUMNS_5 {
            let there: bool = tx.query_row(
                "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                [table, column],
                |r| r.get(0),
            )?;
            if !there {
                tx.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
                ))?;
            }
        }
        tx.execute_batch(UP_TO_5)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
    }
    let migrated = Migrated {
        from: version,
        to: SCHEMA_VERSION,
    };
    Ok((db, migrated))
}

/// A millisecond count as SQLite's integer (saturating).
fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An open store: a SQLite file or a PostgreSQL database, the same calls for both.
pub struct Store {
    db: Db,
}

/// The connection behind a [`Store`].
enum Db {
    /// A SQLite file.
    Sqlite(Mutex<Connection>),
    /// A PostgreSQL database.
    Postgres(Box<Mutex<pg::Pg>>),
}

/// A lock's guard, also after a thread panicked holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Opens (creating when needed) the SQLite store at `path`.
    ///
    /// # Errors
    ///
    /// SQLite cannot open or create it, or its tables are of a later ivrc.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = connect(path, Durability::Process)?;
        Ok(Store {
            db: Db::Sqlite(Mutex::new(db)),
        })
    }

    /// Opens the store at `location`, creating its tables or bringing them up to date. A
    /// PostgreSQL store must not be opened or used on a tokio worker thread: the blocking client
    /// panics there.
    ///
    /// # Errors
    ///
    /// The file cannot be opened or the database reached, or its tables are of a later ivrc.
    pub fn open_at(location: &Location) -> Result<Store, StoreError> {
        Ok(Store::open_migrating(location)?.0)
    }

    /// Brings the tables of the store at `location` up to date (creating them when there
    /// are none), as opening it does; what it found and left.
    ///
    /// # Errors
    ///
    /// As [`Store::open_at`].
    pub fn migrate(location: &Location) -> Result<Migrated, StoreError> {
        Ok(Store::open_migrating(location)?.1)
    }

    fn open_migrating(location: &Location) -> Result<(Store, Migrated), StoreError> {
        let (db, migrated) = match location {
            Location::File(path) => {
                let (c, m) = connect_migrating(path, Durability::Process)?;
                (Db::Sqlite(Mutex::new(c)), m)
            }
            Location::Postgres(url) => {
                let (c, m) = pg::connect(url)?;
                (Db::Postgres(Box::new(Mutex::new(c))), m)
            }
        };
        Ok((Store { db }, migrated))
    }

    /// Adds call records (and their entries) in one transaction.
    ///
    /// # Errors
    ///
    /// The database refused; nothing of `rows` is written.
    pub fn add_rows(&self, rows: &[Row]) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(c) => {
                let mut db = lock(c);
                let tx = db.transaction()?;
                for row in rows {
                    match row {
                        Row::Entry(e) => {
                            entries::insert(&tx, e)?;
                        }
                        Row::Call(c) => calls::insert(&tx, c)?,
                        Row::Registration(r) => registrations::upsert(&tx, r)?,
                    }
                }
                tx.commit()?;
            }
            Db::Postgres(p) => lock(p).with(|client| {
                let mut tx = client.transaction()?;
                if rows.iter().any(|r| matches!(r, Row::Entry(_))) {
                    entries::hold_entry_order(&mut tx)?;
                }
                for row in rows {
                    match row {
                        Row::Entry(e) => {
                            entries::insert_pg(&mut tx, e)?;
                        }
                        Row::Call(c) => calls::insert_pg(&mut tx, c)?,
                        Row::Registration(r) => registrations::upsert_pg(&mut tx, r)?,
                    }
                }
                Ok(tx.commit()?)
            })?,
        }
        Ok(())
    }

    /// Moves the store to a writer thread: [`Writer::add`] queues and returns at once, and
    /// the thread commits what is queued in batches. Dropping the writer writes what is left.
    pub fn into_writer(self) -> Writer {
        let (tx, rx) = sync_channel::<Row>(QUEUE);
        let thread =
            std::thread::spawn(move || write_batches(|rows| self.add_rows(rows), &rx, KEPT));
        Writer {
            queue: Some(tx),
            thread: Some(thread),
        }
    }
}

/// The most rows the writer keeps while the database cannot be written (a network cut, a
/// restart): the oldest beyond it are dropped, and the drop is said.
const KEPT: usize = 100_000;
/// The longest pause between two tries of a batch the database refused.
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// The writer thread: waits for a row, takes what else is queued, and commits the oldest
/// rows in batches of up to [`BATCH`] with `write`, until the queue is closed and empty.
/// A batch that fails stays first in line and is tried again — at once (a connection the
/// server closed while idle is opened again on the second try), then after a pause doubling
/// up to [`RETRY_MAX`] — so a partition delays the records and never drops them, up to
/// `kept` rows waiting. A commit whose answer was lost may be written twice. Once the queue
/// is closed (the runtime stops), a batch failing twice gives up, and the rows not written
/// are counted in a line.
fn write_batches(
    mut write: impl FnMut(&[Row]) -> Result<(), StoreError>,
    queue: &Receiver<Row>,
    kept: usize,
) {
    let mut backlog: VecDeque<Row> = VecDeque::new();
    let mut pause = std::time::Duration::ZERO;
    let mut failures = 0_usize;
    loop {
        if backlog.is_empty() {
            match queue.recv() {
                Ok(row) => backlog.push_back(row),
                Err(_) => return,
            }
        }
        let open = take_queued(queue, &mut backlog, kept);
        let n = backlog.len().min(BATCH);
        let batch: Vec<Row> = backlog.range(..n).cloned().collect();
        match write(&batch) {
            Ok(()) => {
                backlog.drain(..n);
                if failures > 0 {
                    crate::errln!(
                        "ivrc: the store takes rows again after {failures} failed tries; {} rows still to write",
                        backlog.len()
                    );
                }
                failures = 0;
                pause = std::time::Duration::ZERO;
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    crate::errln!(
                        "ivrc: cannot write {} entries, call records and registrations (kept, and tried again): {e}",
                        backlog.len()
                    );
                }
                if !open && failures > 1 {
                    crate::errln!(
                        "ivrc: stopping with {} entries, call records and registrations not written: {e}",
                        backlog.len()
                    );
                    return;
                }
                std::thread::sleep(pause);
                pause = (pause * 2).clamp(std::time::Duration::from_millis(100), RETRY_MAX);
            }
        }
    }
}

/// Moves every row queued now to the end of `backlog`, dropping its oldest beyond `kept`
/// (said in a line); whether the queue is still open.
fn take_queued(queue: &Receiver<Row>, backlog: &mut VecDeque<Row>, kept: usize) -> bool {
    let open = loop {
        match queue.try_recv() {
            Ok(row) => backlog.push_back(row),
            Err(std::sync::mpsc::TryRecvError::Empty) => break true,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => break false,
        }
    };
    if backlog.len() > kept {
        let dropped = backlog.len() - kept;
        backlog.drain(..dropped);
        crate::errln!(
            "ivrc: the store has not taken rows for a while: the {dropped} oldest entries, call records and registrations waiting were dropped ({kept} kept)"
        );
    }
    open
}

/// What the writer thread writes.
#[derive(Debug, Clone)]
pub enum Row {
    /// An entry of a contact's timeline.
    Entry(Entry),
    /// A call record.
    Call(Box<CallRecord>),
    /// A change of a registration at a provider.
    Registration(RegistrationState),
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

    /// Queues a change of a registration at a provider.
    pub fn set_registration(&self, state: RegistrationState) {
        self.queue(Row::Registration(state));
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
pub(crate) mod tests {
    use super::*;

    /// A fresh directory for a test's store, and the store's path in it.
    pub(crate) fn scratch(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ivrc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("entries.db");
        (dir, path)
    }

    #[test]
    fn a_file_without_a_schema_version_keeps_opening_and_a_newer_one_is_refused() {
        let (dir, path) = scratch("schema");
        {
            // A store as ivrc wrote it before the version was kept.
            let db = Connection::open(&path).expect("creates");
            db.execute_batch(SCHEMA).expect("tables");
            db.execute(
                "INSERT INTO call_states (call_sid, flow, turn, state, at_ms)
                 VALUES ('CA1', 'f', 1, 's', 0)",
                [],
            )
            .expect("a row");
        }
        let store = Store::open(&path).expect("opens");
        assert!(store.call_state("CA1").expect("reads").is_some());
        drop(store);
        let db = Connection::open(&path).expect("opens");
        let version: i64 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        db.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("set");
        drop(db);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::Newer { found, known: SCHEMA_VERSION }) if found == SCHEMA_VERSION + 1
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A call record with Call-ID `id`, for the writer's tests.
    fn call(id: &str) -> Row {
        Row::Call(Box::new(CallRecord {
            call_id: id.to_string(),
            ..CallRecord::default()
        }))
    }

    fn ids(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| match r {
                Row::Call(c) => c.call_id.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_writer_keeps_a_refused_batch_and_tries_again_until_it_is_written() {
        let (tx, rx) = sync_channel::<Row>(16);
        let written = std::sync::Arc::new(Mutex::new(Vec::new()));
        let out = written.clone();
        let mut refusals = 3;
        let thread = std::thread::spawn(move || {
            write_batches(
                |rows| {
                    if refusals > 0 {
                        refusals -= 1;
                        return Err(StoreError::Unreadable("a test's refusal".into()));
                    }
                    lock(&out).extend(ids(rows));
                    Ok(())
                },
                &rx,
                KEPT,
            );
        });
        for id in ["a", "b", "c"] {
            tx.send(call(id)).expect("queued");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while lock(&written).len() < 3 {
            assert!(std::time::Instant::now() < deadline, "not written");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        tx.send(call("d")).expect("queued");
        drop(tx);
        thread.join().expect("the writer");
        assert_eq!(*lock(&written), ["a", "b", "c", "d"], "each once, in order");
    }

    #[test]
    fn the_writer_keeps_the_newest_rows_when_too_many_wait_and_gives_up_at_shutdown() {
        let (tx, rx) = sync_channel::<Row>(16);
        for id in ["a", "b", "c", "d", "e"] {
            tx.send(call(id)).expect("queued");
        }
        drop(tx);
        let mut written = Vec::new();
        write_batches(
            |rows| {
                written.extend(ids(rows));
                Ok(())
            },
            &rx,
            3,
        );
        assert_eq!(written, ["c", "d", "e"]);
        // Closed and refused twice: it stops (the runtime is stopping) instead of hanging.
        let (tx, rx) = sync_channel::<Row>(16);
        tx.send(call("f")).expect("queued");
        drop(tx);
        let mut tries = 0;
        write_batches(
            |_| {
                tries += 1;
                Err(StoreError::Unreadable("a test's refusal".into()))
            },
            &rx,
            KEPT,
        );
        assert_eq!(tries, 2);
    }

    #[test]
    fn times_print_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_312_861_000), "2026-11-22 02:01:01");
    }
}

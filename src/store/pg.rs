//! The store in PostgreSQL: the connection (the blocking `postgres` client), the tables and
//! their version, kept in the table `ivrc_schema`. The parts hold their queries beside their
//! SQLite ones.
//!
//! The blocking client runs a small tokio runtime of its own inside each call, so it must
//! never be used on a tokio worker thread (it panics there): the store is opened before the
//! async runtime starts and then lives on the writer's plain thread, or is read by commands
//! that have no async runtime. Connections are plain TCP (no TLS yet); a URL asking for
//! `sslmode=require` is refused by the server's answer, never silently downgraded.

use super::{location::PostgresUrl, Migrated, StoreError};
use postgres::{Client, NoTls};

/// The version of the tables below. Version 1: entries (with each contact's last entry),
/// call records and registrations — what `ivrc run`, `ivrc calls` and `ivrc entries` use;
/// version 2: the index of calls by Call-ID (a record is written when its call starts and
/// replaced when it ends); version 3: campaigns shared by instances (`campaigns`,
/// `campaign_leads` with owner, lease and fence, `campaign_attempts`); version 4: what
/// `ivrc serve` and its console keep — each call's latest sealed state (`call_states`) and how
/// far agents have read each contact (`contact_reads`).
pub(super) const SCHEMA_VERSION: i64 = 4;

/// Every table, for a database of any earlier version (each statement may run again).
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS entries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at_ms bigint NOT NULL,
        kind text NOT NULL,
        contact text NOT NULL,
        our_number text NOT NULL,
        flow text NOT NULL,
        sid text NOT NULL,
        body text,
        url text
    );
    CREATE INDEX IF NOT EXISTS entries_by_contact ON entries (contact, at_ms);
    CREATE INDEX IF NOT EXISTS entries_by_kind ON entries (kind, id);
    CREATE TABLE IF NOT EXISTS contact_last (
        contact text PRIMARY KEY,
        last_id bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS contact_last_by_id ON contact_last (last_id);
    CREATE TABLE IF NOT EXISTS calls (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        started_ms bigint NOT NULL,
        call_id text NOT NULL,
        flow text NOT NULL,
        record jsonb NOT NULL
    );
    CREATE INDEX IF NOT EXISTS calls_by_start ON calls (started_ms);
    CREATE INDEX IF NOT EXISTS calls_by_call_id ON calls (call_id);
    CREATE TABLE IF NOT EXISTS contact_reads (
        contact text PRIMARY KEY,
        seen_id bigint NOT NULL
    );
    CREATE TABLE IF NOT EXISTS call_states (
        call_sid text PRIMARY KEY,
        flow text NOT NULL,
        turn bigint NOT NULL,
        state text NOT NULL,
        at_ms bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS call_states_by_time ON call_states (at_ms);
    CREATE TABLE IF NOT EXISTS registrations (
        account text PRIMARY KEY,
        state text NOT NULL,
        detail text NOT NULL,
        at_ms bigint NOT NULL,
        until_ms bigint
    );
    CREATE TABLE IF NOT EXISTS campaigns (
        name text PRIMARY KEY,
        interval_ms float8 NOT NULL,
        pace_next_ms float8 NOT NULL,
        max_lines bigint NOT NULL,
        nonce text NOT NULL
    );
    CREATE TABLE IF NOT EXISTS campaign_leads (
        campaign text NOT NULL,
        line bigint NOT NULL,
        params jsonb NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'calling', 'done', 'failed')),
        attempts bigint NOT NULL,
        next_at_ms bigint NOT NULL,
        redials jsonb NOT NULL,
        outcome text NOT NULL,
        reason text NOT NULL,
        result jsonb,
        owner text,
        lease_until_ms bigint,
        fence bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign, line),
        CHECK ((state = 'calling') = (owner IS NOT NULL AND lease_until_ms IS NOT NULL))
    );
    CREATE INDEX IF NOT EXISTS campaign_leads_by_state ON campaign_leads (campaign, state, next_at_ms);
    CREATE TABLE IF NOT EXISTS campaign_attempts (
        campaign text NOT NULL,
        line bigint NOT NULL,
        attempt bigint NOT NULL,
        call_id text NOT NULL UNIQUE,
        started_ms bigint NOT NULL,
        ended_ms bigint,
        outcome text,
        owner text NOT NULL,
        fence bigint NOT NULL,
        PRIMARY KEY (campaign, line, attempt)
    );";

/// The advisory lock that instances starting together take around the schema, so only one
/// creates or changes tables and the others then find them made (ASCII "ivrc").
const SCHEMA_LOCK: i64 = 0x6976_7263;

/// How long the check of a connection after a failed query waits for the server.
const CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// An open connection and what it was opened with (to open it again after a loss).
pub(super) struct Pg {
    client: Client,
    url: PostgresUrl,
    /// Whether the last use failed: the connection is then checked before the next.
    failed: bool,
}

/// Connects to `url` and brings its tables up to date.
pub(super) fn connect(url: &PostgresUrl) -> Result<(Pg, Migrated), StoreError> {
    let mut client = url.config.connect(NoTls)?;
    let migrated = migrate(&mut client)?;
    Ok((
        Pg {
            client,
            url: url.clone(),
            failed: false,
        },
        migrated,
    ))
}

/// Creates or updates the tables in one transaction, refusing a database of a later ivrc.
fn migrate(client: &mut Client) -> Result<Migrated, StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS ivrc_schema (
             one boolean PRIMARY KEY DEFAULT true CHECK (one),
             version bigint NOT NULL
         )",
    )?;
    let from: i64 = tx
        .query_opt("SELECT version FROM ivrc_schema", &[])?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0);
    if from > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            found: from,
            known: SCHEMA_VERSION,
        });
    }
    if from < SCHEMA_VERSION {
        tx.batch_execute(SCHEMA)?;
        tx.execute(
            "INSERT INTO ivrc_schema (version) VALUES ($1)
             ON CONFLICT (one) DO UPDATE SET version = excluded.version",
            &[&SCHEMA_VERSION],
        )?;
    }
    tx.commit()?;
    Ok(Migrated {
        from,
        to: SCHEMA_VERSION,
    })
}

impl Pg {
    /// Runs `work` on the connection. After a failure the connection is checked first and
    /// opened again when the server has closed it (a restart, a network cut, an
    /// administrator's `pg_terminate_backend`): the work that failed is not redone here, but
    /// the next runs on a fresh connection instead of failing for good.
    pub(super) fn with<T>(
        &mut self,
        work: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.client.is_closed() || (self.failed && self.client.is_valid(CHECK).is_err()) {
            self.failed = true;
            self.client = self.url.config.connect(NoTls)?;
        }
        let done = work(&mut self.client);
        self.failed = done.is_err();
        done
    }
}

/// A client error with its causes ("db error: ERROR: relation … does not exist"): the
/// client's own message names only the kind.
pub(super) fn describe(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

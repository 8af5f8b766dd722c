//! A campaign's progress, for the dialer of `ivrc run --campaign`: each lead's state,
//! attempts and next time, and every attempt with its outcome, in a SQLite file or in a
//! PostgreSQL database that several instances share.
//!
//! Instances cooperate through a claim protocol (docs/runtime.md "Campaigns"):
//! - [`CampaignState::prepare`] loads the leads idempotently (a lead already there is kept) and
//!   writes the campaign's row: its line limit and call rate, held in the database so they hold
//!   across instances.
//! - [`CampaignState::claim`] takes due leads in one transaction: the campaign's row locked
//!   (claims of one campaign are serialized), its line limit checked against every instance's
//!   calls, the call rate paced by start slots kept in the row, the leads locked with
//!   `FOR UPDATE SKIP LOCKED`, each one given an owner, a lease and a new fence, and its
//!   attempt row (Call-ID derived from campaign, line and attempt) inserted before commit —
//!   so no call starts without its attempt written.
//! - [`CampaignState::renew`] extends the owner's leases (the heartbeat).
//! - [`CampaignState::finish`] writes an attempt's end only while the lead is still the
//!   owner's under the same fence; otherwise ([`Finished::LeaseLost`]) it touches nothing.
//! - [`CampaignState::rescue`] closes leads whose lease expired (their instance died or was cut
//!   off) as interrupted; it never touches a live lease.
//!
//! On PostgreSQL every time comes from the database's clock, so the instances' clocks do not
//! matter; on SQLite (one machine) from the caller. SQLite gets the same semantics from
//! `BEGIN IMMEDIATE` (one writer at a time). What follows an attempt is the dialer's to decide
//! ([`crate::runtime::dialer::plan`]); this part writes what it decided.

use super::{as_i64, connect, pg, Durability, Location, StoreError};
use crate::ir::Lead;
use rusqlite::Connection;
use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// How far ahead a claim may reserve start slots of the call rate: the dialer holds a claimed
/// call until its slot, so one claim serves a short burst of slots at high rates.
pub const LOOKAHEAD_MS: u64 = 250;
/// Start slots are this much further apart than the rate's interval (5 % under the rate): a
/// start the machine delays by up to a slot (a busy host, a late timer) then still never puts
/// more than the rate's calls into a second at the trunk (measured by tests/cluster_campaign.rs
/// on two cores: 22 calls in a second at 20/s without it).
const PACE_HEADROOM: f64 = 1.05;

/// Where a lead is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadState {
    /// Waiting for its next attempt.
    Pending,
    /// A call is on (claimed by an instance, under its lease).
    Calling,
    /// Reported ok.
    Done,
    /// Out of attempts or redials.
    Failed,
}

impl LeadState {
    /// Its name in the store and the results.
    pub fn name(self) -> &'static str {
        match self {
            LeadState::Pending => "pending",
            LeadState::Calling => "calling",
            LeadState::Done => "done",
            LeadState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<LeadState> {
        Some(match text {
            "pending" => LeadState::Pending,
            "calling" => LeadState::Calling,
            "done" => LeadState::Done,
            "failed" => LeadState::Failed,
            _ => return None,
        })
    }

    /// Whether the lead is finished.
    pub fn is_final(self) -> bool {
        matches!(self, LeadState::Done | LeadState::Failed)
    }
}

/// A lead and its progress.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LeadRow {
    /// The leads file line (its identity within the campaign).
    pub line: usize,
    /// The flow's parameters.
    pub params: BTreeMap<String, String>,
    /// Where it is.
    pub state: LeadState,
    /// Attempts made.
    pub attempts: u32,
    /// Not called before this time (ms since the epoch).
    pub next_at_ms: u64,
    /// Redials made per outcome.
    pub redials: BTreeMap<String, u32>,
    /// The last attempt's outcome.
    pub outcome: String,
    /// Why it failed, or the last retry's reason.
    pub reason: String,
    /// The last report's data.
    pub result: Option<serde_json::Value>,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AttemptRow {
    /// The lead's line.
    pub line: usize,
    /// 1, 2, …
    pub attempt: u32,
    /// The call's id.
    pub call_id: String,
    /// When it started (its start slot).
    pub started_ms: u64,
    /// When it ended (`None` while calling).
    pub ended_ms: Option<u64>,
    /// How it ended.
    pub outcome: Option<String>,
    /// The instance that claimed it.
    pub owner: String,
    /// The lead's fence under that claim.
    pub fence: i64,
}

/// A campaign's limits, written to its row by [`CampaignState::prepare`] (the instance
/// started last sets them for all).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Calls at once, over every instance.
    pub lines: u32,
    /// Calls started per `per_ms` over every instance, evenly spaced; `None`: no limit.
    pub rate: Option<(u32, u64)>,
}

/// A lead an instance claimed: the lead as it is now (calling), the attempt to make and what
/// proves the claim is still its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The lead.
    pub lead: LeadRow,
    /// The attempt's number.
    pub attempt: u32,
    /// The lead's fence under this claim: a finish with another is refused.
    pub fence: i64,
    /// The attempt's Call-ID.
    pub call_id: String,
    /// How long to hold the call before starting it: its slot of the campaign's call rate.
    pub start_in_ms: u64,
}

/// What a claim got, and how the campaign stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claim {
    /// The leads claimed.
    pub leads: Vec<Claimed>,
    /// Leads of the campaign not finished yet (pending or calling, over every instance).
    pub unfinished: usize,
    /// Leads finished.
    pub finished: usize,
    /// How long until the next pending lead is due, when none is due now.
    pub next_in_ms: Option<u64>,
}

/// How a finish went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The attempt and the lead are written.
    Written,
    /// The lead is no longer this claim's (its lease expired and it was rescued, or claimed
    /// again): nothing was written.
    LeaseLost,
}

/// A campaign's state, open, for one instance (its owner name) or for reading.
pub struct CampaignState {
    db: Conn,
    campaign: String,
    owner: String,
    lease_ms: u64,
}

/// The connection behind a [`CampaignState`].
enum Conn {
    Sqlite(Connection),
    Postgres(Box<pg::Pg>),
}

/// A value bound to or read from a statement (the few types the campaign tables hold).
#[derive(Debug, Clone, PartialEq)]
enum V {
    Int(i64),
    Real(f64),
    Text(String),
    Null,
}

impl V {
    fn int(&self) -> i64 {
        match self {
            V::Int(n) => *n,
            V::Real(f) => *f as i64,
            _ => 0,
        }
    }

    fn real(&self) -> f64 {
        match self {
            V::Real(f) => *f,
            V::Int(n) => *n as f64,
            _ => 0.0,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            V::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A transaction on either database: statements in PostgreSQL's `$1` style, run on SQLite
/// as `?1`.
enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(postgres::Transaction<'a>),
}

/// `sql` with PostgreSQL's `$N` parameters as SQLite's `?N`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl Tx<'_> {
    fn pg(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    /// `text` on PostgreSQL, nothing on SQLite (row locks: SQLite's transaction holds the file).
    fn pg_only<'s>(&self, text: &'s str) -> &'s str {
        if self.pg() {
            text
        } else {
            ""
        }
    }

    /// The parameter `$n` holding JSON text, as the column's type.
    fn json(&self, n: usize) -> String {
        if self.pg() {
            format!("${n}::text::jsonb")
        } else {
            format!("${n}")
        }
    }

    /// Column `c` of JSON, read as text.
    fn json_text(&self, c: &str) -> String {
        if self.pg() {
            format!("{c}::text")
        } else {
            c.to_string()
        }
    }

    /// Now: the database's clock on PostgreSQL, `given` on SQLite.
    fn now(&mut self, given: u64) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(_) => Ok(given),
            Tx::Postgres(tx) => {
                let ms: i64 = tx
                    .query_one(
                        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                        &[],
                    )?
                    .try_get(0)?;
                Ok(u64::try_from(ms).unwrap_or(0))
            }
        }
    }

    fn exec(&mut self, sql: &str, params: &[V]) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(tx) => {
                let n = tx
                    .prepare_cached(&sqlite_sql(sql))?
                    .execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                Ok(n as u64)
            }
            Tx::Postgres(tx) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref()).collect();
                Ok(tx.execute(sql, &refs)?)
            }
        }
    }

    fn query(&mut self, sql: &str, params: &[V]) -> Result<Vec<Vec<V>>, StoreError> {
        match self {
            Tx::Sqlite(tx) => {
                let mut q = tx.prepare_cached(&sqlite_sql(sql))?;
                let width = q.column_count();
                let rows = q.query_map(
                    rusqlite::params_from_iter(params.iter().map(sqlite_value)),
                    |r| {
                        (0..width)
                            .map(|i| {
                                Ok(match r.get_ref(i)? {
                                    rusqlite::types::ValueRef::Integer(n) => V::Int(n),
                                    rusqlite::types::ValueRef::Real(f) => V::Real(f),
                                    rusqlite::types::ValueRef::Text(t) => {
                                        V::Text(String::from_utf8_lossy(t).into_owned())
                                    }
                                    _ => V::Null,
                                })
                            })
                            .collect::<Result<Vec<V>, rusqlite::Error>>()
                    },
                )?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Tx::Postgres(tx) => {
                let boxed = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref()).collect();
                let rows = tx.query(sql, &refs)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut values = Vec::with_capacity(row.len());
                    for (i, column) in row.columns().iter().enumerate() {
                        use postgres::types::Type;
                        let v = match *column.type_() {
                            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(V::Int),
                            Type::INT4 => row
                                .try_get::<_, Option<i32>>(i)?
                                .map(|n| V::Int(i64::from(n))),
                            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(V::Real),
                            _ => row.try_get::<_, Option<String>>(i)?.map(V::Text),
                        };
                        values.push(v.unwrap_or(V::Null));
                    }
                    out.push(values);
                }
                Ok(out)
            }
        }
    }

    fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit()?,
            Tx::Postgres(tx) => tx.commit()?,
        }
        Ok(())
    }
}

fn sqlite_value(v: &V) -> rusqlite::types::Value {
    match v {
        V::Int(n) => rusqlite::types::Value::Integer(*n),
        V::Real(f) => rusqlite::types::Value::Real(*f),
        V::Text(s) => rusqlite::types::Value::Text(s.clone()),
        V::Null => rusqlite::types::Value::Null,
    }
}

fn pg_params(params: &[V]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                V::Int(n) => Box::new(*n),
                V::Real(f) => Box::new(*f),
                V::Text(s) => Box::new(s.clone()),
                V::Null => Box::new(None::<String>),
            }
        })
        .collect()
}

/// The lead columns every query reads, in [`lead_of`]'s order (`fence` last).
fn lead_columns(tx: &Tx<'_>) -> String {
    format!(
        "line, {}, state, attempts, next_at_ms, {}, outcome, reason, {}, fence",
        tx.json_text("params"),
        tx.json_text("redials"),
        tx.json_text("result")
    )
}

/// A lead read with [`lead_columns`], and its fence.
fn lead_of(row: &[V]) -> Result<(LeadRow, i64), StoreError> {
    let text = |i: usize| row.get(i).and_then(V::text).unwrap_or_default();
    let params = text(1);
    let state = text(2);
    let lead = LeadRow {
        line: usize::try_from(row[0].int()).unwrap_or(0),
        params: serde_json::from_str(params)
            .map_err(|_| StoreError::Unreadable(format!("lead parameters `{params}`")))?,
        state: LeadState::parse(state).ok_or_else(|| {
            StoreError::Unreadable(format!("a lead in an unknown state `{state}`"))
        })?,
        attempts: u32::try_from(row[3].int()).unwrap_or(u32::MAX),
        next_at_ms: u64::try_from(row[4].int()).unwrap_or(0),
        redials: serde_json::from_str(text(5)).unwrap_or_default(),
        outcome: text(6).to_string(),
        reason: text(7).to_string(),
        result: row
            .get(8)
            .and_then(V::text)
            .and_then(|r| serde_json::from_str(r).ok()),
    };
    Ok((lead, row.get(9).map_or(0, V::int)))
}

/// The numbers in `params`' `columns` (the parties a lead's calls go to).
fn numbers_in<'a>(
    params: &'a BTreeMap<String, String>,
    columns: &'a [String],
) -> impl Iterator<Item = &'a String> + 'a {
    columns.iter().filter_map(|c| params.get(c))
}

/// A random hex word (the campaign's part of its Call-IDs), from the standard library's
/// randomly keyed hasher.
fn nonce() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    format!("{:08x}", h.finish() as u32)
}

impl CampaignState {
    /// Opens the state of `campaign` in the store at `location` (tables created or brought up
    /// to date when needed) for the instance `owner`, whose leases last `lease_ms`. On
    /// PostgreSQL it must not be opened or used on a tokio worker thread.
    ///
    /// # Errors
    ///
    /// The store cannot be opened or reached, or its tables are of a later ivrc.
    pub fn open(
        location: &Location,
        campaign: &str,
        owner: &str,
        lease_ms: u64,
    ) -> Result<CampaignState, StoreError> {
        let db = match location {
            // Synced at every commit: a finished attempt is on disk before the next call starts.
            Location::File(path) => Conn::Sqlite(connect(path, Durability::Machine)?),
            Location::Postgres(url) => Conn::Postgres(Box::new(pg::connect(url)?.0)),
        };
        Ok(CampaignState {
            db,
            campaign: campaign.to_string(),
            owner: owner.to_string(),
            lease_ms,
        })
    }

    /// Runs `work` in one transaction (`BEGIN IMMEDIATE` on SQLite), committed when it
    /// succeeds; on PostgreSQL a connection lost since the last use is opened again first.
    fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Tx<'_>, &str, &str, u64) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (campaign, owner, lease) = (&self.campaign, &self.owner, self.lease_ms);
        match &mut self.db {
            Conn::Sqlite(db) => {
                let mut tx = Tx::Sqlite(
                    db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
                );
                let out = work(&mut tx, campaign, owner, lease)?;
                tx.commit()?;
                Ok(out)
            }
            Conn::Postgres(pg) => pg.with(|client| {
                let mut tx = Tx::Postgres(client.transaction()?);
                let out = work(&mut tx, campaign, owner, lease)?;
                tx.commit()?;
                Ok(out)
            }),
        }
    }

    /// Writes the campaign's row (its limits; the pacing and Call-ID part kept when it is
    /// there) and adds the leads not seen before, by line; the count added. Any instance may
    /// do it, any number of times.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn prepare(
        &mut self,
        limits: Limits,
        leads: &[Lead],
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        self.transaction(|tx, campaign, _, _| {
            let now = tx.now(now_ms)?;
            let insert = format!(
                "INSERT INTO campaign_leads
                 (campaign, line, params, state, attempts, next_at_ms, redials, outcome, reason, fence)
                 VALUES ($1, $2, {}, 'pending', 0, $4, {}, '', '', 0)
                 ON CONFLICT (campaign, line) DO NOTHING",
                tx.json(3),
                tx.json(5)
            );
            let mut added = 0;
            for lead in leads {
                added += tx.exec(
                    &insert,
                    &[
                        V::Text(campaign.to_string()),
                        V::Int(lead.line as i64),
                        V::Text(serde_json::to_string(&lead.values).unwrap_or_default()),
                        V::Int(as_i64(now)),
                        V::Text("{}".into()),
                    ],
                )?;
            }
            // The campaign's row last: writing it locks it until the commit, and every claim
            // of the campaign waits for that lock — not for the whole leads file.
            let interval = limits.rate.map_or(0.0, |(calls, per_ms)| {
                per_ms as f64 / f64::from(calls.max(1)) * PACE_HEADROOM
            });
            tx.exec(
                "INSERT INTO campaigns (name, interval_ms, pace_next_ms, max_lines, nonce)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO UPDATE
                 SET interval_ms = excluded.interval_ms, max_lines = excluded.max_lines",
                &[
                    V::Text(campaign.to_string()),
                    V::Real(interval),
                    V::Real(now as f64),
                    V::Int(i64::from(limits.lines.max(1))),
                    V::Text(nonce()),
                ],
            )?;
            Ok(added as usize)
        })
    }

    /// Every lead of the campaign, by line.
    ///
    /// # Errors
    ///
    /// The database refused, or a row is not ours.
    pub fn leads(&mut self) -> Result<Vec<LeadRow>, StoreError> {
        self.transaction(|tx, campaign, _, _| {
            let sql = format!(
                "SELECT {} FROM campaign_leads WHERE campaign = $1 ORDER BY line",
                lead_columns(tx)
            );
            tx.query(&sql, &[V::Text(campaign.to_string())])?
                .iter()
                .map(|r| lead_of(r).map(|(l, _)| l))
                .collect()
        })
    }

    /// Every attempt of the campaign, by line and number.
    ///
    /// # Errors
    ///
    /// The database refused.
    pub fn attempts(&mut self) -> Result<Vec<AttemptRow>, StoreError> {
        self.transaction(|tx, campaign, _, _| {
            let rows = tx.query(
                "SELECT line, attempt, call_id, started_ms, ended_ms, outcome, owner, fence
                 FROM campaign_attempts WHERE campaign = $1 ORDER BY line, attempt",
                &[V::Text(campaign.to_string())],
            )?;
            Ok(rows
                .iter()
                .map(|r| AttemptRow {
                    line: usize::try_from(r[0].int()).unwrap_or(0),
                    attempt: u32::try_from(r[1].int()).unwrap_or(0),
                    call_id: r[2].text().unwrap_or_default().to_string(),
                    started_ms: u64::try_from(r[3].int()).unwrap_or(0),
                    ended_ms: match r[4] {
                        V::Null => None,
                        ref v => Some(u64::try_from(v.int()).unwrap_or(0)),
                    },
                    outcome: r[5].text().map(str::to_string),
                    owner: r[6].text().unwrap_or_default().to_string(),
                    fence: r[7].int(),
                })
                .collect())
        })
    }

    /// Claims up to `want` due leads for this instance, in one transaction: as many as the
    /// campaign's line limit leaves free over every instance and as its call rate gives start
    /// slots for within [`LOOKAHEAD_MS`]; a lead one of whose numbers (`number_columns` of its
    /// parameters) is on a call of another lead is left for later. Each claimed lead becomes
    /// calling under this owner with a lease and a new fence, and its attempt is written.
    ///
    /// # Errors
    ///
    /// The database refused; nothing was claimed.
    pub fn claim(
        &mut self,
        want: usize,
        number_columns: &[String],
        now_ms: u64,
    ) -> Result<Claim, StoreError> {
        self.transaction(|tx, campaign, owner, lease_ms| {
            let name = V::Text(campaign.to_string());
            let row = tx.query(
                &format!(
                    "SELECT interval_ms, pace_next_ms, max_lines, nonce FROM campaigns WHERE name = $1 {}",
                    tx.pg_only("FOR UPDATE")
                ),
                std::slice::from_ref(&name),
            )?;
            // Read once the row is locked: a claim that waited for another instance's is
            // answered that much later, and its slots (told as delays from now) must not be.
            let now = tx.now(now_ms)?;
            let Some(row) = row.first() else {
                return Err(StoreError::Unreadable(format!(
                    "no row for campaign `{campaign}` (prepare it first)"
                )));
            };
            let (interval, mut pace, max_lines) = (row[0].real(), row[1].real(), row[2].int());
            let nonce = row[3].text().unwrap_or_default().to_string();
            let calling = tx.query(
                &format!(
                    "SELECT {} FROM campaign_leads WHERE campaign = $1 AND state = 'calling'",
                    tx.json_text("params")
                ),
                std::slice::from_ref(&name),
            )?;
            let mut busy: HashSet<String> = HashSet::new();
            for r in &calling {
                let params: BTreeMap<String, String> =
                    serde_json::from_str(r[0].text().unwrap_or_default()).unwrap_or_default();
                busy.extend(numbers_in(&params, number_columns).cloned());
            }
            let room = usize::try_from(max_lines)
                .unwrap_or(0)
                .saturating_sub(calling.len())
                .min(want);
            // Start slots, an interval apart at least: the rate's next start, never in the
            // past. A late start pushes the later ones back rather than letting one follow it
            // closer: no second ever holds more starts than the rate allows (the dialer's
            // pacer, held here for every instance).
            let mut slots = Vec::new();
            let nowf = now as f64;
            let mut next = pace;
            while slots.len() < room {
                if interval <= 0.0 {
                    slots.push(now);
                    continue;
                }
                let start = next.max(nowf).ceil();
                if start > nowf + LOOKAHEAD_MS as f64 {
                    break;
                }
                slots.push(start as u64);
                next = start + interval;
            }
            let mut claimed = Vec::new();
            if !slots.is_empty() {
                let sql = format!(
                    "SELECT {} FROM campaign_leads
                     WHERE campaign = $1 AND state = 'pending' AND next_at_ms <= $2
                     ORDER BY next_at_ms, line LIMIT $3 {}",
                    lead_columns(tx),
                    tx.pg_only("FOR UPDATE SKIP LOCKED")
                );
                let limit = (2 * slots.len() + calling.len()) as i64;
                let candidates =
                    tx.query(&sql, &[name.clone(), V::Int(as_i64(now)), V::Int(limit)])?;
                for row in &candidates {
                    if claimed.len() == slots.len() {
                        break;
                    }
                    let (mut lead, fence) = lead_of(row)?;
                    let numbers: Vec<String> =
                        numbers_in(&lead.params, number_columns).cloned().collect();
                    if numbers.iter().any(|n| busy.contains(n)) {
                        continue;
                    }
                    busy.extend(numbers);
                    let slot = slots[claimed.len()];
                    lead.attempts = lead.attempts.saturating_add(1);
                    lead.state = LeadState::Calling;
                    let fence = fence + 1;
                    let call_id = format!(
                        "{campaign}-{}-{}-{nonce}@ivrc",
                        lead.line, lead.attempts
                    );
                    tx.exec(
                        "UPDATE campaign_leads SET state = 'calling', attempts = $3, owner = $4,
                         lease_until_ms = $5, fence = $6
                         WHERE campaign = $1 AND line = $2 AND state = 'pending'",
                        &[
                            name.clone(),
                            V::Int(lead.line as i64),
                            V::Int(i64::from(lead.attempts)),
                            V::Text(owner.to_string()),
                            V::Int(as_i64(slot + lease_ms)),
                            V::Int(fence),
                        ],
                    )?;
                    tx.exec(
                        "INSERT INTO campaign_attempts
                         (campaign, line, attempt, call_id, started_ms, owner, fence)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        &[
                            name.clone(),
                            V::Int(lead.line as i64),
                            V::Int(i64::from(lead.attempts)),
                            V::Text(call_id.clone()),
                            V::Int(as_i64(slot)),
                            V::Text(owner.to_string()),
                            V::Int(fence),
                        ],
                    )?;
                    claimed.push(Claimed {
                        lead,
                        attempt: 0,
                        fence,
                        call_id,
                        start_in_ms: slot.saturating_sub(now),
                    });
                }
                for c in &mut claimed {
                    c.attempt = c.lead.attempts;
                }
                // Only the slots used are taken from the rate.
                if let Some(last) = claimed.len().checked_sub(1).map(|i| slots[i]) {
                    pace = last as f64 + interval;
                    tx.exec(
                        "UPDATE campaigns SET pace_next_ms = $2 WHERE name = $1",
                        &[name.clone(), V::Real(pace)],
                    )?;
                }
            }
            let counts = tx.query(
                "SELECT state, count(*) FROM campaign_leads WHERE campaign = $1 GROUP BY state",
                std::slice::from_ref(&name),
            )?;
            let (mut unfinished, mut finished) = (0, 0);
            for r in &counts {
                let n = usize::try_from(r[1].int()).unwrap_or(0);
                match r[0].text().and_then(LeadState::parse) {
                    Some(s) if s.is_final() => finished += n,
                    _ => unfinished += n,
                }
            }
            let next_in_ms = if claimed.is_empty() {
                tx.query(
                    "SELECT min(next_at_ms) FROM campaign_leads WHERE campaign = $1 AND state = 'pending'",
                    std::slice::from_ref(&name),
                )?
                .first()
                .and_then(|r| match r[0] {
                    V::Null => None,
                    ref v => Some(u64::try_from(v.int()).unwrap_or(0).saturating_sub(now)),
                })
                .map(|due| {
                    // Due now but held back by the lines, the rate or a busy number.
                    if due == 0 {
                        (pace - nowf).clamp(1.0, LOOKAHEAD_MS as f64) as u64
                    } else {
                        due
                    }
                })
            } else {
                None
            };
            Ok(Claim {
                leads: claimed,
                unfinished,
                finished,
                next_in_ms,
            })
        })
    }

    /// Extends the leases of the leads on `lines` this owner is calling (the ones its dialer
    /// still holds: a lead claimed by a claim whose answer was lost is not renewed, so it
    /// expires and is rescued); how many. With no lines it only checks that the database
    /// answers.
    ///
    /// # Errors
    ///
    /// The database refused or cannot be reached (the leases then run on toward expiry).
    pub fn renew(&mut self, lines: &[usize], now_ms: u64) -> Result<usize, StoreError> {
        self.transaction(|tx, campaign, owner, lease_ms| {
            let now = tx.now(now_ms)?;
            if lines.is_empty() {
                return Ok(0);
            }
            // Numbers only, written by us.
            let list: Vec<String> = lines.iter().map(ToString::to_string).collect();
            let n = tx.exec(
                &format!(
                    "UPDATE campaign_leads SET lease_until_ms = $3
                     WHERE campaign = $1 AND owner = $2 AND state = 'calling'
                     AND line IN ({})",
                    list.join(", ")
                ),
                &[
                    V::Text(campaign.to_string()),
                    V::Text(owner.to_string()),
                    V::Int(as_i64(now + lease_ms)),
                ],
            )?;
            Ok(n as usize)
        })
    }

    /// Ends the attempt of `claim` with `lead` as the dialer settled it (state, redials,
    /// outcome, reason, result), its next attempt not before `retry_in_ms` from now — only
    /// while the lead is still this owner's under the claim's fence. Else nothing is written
    /// and the answer is [`Finished::LeaseLost`].
    ///
    /// # Errors
    ///
    /// The database refused; nothing was written.
    pub fn finish(
        &mut self,
        claim: &Claimed,
        lead: &LeadRow,
        retry_in_ms: u64,
        now_ms: u64,
    ) -> Result<Finished, StoreError> {
        self.transaction(|tx, campaign, owner, _| {
            let now = tx.now(now_ms)?;
            let sql = format!(
                "UPDATE campaign_leads SET state = $5, next_at_ms = $6, redials = {}, outcome = $8,
                 reason = $9, result = {}, owner = NULL, lease_until_ms = NULL
                 WHERE campaign = $1 AND line = $2 AND owner = $3 AND fence = $4
                 AND state = 'calling'",
                tx.json(7),
                tx.json(10)
            );
            let written = tx.exec(
                &sql,
                &[
                    V::Text(campaign.to_string()),
                    V::Int(lead.line as i64),
                    V::Text(owner.to_string()),
                    V::Int(claim.fence),
                    V::Text(lead.state.name().to_string()),
                    V::Int(as_i64(now + retry_in_ms)),
                    V::Text(serde_json::to_string(&lead.redials).unwrap_or_default()),
                    V::Text(lead.outcome.clone()),
                    V::Text(lead.reason.clone()),
                    lead.result
                        .as_ref()
                        .map_or(V::Null, |r| V::Text(r.to_string())),
                ],
            )?;
            if written == 0 {
                return Ok(Finished::LeaseLost);
            }
            tx.exec(
                "UPDATE campaign_attempts SET ended_ms = $4, outcome = $5
                 WHERE campaign = $1 AND line = $2 AND attempt = $3",
                &[
                    V::Text(campaign.to_string()),
                    V::Int(lead.line as i64),
                    V::Int(i64::from(claim.attempt)),
                    V::Int(as_i64(now)),
                    V::Text(lead.outcome.clone()),
                ],
            )?;
            Ok(Finished::Written)
        })
    }

    /// Closes the attempts whose lease has expired — their instance died, or lost the
    /// database for longer than a lease — as interrupted: `settle` decides what follows for
    /// each lead (given the lead and now) and the lead is written back without an owner. Live
    /// leases, this instance's or another's, are never touched. The leads rescued, as written.
    ///
    /// # Errors
    ///
    /// The database refused; nothing was written.
    pub fn rescue(
        &mut self,
        now_ms: u64,
        mut settle: impl FnMut(&mut LeadRow, u64),
    ) -> Result<Vec<LeadRow>, StoreError> {
        self.transaction(|tx, campaign, _, _| {
            let now = tx.now(now_ms)?;
            let name = V::Text(campaign.to_string());
            let sql = format!(
                "SELECT {} FROM campaign_leads
                 WHERE campaign = $1 AND state = 'calling' AND lease_until_ms < $2
                 ORDER BY line {}",
                lead_columns(tx),
                tx.pg_only("FOR UPDATE SKIP LOCKED")
            );
            let expired = tx.query(&sql, &[name.clone(), V::Int(as_i64(now))])?;
            let update = format!(
                "UPDATE campaign_leads SET state = $4, next_at_ms = $5, redials = {}, outcome = $7,
                 reason = $8, owner = NULL, lease_until_ms = NULL
                 WHERE campaign = $1 AND line = $2 AND fence = $3 AND state = 'calling'",
                tx.json(6)
            );
            let mut rescued = Vec::new();
            for row in &expired {
                let (mut lead, fence) = lead_of(row)?;
                settle(&mut lead, now);
                let written = tx.exec(
                    &update,
                    &[
                        name.clone(),
                        V::Int(lead.line as i64),
                        V::Int(fence),
                        V::Text(lead.state.name().to_string()),
                        V::Int(as_i64(lead.next_at_ms)),
                        V::Text(serde_json::to_string(&lead.redials).unwrap_or_default()),
                        V::Text(lead.outcome.clone()),
                        V::Text(lead.reason.clone()),
                    ],
                )?;
                if written == 0 {
                    continue;
                }
                tx.exec(
                    "UPDATE campaign_attempts SET ended_ms = $4, outcome = $5
                     WHERE campaign = $1 AND line = $2 AND attempt = $3 AND ended_ms IS NULL",
                    &[
                        name.clone(),
                        V::Int(lead.line as i64),
                        V::Int(i64::from(lead.attempts)),
                        V::Int(as_i64(now)),
                        V::Text(lead.outcome.clone()),
                    ],
                )?;
                rescued.push(lead);
            }
            Ok(rescued)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_an_older_version_left_calling_is_rescued_after_the_migration() {
        let (dir, path) = crate::store::tests::scratch("campaign-v4");
        {
            // The campaign tables as version 4 made them, a lead left calling by a kill.
            let db = Connection::open(&path).expect("creates");
            db.execute_batch(
                "CREATE TABLE campaign_leads (campaign TEXT NOT NULL, line INTEGER NOT NULL,
                     params TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
                     next_at_ms INTEGER NOT NULL, redials TEXT NOT NULL, outcome TEXT NOT NULL,
                     reason TEXT NOT NULL, result TEXT, PRIMARY KEY (campaign, line));
                 CREATE TABLE campaign_attempts (campaign TEXT NOT NULL, line INTEGER NOT NULL,
                     attempt INTEGER NOT NULL, call_id TEXT NOT NULL, started_ms INTEGER NOT NULL,
                     ended_ms INTEGER, outcome TEXT, PRIMARY KEY (campaign, line, attempt));
                 INSERT INTO campaign_leads VALUES
                     ('c', 2, '{\"phone\":\"+79000000001\"}', 'calling', 1, 0, '{}', '', '', NULL);
                 INSERT INTO campaign_attempts VALUES ('c', 2, 1, 'old@ivrc', 5, NULL, NULL);
                 PRAGMA user_version = 4;",
            )
            .expect("version 4");
        }
        let location = Location::File(path);
        let mut st = CampaignState::open(&location, "c", "b", 1_000).expect("migrates");
        let limits = Limits {
            lines: 2,
            rate: None,
        };
        assert_eq!(st.prepare(limits, &[], 10).expect("prepares"), 0);
        let rescued = st
            .rescue(10, |lead, now| {
                lead.state = LeadState::Pending;
                lead.next_at_ms = now;
            })
            .expect("rescues");
        assert_eq!(rescued.len(), 1);
        let claim = st.claim(2, &[], 20).expect("claims");
        assert_eq!(
            (claim.leads[0].attempt, claim.leads[0].fence),
            (2, 1),
            "{claim:?}"
        );
        let attempts = st.attempts().expect("reads");
        assert_eq!(attempts[0].ended_ms, Some(10));
        assert_eq!(attempts[1].owner, "b");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Call records: what each call on the SIP runtime did, step by step, written by `ivrc run`
//! and read by `ivrc calls`. A record is kept as JSON beside its start time and Call-ID.

use super::{as_i64, lock, Db, Row, Store, StoreError};
use rusqlite::{params, Connection};

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
    /// The parties the flow handed to another number (`transfer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<TransferRecord>,
    /// Everything the flow did that a party or the outside world can see, in order, in the
    /// words of `ivrc test` and `ivrc sim` (`say to caller "…"`, `transfer caller to +7…`,
    /// `report ok`, `end of the call`); runtime errors are in `errors`. Empty in older records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// The instance that ran the call (its SIP address), so that a restart finds its own
    /// cut-off calls in a store that several instances share; empty in older records.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance: String,
    /// The media quality of the caller's leg (RTCP); none without media or in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaQuality>,
}

/// `ended_by` of a call still going on: its record is written when it starts and replaced when
/// it ends.
pub const RUNNING: &str = "running";
/// `ended_by` of a call its instance lost (killed, crashed) while it went on, as the instance
/// found on its next start.
pub const INTERRUPTED: &str = "interrupted";

/// A party handed to another number by `transfer` (blind).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferRecord {
    /// The leg's name in the flow (`caller` for the caller).
    pub leg: String,
    /// The number it was handed to.
    pub number: String,
    /// How it went: `redirect` (302 before the answer), `refer` (the party took our REFER and
    /// calls the number itself), `bridge` (it refused REFER; we called the number and bridged
    /// them), `failed` (neither worked: the party was hung up), `pending` (cut off).
    pub how: String,
    /// What was answered on the way: `REFER 202`, `REFER 501, INVITE 200`, `REFER 501, INVITE 486`.
    pub detail: String,
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
    /// The media quality of the leg (RTCP); none without media or in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaQuality>,
}

/// The media quality of one leg: what we measured of the RTP it sent us (RFC 3550 A.3 and
/// A.8) and what the party reported of ours in its last RTCP SR or RR.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MediaQuality {
    /// RTP packets we sent to the party (the media clock's and a bridge's).
    pub packets_sent: u64,
    /// RTP packets the party sent us.
    pub packets_received: u64,
    /// Of the party's packets, how many never came (expected less received: duplicates make
    /// it smaller).
    pub packets_lost: i64,
    /// Interarrival jitter of the party's packets, in milliseconds.
    pub jitter_ms: f64,
    /// RTCP compound packets we sent (BYE included).
    pub rtcp_sent: u32,
    /// RTCP compound packets the party sent us that we could read.
    pub rtcp_received: u32,
    /// What the party said of our stream in its last report block on it; none when it sent
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerReport>,
    /// How the media was encrypted; none for plain RTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp: Option<SrtpUse>,
}

/// A leg's SRTP (`ivrc run --srtp`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SrtpUse {
    /// The SDES suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: String,
    /// Packets refused: the party's that failed authentication or were replays, and ours
    /// that could not be protected.
    pub refused: u64,
}

/// A party's last report block on our stream (RFC 3550 §6.4).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeerReport {
    /// The fraction of our packets lost in the interval before its report, 0 to 1.
    pub fraction_lost: f64,
    /// Our packets it lost since the start.
    pub packets_lost: i64,
    /// The interarrival jitter it saw, in milliseconds.
    pub jitter_ms: f64,
    /// The round-trip time from its LSR and DLSR (§6.4.1), when it had an SR of ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<f64>,
}

/// Writes a call record within the caller's transaction, in place of the call's record
/// written when it started.
pub(super) fn insert(db: &Connection, c: &CallRecord) -> Result<(), StoreError> {
    let json = serde_json::to_string(c).unwrap_or_default();
    db.prepare_cached(
        "DELETE FROM calls WHERE call_id = ?1 AND json_extract(record, '$.ended_by') = ?2",
    )?
    .execute(params![c.call_id, RUNNING])?;
    db.prepare_cached(
        "INSERT INTO calls (started_ms, call_id, flow, record) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![as_i64(c.started_ms), c.call_id, c.flow, json])?;
    Ok(())
}

/// [`insert`] in PostgreSQL (the record as `jsonb`, so SQL can look into it).
pub(super) fn insert_pg(
    tx: &mut postgres::Transaction<'_>,
    c: &CallRecord,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(c).unwrap_or_default();
    tx.execute(
        "DELETE FROM calls WHERE call_id = $1 AND record->>'ended_by' = $2",
        &[&c.call_id, &RUNNING],
    )?;
    tx.execute(
        "INSERT INTO calls (started_ms, call_id, flow, record) VALUES ($1, $2, $3, $4::text::jsonb)",
        &[&as_i64(c.started_ms), &c.call_id, &c.flow, &json],
    )?;
    Ok(())
}

impl Store {
    /// Call records that started at or after `since_ms`, oldest first.
    ///
    /// # Errors
    ///
    /// The database refused, or a record is not one this version writes.
    pub fn calls(&self, since_ms: u64) -> Result<Vec<CallRecord>, StoreError> {
        let texts: Vec<String> = match &self.db {
            Db::Sqlite(db) => {
                let db = lock(db);
                let mut query = db.prepare_cached(
                    "SELECT record FROM calls WHERE started_ms >= ?1 ORDER BY started_ms, id",
                )?;
                let rows = query.query_map([as_i64(since_ms)], |r| r.get::<_, String>(0))?;
                rows.collect::<Result<_, _>>()?
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                Ok(c.query(
                    "SELECT record::text FROM calls WHERE started_ms >= $1 ORDER BY started_ms, id",
                    &[&as_i64(since_ms)],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?)
            })?,
        };
        texts
            .iter()
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|e| StoreError::Unreadable(format!("a call record ({e})")))
            })
            .collect()
    }
}

impl Store {
    /// Closes the records of the calls `instance` left running when it stopped without ending
    /// them (killed, crashed): each becomes `interrupted`, its end unknown (the start time
    /// stands for it) and said so among its errors. Answers how many there were.
    ///
    /// # Errors
    ///
    /// The database refused, or a record is not one this version writes.
    pub fn interrupt_running(&self, instance: &str) -> Result<usize, StoreError> {
        let texts: Vec<String> = match &self.db {
            Db::Sqlite(db) => {
                let db = lock(db);
                let mut query = db.prepare_cached(
                    "SELECT record FROM calls WHERE json_extract(record, '$.ended_by') = ?1
                     AND json_extract(record, '$.instance') = ?2",
                )?;
                let rows =
                    query.query_map(params![RUNNING, instance], |r| r.get::<_, String>(0))?;
                rows.collect::<Result<_, _>>()?
            }
            Db::Postgres(pg) => lock(pg).with(|c| {
                Ok(c.query(
                    "SELECT record::text FROM calls WHERE record->>'ended_by' = $1
                     AND record->>'instance' = $2",
                    &[&RUNNING, &instance],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?)
            })?,
        };
        let mut closed = Vec::with_capacity(texts.len());
        for text in &texts {
            let mut record: CallRecord = serde_json::from_str(text)
                .map_err(|e| StoreError::Unreadable(format!("a call record ({e})")))?;
            record.ended_by = INTERRUPTED.to_string();
            record.ended_ms = record.started_ms;
            record.errors.push(
                "its instance stopped during the call (killed or crashed); when the call ended \
                 is not known"
                    .to_string(),
            );
            closed.push(Row::Call(Box::new(record)));
        }
        self.add_rows(&closed)?;
        Ok(closed.len())
    }
}

//! What a sipp trunk saw, from its `-trace_msg` log, for the campaign tests (tests/runtime/
//! campaign_shared.rs on loopback, tests/cluster_campaign.rs in namespaces): every message it
//! received and sent with its time, each call's span at the trunk, and the leads that had two
//! calls up at once.

// A test binary that takes this module in may use only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

/// A message of the trunk's log.
#[derive(Debug, Clone)]
pub struct Message {
    /// When it was received or sent (ms since the epoch).
    pub at_ms: u64,
    /// Sent by the trunk (else received).
    pub sent: bool,
    /// Its method; `None`: a response.
    pub method: Option<String>,
    /// A response's status.
    pub status: Option<u16>,
    /// Its Call-ID.
    pub call_id: String,
}

/// The `-trace_msg` log sipp wrote in `dir` (`…_messages.log`).
pub fn read_log(dir: &Path) -> String {
    let path = std::fs::read_dir(dir)
        .expect("the trunk's directory")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("_messages.log"))
        .expect("sipp's message log");
    std::fs::read_to_string(&path).expect("the log")
}

/// The messages of sipp's `-trace_msg` log. Each starts after a line of dashes ending in its
/// local time (`… 2026-01-01 10:00:00.123456`), then `UDP message received …` or `UDP message
/// sent …`; `utc_offset_s` is the local zone's offset ([`utc_offset_s`]).
pub fn messages(log: &str, utc_offset_s: i64) -> Vec<Message> {
    let mut out = Vec::new();
    for block in log
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.lines();
        let stamp = lines.next().unwrap_or_default();
        let at_ms = epoch_ms(stamp, utc_offset_s)
            .unwrap_or_else(|| panic!("no time in sipp's trace line `{stamp}`"));
        let Some(kind) = lines.next() else { continue };
        let sent = kind.contains("message sent");
        if !sent && !kind.contains("message received") {
            continue;
        }
        let mut start = None;
        let mut call_id = String::new();
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                if start.is_none() {
                    continue;
                }
                break;
            }
            if start.is_none() {
                start = Some(line.to_string());
            }
            if let Some(v) = line
                .strip_prefix("Call-ID:")
                .or_else(|| line.strip_prefix("i:"))
            {
                call_id = v.trim().to_string();
            }
        }
        let start = start.unwrap_or_default();
        let (method, status) = match start.strip_prefix("SIP/2.0 ") {
            Some(rest) => (None, rest.get(..3).and_then(|s| s.parse().ok())),
            None => (start.split(' ').next().map(str::to_string), None),
        };
        out.push(Message {
            at_ms,
            sent,
            method,
            status,
            call_id,
        });
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` of a zone `utc_offset_s` east of UTC, as ms since the epoch.
fn epoch_ms(stamp: &str, utc_offset_s: i64) -> Option<u64> {
    let (date, time) = stamp.trim().split_once(|c: char| c.is_whitespace())?;
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (hms, micros) = time.trim().split_once('.')?;
    let t: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (y, m, day) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    // Days from 1970-01-01 of a civil date (400-year eras from 0000-03-01).
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3_600 + t[1] * 60 + t[2] - utc_offset_s;
    let micros: i64 = micros.get(..6).unwrap_or(micros).parse().ok()?;
    u64::try_from(secs * 1_000 + micros / 1_000).ok()
}

/// The local zone's offset from UTC in seconds (`date +%z`), as sipp's trace uses local time.
pub fn utc_offset_s() -> i64 {
    let out = std::process::Command::new("date")
        .arg("+%z")
        .output()
        .expect("date runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits = text.trim_start_matches(['+', '-']);
    let (h, m) = digits.split_at(2.min(digits.len()));
    sign * (h.parse::<i64>().unwrap_or(0) * 3_600 + m.parse::<i64>().unwrap_or(0) * 60)
}

/// The Call-ID of the campaign attempt a lead's leg belongs to: the leg carries the attempt's
/// Call-ID with a suffix of its own (`shared-7-1-…@ivrc-0-…`), the attempt's is the part up
/// to `@ivrc`.
pub fn attempt_call_id(wire: &str) -> String {
    match wire.find("@ivrc") {
        Some(i) => wire[..i + "@ivrc".len()].to_string(),
        None => wire.to_string(),
    }
}

/// A call as the trunk saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The attempt's Call-ID ([`attempt_call_id`]).
    pub call_id: String,
    /// When its INVITE arrived (ms since the epoch).
    pub from_ms: u64,
    /// When it ended: the first BYE either way, a CANCEL received, or a final error response
    /// sent; `None` while it was still up when the log ends.
    pub to_ms: Option<u64>,
}

/// Every call at the trunk, in the log's order: an INVITE opens a call of its Call-ID unless
/// one is open (a retransmission), and the call's end closes it — so an INVITE arriving after
/// its call ended (a late retransmission) counts as a call of its own.
pub fn calls(messages: &[Message]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    for m in messages {
        let id = attempt_call_id(&m.call_id);
        let ends = matches!(m.method.as_deref(), Some("BYE"))
            || (!m.sent && m.method.as_deref() == Some("CANCEL"))
            || (m.sent && m.status.is_some_and(|s| s >= 300));
        if !m.sent && m.method.as_deref() == Some("INVITE") && !open.contains_key(&id) {
            open.insert(id.clone(), spans.len());
            spans.push(Span {
                call_id: id,
                from_ms: m.at_ms,
                to_ms: None,
            });
        } else if ends {
            if let Some(i) = open.remove(&id) {
                spans[i].to_ms = Some(m.at_ms);
            }
        }
    }
    spans
}

/// A lead's call at the trunk: its start, its end (ms since the epoch) and its Call-ID.
pub type Call<'a> = (u64, u64, &'a str);

/// The pairs of calls of one lead that were up at once, from each lead's calls. Sorted by
/// start, a call that overlaps any later one overlaps the next.
pub fn overlapping<'a>(
    by_lead: &HashMap<usize, Vec<Call<'a>>>,
) -> Vec<(usize, Call<'a>, Call<'a>)> {
    let mut found = Vec::new();
    for (line, spans) in by_lead {
        let mut spans = spans.clone();
        spans.sort_unstable();
        for pair in spans.windows(2) {
            if pair[1].0 < pair[0].1 {
                found.push((*line, pair[0], pair[1]));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(time: &str, kind: &str, first: &str, call_id: &str) -> String {
        format!(
            "----------------------------------------------- 2026-01-01 10:00:{time}\n\
             UDP message {kind}:\n\n{first}\nCall-ID: {call_id}\nCSeq: 1 X\n\n"
        )
    }

    #[test]
    fn a_late_invite_is_a_call_of_its_own_and_overlaps_are_found() {
        let log = [
            block(
                "00.000000",
                "received [300] bytes",
                "INVITE sip:a SIP/2.0",
                "c-1-1-x@ivrc-0",
            ),
            block(
                "00.500000",
                "sent (200 bytes)",
                "SIP/2.0 200 OK",
                "c-1-1-x@ivrc-0",
            ),
            block(
                "02.500000",
                "sent (200 bytes)",
                "BYE sip:ivrc SIP/2.0",
                "c-1-1-x@ivrc-0",
            ),
            block(
                "03.000000",
                "received [300] bytes",
                "INVITE sip:a SIP/2.0",
                "c-1-2-x@ivrc",
            ),
            block(
                "03.100000",
                "sent (200 bytes)",
                "SIP/2.0 503 No",
                "c-1-2-x@ivrc",
            ),
            block(
                "04.000000",
                "received [300] bytes",
                "INVITE sip:a SIP/2.0",
                "c-1-1-x@ivrc-0",
            ),
        ]
        .concat();
        let m = messages(&log, 0);
        assert_eq!(m.len(), 6);
        assert_eq!((m[1].sent, m[1].status), (true, Some(200)));
        assert_eq!(m[2].method.as_deref(), Some("BYE"));
        let spans = calls(&m);
        let at = |s: f64| 1_767_261_600_000 + (s * 1000.0) as u64;
        assert_eq!(
            spans
                .iter()
                .map(|s| (s.call_id.as_str(), s.from_ms, s.to_ms))
                .collect::<Vec<_>>(),
            [
                ("c-1-1-x@ivrc", at(0.0), Some(at(2.5))),
                ("c-1-2-x@ivrc", at(3.0), Some(at(3.1))),
                ("c-1-1-x@ivrc", at(4.0), None),
            ]
        );
        let lead: HashMap<usize, Vec<(u64, u64, &str)>> =
            [(1, vec![(10, 20, "a"), (30, 40, "b"), (15, 16, "c")])].into();
        assert_eq!(overlapping(&lead), [(1, (10, 20, "a"), (15, 16, "c"))]);
    }
}

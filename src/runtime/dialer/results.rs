//! A campaign's results: one line per finished lead for the log, the JSON posted to the
//! result webhook (retried with backoff), and the export as CSV or JSON.

use crate::store::campaign::LeadRow;
use std::path::Path;
use std::time::Duration;

/// How many times a result is posted before the dialer gives up on it.
pub const WEBHOOK_TRIES: u32 = 4;

/// A finished lead in one line: `campaign c: line 2 +7900…: done after 1 attempt`.
pub fn line_of(campaign: &str, lead: &LeadRow) -> String {
    let who: Vec<&str> = lead.params.values().map(String::as_str).collect();
    let attempts = if lead.attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{} attempts", lead.attempts)
    };
    let state = lead.state.name();
    let mut out = format!(
        "campaign {campaign}: line {} {}: {state} after {attempts}",
        lead.line,
        who.join(" ")
    );
    if !lead.reason.is_empty() {
        out.push_str(&format!(" ({})", lead.reason));
    }
    out
}

/// The key of a lead's result, sent with it as the `Idempotency-Key` header and in the body:
/// `campaign/line/attempt`, the same for every retry of the post and from whichever instance
/// posts it, so the receiver can drop a repeat.
pub fn idempotency_key(campaign: &str, line: usize, attempt: u32) -> String {
    format!("{campaign}/{line}/{attempt}")
}

/// The JSON posted for a lead finished by attempt `attempt`.
pub fn webhook_body(campaign: &str, lead: &LeadRow, attempt: u32) -> serde_json::Value {
    serde_json::json!({
        "idempotency_key": idempotency_key(campaign, lead.line, attempt),
        "campaign": campaign,
        "line": lead.line,
        "lead": lead.params,
        "state": lead.state,
        "attempts": lead.attempts,
        "outcome": lead.outcome,
        "reason": lead.reason,
        "result": lead.result,
    })
}

/// Posts `body` with its idempotency `key` until a 2xx answer, [`WEBHOOK_TRIES`] times at
/// most, waiting 1, 2, 4 s between tries.
///
/// # Errors
///
/// Every try failed; the last failure.
pub async fn post_with_retries(
    http: reqwest::Client,
    url: String,
    key: String,
    body: serde_json::Value,
) -> Result<(), String> {
    let mut wait = Duration::from_secs(1);
    let mut last = String::new();
    for attempt in 1..=WEBHOOK_TRIES {
        let sent = http
            .post(&url)
            .header("Idempotency-Key", &key)
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("{url} answered {}", r.status()),
            Err(e) => last = format!("{url}: {e}"),
        }
        if attempt < WEBHOOK_TRIES {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(format!("{last} (gave up after {WEBHOOK_TRIES} tries)"))
}

/// Writes the leads' results to `path`: JSON for `.json`, CSV (`;`-separated) otherwise.
///
/// # Errors
///
/// The file cannot be written.
pub fn export(path: &Path, leads: &[LeadRow]) -> std::io::Result<()> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let text = serde_json::to_string_pretty(leads).map_err(std::io::Error::other)?;
        return std::fs::write(path, text + "\n");
    }
    let columns: Vec<&String> = leads
        .first()
        .map(|l| l.params.keys().collect())
        .unwrap_or_default();
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .map_err(std::io::Error::other)?;
    let mut header: Vec<String> = vec!["line".into()];
    header.extend(columns.iter().map(|c| (*c).clone()));
    header.extend(
        ["state", "attempts", "outcome", "reason", "result"]
            .iter()
            .map(|s| (*s).to_string()),
    );
    w.write_record(&header).map_err(std::io::Error::other)?;
    for l in leads {
        let mut row = vec![l.line.to_string()];
        row.extend(
            columns
                .iter()
                .map(|c| l.params.get(*c).cloned().unwrap_or_default()),
        );
        row.extend([
            l.state.name().to_string(),
            l.attempts.to_string(),
            l.outcome.clone(),
            l.reason.clone(),
            l.result
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ]);
        w.write_record(&row).map_err(std::io::Error::other)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::campaign::LeadState;

    fn lead() -> LeadRow {
        LeadRow {
            line: 2,
            params: [
                ("name".to_string(), "Иван; \"Петров\"".to_string()),
                ("phone".to_string(), "+79001234567".to_string()),
            ]
            .into(),
            state: LeadState::Failed,
            attempts: 4,
            next_at_ms: 0,
            redials: Default::default(),
            outcome: "retry".into(),
            reason: "клиент отказался (all 4 attempts used)".into(),
            result: None,
        }
    }

    #[test]
    fn csv_export_quotes_what_needs_it_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("ivrc-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.csv");
        export(&path, &[lead()]).unwrap();
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_path(&path)
            .unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(
            header,
            ["line", "name", "phone", "state", "attempts", "outcome", "reason", "result"]
        );
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(&row[1], "Иван; \"Петров\"");
        assert_eq!(&row[3], "failed");
        let json = dir.join("r.json");
        export(&json, &[lead()]).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(back[0]["state"], "failed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_log_line_and_the_webhook_body() {
        assert_eq!(
            line_of("c", &lead()),
            "campaign c: line 2 Иван; \"Петров\" +79001234567: failed after 4 attempts (клиент отказался (all 4 attempts used))"
        );
        let body = webhook_body("c", &lead(), 4);
        assert_eq!(body["idempotency_key"], "c/2/4");
        assert_eq!(body["lead"]["phone"], "+79001234567");
        assert_eq!(body["attempts"], 4);
    }
}

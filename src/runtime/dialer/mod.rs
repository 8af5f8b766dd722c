//! The campaign dialer of `ivrc run --campaign NAME`: it places one call per due lead through
//! the server ([`Placement`]) within the campaign's simultaneous lines, call rate (token
//! bucket) and calling window; decides each attempt's sequel with the campaign's attempts,
//! retry interval and redial rules ([`plan`]); keeps all of it in the store ([`state`]) so a
//! killed process resumes where it was; shows progress; posts each lead's final result to the
//! result webhook (with retries); and ends with a summary and, when asked, the results as CSV
//! or JSON.

pub mod plan;
pub mod results;
pub mod state;

use super::now_ms;
use super::server::Placement;
use crate::ir::Lead;
use crate::ir::{Campaign, RedialOutcome};
use crate::store::CallRecord;
use plan::{Attempt, Bucket, Rules};
use state::{CampaignState, LeadRow, LeadState};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// What the dialer needs.
pub struct Dialer {
    /// The campaign.
    pub campaign: Campaign,
    /// The index of its flow in the program.
    pub flow: usize,
    /// The store (the campaign's state lives beside the call records).
    pub store: PathBuf,
    /// Campaign intervals and flow timers run this many times faster.
    pub time_scale: f64,
    /// Where to write the results at the end (`.csv` or `.json`).
    pub results: Option<PathBuf>,
    /// Draw a progress bar (stderr is a terminal).
    pub progress: bool,
    /// The lead's columns that hold the numbers its calls go to ([`number_columns`]): a lead
    /// is not called while one of them is on a call of another lead.
    pub number_columns: Vec<String>,
    /// The stream of its progress lines (stdout, or stderr when stdout carries JSON).
    pub lines: crate::stdio::Stream,
}

/// The columns whose numbers a campaign's calls go to: the `dial` column, or, for a flow that
/// places its own calls, every phone parameter. Two rows with the same number (the same person
/// listed twice, written two ways) are then never rung at the same time.
pub fn number_columns(campaign: &Campaign, flow: &crate::ir::Flow) -> Vec<String> {
    if let Some(column) = &campaign.dial {
        return vec![column.clone()];
    }
    flow.params
        .iter()
        .map(|id| &flow.vars[id.0 as usize])
        .filter(|v| v.ty == crate::ir::Type::Phone)
        .map(|v| v.name.clone())
        .collect()
}

/// How a campaign run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Leads reported ok.
    pub done: usize,
    /// Leads that failed.
    pub failed: usize,
    /// Leads still waiting (the run was stopped).
    pub pending: usize,
    /// Calls placed in this run.
    pub calls: usize,
}

/// How an attempt's call ended, for the rules.
pub fn attempt_of(record: &CallRecord, dials_lead: bool) -> Attempt {
    if let Some(report) = &record.report {
        if report["ok"] == serde_json::Value::Bool(true) {
            return Attempt::Ok;
        }
        return Attempt::Retry(report["reason"].as_str().unwrap_or_default().to_string());
    }
    if dials_lead {
        match record.ended_by.as_str() {
            "busy" => return Attempt::Unreached(RedialOutcome::Busy),
            "no_answer" => return Attempt::Unreached(RedialOutcome::NoAnswer),
            "failed" => return Attempt::Unreached(RedialOutcome::Failed),
            _ => {}
        }
    }
    if record.ended_by == "shutdown" {
        return Attempt::Interrupted;
    }
    Attempt::NoReport
}

impl Dialer {
    /// The numbers a lead's calls go to.
    fn numbers_of(&self, lead: &LeadRow) -> Vec<String> {
        self.number_columns
            .iter()
            .filter_map(|c| lead.params.get(c).cloned())
            .collect()
    }

    /// Runs the campaign over `leads` until every lead is final or `stop` turns true (then
    /// the calls under way finish first); places calls through `placements`.
    ///
    /// # Errors
    ///
    /// The store cannot be read or written: the dialer stops rather than call blind.
    pub async fn run(
        self,
        leads: &[Lead],
        placements: mpsc::UnboundedSender<Placement>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Summary, String> {
        let c = &self.campaign;
        let rules = Rules {
            campaign: c,
            time_scale: self.time_scale,
        };
        let mut st = CampaignState::open(&self.store, &c.name).map_err(|e| e.to_string())?;
        let added = st.add_leads(leads, now_ms()).map_err(|e| e.to_string())?;
        let recovered = st.recover(rules, now_ms()).map_err(|e| e.to_string())?;
        if !recovered.is_empty() {
            crate::errln!(
                "campaign `{}`: {} attempts were cut off by the last stop and count as interrupted (lines {recovered:?})",
                c.name,
                recovered.len()
            );
        }
        let rows = st.leads().map_err(|e| e.to_string())?;
        let total = rows.len();
        crate::println_to!(
            self.lines,
            "campaign `{}`: {total} leads ({added} new), {} finished before",
            c.name,
            rows.iter().filter(|l| l.state.is_final()).count()
        );
        let offset = c.utc_offset_minutes.unwrap_or(0);
        if c.window.is_some() && c.utc_offset_minutes.is_none() {
            crate::errln!(
                "campaign `{}`: the calling window is taken in UTC; set `timezone` for the recipients' local time",
                c.name
            );
        }
        let bar = self.progress.then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos}/{len} leads finished [{bar:30}] {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_position(rows.iter().filter(|l| l.state.is_final()).count() as u64);
            b
        });
        let mut bucket = c.rate.map(|r| Bucket::new(r.calls, r.per_ms, now_ms()));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, Option<CallRecord>)>();
        // Attempts under way: the lead's line and the attempt's number.
        let mut active: HashMap<usize, u32> = HashMap::new();
        // The numbers on a call, and the due leads that wait for one of them to be free.
        let mut on_call: HashMap<String, usize> = HashMap::new();
        let mut waiting: Vec<Reverse<(u64, usize)>> = Vec::new();
        // Pending leads by when they are due (entries of leads that moved on are skipped when
        // they surface), the leads by line, and how many are not finished.
        let mut due: BinaryHeap<Reverse<(u64, usize)>> = rows
            .iter()
            .filter(|l| l.state == LeadState::Pending)
            .map(|l| Reverse((l.next_at_ms, l.line)))
            .collect();
        let mut unfinished = rows.iter().filter(|l| !l.state.is_final()).count();
        let mut rows: HashMap<usize, LeadRow> = rows.into_iter().map(|l| (l.line, l)).collect();
        let mut summary = Summary::default();
        let mut webhooks = tokio::task::JoinSet::new();
        let http = reqwest::Client::new();
        let lines = c.lines.max(1) as usize;
        let dials_lead = c.dial.is_some();
        loop {
            let stopping = *stop.borrow();
            if active.is_empty() && (stopping || unfinished == 0) {
                break;
            }
            let now = now_ms();
            let mut wake = now + 1000;
            if !stopping {
                while active.len() < lines {
                    let Some(&Reverse((at, line))) = due.peek() else {
                        break;
                    };
                    if at > now {
                        wake = wake.min(at);
                        break;
                    }
                    if !plan::in_window(c.window, offset, now) {
                        wake = wake.min(plan::window_opens(c.window, offset, now));
                        break;
                    }
                    due.pop();
                    let Some(mut lead) = rows
                        .get(&line)
                        .filter(|l| l.state == LeadState::Pending && l.next_at_ms == at)
                        .cloned()
                    else {
                        continue;
                    };
                    let numbers = self.numbers_of(&lead);
                    if numbers.iter().any(|n| on_call.contains_key(n)) {
                        waiting.push(Reverse((at, line)));
                        continue;
                    }
                    if let Some(b) = bucket.as_mut() {
                        if !b.take(now) {
                            wake = wake.min(b.next_ms(now));
                            due.push(Reverse((at, line)));
                            break;
                        }
                    }
                    let call_id = format!(
                        "{}-{}-{}-{:x}@ivrc",
                        c.name,
                        lead.line,
                        lead.attempts + 1,
                        now
                    );
                    let attempt = st
                        .begin(lead.line, &call_id, now)
                        .map_err(|e| e.to_string())?;
                    lead.attempts = attempt;
                    lead.state = LeadState::Calling;
                    rows.insert(lead.line, lead.clone());
                    let (tx, rx) = oneshot::channel();
                    let number = c.dial.as_ref().and_then(|p| lead.params.get(p).cloned());
                    let placed = placements.send(Placement {
                        call_id,
                        flow: self.flow,
                        params: lead.params.clone().into_iter().collect(),
                        dial: number,
                        caller_id: c.caller_id.clone(),
                        done: tx,
                    });
                    let line = lead.line;
                    let done_tx = done_tx.clone();
                    tokio::spawn(async move {
                        let record = match placed {
                            Ok(()) => rx.await.ok(),
                            Err(_) => None,
                        };
                        let _ = done_tx.send((line, record));
                    });
                    summary.calls += 1;
                    active.insert(line, attempt);
                    for n in numbers {
                        on_call.insert(n, line);
                    }
                }
            }
            let sleep = Duration::from_millis(wake.saturating_sub(now_ms()).clamp(5, 1000));
            tokio::select! {
                Some((line, record)) = done_rx.recv() => {
                    let Some(attempt) = active.remove(&line) else { continue };
                    on_call.retain(|_, l| *l != line);
                    due.extend(waiting.drain(..));
                    let Some(mut lead) = rows.get(&line).cloned() else { continue };
                    let outcome = match &record {
                        Some(r) => attempt_of(r, dials_lead),
                        None => Attempt::Interrupted,
                    };
                    if outcome == Attempt::NoReport {
                        crate::errln!(
                            "campaign `{}`: line {line}: the call ended without `report` (a flow defect); counted as a retry",
                            c.name
                        );
                    }
                    let data = record.as_ref().and_then(|r| r.report.as_ref()).map(|r| r["data"].clone());
                    st.end_attempt(rules, &mut lead, attempt, &outcome, data, now_ms())
                        .map_err(|e| e.to_string())?;
                    if lead.state == LeadState::Pending {
                        due.push(Reverse((lead.next_at_ms, lead.line)));
                    } else {
                        unfinished = unfinished.saturating_sub(1);
                    }
                    if lead.state.is_final() {
                        let line_text = results::line_of(&c.name, &lead);
                        match &bar {
                            Some(b) => {
                                b.inc(1);
                                b.set_message(line_text);
                            }
                            None => crate::println_to!(self.lines, "{line_text}"),
                        }
                        if let Some(url) = &c.result_webhook {
                            let body = results::webhook_body(&c.name, &lead);
                            webhooks.spawn(results::post_with_retries(http.clone(), url.clone(), body));
                        }
                    }
                    rows.insert(lead.line, lead);
                },
                _ = stop.changed() => {},
                () = tokio::time::sleep(sleep) => {},
            }
        }
        if let Some(b) = &bar {
            b.finish();
        }
        while let Some(posted) = webhooks.join_next().await {
            if let Ok(Err(e)) = posted {
                crate::errln!("campaign `{}`: result webhook: {e}", c.name);
            }
        }
        let rows = st.leads().map_err(|e| e.to_string())?;
        for l in &rows {
            match l.state {
                LeadState::Done => summary.done += 1,
                LeadState::Failed => summary.failed += 1,
                LeadState::Pending | LeadState::Calling => summary.pending += 1,
            }
        }
        if let Some(path) = &self.results {
            results::export(path, &rows).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(summary)
    }
}

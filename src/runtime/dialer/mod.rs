//! The campaign dialer of `ivrc run --campaign NAME`: it places one call per due lead through
//! the server ([`Placement`]) within the campaign's simultaneous lines, call rate (token
//! bucket) and calling window; decides each attempt's sequel with the campaign's attempts,
//! retry interval and redial rules ([`plan`]); keeps all of it in the store
//! ([`crate::store::campaign`]) so a killed process resumes where it was; shows progress; posts each lead's final result to the
//! result webhook (with retries); and ends with a summary and, when asked, the results as CSV
//! or JSON.

pub mod plan;
pub mod results;

use super::now_ms;
use super::server::Placement;
use crate::ir::Lead;
use crate::ir::{Campaign, RedialOutcome};
use crate::store::campaign::{CampaignState, LeadRow, LeadState};
use crate::store::{CallRecord, StoreError};
use plan::{Attempt, Bucket, Rules};
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

/// Ends attempt `number` of `lead`: the plan settles what follows ([`plan::settle`]) and the
/// store writes the attempt and the lead.
fn end_attempt(
    st: &mut CampaignState,
    rules: Rules<'_>,
    lead: &mut LeadRow,
    number: u32,
    attempt: &Attempt,
    result: Option<serde_json::Value>,
    now_ms: u64,
) -> Result<(), StoreError> {
    plan::settle(rules, lead, attempt, result, now_ms);
    st.end_attempt(lead, number, now_ms)
}

/// Closes the attempts a killed process left calling, as interrupted (they count against the
/// lead's limit); the lines.
fn recover(
    st: &mut CampaignState,
    rules: Rules<'_>,
    now_ms: u64,
) -> Result<Vec<usize>, StoreError> {
    let calling: Vec<LeadRow> = st
        .leads()?
        .into_iter()
        .filter(|l| l.state == LeadState::Calling)
        .collect();
    let mut lines = Vec::new();
    for mut lead in calling {
        let number = lead.attempts;
        end_attempt(
            st,
            rules,
            &mut lead,
            number,
            &Attempt::Interrupted,
            None,
            now_ms,
        )?;
        lines.push(lead.line);
    }
    Ok(lines)
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
        let recovered = recover(&mut st, rules, now_ms()).map_err(|e| e.to_string())?;
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
                    end_attempt(&mut st, rules, &mut lead, attempt, &outcome, data, now_ms())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(line: usize, phone: &str) -> Lead {
        Lead {
            line,
            values: [("phone".to_string(), phone.to_string())].into(),
        }
    }

    fn campaign() -> crate::ir::Campaign {
        crate::compile(
            "t.ivr",
            "campaign c for f {\n  leads \"x.csv\"\n  attempts 2\n  retry_after 1m\n}\nflow f(phone: phone) {\n  report ok\n}\n",
        )
        .program
        .expect("compiles")
        .campaigns[0]
            .clone()
    }

    #[test]
    fn attempts_survive_a_reopen_and_interrupted_ones_count() {
        let dir = std::env::temp_dir().join(format!("ivrc-dialer-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        let c = campaign();
        let rules = Rules {
            campaign: &c,
            time_scale: 1.0,
        };
        {
            let mut s = CampaignState::open(&path, "c").unwrap();
            assert_eq!(
                s.add_leads(&[lead(2, "+79000000001"), lead(3, "+79000000002")], 0)
                    .unwrap(),
                2
            );
            assert_eq!(s.begin(2, "call-a", 10).unwrap(), 1);
            assert_eq!(s.begin(3, "call-b", 10).unwrap(), 1);
            let mut l3 = s.leads().unwrap().remove(1);
            end_attempt(
                &mut s,
                rules,
                &mut l3,
                1,
                &Attempt::Ok,
                Some(serde_json::json!({"x": 1})),
                20,
            )
            .unwrap();
            // killed here: lead 2 is still calling.
        }
        let mut s = CampaignState::open(&path, "c").unwrap();
        assert_eq!(
            s.add_leads(&[lead(2, "+79000000001")], 30).unwrap(),
            0,
            "known leads stay"
        );
        assert_eq!(recover(&mut s, rules, 40).unwrap(), vec![2]);
        let leads = s.leads().unwrap();
        assert_eq!(
            (leads[0].state, leads[0].attempts, leads[0].next_at_ms),
            (LeadState::Pending, 1, 60_040)
        );
        assert_eq!(leads[0].outcome, "interrupted");
        assert_eq!(
            (leads[1].state, leads[1].result.clone()),
            (LeadState::Done, Some(serde_json::json!({"x": 1})))
        );
        // The second attempt uses the last one allowed.
        assert_eq!(s.begin(2, "call-c", 70_000).unwrap(), 2);
        assert_eq!(recover(&mut s, rules, 80_000).unwrap(), vec![2]);
        let l2 = &s.leads().unwrap()[0];
        assert_eq!(l2.state, LeadState::Failed);
        let attempts = s.attempts().unwrap();
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a.ended_ms.is_some()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

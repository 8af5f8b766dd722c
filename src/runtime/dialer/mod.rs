//! The campaign dialer of `ivrc run --campaign NAME`: it claims due leads from the store
//! ([`crate::store::campaign`]: the campaign's lines, call rate and each lead's lease held in
//! the database, so several instances may share one campaign on PostgreSQL) and places one
//! call per claimed lead through the server ([`Placement`]) at its slot of the rate and within
//! the calling window; decides each attempt's sequel with the campaign's attempts, retry
//! interval and redial rules ([`plan`]) and writes it only while the lead is still its own;
//! renews its leases on a thread of its own and fences itself when it cannot ([`keeper`]);
//! rescues leads whose lease expired (a killed or cut-off instance's), so a killed process —
//! or another instance — resumes where it was; shows progress; posts each lead's final result
//! to the result webhook (with retries and an idempotency key); and ends with a summary and,
//! when asked, the results as CSV or JSON.

pub mod keeper;
pub mod plan;
pub mod results;

use super::now_ms;
use super::server::Placement;
use crate::ir::Lead;
use crate::ir::{Campaign, RedialOutcome};
use crate::store::campaign::{Claim, Claimed, Finished, LeadRow, LeadState, Limits};
use crate::store::{CallRecord, Location};
use keeper::{Heartbeat, Held, Opening, StateThread};
use plan::{Attempt, Rules};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// What the dialer needs.
pub struct Dialer {
    /// The campaign.
    pub campaign: Campaign,
    /// The index of its flow in the program.
    pub flow: usize,
    /// The store (the campaign's state lives beside the call records): a SQLite file, or a
    /// PostgreSQL database other instances may share.
    pub store: Location,
    /// This instance's name in the leases: unique to this process (its address and more).
    pub owner: String,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
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
    /// Attempts of this run not placed: their number is on the block list.
    pub blocked: usize,
    /// Attempts of this run whose lead was rescued by another instance before they ended:
    /// their finishes were refused by the fence.
    pub lost: usize,
    /// Times this instance fenced itself (its leases not renewed for two thirds of a lease).
    pub fenced: usize,
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
            "machine" => return Attempt::Unreached(RedialOutcome::Machine),
            _ => {}
        }
    }
    match record.ended_by.as_str() {
        "shutdown" => return Attempt::Interrupted,
        "blocked" => return Attempt::Blocked,
        _ => {}
    }
    Attempt::NoReport
}

/// Closes the attempts whose lease expired (any instance's: killed, or cut off longer than a
/// lease) as interrupted, as the plan settles them; the leads. Live leases are not touched.
async fn rescue(
    st: &StateThread,
    campaign: &Campaign,
    time_scale: f64,
) -> Result<Vec<LeadRow>, String> {
    let c = campaign.clone();
    st.run(move |s| {
        s.rescue(now_ms(), |lead, now| {
            let rules = Rules {
                campaign: &c,
                time_scale,
            };
            plan::settle(rules, lead, &Attempt::Interrupted, None, now);
        })
    })
    .await
}

/// What reaches the dialer's loop.
enum Event {
    /// A placed call ended (its record; `None`: it was never placed or its record was lost).
    Ended(usize, Option<Box<CallRecord>>),
    /// A claim's answer.
    Claimed(Result<Claim, String>),
    /// A finish's answer, for the claim and the lead as settled.
    Finished(Box<Claimed>, Box<LeadRow>, Result<Finished, String>),
    /// A rescue's answer.
    Rescued(Result<Vec<LeadRow>, String>),
}

/// Sends a finish to the state's thread; its answer comes back as an [`Event::Finished`]
/// (after `wait`: a retry).
fn send_finish(
    st: &StateThread,
    events: &mpsc::UnboundedSender<Event>,
    claimed: Claimed,
    lead: LeadRow,
    wait: Duration,
) {
    let (st, events) = (st.clone(), events.clone());
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let retry_in = lead.next_at_ms.saturating_sub(now_ms());
        let (c, l) = (claimed.clone(), lead.clone());
        let answer = st.run(move |s| s.finish(&c, &l, retry_in, now_ms())).await;
        let _ = events.send(Event::Finished(Box::new(claimed), Box::new(lead), answer));
    });
}

impl Dialer {
    /// Runs the campaign over `leads` (added to the store's when new) until every lead of the
    /// campaign is final — over every instance sharing it — or `stop` turns true (then the
    /// calls under way finish first); places calls through `placements`.
    ///
    /// # Errors
    ///
    /// The store cannot be opened, the leads not loaded, or the results not read or written
    /// at the end. A failed claim or finish later on is logged and tried again.
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
        let opening = Opening {
            location: self.store.clone(),
            campaign: c.name.clone(),
            owner: self.owner.clone(),
            lease: self.lease,
        };
        let st = StateThread::open(opening.clone()).await?;
        let limits = Limits {
            lines: c.lines,
            rate: c.rate.map(|r| (r.calls, r.per_ms)),
        };
        let loaded = leads.to_vec();
        let added = st
            .run(move |s| s.prepare(limits, &loaded, now_ms()))
            .await?;
        let recovered = rescue(&st, c, self.time_scale).await?;
        self.report_rescued(&recovered);
        let rows = st.run(|s| s.leads()).await?;
        let total = rows.len();
        let finished_before = rows.iter().filter(|l| l.state.is_final()).count();
        crate::println_to!(
            self.lines,
            "campaign `{}`: {total} leads ({added} new), {finished_before} finished before",
            c.name,
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
            b.set_position(finished_before as u64);
            b
        });
        let held: Held = Held::default();
        let heartbeat = Heartbeat::start(opening, plan::renew_every(self.lease), held.clone());
        let (fence_tx, fence_rx) = watch::channel(false);
        let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
        // Attempts claimed and not ended: the lead's line and its claim.
        let mut active: HashMap<usize, Claimed> = HashMap::new();
        let mut summary = Summary::default();
        let mut webhooks = tokio::task::JoinSet::new();
        let http = reqwest::Client::new();
        let lines = c.lines.max(1) as usize;
        let dials_lead = c.dial.is_some();
        // The campaign's unfinished leads as the last claim saw them, and whether something
        // finished since (a claim must look again before the run may end).
        let mut unfinished: Option<usize> = None;
        let mut stale = true;
        let mut claiming = false;
        let mut next_claim = now_ms();
        let mut next_rescue = now_ms() + ms(plan::renew_every(self.lease));
        let mut fenced = false;
        let mut failing_claims = false;
        let (mut rescuing, mut failing_rescues) = (false, false);
        // Lines whose finish failed and is being tried again (said once each).
        let mut failing_finishes: HashSet<usize> = HashSet::new();
        loop {
            let stopping = *stop.borrow();
            let holding = held.lock().unwrap_or_else(|p| p.into_inner()).len();
            if active.is_empty() && holding == 0 {
                if stopping {
                    break;
                }
                if !claiming && !stale && unfinished == Some(0) {
                    break;
                }
            }
            if plan::fenced(heartbeat.since_renewal(), self.lease) != fenced {
                fenced = !fenced;
                if fenced {
                    crate::errln!(
                        "campaign `{}`: this instance's leases have not been renewed for {:?}: it claims no lead and hangs up its {} campaign calls before its leases expire",
                        c.name,
                        heartbeat.since_renewal(),
                        active.len()
                    );
                } else {
                    crate::errln!(
                        "campaign `{}`: leases renewed again; claiming resumes",
                        c.name
                    );
                }
                summary.fenced += usize::from(fenced);
                fence_tx.send_replace(fenced);
            }
            let now = now_ms();
            if !claiming && !stopping && now >= next_claim {
                let open = plan::in_window(c.window, offset, now);
                let want = if open && !fenced {
                    lines.saturating_sub(active.len())
                } else {
                    0
                };
                claiming = true;
                stale = false;
                let (st, events, columns) =
                    (st.clone(), events_tx.clone(), self.number_columns.clone());
                tokio::spawn(async move {
                    let answer = st.run(move |s| s.claim(want, &columns, now_ms())).await;
                    let _ = events.send(Event::Claimed(answer));
                });
                next_claim = if open {
                    now + 1000
                } else {
                    plan::window_opens(c.window, offset, now).min(now + 1000)
                };
            }
            // One sweep at a time: on a cut network each one waits for the database, and
            // they must not pile up on the state's thread ahead of claims and finishes.
            if now >= next_rescue && !rescuing {
                rescuing = true;
                next_rescue = now + ms(plan::renew_every(self.lease));
                let (st, events, campaign, scale) =
                    (st.clone(), events_tx.clone(), c.clone(), self.time_scale);
                tokio::spawn(async move {
                    let answer = rescue(&st, &campaign, scale).await;
                    let _ = events.send(Event::Rescued(answer));
                });
            }
            let wake = next_claim.min(next_rescue);
            let sleep = Duration::from_millis(wake.saturating_sub(now_ms()).clamp(5, 1000));
            tokio::select! {
                Some(event) = events.recv() => match event {
                    Event::Claimed(Ok(claim)) => {
                        claiming = false;
                        failing_claims = false;
                        unfinished = Some(claim.unfinished);
                        if let Some(b) = &bar {
                            b.set_length((claim.unfinished + claim.finished) as u64);
                            b.set_position(claim.finished as u64);
                        }
                        let now = now_ms();
                        if claim.leads.is_empty() {
                            if let Some(due) = claim.next_in_ms {
                                next_claim = next_claim.min(now + due);
                            }
                        } else if active.len() + claim.leads.len() < lines {
                            // More lines free: the rate's next slots come after these.
                            next_claim = next_claim.min(now + crate::store::campaign::LOOKAHEAD_MS);
                        }
                        for claimed in claim.leads {
                            held.lock().unwrap_or_else(|p| p.into_inner()).insert(claimed.lead.line);
                            self.place(&claimed, &placements, &fence_rx, &stop, &events_tx);
                            summary.calls += 1;
                            active.insert(claimed.lead.line, claimed);
                        }
                    }
                    Event::Claimed(Err(e)) => {
                        claiming = false;
                        if !failing_claims {
                            crate::errln!("campaign `{}`: cannot claim leads: {e}", c.name);
                        }
                        failing_claims = true;
                    }
                    Event::Ended(line, record) => {
                        let Some(claimed) = active.remove(&line) else { continue };
                        let outcome = match &record {
                            Some(r) => attempt_of(r, dials_lead),
                            None => Attempt::Interrupted,
                        };
                        if outcome == Attempt::Blocked {
                            summary.calls = summary.calls.saturating_sub(1);
                            summary.blocked += 1;
                        }
                        if outcome == Attempt::NoReport {
                            crate::errln!(
                                "campaign `{}`: line {line}: the call ended without `report` (a flow defect); counted as a retry",
                                c.name
                            );
                        }
                        let data = record.as_ref().and_then(|r| r.report.as_ref()).map(|r| r["data"].clone());
                        let mut lead = claimed.lead.clone();
                        plan::settle(rules, &mut lead, &outcome, data, now_ms());
                        send_finish(&st, &events_tx, claimed, lead, Duration::ZERO);
                        next_claim = now_ms();
                    }
                    Event::Finished(claimed, lead, answer) => match answer {
                        Ok(written) => {
                            failing_finishes.remove(&lead.line);
                            held.lock().unwrap_or_else(|p| p.into_inner()).remove(&lead.line);
                            stale = true;
                            if written == Finished::LeaseLost {
                                summary.lost += 1;
                                crate::errln!(
                                    "campaign `{}`: line {}: attempt {} ended ({}) after its lease was lost (the lead was rescued); the lead is left as it is",
                                    c.name, lead.line, claimed.attempt, lead.outcome
                                );
                            } else if lead.state.is_final() {
                                let line_text = results::line_of(&c.name, &lead);
                                match &bar {
                                    Some(b) => {
                                        b.inc(1);
                                        b.set_message(line_text);
                                    }
                                    None => crate::println_to!(self.lines, "{line_text}"),
                                }
                                if let Some(url) = &c.result_webhook {
                                    let body = results::webhook_body(&c.name, &lead, claimed.attempt);
                                    let key = results::idempotency_key(&c.name, lead.line, claimed.attempt);
                                    webhooks.spawn(results::post_with_retries(http.clone(), url.clone(), key, body));
                                }
                            }
                        }
                        Err(e) => {
                            if failing_finishes.insert(lead.line) {
                                crate::errln!(
                                    "campaign `{}`: line {}: cannot write the end of attempt {} (tried again every second): {e}",
                                    c.name, lead.line, claimed.attempt
                                );
                            }
                            send_finish(&st, &events_tx, *claimed, *lead, Duration::from_secs(1));
                        }
                    },
                    Event::Rescued(Ok(rescued)) => {
                        (rescuing, failing_rescues) = (false, false);
                        if !rescued.is_empty() {
                            stale = true;
                            self.report_rescued(&rescued);
                        }
                    }
                    Event::Rescued(Err(e)) => {
                        rescuing = false;
                        if !failing_rescues {
                            crate::errln!("campaign `{}`: cannot rescue expired leases: {e}", c.name);
                        }
                        failing_rescues = true;
                    }
                },
                _ = stop.changed() => {},
                () = tokio::time::sleep(sleep) => {},
            }
        }
        drop(heartbeat);
        if let Some(b) = &bar {
            b.finish();
        }
        while let Some(posted) = webhooks.join_next().await {
            if let Ok(Err(e)) = posted {
                crate::errln!("campaign `{}`: result webhook: {e}", c.name);
            }
        }
        let rows = st.run(|s| s.leads()).await?;
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

    /// Places a claimed attempt's call at its slot of the call rate, unless the instance has
    /// fenced itself or is stopping by then; its end comes back as an [`Event::Ended`].
    fn place(
        &self,
        claimed: &Claimed,
        placements: &mpsc::UnboundedSender<Placement>,
        fence: &watch::Receiver<bool>,
        stop: &watch::Receiver<bool>,
        events: &mpsc::UnboundedSender<Event>,
    ) {
        let lead = &claimed.lead;
        let (tx, rx) = oneshot::channel();
        let placement = Placement {
            call_id: claimed.call_id.clone(),
            flow: self.flow,
            params: lead.params.clone().into_iter().collect(),
            dial: self
                .campaign
                .dial
                .as_ref()
                .and_then(|p| lead.params.get(p).cloned()),
            caller_id: self.campaign.caller_id.clone(),
            detect_machine: self.campaign.detect_machine,
            record_calls_trim_ms: self.campaign.record_calls.as_ref().map(|r| r.trim_ms),
            done: tx,
            hangup: Some(fence.clone()),
        };
        let wait = Duration::from_millis(claimed.start_in_ms);
        let (placements, fence, stop, events) = (
            placements.clone(),
            fence.clone(),
            stop.clone(),
            events.clone(),
        );
        let line = lead.line;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let record = if *fence.borrow() || *stop.borrow() {
                None
            } else {
                match placements.send(placement) {
                    Ok(()) => rx.await.ok().map(Box::new),
                    Err(_) => None,
                }
            };
            let _ = events.send(Event::Ended(line, record));
        });
    }

    /// Says which attempts a rescue closed.
    fn report_rescued(&self, rescued: &[LeadRow]) {
        if rescued.is_empty() {
            return;
        }
        let lines: Vec<usize> = rescued.iter().map(|l| l.line).collect();
        crate::errln!(
            "campaign `{}`: {} attempts were cut off (their instance stopped or lost the store, and their leases expired) and count as interrupted (lines {lines:?})",
            self.campaign.name,
            rescued.len()
        );
    }
}

/// A duration in whole milliseconds.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
    fn a_killed_owners_attempts_are_rescued_once_their_leases_expire_and_count() {
        use crate::store::campaign::CampaignState;
        let dir = std::env::temp_dir().join(format!("ivrc-dialer-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let location = Location::File(dir.join("s.db"));
        let c = campaign();
        let rules = Rules {
            campaign: &c,
            time_scale: 1.0,
        };
        let limits = Limits {
            lines: 5,
            rate: None,
        };
        let settle = |lead: &mut LeadRow, now| {
            plan::settle(rules, lead, &Attempt::Interrupted, None, now);
        };
        {
            let mut s = CampaignState::open(&location, "c", "a", 1_000).unwrap();
            let leads = [lead(2, "+79000000001"), lead(3, "+79000000002")];
            assert_eq!(s.prepare(limits, &leads, 0).unwrap(), 2);
            let claim = s.claim(5, &[], 10).unwrap();
            assert_eq!(claim.leads.len(), 2);
            let l3 = &claim.leads[1];
            let mut done = l3.lead.clone();
            plan::settle(
                rules,
                &mut done,
                &Attempt::Ok,
                Some(serde_json::json!({"x": 1})),
                20,
            );
            assert_eq!(s.finish(l3, &done, 0, 20).unwrap(), Finished::Written);
            // killed here: lead 2 is still calling, its lease until 1 010.
        }
        let mut s = CampaignState::open(&location, "c", "b", 1_000).unwrap();
        assert_eq!(
            s.prepare(limits, &[lead(2, "+79000000001")], 30).unwrap(),
            0,
            "known leads stay"
        );
        assert!(
            s.rescue(1_000, settle).unwrap().is_empty(),
            "a live lease stays"
        );
        let rescued = s.rescue(1_011, settle).unwrap();
        assert_eq!(rescued.iter().map(|l| l.line).collect::<Vec<_>>(), [2]);
        let leads = s.leads().unwrap();
        assert_eq!(
            (leads[0].state, leads[0].attempts, leads[0].next_at_ms),
            (LeadState::Pending, 1, 61_011)
        );
        assert_eq!(leads[0].outcome, "interrupted");
        assert_eq!(
            (leads[1].state, leads[1].result.clone()),
            (LeadState::Done, Some(serde_json::json!({"x": 1})))
        );
        // The second attempt uses the last one allowed.
        let claim = s.claim(5, &[], 70_000).unwrap();
        assert_eq!(claim.leads[0].attempt, 2);
        assert_eq!(s.rescue(80_000, settle).unwrap().len(), 1);
        let l2 = &s.leads().unwrap()[0];
        assert_eq!(l2.state, LeadState::Failed);
        let attempts = s.attempts().unwrap();
        assert_eq!(attempts.len(), 3);
        assert!(attempts.iter().all(|a| a.ended_ms.is_some()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

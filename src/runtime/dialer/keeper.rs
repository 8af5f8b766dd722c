//! The campaign's state on plain threads, never on a tokio worker (the blocking PostgreSQL
//! client panics there, scale-out.md §3): [`StateThread`] owns one connection and runs the
//! dialer's requests in order, answering each over a oneshot; [`Heartbeat`] owns a second
//! connection and renews this instance's leases at a fixed period, so a slow claim or finish
//! never delays a renewal, and tells how long ago the last renewal succeeded.

use crate::runtime::now_ms;
use crate::store::campaign::CampaignState;
use crate::store::{Location, StoreError};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The lines of the leads the dialer holds (claimed and not yet finished), shared with the
/// heartbeat.
pub type Held = Arc<Mutex<std::collections::BTreeSet<usize>>>;

/// A request to the state's thread.
type Job = Box<dyn FnOnce(&mut CampaignState) + Send>;

/// What the threads open: where, which campaign, for which owner, with which lease.
#[derive(Debug, Clone)]
pub struct Opening {
    /// The store.
    pub location: Location,
    /// The campaign.
    pub campaign: String,
    /// This instance's name in the leases.
    pub owner: String,
    /// How long a lease lasts.
    pub lease: Duration,
}

impl Opening {
    fn open(&self) -> Result<CampaignState, StoreError> {
        CampaignState::open(
            &self.location,
            &self.campaign,
            &self.owner,
            u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX),
        )
    }
}

/// The campaign's state on a thread of its own (a clone sends to the same thread).
#[derive(Clone)]
pub struct StateThread {
    jobs: mpsc::Sender<Job>,
}

impl StateThread {
    /// Opens the state on a new thread.
    ///
    /// # Errors
    ///
    /// The store cannot be opened.
    pub async fn open(opening: Opening) -> Result<StateThread, String> {
        let (ready_tx, ready) = oneshot::channel();
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::spawn(move || match opening.open() {
            Ok(mut state) => {
                let _ = ready_tx.send(Ok(()));
                // Until the dialer drops its [`StateThread`].
                while let Ok(job) = inbox.recv() {
                    job(&mut state);
                }
            }
            Err(e) => {
                let _ = ready_tx.send(Err(format!("cannot open `{}`: {e}", opening.location)));
            }
        });
        ready
            .await
            .map_err(|_| "the campaign's store thread stopped".to_string())??;
        Ok(StateThread { jobs })
    }

    /// Runs `work` on the state's thread; its answer.
    ///
    /// # Errors
    ///
    /// The store refused (its message).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut CampaignState) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |state| {
            let _ = tx.send(work(state).map_err(|e| e.to_string()));
        });
        self.jobs
            .send(job)
            .map_err(|_| "the campaign's store thread stopped".to_string())?;
        rx.await
            .map_err(|_| "the campaign's store thread stopped".to_string())?
    }
}

/// The renewal of this instance's leases, on a thread and connection of its own.
pub struct Heartbeat {
    /// When the last renewal that succeeded was sent (its leases run from then at the latest).
    renewed: Arc<Mutex<Instant>>,
    /// Dropped to stop the thread (it is not waited for: a renewal may hang on a cut network).
    _stop: mpsc::Sender<()>,
}

impl Heartbeat {
    /// Starts renewing every `every`; the state is opened on the thread (and opened again
    /// after a failure, at the next period).
    pub fn start(opening: Opening, every: Duration, held: Held) -> Heartbeat {
        let renewed = Arc::new(Mutex::new(Instant::now()));
        let (stop, stopped) = mpsc::channel::<()>();
        let mark = renewed.clone();
        std::thread::spawn(move || {
            let mut state: Option<CampaignState> = None;
            let mut last_error = String::new();
            loop {
                let sent = Instant::now();
                if state.is_none() {
                    match opening.open() {
                        Ok(s) => state = Some(s),
                        Err(e) => last_error = e.to_string(),
                    }
                }
                if let Some(s) = state.as_mut() {
                    let lines: Vec<usize> = held
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .copied()
                        .collect();
                    match s.renew(&lines, now_ms()) {
                        Ok(_) => {
                            *mark.lock().unwrap_or_else(|p| p.into_inner()) = sent;
                            if !last_error.is_empty() {
                                crate::errln!(
                                    "campaign `{}`: leases renewed again",
                                    opening.campaign
                                );
                                last_error.clear();
                            }
                        }
                        Err(e) => {
                            if last_error.is_empty() {
                                crate::errln!(
                                    "campaign `{}`: cannot renew this instance's leases: {e}",
                                    opening.campaign
                                );
                            }
                            last_error = e.to_string();
                        }
                    }
                }
                match stopped.recv_timeout(every.saturating_sub(sent.elapsed())) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
            }
        });
        Heartbeat {
            renewed,
            _stop: stop,
        }
    }

    /// How long ago the last successful renewal was sent.
    pub fn since_renewal(&self) -> Duration {
        self.renewed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

//! Answering-machine detection of a dialled party (`dial … { detect_machine }`, a campaign's
//! `detect_machine`): once the party answers and its media flows, its first seconds go to the
//! detector (src/runtime/media/amd.rs) on a blocking thread, and the dial's result —
//! `answered` or `machine` — waits for the verdict (at most the analysis time, 5 s by
//! default; `--amd` sets it and the other settings). A party
//! that sends no audio counts as silence; one the detector is not sure about as a person.

use super::{Call, Done};
use crate::ir::{LegId, Outcome};
use crate::runtime::media::amd::{Cause, Detector, Settings, Verdict};
use std::collections::BTreeSet;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Frames queued for the detector (5 s of audio).
const QUEUE: usize = 250;

/// The dials whose party is checked for a machine.
#[derive(Debug)]
pub(super) struct Detection {
    /// The detector's settings (`--amd`).
    settings: Settings,
    /// Legs dialled with detection, not answered yet.
    wanted: BTreeSet<u32>,
    /// Legs answered whose verdict is awaited.
    running: BTreeSet<u32>,
}

impl Detection {
    /// No dial checked yet; each with `settings`.
    pub(super) fn new(settings: Settings) -> Detection {
        Detection {
            settings,
            wanted: BTreeSet::new(),
            running: BTreeSet::new(),
        }
    }

    /// The dial of `leg` wants detection (or not: a leg dialled again without it).
    pub(super) fn want(&mut self, leg: LegId, wanted: bool) {
        if wanted {
            self.wanted.insert(leg.0);
        } else {
            self.wanted.remove(&leg.0);
        }
        self.running.remove(&leg.0);
    }
}

/// The verdict as the dial's detail.
fn detail(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Human => "SIP 200, a person",
        Verdict::NotSure => "SIP 200, not sure: taken for a person",
        Verdict::Machine(Cause::InitialSilence) => "SIP 200, a machine (silence before a word)",
        Verdict::Machine(Cause::LongGreeting) => "SIP 200, a machine (a long greeting)",
        Verdict::Machine(Cause::MaxWords) => "SIP 200, a machine (many words)",
        Verdict::Machine(Cause::MaxWordLength) => "SIP 200, a machine (a long word)",
    }
}

impl Call<'_> {
    /// The party of `leg` answered and its media started: true when its dial wants detection,
    /// which then runs and decides the dial's result.
    pub(super) fn detect_machine(&mut self, leg: LegId) -> bool {
        if !self.detection.wanted.remove(&leg.0) {
            return false;
        }
        let Some(l) = self.leg(leg) else {
            return false;
        };
        let (tx, rx) = sync_channel::<Vec<i16>>(QUEUE);
        l.detect(Some(tx));
        self.detection.running.insert(leg.0);
        let settings = self.detection.settings;
        // The dial waits at most the analysis time, and a margin.
        let longest = settings.total + Duration::from_secs(2);
        self.dialing.insert(leg.0, Instant::now() + longest);
        let task = tokio::task::spawn_blocking(move || {
            let mut detector = Detector::new(settings);
            let mut heard = Instant::now();
            loop {
                match rx.recv_timeout(Duration::from_millis(60)) {
                    Ok(frame) => {
                        heard = Instant::now();
                        if let Some(v) = detector.feed(&frame) {
                            return v;
                        }
                    }
                    // No packets: silence, for as long as nothing came.
                    Err(RecvTimeoutError::Timeout) => {
                        let gap = heard.elapsed();
                        heard = Instant::now();
                        let silence = vec![0i16; (gap.as_millis() as usize) * 8];
                        if let Some(v) = detector.feed(&silence) {
                            return v;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return Verdict::NotSure,
                }
            }
        });
        self.tasks.report(task, move |r| Done::Detected {
            leg,
            verdict: r.unwrap_or(Verdict::NotSure),
        });
        true
    }

    /// The detector decided about the party of `leg`: the dial's result.
    pub(super) fn detected(&mut self, leg: LegId, verdict: Verdict) {
        if !self.detection.running.remove(&leg.0) || !self.dialing.contains_key(&leg.0) {
            return; // the party hung up, or the flow gave up on the dial
        }
        if let Some(l) = self.leg(leg) {
            l.detect(None);
        }
        let outcome = match verdict {
            Verdict::Machine(_) => Outcome::Machine,
            Verdict::Human | Verdict::NotSure => Outcome::Answered,
        };
        self.dial_result(leg, detail(verdict), outcome);
    }
}

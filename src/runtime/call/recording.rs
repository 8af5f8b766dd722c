//! `record` on the runtime: the party's audio goes to a WAV file under `--recordings DIR`
//! until the end key, the longest length, or the party hangs up; the file becomes the
//! variable's value (a finished `record`) and a voicemail entry of the party's timeline.
//! Without a directory, or when the file cannot be written, the variable is empty text, the
//! call record and the log say why, and the flow goes on.
//!
//! A campaign's `record_calls` records its calls whole, from the party's answer to the end,
//! in two channels — the party, and what the party heard (prompts, or the party bridged to
//! them) — as a call recording entry.

use super::{Call, CallRequest, Done};
use crate::engine::Event;
use crate::ir::LegId;
use crate::runtime::media::recording::{
    CallAudio, CallRecording, Channel, Recorded, Recording, RATE,
};
use crate::store::{Entry, EntryKind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The recordings of one call.
pub(super) struct Recordings {
    /// `--recordings DIR`.
    dir: Option<PathBuf>,
    /// How many the call started (they are numbered in its file names).
    started: u32,
    /// The one in progress.
    active: Option<Active>,
    /// Whether the whole call is recorded (`record_calls`), and how much of its start is cut.
    whole_trim_ms: Option<u64>,
    /// The whole call's recording, once the party answered.
    whole: Option<(CallRecording, CallAudio)>,
}

/// A recording in progress.
struct Active {
    leg: LegId,
    end_key: Option<char>,
    /// When it reaches its longest length (at the call's time scale).
    until: Instant,
    recording: Recording,
}

impl Recordings {
    /// None yet; files go under `dir`; the whole call is recorded with `whole_trim_ms` cut
    /// from its start when that is given.
    pub(super) fn new(dir: Option<PathBuf>, whole_trim_ms: Option<u64>) -> Recordings {
        Recordings {
            dir,
            started: 0,
            active: None,
            whole_trim_ms,
            whole: None,
        }
    }

    /// When the recording in progress reaches its longest length.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.active.as_ref().map(|a| a.until)
    }
}

/// A Call-ID as part of a file name: letters, digits, `-`, `_` and `.` kept, the rest `_`.
fn file_part(call_id: &str) -> String {
    call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Call<'_> {
    /// Starts recording `leg` for at most `max_ms` (flow time), until `end_key` when given.
    pub(super) fn start_recording(&mut self, leg: LegId, max_ms: u64, end_key: Option<String>) {
        self.end_recording(false);
        let Some(dir) = self.recordings.dir.clone() else {
            return self.recording_failed(leg, "no --recordings directory to write to".into());
        };
        if self.leg(leg).is_none() {
            return self.recording_failed(leg, "the party is not connected".into());
        }
        self.recordings.started += 1;
        let path = dir.join(format!(
            "{}-{}.wav",
            file_part(&self.call_id),
            self.recordings.started
        ));
        let max_samples = max_ms.saturating_mul(u64::from(RATE)) / 1_000;
        let (recording, audio) = match Recording::start(path, max_samples) {
            Ok(r) => r,
            Err(why) => return self.recording_failed(leg, why),
        };
        if let Some(l) = self.leg(leg) {
            l.record(Some(audio));
        }
        let until = Instant::now() + self.scaled(Duration::from_millis(max_ms));
        self.recordings.active = Some(Active {
            leg,
            end_key: end_key.and_then(|k| k.chars().next()),
            until,
            recording,
        });
    }

    /// A key on `leg`: true when it is the end key of the recording in progress there (it
    /// ends the recording and goes no further).
    pub(super) fn recording_key(&mut self, leg: LegId, key: char) -> bool {
        let ends = self
            .recordings
            .active
            .as_ref()
            .is_some_and(|a| a.leg == leg && a.end_key == Some(key));
        if ends {
            self.end_recording(true);
        }
        ends
    }

    /// The party of `leg` is gone: its recording ends and is kept, but the flow hears nothing
    /// of it (`on hangup` runs instead).
    pub(super) fn recorded_party_gone(&mut self, leg: LegId) {
        if self
            .recordings
            .active
            .as_ref()
            .is_some_and(|a| a.leg == leg)
        {
            self.end_recording(false);
        }
    }

    /// Ends the recording in progress, if any: the file is finished on a blocking thread,
    /// becomes a voicemail entry, and with `to_flow` the `record`'s value.
    pub(super) fn end_recording(&mut self, to_flow: bool) {
        let Some(active) = self.recordings.active.take() else {
            return;
        };
        if let Some(l) = self.leg(active.leg) {
            l.record(None);
        }
        let entry = self.recording_entry(active.leg, EntryKind::Voicemail);
        let (requests, leg) = (self.requests.clone(), active.leg);
        let finished = tokio::task::spawn_blocking(move || active.recording.finish());
        let written = async move {
            let result = finished
                .await
                .unwrap_or_else(|e| Err(format!("the recording's task failed: {e}")));
            match &result {
                Ok(r) => {
                    let _ = requests.send(CallRequest::Entry(Entry {
                        body: Some((r.ms / 1_000).to_string()),
                        url: Some(r.path.display().to_string()),
                        ..entry
                    }));
                }
                Err(why) => crate::errln!("ivrc: a recording of call {} failed: {why}", entry.sid),
            }
            result
        };
        self.tasks
            .report(tokio::spawn(written), move |r| Done::Recorded {
                leg,
                to_flow,
                result: r.unwrap_or_else(|e| Err(e.to_string())),
            });
    }

    /// The party answered: the whole call's recording starts, when the campaign records calls.
    pub(super) fn start_call_recording(&mut self) {
        let Some(trim) = self.recordings.whole_trim_ms else {
            return;
        };
        let Some(dir) = self.recordings.dir.clone() else {
            return self
                .record
                .error("record_calls: no --recordings directory to write to".into());
        };
        let path = dir.join(format!("{}-call.wav", file_part(&self.call_id)));
        let (recording, audio) = match CallRecording::start(path, trim) {
            Ok(r) => r,
            Err(why) => return self.record.error(format!("record_calls: {why}")),
        };
        if let Some(l) = self.leg(LegId::CALLER) {
            l.record_call(Some((audio.clone(), Channel::Party)));
            l.hear(Some(audio.clone()));
        }
        self.recordings.whole = Some((recording, audio));
    }

    /// Legs `a` and `b` were bridged: the one that is not the party is what the party hears.
    pub(super) fn bridged_into_call_recording(&mut self, a: LegId, b: LegId) {
        let Some((_, audio)) = &self.recordings.whole else {
            return;
        };
        let other = if a == LegId::CALLER { b } else { a };
        if other != LegId::CALLER && (a == LegId::CALLER || b == LegId::CALLER) {
            if let Some(l) = self.leg(other) {
                l.record_call(Some((audio.clone(), Channel::Heard)));
            }
        }
    }

    /// The call is over: its whole recording is finished and becomes an entry of the party.
    pub(super) fn end_call_recording(&mut self) {
        let Some((recording, _)) = self.recordings.whole.take() else {
            return;
        };
        for l in self.legs.iter().flatten() {
            l.record_call(None);
            l.hear(None);
        }
        let entry = self.recording_entry(LegId::CALLER, EntryKind::CallRecording);
        let requests = self.requests.clone();
        tokio::spawn(async move {
            let done = tokio::task::spawn_blocking(move || recording.finish()).await;
            match done.unwrap_or_else(|e| Err(e.to_string())) {
                Ok(r) => {
                    let _ = requests.send(CallRequest::Entry(Entry {
                        body: Some((r.ms / 1_000).to_string()),
                        url: Some(r.path.display().to_string()),
                        ..entry
                    }));
                }
                Err(why) => {
                    crate::errln!("ivrc: the recording of call {} failed: {why}", entry.sid);
                }
            }
        });
    }

    /// The entry of a recording of `leg`'s party, its file and length still to be filled in.
    fn recording_entry(&self, leg: LegId, kind: EntryKind) -> Entry {
        let (contact, our_number) = self.record.party(leg);
        Entry {
            at_ms: crate::runtime::now_ms(),
            kind,
            contact,
            our_number,
            flow: self.flow.name.clone(),
            sid: self.call_id.clone(),
            body: None,
            url: None,
        }
    }

    /// A recording's file is finished.
    pub(super) fn recorded(&mut self, leg: LegId, to_flow: bool, result: Result<Recorded, String>) {
        match result {
            Ok(r) if to_flow => self.handle(Event::RecordDone {
                leg,
                url: r.path.display().to_string(),
            }),
            Ok(_) => {}
            Err(why) => {
                self.record.error(format!("record: {why}"));
                if to_flow {
                    self.handle(Event::RecordDone {
                        leg,
                        url: String::new(),
                    });
                }
            }
        }
    }

    /// `record` could not start recording (while the engine's command is carried out): the
    /// call record says why, and the flow goes on with an empty value.
    fn recording_failed(&mut self, leg: LegId, why: String) {
        self.record.error(format!("record: {why}"));
        self.deferred.push_back(Event::RecordDone {
            leg,
            url: String::new(),
        });
    }
}

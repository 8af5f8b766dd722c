//! Audio written to WAV files as it arrives, on a thread of its own so that a slow disk never
//! holds up a call: a party's words for `record` (8 kHz, 16-bit mono; it ends at the longest
//! length, or when the party's audio stops coming), and whole calls for a campaign's
//! `record_calls` (two channels: the party, and what the party heard).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Frames (20 ms each) queued before the writer is behind: then audio is dropped, not the call.
const QUEUE: usize = 500;

/// The sample rate of recordings.
pub const RATE: u32 = 8_000;

/// A recording being written.
pub struct Recording {
    path: PathBuf,
    writer: JoinHandle<Result<u64, String>>,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The WAV file.
    pub path: PathBuf,
    /// Its length in milliseconds.
    pub ms: u64,
}

impl Recording {
    /// Creates the WAV file at `path` (and its directory) and starts writing what comes on the
    /// returned sender, at most `max_samples` samples; the sender's drop ends the recording.
    ///
    /// # Errors
    ///
    /// The directory or the file cannot be created.
    pub fn start(
        path: PathBuf,
        max_samples: u64,
    ) -> Result<(Recording, SyncSender<Vec<i16>>), String> {
        let wav = create(&path, 1)?;
        let (tx, rx) = sync_channel(QUEUE);
        let shown = path.clone();
        let writer = std::thread::spawn(move || write(wav, &rx, max_samples, &shown));
        Ok((Recording { path, writer }, tx))
    }

    /// Waits for the writer (its sender must be dropped first): the file and its length.
    ///
    /// # Errors
    ///
    /// Writing failed (a full disk, a removed directory): the file is removed.
    pub fn finish(self) -> Result<Recorded, String> {
        finished(self.path, self.writer.join())
    }
}

/// A WAV file of `channels` 16-bit channels at [`RATE`] created at `path` (its directory too).
fn create(
    path: &Path,
    channels: u16,
) -> Result<hound::WavWriter<std::io::BufWriter<std::fs::File>>, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let spec = hound::WavSpec {
        channels,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(path, spec).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes frames from `frames` until it closes or `max` samples are written; how many were.
fn write(
    mut wav: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    frames: &Receiver<Vec<i16>>,
    max: u64,
    path: &Path,
) -> Result<u64, String> {
    let failed = |e: hound::Error| format!("{}: {e}", path.display());
    let mut written = 0u64;
    'frames: while let Ok(frame) = frames.recv() {
        for sample in frame {
            if written >= max {
                break 'frames;
            }
            wav.write_sample(sample).map_err(failed)?;
            written += 1;
        }
    }
    wav.finalize().map_err(failed)?;
    Ok(written)
}

/// The side of a whole call a frame of audio is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// What the party said (the left channel).
    Party,
    /// What the party heard: our prompts, or the party bridged to them (the right channel).
    Heard,
}

/// Where the audio of a whole call goes.
pub type CallAudio = SyncSender<(Channel, Vec<i16>)>;

/// A gap longer than this in a channel's audio is silence the party's side did not send
/// (discontinuous transmission, a hold): later audio is placed by its time of arrival.
const GAP: u64 = 3 * 160;

/// Audio older than this (in samples) is written out: late packets within it still find
/// their place.
const SETTLE: u64 = 8_000;

/// A whole call being recorded.
pub struct CallRecording {
    path: PathBuf,
    writer: JoinHandle<Result<u64, String>>,
}

impl CallRecording {
    /// Creates the two-channel WAV file at `path` (and its directory) and starts writing what
    /// comes on the returned sender, its first `trim_ms` cut; the drop of every sender ends
    /// the recording.
    ///
    /// # Errors
    ///
    /// The directory or the file cannot be created.
    pub fn start(path: PathBuf, trim_ms: u64) -> Result<(CallRecording, CallAudio), String> {
        let wav = create(&path, 2)?;
        let (tx, rx) = sync_channel(2 * QUEUE);
        let shown = path.clone();
        let trim = trim_ms * u64::from(RATE) / 1_000;
        let writer = std::thread::spawn(move || write_call(wav, &rx, trim, &shown));
        Ok((CallRecording { path, writer }, tx))
    }

    /// Waits for the writer (every sender must be dropped first): the file and its length.
    ///
    /// # Errors
    ///
    /// Writing failed: the file is removed.
    pub fn finish(self) -> Result<Recorded, String> {
        finished(self.path, self.writer.join())
    }
}

/// The two channels of a call not yet written: samples from `base` on.
#[derive(Default)]
struct Timeline {
    /// Samples written out (or trimmed) so far.
    base: u64,
    /// Each channel's samples from `base`.
    channels: [Vec<i16>; 2],
    /// Where each channel's audio ends.
    ends: [u64; 2],
}

impl Timeline {
    /// Places `frame` of `channel`, which arrived `now` samples into the call.
    fn place(&mut self, channel: Channel, frame: &[i16], now: u64) {
        let c = channel as usize;
        let start = if self.ends[c] == 0 || now > self.ends[c] + GAP {
            now - now % 160
        } else {
            self.ends[c]
        };
        let start = start.max(self.base);
        let from = usize::try_from(start - self.base).unwrap_or(usize::MAX);
        let buf = &mut self.channels[c];
        if buf.len() < from + frame.len() {
            buf.resize(from + frame.len(), 0);
        }
        buf[from..from + frame.len()].copy_from_slice(frame);
        self.ends[c] = start + frame.len() as u64;
    }

    /// Writes out the samples before `until` (those before `trim` are dropped); how many
    /// were written.
    fn flush(
        &mut self,
        until: u64,
        trim: u64,
        wav: &mut hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    ) -> Result<u64, hound::Error> {
        if until <= self.base {
            return Ok(0);
        }
        let n = usize::try_from(until - self.base).unwrap_or(usize::MAX);
        let mut written = 0;
        for i in 0..n {
            if self.base + (i as u64) < trim {
                continue;
            }
            for c in &self.channels {
                wav.write_sample(c.get(i).copied().unwrap_or(0))?;
            }
            written += 1;
        }
        for c in &mut self.channels {
            c.drain(..n.min(c.len()));
        }
        self.base = until;
        Ok(written)
    }
}

/// Writes a whole call from `frames` until every sender is gone; the samples (per channel)
/// written.
fn write_call(
    mut wav: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    frames: &Receiver<(Channel, Vec<i16>)>,
    trim: u64,
    path: &Path,
) -> Result<u64, String> {
    let failed = |e: hound::Error| format!("{}: {e}", path.display());
    let started = std::time::Instant::now();
    let mut timeline = Timeline::default();
    let mut written = 0;
    while let Ok((channel, frame)) = frames.recv() {
        let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX) * 8;
        timeline.place(channel, &frame, now);
        written += timeline
            .flush(now.saturating_sub(SETTLE), trim, &mut wav)
            .map_err(failed)?;
    }
    let end = timeline.ends[0].max(timeline.ends[1]);
    written += timeline.flush(end, trim, &mut wav).map_err(failed)?;
    wav.finalize().map_err(failed)?;
    Ok(written)
}

/// The end of a writer thread: the file and its length, or why not (the file removed).
fn finished(
    path: PathBuf,
    written: std::thread::Result<Result<u64, String>>,
) -> Result<Recorded, String> {
    match written.unwrap_or_else(|_| Err("the recording's writer stopped".into())) {
        Ok(samples) => Ok(Recorded {
            path,
            ms: samples * 1_000 / u64::from(RATE),
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_a_wav_file_cut_at_the_longest_length() {
        let dir = std::env::temp_dir().join(format!("ivrc-recording-{}", std::process::id()));
        let path = dir.join("a").join("r.wav");
        let (rec, tx) = Recording::start(path.clone(), 400).expect("starts");
        for i in 0..3 {
            tx.send(vec![i * 100; 160]).expect("sent");
        }
        drop(tx);
        let done = rec.finish().expect("finished");
        assert_eq!(
            done,
            Recorded {
                path: path.clone(),
                ms: 50
            }
        );
        let reader = hound::WavReader::open(&path).expect("a WAV");
        assert_eq!(reader.spec().sample_rate, 8_000);
        let samples: Vec<i16> = reader
            .into_samples()
            .map(|s| s.expect("a sample"))
            .collect();
        assert_eq!(samples.len(), 400);
        assert_eq!((samples[0], samples[160], samples[399]), (0, 100, 200));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_call_s_channels_line_up_by_time_with_gaps_kept_and_the_start_trimmed() {
        let dir = std::env::temp_dir().join(format!("ivrc-call-rec-{}", std::process::id()));
        let path = dir.join("call.wav");
        std::fs::create_dir_all(&dir).expect("a directory");
        let file = hound::WavWriter::create(
            &path,
            hound::WavSpec {
                channels: 2,
                sample_rate: RATE,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            },
        )
        .expect("a file");
        let mut wav = file;
        let mut t = Timeline::default();
        // The party: two frames in a row, then one after a second's gap; we: one frame.
        t.place(Channel::Party, &[1; 160], 0);
        t.place(Channel::Party, &[2; 160], 170);
        t.place(Channel::Heard, &[3; 160], 400);
        t.place(Channel::Party, &[4; 160], 8_330);
        let written = t.flush(8_480, 80, &mut wav).expect("written");
        wav.finalize().expect("finished");
        assert_eq!(written, 8_400);
        let samples: Vec<i16> = hound::WavReader::open(&path)
            .expect("a WAV")
            .into_samples()
            .map(|s| s.expect("a sample"))
            .collect();
        let at = |i: usize| (samples[2 * (i - 80)], samples[2 * (i - 80) + 1]);
        assert_eq!(at(80), (1, 0), "the first 80 samples were cut");
        assert_eq!(at(200), (2, 0), "the second frame follows the first");
        assert_eq!(at(330), (0, 3), "a channel starts where its time is");
        assert_eq!(at(500), (0, 0));
        assert_eq!(at(8_320), (4, 0), "after a gap, by the time of arrival");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_place_is_an_error_at_the_start() {
        let e = match Recording::start(PathBuf::from("/proc/ivrc/r.wav"), 10) {
            Err(e) => e,
            Ok(_) => panic!("/proc takes no directory"),
        };
        assert!(e.starts_with("/proc/ivrc"), "{e}");
    }
}

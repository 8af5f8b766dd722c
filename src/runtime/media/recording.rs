//! A party's audio written to a WAV file (8 kHz, 16-bit mono) as it arrives, for `record`:
//! on a thread of its own, so a slow disk never holds up the call; it ends at the longest
//! length, or when the party's audio stops coming (the call ended the recording).

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
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let wav = hound::WavWriter::create(&path, spec)
            .map_err(|e| format!("{}: {e}", path.display()))?;
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
        let written = self
            .writer
            .join()
            .unwrap_or_else(|_| Err("the recording's writer stopped".into()));
        match written {
            Ok(samples) => Ok(Recorded {
                path: self.path,
                ms: samples * 1_000 / u64::from(RATE),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&self.path);
                Err(e)
            }
        }
    }
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
    fn an_unwritable_place_is_an_error_at_the_start() {
        let e = match Recording::start(PathBuf::from("/proc/ivrc/r.wav"), 10) {
            Err(e) => e,
            Ok(_) => panic!("/proc takes no directory"),
        };
        assert!(e.starts_with("/proc/ivrc"), "{e}");
    }
}

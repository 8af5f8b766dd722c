//! Keyword listening for `listen`: a [`Recognizer`] is given a flow's phrases and fed the
//! caller's 8 kHz audio, and reports each phrase it hears at the end of an utterance. The
//! bundled one is an offline keyword spotter on pocketsphinx ([`Spotter`]; each listening runs
//! on its own thread, since the decoder is not thread-safe); [`Vosk`] is a client for a Vosk
//! server.

mod lexicon;
mod vosk;

pub use lexicon::{dictionary, grammar, russian};
pub use vosk::Vosk;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::OnceLock;
use std::time::Duration;

/// A phrase heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The phrase, as the flow wrote it (normalized).
    pub text: String,
    /// How sure the recognizer is, 0–1 (the spotter reports 1 for what its grammar accepts).
    pub confidence: f32,
}

/// Why listening cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsrError {
    /// Words the recognizer has no pronunciation for.
    #[error("no pronunciation for {}", .0.join(", "))]
    Unknown(Vec<String>),
    /// The model or its files are missing.
    #[error("{0}")]
    Setup(String),
}

/// One listening in progress: send audio in, receive phrases out. Dropping `audio` ends it.
pub struct Listening {
    /// 8 kHz samples, a packet at a time; full means the recognizer is behind and the packet
    /// is dropped.
    pub audio: SyncSender<Vec<i16>>,
    /// What was heard.
    pub heard: tokio::sync::mpsc::UnboundedReceiver<Heard>,
}

/// A speech recognizer for `listen`.
pub trait Recognizer: Send + Sync {
    /// Checks that these phrases can be listened for (at startup, for every `listen`).
    fn prepare(&self, phrases: &[String]) -> Result<(), AsrError>;
    /// Starts listening for `phrases`.
    fn listen(&self, phrases: &[String]) -> Result<Listening, AsrError>;
}

/// Packets queued for a recognizer before new ones are dropped (10 s of audio).
const QUEUE: usize = 500;
/// A pause in the caller's RTP this long is fed to the recognizer as silence.
const GAP: Duration = Duration::from_millis(200);
/// The silence fed for a gap: 0.2 s at 8 kHz.
const SILENCE_SAMPLES: usize = 1600;

/// The offline keyword spotter: pocketsphinx with the en-us acoustic model, a grammar of
/// exactly the flow's phrases, and a dictionary of their words (see `lexicon`).
pub struct Spotter {
    model: PathBuf,
    work: PathBuf,
    cmudict: OnceLock<String>,
}

impl Spotter {
    /// A spotter with the acoustic model in `model` (Debian `pocketsphinx-en-us`:
    /// `/usr/share/pocketsphinx/model/en-us`), writing dictionaries and grammars to `work`.
    ///
    /// # Errors
    ///
    /// [`AsrError::Setup`] when the model is missing.
    pub fn new(model: &Path, work: PathBuf) -> Result<Spotter, AsrError> {
        for needed in ["en-us", "cmudict-en-us.dict"] {
            if !model.join(needed).exists() {
                return Err(AsrError::Setup(format!(
                    "no pocketsphinx model at `{}` (missing {needed}); install Debian's pocketsphinx-en-us",
                    model.display()
                )));
            }
        }
        std::fs::create_dir_all(&work)
            .map_err(|e| AsrError::Setup(format!("`{}`: {e}", work.display())))?;
        Ok(Spotter {
            model: model.to_path_buf(),
            work,
            cmudict: OnceLock::new(),
        })
    }

    fn cmudict(&self) -> &str {
        self.cmudict.get_or_init(|| {
            std::fs::read_to_string(self.model.join("cmudict-en-us.dict")).unwrap_or_default()
        })
    }

    /// The dictionary and grammar files for `phrases`, written once.
    fn files(&self, phrases: &[String]) -> Result<(PathBuf, PathBuf), AsrError> {
        let dict = dictionary(phrases, self.cmudict()).map_err(AsrError::Unknown)?;
        let gram = grammar(phrases);
        let mut hash = Sha256::new();
        hash.update(dict.as_bytes());
        hash.update(gram.as_bytes());
        let key: String = hash
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let (d, g) = (
            self.work.join(format!("{key}.dict")),
            self.work.join(format!("{key}.gram")),
        );
        let write = |path: &Path, text: &str| {
            if path.exists() {
                return Ok(());
            }
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            std::fs::write(&tmp, text)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| AsrError::Setup(format!("`{}`: {e}", path.display())))
        };
        write(&d, &dict)?;
        write(&g, &gram)?;
        Ok((d, g))
    }
}

impl Recognizer for Spotter {
    fn prepare(&self, phrases: &[String]) -> Result<(), AsrError> {
        self.files(phrases).map(|_| ())
    }

    fn listen(&self, phrases: &[String]) -> Result<Listening, AsrError> {
        let (dict, gram) = self.files(phrases)?;
        let hmm = self.model.join("en-us");
        let (audio, input) = sync_channel::<Vec<i16>>(QUEUE);
        let (heard_tx, heard) = tokio::sync::mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("ivrc-asr".into())
            .spawn(move || spot(&hmm, &dict, &gram, &input, &heard_tx))
            .map_err(|e| AsrError::Setup(format!("cannot start the recognizer: {e}")))?;
        Ok(Listening { audio, heard })
    }
}

/// The recognizer thread: cuts the caller's audio into utterances by energy (speech, then
/// [`END_SILENCE`] of quiet), and decodes each whole utterance with pocketsphinx, until the
/// audio sender is dropped. (The decoder's own voice detection split words at their stop
/// consonants, «от|мена», and lost them.)
fn spot(
    hmm: &Path,
    dict: &Path,
    gram: &Path,
    input: &Receiver<Vec<i16>>,
    heard: &tokio::sync::mpsc::UnboundedSender<Heard>,
) {
    let (Some(hmm), Some(dict), Some(gram)) = (hmm.to_str(), dict.to_str(), gram.to_str()) else {
        return;
    };
    let args = [
        "ivrc",
        "-hmm",
        hmm,
        "-dict",
        dict,
        "-jsgf",
        gram,
        "-logfn",
        "/dev/null",
        "-samprate",
        "16000",
    ];
    let Ok(config) = pocketsphinx::CmdLn::init(true, &args) else {
        crate::errln!(
            "ivrc: the keyword spotter cannot start (pocketsphinx refused its configuration)"
        );
        return;
    };
    let decoder = pocketsphinx::PsDecoder::init(config);
    let mut cutter = Cutter::default();
    loop {
        let utterance = match input.recv_timeout(GAP) {
            Ok(samples) => cutter.push(&samples),
            // A caller whose RTP stops (no comfort noise) must not hold an utterance open:
            // a gap is heard as silence.
            Err(RecvTimeoutError::Timeout) => cutter.gap(SILENCE_SAMPLES),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let Some(text) = utterance.and_then(|u| decode(&decoder, &u)) else {
            continue;
        };
        if heard
            .send(Heard {
                text,
                confidence: 1.0,
            })
            .is_err()
        {
            break;
        }
    }
}

/// Decodes one utterance (8 kHz); the phrase of the grammar it matches, if any. A faint
/// dither (±64) is added: digital silence (G.711 silence decodes to zeros) has no energy to
/// normalize against, and the decoder then hears nothing, or the shortest word (measured in
/// tests/runtime/asr.rs: Russian 5/8 with ±4, 7/8 with ±64).
fn decode(decoder: &pocketsphinx::PsDecoder, utterance: &[i16]) -> Option<String> {
    let mut audio = upsample(utterance);
    let mut state: u32 = 0x9e37_79b9;
    for s in &mut audio {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *s = s.saturating_add((state % 129) as i16 - 64);
    }
    decoder.start_utt(None).ok()?;
    decoder.process_raw(&audio, false, true).ok()?;
    decoder.end_utt().ok()?;
    let (text, _, _) = decoder.get_hyp()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Quiet after speech that ends an utterance, in 8 kHz samples (0.4 s).
const END_SILENCE: usize = 3200;
/// Audio kept before the first loud frame, so the word's onset is not cut (0.2 s).
const LEAD_IN: usize = 1600;
/// The longest utterance decoded (8 s); longer speech is cut there.
const MAX_UTTERANCE: usize = 64_000;
/// A frame (20 ms) is speech when its RMS is above this, or three times the noise floor.
const MIN_SPEECH_RMS: f64 = 300.0;

/// Cuts a stream into utterances by frame energy over an adaptive noise floor.
#[derive(Default)]
struct Cutter {
    buffer: Vec<i16>,
    speaking: bool,
    quiet: usize,
    noise_floor: f64,
}

impl Cutter {
    /// Time without audio (the caller's RTP paused): quiet that is not kept.
    fn gap(&mut self, samples: usize) -> Option<Vec<i16>> {
        if !self.speaking {
            return None;
        }
        self.quiet += samples;
        if self.quiet < END_SILENCE {
            return None;
        }
        self.speaking = false;
        self.quiet = 0;
        Some(std::mem::take(&mut self.buffer))
    }

    /// Takes more audio; an utterance when one just ended.
    fn push(&mut self, samples: &[i16]) -> Option<Vec<i16>> {
        let mut done = None;
        for frame in samples.chunks(160) {
            let energy = frame
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                / frame.len().max(1) as f64;
            let rms = energy.sqrt();
            let loud = rms > MIN_SPEECH_RMS.max(3.0 * self.noise_floor);
            if !loud {
                // the floor follows quiet frames slowly
                self.noise_floor = if self.noise_floor == 0.0 {
                    rms
                } else {
                    0.95 * self.noise_floor + 0.05 * rms
                };
            }
            self.buffer.extend_from_slice(frame);
            if loud {
                self.speaking = true;
                self.quiet = 0;
            } else if self.speaking {
                self.quiet += frame.len();
            }
            if self.speaking && (self.quiet >= END_SILENCE || self.buffer.len() >= MAX_UTTERANCE) {
                done = Some(std::mem::take(&mut self.buffer));
                self.speaking = false;
                self.quiet = 0;
            } else if !self.speaking && self.buffer.len() > LEAD_IN {
                let excess = self.buffer.len() - LEAD_IN;
                self.buffer.drain(..excess);
            }
        }
        done
    }
}

/// 8 kHz to the model's 16 kHz, by linear interpolation (enough for recognition).
fn upsample(samples: &[i16]) -> Vec<i16> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for (i, &s) in samples.iter().enumerate() {
        let next = samples.get(i + 1).copied().unwrap_or(s);
        out.push(s);
        out.push(((i32::from(s) + i32::from(next)) / 2) as i16);
    }
    out
}

//! Prompt audio as 8 kHz 16-bit samples: text spoken by a [`Tts`] engine (espeak-ng by
//! default) and WAV files, each rendered once and shared by every call that plays it. Spoken
//! prompts are also kept on disk, keyed by engine, voice and text, so a restart does not
//! render them again. G.711 encoding happens per call, since calls differ in codec.

use super::resample::to_8k;
use super::Samples;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why a prompt has no audio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// The speech engine failed or is missing.
    #[error("text to speech: {0}")]
    Tts(String),
    /// The audio at a URL cannot be downloaded or decoded.
    #[error("audio at {url}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The audio file cannot be read.
    #[error("audio file `{path}`: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A text-to-speech engine.
pub trait Tts: Send + Sync {
    /// A name that changes when the engine's output would (part of the cache key).
    fn id(&self) -> String;
    /// Speaks `text` as a WAV file at `out`.
    fn speak(&self, text: &str, voice: &Voice, out: &Path) -> Result<(), PromptError>;
}

/// The voice of a flow: its language and `voice` setting.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Voice {
    /// BCP 47 language.
    pub lang: String,
    /// `female` or `male`.
    pub gender: String,
}

impl Voice {
    /// The voice of a flow's `lang` and `voice`; `None` for a voice name espeak-ng does not
    /// have (only `female` and `male` are mapped).
    pub fn of(lang: &str, voice: &str) -> Option<Voice> {
        let gender = match voice {
            g @ ("female" | "male") => g.to_string(),
            _ => return None,
        };
        Some(Voice {
            lang: lang.to_string(),
            gender,
        })
    }
}

/// espeak-ng, run once per text (Debian `espeak-ng`).
#[derive(Debug, Clone, Default)]
pub struct Espeak;

impl Espeak {
    /// The espeak-ng voice for a language and gender: `ru+f3`, `en-us+m3`.
    pub fn voice_name(voice: &Voice) -> String {
        let lang = voice.lang.to_ascii_lowercase();
        let base = match lang.as_str() {
            "ru-ru" => "ru",
            "en-gb" => "en",
            other => other,
        };
        let variant = if voice.gender == "male" { "m3" } else { "f3" };
        format!("{base}+{variant}")
    }
}

impl Tts for Espeak {
    fn id(&self) -> String {
        "espeak-ng".into()
    }

    fn speak(&self, text: &str, voice: &Voice, out: &Path) -> Result<(), PromptError> {
        use std::io::Write as _;
        // The text goes through stdin, so no text can be read as an option.
        let mut child = std::process::Command::new("espeak-ng")
            .arg("-v")
            .arg(Espeak::voice_name(voice))
            .arg("-w")
            .arg(out)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                PromptError::Tts(format!(
                    "cannot start espeak-ng ({e}); install it (Debian: espeak-ng)"
                ))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| PromptError::Tts(e.to_string()))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| PromptError::Tts(e.to_string()))?;
        if !output.status.success() {
            return Err(PromptError::Tts(format!(
                "espeak-ng failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(())
    }
}

/// Where the audio a flow plays is: local files beside the flow file, platform records
/// (Zvonobot record ids) in the `--records` directory.
#[derive(Debug, Clone, Default)]
pub struct AudioFiles {
    /// The flow file's directory: `play "prompt.wav"` is relative to it.
    pub flow_dir: PathBuf,
    /// `--records DIR`: `play record ID` plays `DIR/ID.wav`.
    pub records: Option<PathBuf>,
}

impl AudioFiles {
    /// The file of a local file's path as the flow names it.
    pub fn file(&self, path: &str) -> PathBuf {
        self.flow_dir.join(path)
    }

    /// The file of platform record `id`, or why there is none.
    ///
    /// # Errors
    ///
    /// No `--records` directory was given.
    pub fn record(&self, id: u64) -> Result<PathBuf, String> {
        match &self.records {
            Some(dir) => Ok(dir.join(format!("{id}.wav"))),
            None => Err(format!(
                "record {id} is a platform audio record: give --records DIR holding {id}.wav"
            )),
        }
    }
}

/// Every prompt rendered so far, in memory and (spoken ones) on disk.
pub struct Prompts {
    tts: Box<dyn Tts>,
    cache_dir: PathBuf,
    memory: Mutex<HashMap<String, Samples>>,
}

impl Prompts {
    /// A prompt store that speaks with `tts` and keeps spoken prompts in `cache_dir`.
    pub fn new(tts: Box<dyn Tts>, cache_dir: PathBuf) -> Prompts {
        Prompts {
            tts,
            cache_dir,
            memory: Mutex::new(HashMap::new()),
        }
    }

    fn remembered(&self, key: &str) -> Option<Samples> {
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn remember(&self, key: String, samples: Samples) -> Samples {
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert(samples)
            .clone()
    }

    /// The cache key of `text` spoken with `voice` (engine, language, voice and text).
    fn speech_key(&self, text: &str, voice: &Voice) -> String {
        let mut hash = Sha256::new();
        for part in [self.tts.id().as_str(), &voice.lang, &voice.gender, text] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `text` spoken with `voice` when it is in memory already: no blocking, so a call can
    /// start a prompt it has heard before without a render task.
    pub fn speech_in_memory(&self, text: &str, voice: &Voice) -> Option<Samples> {
        self.remembered(&self.speech_key(text, voice))
    }

    /// `text` spoken with `voice`, from memory, the disk cache, or the engine. Blocking: run
    /// it off the async threads.
    ///
    /// # Errors
    ///
    /// [`PromptError::Tts`] when the engine fails.
    pub fn speech(&self, text: &str, voice: &Voice) -> Result<Samples, PromptError> {
        let key = self.speech_key(text, voice);
        if let Some(s) = self.remembered(&key) {
            return Ok(s);
        }
        if let Some(samples) = self.on_disk(&key) {
            return Ok(self.remember(key, samples.into()));
        }
        std::fs::create_dir_all(&self.cache_dir)
            .map_err(|e| PromptError::Tts(format!("cache `{}`: {e}", self.cache_dir.display())))?;
        let wav = self
            .cache_dir
            .join(format!("{key}.{}.wav", std::process::id()));
        self.tts.speak(text, voice, &wav)?;
        let samples = read_wav(&wav);
        let _ = std::fs::remove_file(&wav);
        let samples = samples.map_err(PromptError::Tts)?;
        self.keep_on_disk(&key, &samples);
        Ok(self.remember(key, samples.into()))
    }

    /// The audio at `url` (MP3, Ogg Vorbis or WAV) at 8 kHz: downloaded by `download` the first
    /// time, then from memory or the cache directory (a URL's audio is taken not to change).
    ///
    /// # Errors
    ///
    /// [`PromptError::Url`] when it cannot be downloaded or decoded.
    pub fn url(
        &self,
        url: &str,
        download: impl FnOnce(&str) -> Result<Vec<u8>, String>,
    ) -> Result<Samples, PromptError> {
        let key = url_key(url);
        if let Some(s) = self.remembered(&key) {
            return Ok(s);
        }
        if let Some(samples) = self.on_disk(&key) {
            return Ok(self.remember(key, samples.into()));
        }
        let failed = |reason: String| PromptError::Url {
            url: url.to_string(),
            reason,
        };
        let bytes = download(url).map_err(failed)?;
        let extension = url
            .split(['?', '#'])
            .next()
            .and_then(|p| p.rsplit_once('.'))
            .map(|(_, ext)| ext.to_ascii_lowercase());
        let samples = super::decode::to_8k_mono(bytes, extension.as_deref()).map_err(failed)?;
        let _ = std::fs::create_dir_all(&self.cache_dir);
        self.keep_on_disk(&key, &samples);
        Ok(self.remember(key, samples.into()))
    }

    /// The samples kept in the cache directory under `key`, if any.
    fn on_disk(&self, key: &str) -> Option<Vec<i16>> {
        let bytes = std::fs::read(self.cache_dir.join(format!("{key}.s16"))).ok()?;
        Some(
            bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect(),
        )
    }

    /// Keeps `samples` in the cache directory under `key` (best effort: a cache that cannot
    /// be written only costs the work again).
    fn keep_on_disk(&self, key: &str, samples: &[i16]) {
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        // Written under a temporary name and renamed, so a reader never sees half a file.
        let tmp = self
            .cache_dir
            .join(format!("{key}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, self.cache_dir.join(format!("{key}.s16")));
        }
    }

    /// A WAV file's audio at 8 kHz.
    ///
    /// # Errors
    ///
    /// [`PromptError::File`] when it cannot be read.
    pub fn file(&self, path: &Path) -> Result<Samples, PromptError> {
        let key = format!("file:{}", path.display());
        if let Some(s) = self.remembered(&key) {
            return Ok(s);
        }
        let samples = read_wav(path).map_err(|reason| PromptError::File {
            path: path.display().to_string(),
            reason,
        })?;
        Ok(self.remember(key, samples.into()))
    }
}

/// The cache key of the audio at `url`.
fn url_key(url: &str) -> String {
    let hash = Sha256::digest(format!("url\0{url}").as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("url-{hex}")
}

/// Reads a WAV file (integer or float PCM, any rate and channel count) as 8 kHz mono.
fn read_wav(path: &Path) -> Result<Vec<i16>, String> {
    let mut reader = hound::WavReader::open(path).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let mono: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => {
            // integers span ±2^(bits-1)
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            let all: Result<Vec<i32>, _> = reader.samples::<i32>().collect();
            downmix(
                all.map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|s| s as f32 * scale),
                channels,
            )
        }
        hound::SampleFormat::Float => {
            let all: Result<Vec<f32>, _> = reader.samples::<f32>().collect();
            downmix(all.map_err(|e| e.to_string())?.into_iter(), channels)
        }
    };
    Ok(to_8k(&mono, spec.sample_rate))
}

fn downmix(samples: impl Iterator<Item = f32>, channels: usize) -> Vec<f32> {
    let all: Vec<f32> = samples.collect();
    all.chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / frame.len() as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Writes a 16 kHz stereo 440 Hz tone as the "speech", counting renders.
    struct Tone(Arc<AtomicUsize>);

    impl Tts for Tone {
        fn id(&self) -> String {
            "tone".into()
        }

        fn speak(&self, text: &str, _: &Voice, out: &Path) -> Result<(), PromptError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 16_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w =
                hound::WavWriter::create(out, spec).map_err(|e| PromptError::Tts(e.to_string()))?;
            // one tenth of a second per character
            for i in 0..(1600 * text.chars().count()) {
                let s = (10_000.0
                    * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 16_000.0).sin())
                    as i16;
                w.write_sample(s)
                    .and_then(|()| w.write_sample(s))
                    .map_err(|e| PromptError::Tts(e.to_string()))?;
            }
            w.finalize().map_err(|e| PromptError::Tts(e.to_string()))
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ivrc-prompts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn speech_is_rendered_once_then_served_from_memory_and_disk() {
        let dir = scratch("cache");
        let renders = Arc::new(AtomicUsize::new(0));
        let voice = Voice::of("ru-RU", "female").expect("a voice");
        let prompts = Prompts::new(Box::new(Tone(renders.clone())), dir.clone());
        let a = prompts.speech("abc", &voice).expect("rendered");
        assert_eq!(a.len(), 2400, "0.3 s at 8 kHz");
        assert!(
            a.iter().any(|&s| s.abs() > 5000),
            "the tone survives resampling"
        );
        let again = prompts.speech("abc", &voice).expect("from memory");
        assert!(Arc::ptr_eq(&a, &again));
        let fresh = Prompts::new(Box::new(Tone(renders.clone())), dir.clone());
        assert_eq!(fresh.speech("abc", &voice).expect("from disk"), a);
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        let male = Voice::of("ru-RU", "male").expect("a voice");
        prompts.speech("abc", &male).expect("another voice");
        assert_eq!(
            renders.load(Ordering::SeqCst),
            2,
            "the voice is part of the key"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn wav_files_and_their_errors() {
        let dir = scratch("wav");
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.wav");
        Tone(Arc::new(AtomicUsize::new(0)))
            .speak("ab", &Voice::of("ru-RU", "female").expect("voice"), &path)
            .expect("written");
        let prompts = Prompts::new(Box::new(Espeak), dir.clone());
        assert_eq!(prompts.file(&path).expect("read").len(), 1600);
        std::fs::write(dir.join("bad.wav"), b"RIFF junk").expect("written");
        assert!(matches!(
            prompts.file(&dir.join("bad.wav")),
            Err(PromptError::File { .. })
        ));
        assert!(matches!(
            prompts.file(&dir.join("missing.wav")),
            Err(PromptError::File { .. })
        ));
        assert_eq!(Voice::of("ru-RU", "Google.ru_RU_Wavenet_A"), None);
        assert_eq!(
            Espeak::voice_name(&Voice::of("en-US", "male").expect("voice")),
            "en-us+m3"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

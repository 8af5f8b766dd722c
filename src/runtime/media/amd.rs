//! Answering-machine detection by the shape of what the answering party says, the way
//! Asterisk's `AMD()` decides (its documented settings and defaults, docs.asterisk.org
//! "AMD()" and `amd.conf.sample`): a person answers with a word or two and waits for us; a
//! machine greets at length, or says nothing at first. Audio comes in 20 ms frames of 8 kHz
//! samples; a frame is silence when its mean absolute level is under the threshold.

use std::time::Duration;

/// The detection's settings, each one of Asterisk's `amd.conf` with its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Silence before any word longer than this: a machine (`initial_silence`, 2,500 ms).
    pub initial_silence: Duration,
    /// Voice in the greeting longer than this: a machine (`greeting`, 1,500 ms).
    pub greeting: Duration,
    /// Silence after the greeting's words longer than this: a person (`after_greeting_silence`,
    /// 800 ms).
    pub after_greeting_silence: Duration,
    /// No decision by then: not sure (`total_analysis_time`, 5,000 ms).
    pub total: Duration,
    /// Voice at least this long is a word (`min_word_length`, 100 ms).
    pub min_word: Duration,
    /// A word this long: a machine (`maximum_word_length`, 5,000 ms).
    pub max_word: Duration,
    /// Silence at least this long ends a word (`between_words_silence`, 50 ms).
    pub between_words: Duration,
    /// This many words: a machine (`maximum_number_of_words`, 3).
    pub max_words: u32,
    /// A frame whose mean absolute level (0–32,767) is under this is silence
    /// (`silence_threshold`, 256).
    pub silence_threshold: u16,
    /// Whether the threshold rises over a noisy line: to twice the line's noise floor (the
    /// quietest 100 ms heard so far, at most 1,000) when that is higher. Not in Asterisk,
    /// whose fixed threshold takes a line with noise 20 dB under the speech for one long
    /// greeting (measured: 6 of 48 people recognised on the corpus of tests/amd.rs).
    pub follow_noise: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            initial_silence: Duration::from_millis(2_500),
            greeting: Duration::from_millis(1_500),
            after_greeting_silence: Duration::from_millis(800),
            total: Duration::from_millis(5_000),
            min_word: Duration::from_millis(100),
            max_word: Duration::from_millis(5_000),
            between_words: Duration::from_millis(50),
            max_words: 3,
            silence_threshold: 256,
            follow_noise: true,
        }
    }
}

impl std::str::FromStr for Settings {
    type Err = String;

    /// Settings from `NAME=VALUE,…` (any of `initial_silence`, `greeting`,
    /// `after_greeting_silence`, `total`, `min_word`, `max_word`, `between_words` in
    /// milliseconds; `max_words`; `silence_threshold` 1–32767; `follow_noise` on/off), the
    /// others at their defaults.
    fn from_str(text: &str) -> Result<Settings, String> {
        let mut s = Settings::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not NAME=VALUE"))?;
            let (name, value) = (name.trim(), value.trim());
            let number = || -> Result<u64, String> {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("`{name}` takes a whole number, not `{value}`"))
            };
            let ms = |max: u64| -> Result<Duration, String> {
                let n = number()?;
                if n == 0 || n > max {
                    return Err(format!("`{name}` takes 1–{max} ms, not {n}"));
                }
                Ok(Duration::from_millis(n))
            };
            match name {
                "initial_silence" => s.initial_silence = ms(30_000)?,
                "greeting" => s.greeting = ms(30_000)?,
                "after_greeting_silence" => s.after_greeting_silence = ms(30_000)?,
                "total" => s.total = ms(60_000)?,
                "min_word" => s.min_word = ms(10_000)?,
                "max_word" => s.max_word = ms(60_000)?,
                "between_words" => s.between_words = ms(10_000)?,
                "max_words" => {
                    s.max_words = u32::try_from(number()?)
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| format!("`max_words` takes 1–100, not {value}"))?;
                }
                "silence_threshold" => {
                    s.silence_threshold = u16::try_from(number()?)
                        .ok()
                        .filter(|n| (1..=32_767).contains(n))
                        .ok_or_else(|| {
                            format!("`silence_threshold` takes 1–32767, not {value}")
                        })?;
                }
                "follow_noise" => {
                    s.follow_noise = match value {
                        "on" => true,
                        "off" => false,
                        other => return Err(format!("`follow_noise` is on or off, not `{other}`")),
                    };
                }
                other => {
                    return Err(format!(
                        "`{other}` is not a setting (initial_silence, greeting, after_greeting_silence, total, min_word, max_word, between_words, max_words, silence_threshold, follow_noise)"
                    ))
                }
            }
        }
        Ok(s)
    }
}

/// What answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A person.
    Human,
    /// An answering machine, and why.
    Machine(Cause),
    /// No decision within the analysis time (counted as a person: the flow talks to them).
    NotSure,
}

/// Why a machine was decided (Asterisk's `AMDCAUSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Silence before any word (`INITIALSILENCE`).
    InitialSilence,
    /// A long greeting (`LONGGREETING`).
    LongGreeting,
    /// Many words (`MAXWORDS`).
    MaxWords,
    /// One very long word (`MAXWORDLENGTH`).
    MaxWordLength,
}

/// The length of a frame.
const FRAME_MS: u64 = 20;

/// Frames over which the noise floor is measured (100 ms).
const NOISE_WINDOW: usize = 5;

/// The highest noise floor followed: a party who starts speaking at once makes the first
/// measure speech, which must not lift the threshold over speech (mean level 1,000 is a line
/// noise about 30 dB under full scale, far above a usable line's).
const MAX_FLOOR: u64 = 1_000;

/// A detection in progress.
#[derive(Debug, Clone)]
pub struct Detector {
    settings: Settings,
    /// Audio analysed so far.
    total_ms: u64,
    /// The current run of silent frames.
    silence_ms: u64,
    /// The current run of voiced frames.
    voice_ms: u64,
    /// Voice since the first word.
    greeting_ms: u64,
    /// Words heard.
    words: u32,
    /// Inside a word.
    in_word: bool,
    /// Samples not yet making a whole frame.
    pending: Vec<i16>,
    /// The levels of the last frames (100 ms), for the noise floor.
    recent: std::collections::VecDeque<u64>,
    /// The quietest 100 ms so far (mean level).
    floor: Option<u64>,
}

impl Detector {
    /// A detection with `settings`.
    pub fn new(settings: Settings) -> Detector {
        Detector {
            settings,
            total_ms: 0,
            silence_ms: 0,
            voice_ms: 0,
            greeting_ms: 0,
            words: 0,
            in_word: false,
            pending: Vec::new(),
            recent: std::collections::VecDeque::new(),
            floor: None,
        }
    }

    /// Takes more of the party's audio (8 kHz); the verdict once there is one.
    pub fn feed(&mut self, samples: &[i16]) -> Option<Verdict> {
        let mut audio = std::mem::take(&mut self.pending);
        audio.extend_from_slice(samples);
        let mut frames = audio.chunks_exact((8 * FRAME_MS) as usize);
        for frame in &mut frames {
            if let Some(verdict) = self.frame(frame) {
                return Some(verdict);
            }
        }
        self.pending = frames.remainder().to_vec();
        None
    }

    /// The silence threshold for a frame of `level`, which also joins the noise floor's
    /// measure.
    fn threshold(&mut self, level: u64) -> u64 {
        let fixed = u64::from(self.settings.silence_threshold);
        if !self.settings.follow_noise {
            return fixed;
        }
        self.recent.push_back(level);
        if self.recent.len() > NOISE_WINDOW {
            self.recent.pop_front();
        }
        if self.recent.len() == NOISE_WINDOW {
            let mean = self.recent.iter().sum::<u64>() / NOISE_WINDOW as u64;
            self.floor = Some(self.floor.map_or(mean, |f| f.min(mean)));
        }
        fixed.max(2 * self.floor.unwrap_or(0).min(MAX_FLOOR))
    }

    /// One 20 ms frame.
    fn frame(&mut self, frame: &[i16]) -> Option<Verdict> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.total_ms += FRAME_MS;
        let level = frame
            .iter()
            .map(|x| u64::from(x.unsigned_abs()))
            .sum::<u64>()
            / frame.len().max(1) as u64;
        let threshold = self.threshold(level);
        let s = &self.settings;
        if level < threshold {
            self.silence_ms += FRAME_MS;
            self.voice_ms = 0;
            if self.in_word && self.silence_ms >= ms(s.between_words) {
                self.in_word = false;
            }
            if self.words == 0 && self.silence_ms >= ms(s.initial_silence) {
                return Some(Verdict::Machine(Cause::InitialSilence));
            }
            if self.words > 0 && self.silence_ms >= ms(s.after_greeting_silence) {
                return Some(Verdict::Human);
            }
        } else {
            self.voice_ms += FRAME_MS;
            self.silence_ms = 0;
            if self.words > 0 || self.voice_ms >= ms(s.min_word) {
                self.greeting_ms += FRAME_MS;
            }
            if !self.in_word && self.voice_ms >= ms(s.min_word) {
                self.in_word = true;
                self.words += 1;
                if self.words >= s.max_words {
                    return Some(Verdict::Machine(Cause::MaxWords));
                }
            }
            if self.voice_ms >= ms(s.max_word) {
                return Some(Verdict::Machine(Cause::MaxWordLength));
            }
            if self.greeting_ms >= ms(s.greeting) {
                return Some(Verdict::Machine(Cause::LongGreeting));
            }
        }
        (self.total_ms >= ms(s.total)).then_some(Verdict::NotSure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` of silence (level 0) or of voice (level 3,000).
    fn audio(parts: &[(bool, u64)]) -> Vec<i16> {
        parts
            .iter()
            .flat_map(|&(voice, ms)| {
                (0..ms * 8).map(move |i| {
                    if voice {
                        if i % 2 == 0 {
                            3_000
                        } else {
                            -3_000
                        }
                    } else {
                        0
                    }
                })
            })
            .collect()
    }

    fn verdict(parts: &[(bool, u64)]) -> Option<Verdict> {
        let mut d = Detector::new(Settings::default());
        // In packets of 20 ms, as RTP brings them, but cut unevenly.
        audio(parts).chunks(150).find_map(|c| d.feed(c))
    }

    #[test]
    fn a_short_answer_then_waiting_is_a_person() {
        assert_eq!(
            verdict(&[(false, 600), (true, 500), (false, 1_000)]),
            Some(Verdict::Human)
        );
    }

    #[test]
    fn a_long_greeting_many_words_or_silence_is_a_machine() {
        assert_eq!(
            verdict(&[(false, 300), (true, 1_600), (false, 1_000)]),
            Some(Verdict::Machine(Cause::LongGreeting))
        );
        assert_eq!(
            verdict(&[
                (true, 200),
                (false, 100),
                (true, 200),
                (false, 100),
                (true, 200)
            ]),
            Some(Verdict::Machine(Cause::MaxWords))
        );
        assert_eq!(
            verdict(&[(false, 3_000)]),
            Some(Verdict::Machine(Cause::InitialSilence))
        );
    }

    #[test]
    fn noise_too_short_for_a_word_is_no_word() {
        // Clicks of 60 ms, then a word, then waiting: one word, a person.
        assert_eq!(
            verdict(&[
                (true, 60),
                (false, 400),
                (true, 60),
                (false, 400),
                (true, 400),
                (false, 900)
            ]),
            Some(Verdict::Human)
        );
    }

    #[test]
    fn settings_are_read_from_text_and_bad_ones_are_refused() {
        let s: Settings = "greeting=2000, max_words=4,follow_noise=off"
            .parse()
            .expect("read");
        assert_eq!(s.greeting, Duration::from_millis(2_000));
        assert_eq!((s.max_words, s.follow_noise), (4, false));
        assert_eq!(s.initial_silence, Settings::default().initial_silence);
        for (bad, why) in [
            ("greeting", "`greeting` is not NAME=VALUE"),
            ("greeting=0", "`greeting` takes 1–30000 ms, not 0"),
            ("greting=100", "`greting` is not a setting"),
            ("max_words=x", "`max_words` takes a whole number, not `x`"),
            ("follow_noise=yes", "`follow_noise` is on or off, not `yes`"),
        ] {
            let e = bad.parse::<Settings>().expect_err(bad);
            assert!(e.starts_with(why), "{bad}: {e}");
        }
    }

    #[test]
    fn no_decision_within_the_analysis_time_is_not_sure() {
        let s = Settings {
            initial_silence: Duration::from_secs(10),
            ..Settings::default()
        };
        let mut d = Detector::new(s);
        assert_eq!(d.feed(&audio(&[(false, 5_000)])), Some(Verdict::NotSure));
    }
}

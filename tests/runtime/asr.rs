//! The keyword spotter's accuracy on espeak-ng speech (Russian and English, clean and with
//! white noise at about 20 dB SNR), through 8 kHz μ-law as on a call. Prints the table recorded
//! in docs/runtime.md and fails below a floor, so a regression shows.

use super::harness::{require, scratch};
use ivrc::runtime::asr::{Recognizer, Spotter};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const RUSSIAN: &[&str] = &[
    "да",
    "нет",
    "готов",
    "отмена",
    "оператор",
    "баланс",
    "повторить",
    "спасибо",
];
const ENGLISH: &[&str] = &["yes", "no", "operator", "balance", "repeat", "cancel"];

/// `word` spoken by espeak-ng with `voice`, as 8 kHz samples through μ-law; with white noise
/// mixed in when `noisy`.
fn spoken(dir: &Path, word: &str, voice: &str, noisy: bool) -> Vec<i16> {
    let wav = dir.join("w.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&wav)
        .arg(word)
        .status();
    assert!(ok.is_ok_and(|s| s.success()), "espeak-ng");
    let ulaw = dir.join("w.ulaw");
    let mut sox = Command::new("sox");
    if noisy {
        let noise = dir.join("noise.wav");
        let made = Command::new("sox")
            .arg(&wav)
            .arg(&noise)
            .args(["synth", "whitenoise", "vol", "0.03"])
            .status();
        assert!(made.is_ok_and(|s| s.success()), "sox noise");
        sox.arg("-m").arg(&wav).arg(&noise);
    } else {
        sox.arg(&wav);
    }
    let ok = sox
        .args(["-r", "8000", "-c", "1", "-t", "ul"])
        .arg(&ulaw)
        .status();
    assert!(ok.is_ok_and(|s| s.success()), "sox");
    std::fs::read(&ulaw)
        .expect("ulaw")
        .into_iter()
        .map(ivrc::runtime::media::g711::ulaw_decode)
        .collect()
}

fn heard(spotter: &Spotter, phrases: &[String], audio: &[i16]) -> Option<String> {
    let mut l = spotter.listen(phrases).expect("listening");
    for frame in audio.chunks(160) {
        l.audio.send(frame.to_vec()).expect("the recognizer runs");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(h) = l.heard.try_recv() {
            return Some(h.text);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn keyword_spotter_accuracy_on_espeak_speech() {
    require("espeak-ng", "--version");
    require("sox", "--version");
    let dir = scratch("asr");
    let spotter = Spotter::new(
        Path::new("/usr/share/pocketsphinx/model/en-us"),
        dir.join("asr"),
    )
    .expect("the pocketsphinx model (scripts/setup.sh installs pocketsphinx-en-us)");
    let mut table = Vec::new();
    for (words, voice, lang) in [(RUSSIAN, "ru", "Russian"), (ENGLISH, "en-us", "English")] {
        let phrases: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
        for noisy in [false, true] {
            let mut right = 0;
            let mut wrong = Vec::new();
            for word in words {
                let got = heard(&spotter, &phrases, &spoken(&dir, word, voice, noisy));
                if got.as_deref() == Some(*word) {
                    right += 1;
                } else {
                    wrong.push(format!(
                        "{word}→{}",
                        got.unwrap_or_else(|| "nothing".into())
                    ));
                }
            }
            let condition = if noisy { "noise" } else { "clean" };
            eprintln!("{lang} {condition}: {right}/{} {wrong:?}", words.len());
            table.push((lang, noisy, right, words.len()));
        }
    }
    // Floors a little under what was measured (docs/runtime.md), so that a regression fails.
    for (lang, noisy, right, total) in table {
        let floor = if noisy { total / 2 } else { total * 3 / 4 };
        assert!(
            right >= floor,
            "{lang} {}: {right}/{total} is under {floor}",
            if noisy { "with noise" } else { "clean" }
        );
    }
}

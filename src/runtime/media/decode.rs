//! Audio files in the formats `play` takes from a URL — MP3, Ogg Vorbis, WAV — decoded by
//! symphonia and brought to the runtime's 8 kHz mono.

use super::resample::to_8k;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The longest audio decoded: a prompt of an hour is a mistake, and memory is bounded.
const MAX_SECONDS: usize = 3_600;

/// `bytes` of an audio file (its format found from its content, `extension` a hint) as 8 kHz
/// mono samples; or why they cannot be.
pub fn to_8k_mono(bytes: Vec<u8>, extension: Option<&str>) -> Result<Vec<i16>, String> {
    let source = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| {
            format!("not audio in a format the runtime reads (MP3, Ogg Vorbis, WAV): {e}")
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or("no audio track")?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| format!("no decoder: {e}"))?;
    let mut rate = track.codec_params.sample_rate.unwrap_or(0);
    let mut mono: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(Error::ResetRequired) => break,
            Err(e) => return Err(format!("unreadable audio: {e}")),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged frame is skipped, as players do.
            Err(Error::DecodeError(_)) => continue,
            Err(e) => return Err(format!("unreadable audio: {e}")),
        };
        let spec = *decoded.spec();
        rate = spec.rate;
        let channels = spec.channels.count().max(1);
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buffer.copy_interleaved_ref(decoded);
        mono.extend(
            buffer
                .samples()
                .chunks(channels)
                .map(|frame| frame.iter().sum::<f32>() / frame.len() as f32),
        );
        if mono.len() > MAX_SECONDS * rate.max(1) as usize {
            return Err(format!("longer than {MAX_SECONDS} s"));
        }
    }
    if mono.is_empty() || rate == 0 {
        return Err("no audio in the file".into());
    }
    Ok(to_8k(&mono, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file in memory: `seconds` of a 440 Hz tone at `rate`, `channels` channels.
    fn wav(rate: u32, channels: u16, seconds: f32) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut out, spec).expect("a writer");
        for i in 0..(rate as f32 * seconds) as u32 {
            let v = ((i as f32 / rate as f32) * 440.0 * std::f32::consts::TAU).sin() * 10_000.0;
            for _ in 0..channels {
                w.write_sample(v as i16).expect("a sample");
            }
        }
        w.finalize().expect("written");
        out.into_inner()
    }

    #[test]
    fn a_wav_of_any_rate_and_channels_becomes_8k_mono() {
        let samples = to_8k_mono(wav(44_100, 2, 0.5), Some("wav")).expect("decodes");
        assert!(
            (3_990..=4_010).contains(&samples.len()),
            "{}",
            samples.len()
        );
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((9_000..=10_500).contains(&peak), "{peak}");
    }

    #[test]
    fn bytes_that_are_not_audio_are_refused_with_a_reason() {
        let e = to_8k_mono(b"<html>Not found</html>".to_vec(), None).expect_err("refused");
        assert!(
            e.starts_with("not audio in a format the runtime reads"),
            "{e}"
        );
        let mut cut = wav(8_000, 1, 0.5);
        cut.truncate(20);
        assert!(to_8k_mono(cut, Some("wav")).is_err());
    }
}

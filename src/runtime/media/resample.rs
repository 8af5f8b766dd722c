//! Sample-rate conversion to 8 kHz for prompts: a windowed-sinc low-pass at 3.6 kHz evaluated
//! at each output instant (so any input rate works, 22050 Hz from espeak-ng included). Run
//! once per prompt, so clarity matters more than speed.

/// Output rate.
pub const RATE: u32 = 8000;
/// Half the filter length, in input samples at the lower of the two rates.
const HALF_TAPS: f64 = 16.0;
/// Cut-off as a fraction of the output Nyquist frequency (4 kHz).
const CUTOFF: f64 = 0.9;

/// `input` (samples in -1..1 at `rate` Hz) as 8 kHz 16-bit samples.
pub fn to_8k(input: &[f32], rate: u32) -> Vec<i16> {
    if rate == 0 || input.is_empty() {
        return Vec::new();
    }
    let ratio = f64::from(rate) / f64::from(RATE);
    let out_len = ((input.len() as f64) / ratio).floor() as usize;
    // When going down, the filter is stretched to the output's Nyquist frequency.
    let scale = if ratio > 1.0 { CUTOFF / ratio } else { CUTOFF };
    let half = HALF_TAPS / scale.min(1.0);
    (0..out_len)
        .map(|n| {
            let t = n as f64 * ratio;
            let first = (t - half).ceil().max(0.0) as usize;
            let last = ((t + half).floor() as usize).min(input.len() - 1);
            let mut acc = 0.0;
            let mut weight = 0.0;
            for (k, &x) in input.iter().enumerate().take(last + 1).skip(first) {
                let d = k as f64 - t;
                let h = sinc(d * scale) * blackman(d / half);
                acc += f64::from(x) * h;
                weight += h;
            }
            let y = if weight.abs() > 1e-9 {
                acc / weight
            } else {
                0.0
            };
            (y * 32_767.0).clamp(-32_768.0, 32_767.0).round() as i16
        })
        .collect()
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// The Blackman window on -1..1.
fn blackman(x: f64) -> f64 {
    if x.abs() >= 1.0 {
        return 0.0;
    }
    let a = std::f64::consts::PI * (x + 1.0);
    0.42 - 0.5 * a.cos() + 0.08 * (2.0 * a).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    fn rms(s: &[i16]) -> f64 {
        let sum: f64 = s.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        (sum / s.len().max(1) as f64).sqrt()
    }

    #[test]
    fn lengths_and_passband() {
        let out = to_8k(&tone(440.0, 22_050, 1.0), 22_050);
        assert_eq!(out.len(), 8000);
        // a 0.5-amplitude sine has rms 0.354 of full scale
        let expected = 0.5 / 2f64.sqrt() * 32_767.0;
        assert!(
            (rms(&out[100..7900]) - expected).abs() < expected * 0.05,
            "{}",
            rms(&out)
        );
        assert_eq!(to_8k(&tone(440.0, 8000, 0.5), 8000).len(), 4000);
        assert_eq!(to_8k(&tone(440.0, 16_000, 0.5), 16_000).len(), 4000);
        assert!(to_8k(&[], 22_050).is_empty());
        assert!(to_8k(&[0.1], 0).is_empty());
    }

    #[test]
    fn above_4khz_is_removed() {
        let out = to_8k(&tone(6000.0, 22_050, 0.5), 22_050);
        assert!(
            rms(&out[100..3900]) < 0.02 * 32_767.0,
            "aliasing: {}",
            rms(&out)
        );
    }
}

//! G.711 μ-law and A-law (ITU-T G.711): 16-bit linear samples to one byte each and back.
//! Written from the segment rules of the recommendation; encoding uses tables built once.

use std::sync::OnceLock;

/// Encodes one sample as μ-law.
pub fn ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(32_635) + 0x84;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Decodes one μ-law byte.
pub fn ulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let t = ((i32::from(u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// The upper ends of A-law's eight segments, on 13-bit magnitudes.
const ALAW_SEGMENT_ENDS: [i32; 8] = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/// Encodes one sample as A-law.
pub fn alaw(sample: i16) -> u8 {
    let mut p = i32::from(sample) >> 3;
    let mask = if p >= 0 {
        0xd5
    } else {
        p = -p - 1;
        0x55
    };
    let Some(segment) = ALAW_SEGMENT_ENDS.iter().position(|&end| p <= end) else {
        return 0x7f ^ mask;
    };
    let shift = if segment < 2 { 1 } else { segment };
    let byte = ((segment as i32) << 4) | ((p >> shift) & 0x0f);
    (byte as u8) ^ mask
}

/// Decodes one A-law byte.
pub fn alaw_decode(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let segment = (a & 0x70) >> 4;
    match segment {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (segment - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Encoding tables for every 16-bit sample, built on first use (64 KiB each).
fn tables() -> &'static (Vec<u8>, Vec<u8>) {
    static TABLES: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    TABLES.get_or_init(|| {
        let all = i16::MIN..=i16::MAX;
        (all.clone().map(ulaw).collect(), all.map(alaw).collect())
    })
}

/// Encodes samples into `out` with μ-law (`a_law` false) or A-law.
pub fn encode(samples: &[i16], a_law: bool, out: &mut Vec<u8>) {
    let (u, a) = tables();
    let table = if a_law { a } else { u };
    out.clear();
    out.extend(
        samples
            .iter()
            .map(|&s| table[(i32::from(s) + 32_768) as usize]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // silence and the extremes, from the G.711 tables
        assert_eq!(ulaw(0), 0xff);
        assert_eq!(ulaw(-1), 0x7f);
        assert_eq!(ulaw(32_767), 0x80);
        assert_eq!(ulaw(-32_768), 0x00);
        assert_eq!(alaw(0), 0xd5);
        assert_eq!(alaw(-1), 0x55);
        assert_eq!(alaw(32_767), 0xaa);
        assert_eq!(alaw(-32_768), 0x2a);
    }

    #[test]
    fn decode_of_encode_is_close() {
        for s in (i16::MIN..=i16::MAX).step_by(97) {
            let tolerance = (i32::from(s).abs() / 16).max(16) + 16;
            let u = i32::from(ulaw_decode(ulaw(s)));
            let a = i32::from(alaw_decode(alaw(s)));
            assert!((u - i32::from(s)).abs() <= tolerance, "ulaw {s} -> {u}");
            assert!((a - i32::from(s)).abs() <= tolerance, "alaw {s} -> {a}");
        }
    }

    #[test]
    fn encode_every_byte_round_trips() {
        for b in 0..=255u8 {
            // 0x7f is μ-law's "negative zero", which decodes to 0 and encodes as 0xff
            if b != 0x7f {
                assert_eq!(ulaw(ulaw_decode(b)), b, "ulaw {b:#x}");
            }
            assert_eq!(alaw(alaw_decode(b)), b, "alaw {b:#x}");
        }
    }
}

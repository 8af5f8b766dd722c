//! How many SMS segments a text takes, as carriers count them: GSM 03.38's 7-bit alphabet
//! (its extension characters take two septets) fits 160 septets in one message and 153 per
//! part of a longer one; any other character makes the whole text UCS-2, 70 UTF-16 units in
//! one message and 67 per part (Twilio, "What the Heck is a Segment?"). Cyrillic is UCS-2.

/// The GSM 03.38 basic character set.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The characters of the extension table, two septets each.
const EXTENDED: &str = "\u{c}^{}\\[~]|€";

/// How a text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Encoding {
    /// GSM 03.38, 7 bits a character.
    Gsm7,
    /// UCS-2 (UTF-16), 16 bits a unit.
    Ucs2,
}

/// A text's length as carriers count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    /// The encoding the text needs.
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Messages it is sent as (0 for an empty text).
    pub segments: usize,
}

/// Counts `text`.
pub fn count(text: &str) -> Count {
    let mut septets = 0;
    for c in text.chars() {
        if BASIC.contains(c) {
            septets += 1;
        } else if EXTENDED.contains(c) {
            septets += 2;
        } else {
            let units = text.encode_utf16().count();
            return Count {
                encoding: Encoding::Ucs2,
                units,
                segments: segments(units, 70, 67),
            };
        }
    }
    Count {
        encoding: Encoding::Gsm7,
        units: septets,
        segments: segments(septets, 160, 153),
    }
}

fn segments(units: usize, single: usize, part: usize) -> usize {
    match units {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_texts_fit_160_septets_then_153_a_part() {
        assert_eq!(count("").segments, 0);
        assert_eq!(count(&"a".repeat(160)).segments, 1);
        assert_eq!(count(&"a".repeat(161)).segments, 2);
        assert_eq!(count(&"a".repeat(306)).segments, 2);
        assert_eq!(count(&"a".repeat(307)).segments, 3);
        let euro = count("€10");
        assert_eq!((euro.encoding, euro.units), (Encoding::Gsm7, 4));
        assert_eq!(count(&"€".repeat(80)).segments, 1);
        assert_eq!(count(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn cyrillic_and_emoji_make_the_text_ucs2() {
        let c = count("Привет, это Толик");
        assert_eq!((c.encoding, c.units, c.segments), (Encoding::Ucs2, 17, 1));
        assert_eq!(count(&"я".repeat(70)).segments, 1);
        assert_eq!(count(&"я".repeat(71)).segments, 2);
        assert_eq!(count(&"я".repeat(134)).segments, 2);
        assert_eq!(count(&"я".repeat(135)).segments, 3);
        // An emoji is two UTF-16 units.
        assert_eq!(count("ok 😀").units, 5);
    }
}

//! Plural forms by the CLDR rules of cardinal numbers (integers only).

use super::{Lang, SpeechError};

/// A CLDR plural category of an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Category {
    /// Russian 1, 21, 101…; English 1.
    One,
    /// Russian 2–4, 22–24…
    Few,
    /// Russian 0, 5–20, 25–30…; English everything but 1.
    Many,
}

/// The plural category of `n` in `lang`; a negative number takes its absolute value's.
pub(super) fn category(lang: Lang, n: u64) -> Category {
    match lang {
        Lang::En if n == 1 => Category::One,
        Lang::En => Category::Many,
        Lang::Ru => match (n % 10, n % 100) {
            (1, r) if r != 11 => Category::One,
            (2..=4, r) if !(12..=14).contains(&r) => Category::Few,
            _ => Category::Many,
        },
    }
}

/// The form of a noun that goes with the number `n`: Russian takes three forms (one, few,
/// many: «рубль», «рубля», «рублей»), English two (one, other: "dollar", "dollars").
pub fn plural<'a>(lang: Lang, n: i64, forms: &[&'a str]) -> Result<&'a str, SpeechError> {
    let (expected, name, example) = match lang {
        Lang::Ru => (3, "Russian", "one, few, many: рубль, рубля, рублей"),
        Lang::En => (2, "English", "one, other: dollar, dollars"),
    };
    if forms.len() != expected {
        return Err(SpeechError::FormCount {
            lang: name,
            expected,
            got: forms.len(),
            example,
        });
    }
    let at = match category(lang, n.unsigned_abs()) {
        Category::One => 0,
        Category::Few => 1,
        Category::Many => forms.len() - 1,
    };
    Ok(forms[at])
}

//! An amount of money said with its currency's nouns in the right plural forms.

use super::plural::{category, Category};
use super::{words, Case, Gender, Lang, SpeechError};

/// How `money` writes the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// Numbers as words agreeing with the currency («одна тысяча двести тридцать четыре рубля
    /// пятьдесят копеек»): what every TTS engine says right. espeak-ng reads «1 234» as «один
    /// двести тридцать четыре» and «21 копейка» as «двадцать один копейка»; use this for speech.
    Words,
    /// Numbers as digits grouped by thousands («1 234 рубля 50 копеек», "1,234 dollars and 50
    /// cents"): for SMS and other text read by people.
    Digits,
}

/// A currency's nouns: Russian one/few/many and gender, English one/other.
struct Unit {
    ru: [&'static str; 3],
    gender: Gender,
    en: [&'static str; 2],
}

/// A currency: its main unit and its hundredth.
struct Currency {
    major: Unit,
    minor: Unit,
}

/// The hundredth of the dollar and the euro.
const CENT: Unit = Unit {
    ru: ["цент", "цента", "центов"],
    gender: Gender::Masculine,
    en: ["cent", "cents"],
};

/// The currencies `money` knows, by ISO 4217 code.
fn currency(code: &str) -> Result<Currency, SpeechError> {
    match code.to_ascii_uppercase().as_str() {
        "RUB" => Ok(Currency {
            major: Unit {
                ru: ["рубль", "рубля", "рублей"],
                gender: Gender::Masculine,
                en: ["ruble", "rubles"],
            },
            minor: Unit {
                ru: ["копейка", "копейки", "копеек"],
                gender: Gender::Feminine,
                en: ["kopeck", "kopecks"],
            },
        }),
        "USD" => Ok(Currency {
            major: Unit {
                ru: ["доллар", "доллара", "долларов"],
                gender: Gender::Masculine,
                en: ["dollar", "dollars"],
            },
            minor: CENT,
        }),
        "EUR" => Ok(Currency {
            major: Unit {
                ru: ["евро", "евро", "евро"],
                gender: Gender::Neuter,
                en: ["euro", "euros"],
            },
            minor: CENT,
        }),
        _ => Err(SpeechError::UnknownCurrency(code.to_string())),
    }
}

/// `amount` of `currency` (RUB, USD or EUR, any letter case) in `lang`: «1 234 рубля 50
/// копеек», "minus 3 dollars", «5 копеек» (no zero roubles), «0 рублей». The amount is an
/// exact decimal written as text (never a float): an optional `-`, digits optionally grouped
/// by thousands with spaces (`1 234`, also no-break and narrow no-break spaces), and an
/// optional `.` or `,` with one or two digits (`1234.5` is 50 kopecks). Commas between
/// thousands (`1,234.50`) are refused, since `1,234` would be ambiguous.
pub fn money(
    lang: Lang,
    amount: &str,
    currency_code: &str,
    style: Style,
) -> Result<String, SpeechError> {
    let currency = currency(currency_code)?;
    let (negative, major, minor) = parse_amount(amount)?;
    let mut out = String::new();
    if negative && (major > 0 || minor > 0) {
        out.push_str(match lang {
            Lang::Ru => "минус ",
            Lang::En => "minus ",
        });
    }
    if major > 0 || minor == 0 {
        say(&mut out, lang, major, &currency.major, style);
    }
    if minor > 0 {
        if major > 0 {
            out.push_str(match lang {
                Lang::Ru => " ",
                Lang::En => " and ",
            });
        }
        say(&mut out, lang, minor, &currency.minor, style);
    }
    Ok(out)
}

/// Appends `n` and `unit`'s noun in the form `n` takes.
fn say(out: &mut String, lang: Lang, n: i64, unit: &Unit, style: Style) {
    match style {
        Style::Words => out.push_str(&words(lang, n, unit.gender, Case::Nominative)),
        Style::Digits => grouped(
            out,
            n.unsigned_abs(),
            if lang == Lang::Ru { ' ' } else { ',' },
        ),
    }
    out.push(' ');
    let at = match category(lang, n.unsigned_abs()) {
        Category::One => 0,
        Category::Few => 1,
        Category::Many => 2,
    };
    out.push_str(match lang {
        Lang::Ru => unit.ru[at],
        Lang::En => unit.en[at.min(1)],
    });
}

/// Appends `n`'s digits grouped by thousands with `separator`.
fn grouped(out: &mut String, n: u64, separator: char) {
    let text = n.to_string();
    for (i, c) in text.chars().enumerate() {
        if i > 0 && (text.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(c);
    }
}

/// The sign, the whole units and the hundredths of an amount written as `money` reads it.
fn parse_amount(text: &str) -> Result<(bool, i64, i64), SpeechError> {
    let bad = |reason| SpeechError::BadAmount {
        text: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    let (negative, unsigned) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let (whole, fraction) = match unsigned.find(['.', ',']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let parts: Vec<&str> = whole.split([' ', '\u{a0}', '\u{202f}']).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad(if whole.is_empty() {
            "no digits before the decimal point"
        } else {
            "spaces go only between groups of three digits"
        }));
    }
    if parts.len() > 1 && (parts[0].len() > 3 || parts[1..].iter().any(|p| p.len() != 3)) {
        return Err(bad("spaces go only between groups of three digits"));
    }
    let mut major: i64 = 0;
    for c in parts.concat().chars() {
        let digit = c.to_digit(10).ok_or_else(|| {
            bad("use digits, an optional leading `-` and `.` or `,` before the kopecks or cents")
        })?;
        major = major
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(digit)))
            .ok_or_else(|| bad("too large (at most 9 223 372 036 854 775 807 whole units)"))?;
    }
    let minor = match fraction {
        None => 0,
        Some(f) if f.is_empty() || f.len() > 2 || !f.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(bad("give one or two digits after the decimal point"));
        }
        Some(f) => {
            let value: i64 = f
                .parse()
                .map_err(|_| bad("give one or two digits after the decimal point"))?;
            if f.len() == 1 {
                value * 10
            } else {
                value
            }
        }
    };
    Ok((negative, major, minor))
}

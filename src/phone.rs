//! Phone numbers: parsing, validation and normalization into E.164.
//!
//! This module owns the [`Phone`] type (always a valid E.164 number), the
//! rules for turning free-form text into one ([`parse_e164`], [`normalize`])
//! and the wire format of the platforms that want bare digits
//! ([`Phone::digits`], [`zvonobot_format`]).
//!
//! It deliberately does not know about CSV files, campaigns or diagnostics
//! (see `crate::leads` and the checker), does not decide whether a number is
//! actually assigned or reachable, and does no I/O. Every function here is
//! pure and total: bad input yields a [`PhoneError`], never a panic.

use std::fmt;

/// Smallest number of digits after `+` that E.164 allows here.
const MIN_DIGITS: usize = 8;
/// Largest number of digits after `+` that E.164 allows.
const MAX_DIGITS: usize = 15;
/// Digits of a `+7` number, country code included.
const RUSSIAN_DIGITS: usize = 11;
/// Digits of a Russian number without its country code.
const RUSSIAN_NATIONAL_DIGITS: usize = 10;
/// Smallest number of digits Zvonobot accepts.
const ZVONOBOT_MIN_DIGITS: usize = 11;

/// A phone number in E.164 form, stored with the leading `+`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// The number in E.164 form with the leading `+`, e.g. `+74951234567`.
    #[must_use]
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The number as digits only, country code first, e.g. `74951234567`
    /// (the Twin24 and Zvonobot wire format).
    #[must_use]
    pub fn digits(&self) -> &str {
        self.0.strip_prefix('+').unwrap_or(&self.0)
    }

    /// Whether the country code is 7 (Russia and Kazakhstan).
    #[must_use]
    pub fn country_code_is_7(&self) -> bool {
        self.digits().starts_with('7')
    }
}

impl fmt::Display for Phone {
    /// Prints the E.164 form, e.g. `+74951234567`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;

    /// Parses strict E.164 text, see [`parse_e164`].
    fn try_from(text: String) -> Result<Self, Self::Error> {
        parse_e164(&text)
    }
}

impl From<Phone> for String {
    /// The E.164 form with the leading `+`.
    fn from(phone: Phone) -> Self {
        phone.0
    }
}

/// How free-form phone text (CSV cells, parameters) is turned into a Phone.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// The text must be an international number with `+`; separators are
    /// ignored.
    #[default]
    E164,
    /// Twin24's Russian rules: `+7…`, `8…` or `7…` with 11 digits, or 10
    /// digits without the country code; separators are ignored.
    Ru,
}

/// Why some text is not an acceptable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// There are no digits at all.
    #[error("the phone number is empty")]
    Empty,
    /// A character that is neither a digit nor an allowed separator, or a
    /// `+` that is not the first character.
    #[error("`{0}` is not allowed in a phone number")]
    BadChar(char),
    /// Digits without the leading `+` where an international number is
    /// required.
    #[error("a phone number in international form starts with `+` and a country code")]
    MissingPlus,
    /// Too few or too many digits; carries the number of digits found.
    #[error("a phone number has 8 to 15 digits after `+`, this one has {0}")]
    BadLength(usize),
    /// The first digit after `+` is 0.
    #[error("a country code never starts with 0")]
    LeadingZero,
    /// A `+7` number without exactly 10 further digits; carries the number
    /// of digits after the 7.
    #[error("a +7 number has 10 digits after the country code, this one has {0}")]
    BadRussianLength(usize),
    /// Text that fits none of the Russian forms; carries the original text.
    #[error("`{0}` cannot be read as a Russian number (expected +7…, 8…, 7… with 11 digits or 10 digits without the country code)")]
    NotRussian(String),
}

/// Parses a number that is already in strict E.164 form: `+` followed by 8
/// to 15 digits, the first not 0, and exactly 11 digits when the country
/// code is 7. No spaces or other separators are accepted.
///
/// # Errors
///
/// [`PhoneError::Empty`] for empty text, [`PhoneError::BadChar`] for
/// anything but a leading `+` and digits, [`PhoneError::MissingPlus`],
/// [`PhoneError::LeadingZero`], [`PhoneError::BadRussianLength`] for a `+7`
/// number without 10 more digits, and [`PhoneError::BadLength`].
pub fn parse_e164(text: &str) -> Result<Phone, PhoneError> {
    if text.is_empty() {
        return Err(PhoneError::Empty);
    }
    let (has_plus, digits) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(PhoneError::BadChar(bad));
    }
    if !has_plus {
        return Err(PhoneError::MissingPlus);
    }
    from_digits(digits)
}

/// Turns free-form text into a [`Phone`] according to `how`.
///
/// In both modes spaces (including tabs and no-break spaces), `-`, `(`, `)`
/// and `.` are ignored, and a `+` is only allowed as the first character that
/// is not a space.
///
/// * [`Normalization::E164`]: what remains must be a valid E.164 number
///   with its `+` (see [`parse_e164`]).
/// * [`Normalization::Ru`]: what remains must be `+7` and 10 digits, `8` or
///   `7` and 10 digits, or just 10 digits; the result is always
///   `+7XXXXXXXXXX`.
///
/// # Errors
///
/// [`PhoneError::Empty`] when there are no digits, [`PhoneError::BadChar`]
/// for characters other than digits and separators (or a misplaced `+`);
/// in E.164 mode the errors of [`parse_e164`]; in Russian mode
/// [`PhoneError::BadRussianLength`] for a `+7` number of the wrong length and
/// [`PhoneError::NotRussian`] for anything else that fits no Russian form.
pub fn normalize(text: &str, how: Normalization) -> Result<Phone, PhoneError> {
    let (has_plus, digits) = strip_separators(text)?;
    if !has_plus && digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    match how {
        Normalization::E164 => {
            if has_plus {
                from_digits(&digits)
            } else {
                Err(PhoneError::MissingPlus)
            }
        }
        Normalization::Ru => normalize_russian(text, has_plus, &digits),
    }
}

/// Formats a phone for Zvonobot: digits only, country code first, at least
/// 11 digits.
///
/// # Errors
///
/// [`PhoneError::BadLength`] for numbers with fewer than 11 digits.
pub fn zvonobot_format(phone: &Phone) -> Result<String, PhoneError> {
    let digits = phone.digits();
    let count = digits.len();
    if count < ZVONOBOT_MIN_DIGITS {
        return Err(PhoneError::BadLength(count));
    }
    Ok(digits.to_owned())
}

/// Whether `c` is a space-like character that may appear in user input.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{a0}' | '\u{2007}' | '\u{202f}')
}

/// Removes separators from `text`, returning whether it started with `+`
/// and the digits in order.
fn strip_separators(text: &str) -> Result<(bool, String), PhoneError> {
    let mut has_plus = false;
    let mut seen_non_space = false;
    let mut digits = String::with_capacity(text.len());
    for c in text.chars() {
        if is_space(c) {
            continue;
        }
        let first = !seen_non_space;
        seen_non_space = true;
        match c {
            '0'..='9' => digits.push(c),
            '+' if first => has_plus = true,
            '-' | '(' | ')' | '.' => {}
            other => return Err(PhoneError::BadChar(other)),
        }
    }
    Ok((has_plus, digits))
}

/// Validates the digits after `+` and builds the phone.
fn from_digits(digits: &str) -> Result<Phone, PhoneError> {
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(PhoneError::BadChar(bad));
    }
    if digits.starts_with('0') {
        return Err(PhoneError::LeadingZero);
    }
    let count = digits.len();
    // The +7 rule is checked first: it names the exact length wanted.
    if digits.starts_with('7') && count != RUSSIAN_DIGITS {
        return Err(PhoneError::BadRussianLength(count.saturating_sub(1)));
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&count) {
        return Err(PhoneError::BadLength(count));
    }
    Ok(Phone(format!("+{digits}")))
}

/// Applies the Twin24 Russian rules to separator-free digits.
fn normalize_russian(text: &str, has_plus: bool, digits: &str) -> Result<Phone, PhoneError> {
    let not_russian = || PhoneError::NotRussian(text.to_owned());
    let national = if has_plus {
        match digits.strip_prefix('7') {
            Some(rest) if rest.len() == RUSSIAN_NATIONAL_DIGITS => rest,
            Some(rest) => return Err(PhoneError::BadRussianLength(rest.len())),
            None => return Err(not_russian()),
        }
    } else if digits.len() == RUSSIAN_DIGITS {
        match digits.strip_prefix(['7', '8']) {
            Some(rest) => rest,
            None => return Err(not_russian()),
        }
    } else if digits.len() == RUSSIAN_NATIONAL_DIGITS {
        digits
    } else {
        return Err(not_russian());
    };
    Ok(Phone(format!("+7{national}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(text: &str) -> String {
        match parse_e164(text) {
            Ok(phone) => phone.e164().to_owned(),
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn ru(text: &str) -> Result<String, PhoneError> {
        normalize(text, Normalization::Ru).map(String::from)
    }

    fn intl(text: &str) -> Result<String, PhoneError> {
        normalize(text, Normalization::E164).map(String::from)
    }

    #[test]
    fn parse_e164_accepts_valid_numbers() {
        assert_eq!(e164("+74951234567"), "+74951234567");
        assert_eq!(e164("+12025550123"), "+12025550123");
        assert_eq!(e164("+37529123456"), "+37529123456");
        assert_eq!(e164("+49301234"), "+49301234"); // 8 digits
        assert_eq!(e164("+123456789012345"), "+123456789012345"); // 15 digits
    }

    #[test]
    fn parse_e164_rejects_empty() {
        assert_eq!(parse_e164(""), Err(PhoneError::Empty));
    }

    #[test]
    fn parse_e164_rejects_separators_and_letters() {
        assert_eq!(parse_e164("+7 495 123"), Err(PhoneError::BadChar(' ')));
        assert_eq!(parse_e164("+7-495"), Err(PhoneError::BadChar('-')));
        assert_eq!(parse_e164("+7495abc"), Err(PhoneError::BadChar('a')));
        assert_eq!(parse_e164("++7495"), Err(PhoneError::BadChar('+')));
        assert_eq!(parse_e164("7+495"), Err(PhoneError::BadChar('+')));
        assert_eq!(parse_e164(" +74951234567"), Err(PhoneError::BadChar(' ')));
        assert_eq!(parse_e164("+٧٤٩٥"), Err(PhoneError::BadChar('٧')));
    }

    #[test]
    fn parse_e164_requires_plus() {
        assert_eq!(parse_e164("74951234567"), Err(PhoneError::MissingPlus));
    }

    #[test]
    fn parse_e164_checks_length() {
        assert_eq!(parse_e164("+"), Err(PhoneError::BadLength(0)));
        assert_eq!(parse_e164("+4930123"), Err(PhoneError::BadLength(7)));
        assert_eq!(
            parse_e164("+1234567890123456"),
            Err(PhoneError::BadLength(16))
        );
    }

    #[test]
    fn parse_e164_rejects_leading_zero() {
        assert_eq!(parse_e164("+04951234567"), Err(PhoneError::LeadingZero));
        assert_eq!(parse_e164("+0"), Err(PhoneError::LeadingZero));
    }

    #[test]
    fn parse_e164_checks_russian_length() {
        assert_eq!(
            parse_e164("+7495123456"),
            Err(PhoneError::BadRussianLength(9))
        );
        assert_eq!(
            parse_e164("+749512345678"),
            Err(PhoneError::BadRussianLength(11))
        );
        assert_eq!(parse_e164("+7"), Err(PhoneError::BadRussianLength(0)));
        assert_eq!(
            parse_e164("+71234567890123456"),
            Err(PhoneError::BadRussianLength(16))
        );
    }

    #[test]
    fn accessors() {
        let phone = parse_e164("+74951234567").unwrap();
        assert_eq!(phone.e164(), "+74951234567");
        assert_eq!(phone.digits(), "74951234567");
        assert!(phone.country_code_is_7());
        assert_eq!(phone.to_string(), "+74951234567");
        let other = parse_e164("+37529123456").unwrap();
        assert!(!other.country_code_is_7());
        assert_eq!(String::from(other), "+37529123456");
    }

    #[test]
    fn try_from_string() {
        assert_eq!(
            Phone::try_from("+74951234567".to_owned()).map(String::from),
            Ok("+74951234567".to_owned())
        );
        assert_eq!(
            Phone::try_from("8 495 123-45-67".to_owned()),
            Err(PhoneError::BadChar(' '))
        );
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let phone = parse_e164("+74951234567").unwrap();
        let json = serde_json::to_string(&phone).unwrap();
        assert_eq!(json, "\"+74951234567\"");
        let back: Phone = serde_json::from_str(&json).unwrap();
        assert_eq!(back, phone);
        assert!(serde_json::from_str::<Phone>("\"84951234567\"").is_err());
        assert!(serde_json::from_str::<Phone>("\"+7 495\"").is_err());
    }

    #[test]
    fn normalization_serde_names() {
        assert_eq!(Normalization::default(), Normalization::E164);
        let names = serde_json::to_string(&[Normalization::E164, Normalization::Ru]).unwrap();
        assert_eq!(names, r#"["e164","ru"]"#);
    }

    #[test]
    fn normalize_e164_strips_separators() {
        assert_eq!(intl("+7 (495) 123-45-67"), Ok("+74951234567".into()));
        assert_eq!(intl("  +1.202.555.0123 "), Ok("+12025550123".into()));
        assert_eq!(
            intl("+375\u{a0}29\t123\u{202f}456"),
            Ok("+37529123456".into())
        );
    }

    #[test]
    fn normalize_e164_errors() {
        assert_eq!(intl(""), Err(PhoneError::Empty));
        assert_eq!(intl(" - ( ) . "), Err(PhoneError::Empty));
        assert_eq!(intl("84951234567"), Err(PhoneError::MissingPlus));
        assert_eq!(intl("+7 495 12"), Err(PhoneError::BadRussianLength(5)));
        assert_eq!(intl("+"), Err(PhoneError::BadLength(0)));
        assert_eq!(intl("+1 234"), Err(PhoneError::BadLength(4)));
        assert_eq!(intl("+0 123 456 789"), Err(PhoneError::LeadingZero));
        assert_eq!(intl("+7 495 O12 34 56"), Err(PhoneError::BadChar('O')));
        assert_eq!(intl("(+7) 4951234567"), Err(PhoneError::BadChar('+')));
        assert_eq!(intl("+7495+1234567"), Err(PhoneError::BadChar('+')));
        assert_eq!(intl("tel:+74951234567"), Err(PhoneError::BadChar('t')));
    }

    #[test]
    fn normalize_ru_all_forms() {
        let want = Ok("+74951234567".to_owned());
        assert_eq!(ru("+74951234567"), want);
        assert_eq!(ru("84951234567"), want);
        assert_eq!(ru("74951234567"), want);
        assert_eq!(ru("4951234567"), want);
        assert_eq!(ru("8 (495) 123-45-67"), want);
        assert_eq!(ru(" +7 495 123.45.67 "), want);
        assert_eq!(ru("(495) 123-45-67"), want);
    }

    #[test]
    fn normalize_ru_errors() {
        assert_eq!(ru(""), Err(PhoneError::Empty));
        assert_eq!(ru("   "), Err(PhoneError::Empty));
        assert_eq!(ru("8 495 123 45 6x"), Err(PhoneError::BadChar('x')));
        assert_eq!(ru("8+4951234567"), Err(PhoneError::BadChar('+')));
        assert_eq!(ru("+7495123456"), Err(PhoneError::BadRussianLength(9)));
        assert_eq!(ru("+7"), Err(PhoneError::BadRussianLength(0)));
        assert_eq!(
            ru("+375291234567"),
            Err(PhoneError::NotRussian("+375291234567".into()))
        );
        assert_eq!(
            ru("94951234567"),
            Err(PhoneError::NotRussian("94951234567".into()))
        );
        assert_eq!(
            ru("495 123 45"),
            Err(PhoneError::NotRussian("495 123 45".into()))
        );
        assert_eq!(
            ru("849512345678"),
            Err(PhoneError::NotRussian("849512345678".into()))
        );
        assert_eq!(ru("+"), Err(PhoneError::NotRussian("+".into())));
    }

    #[test]
    fn zvonobot() {
        let ru = parse_e164("+74951234567").unwrap();
        assert_eq!(zvonobot_format(&ru), Ok("74951234567".into()));
        let by = parse_e164("+375291234567").unwrap();
        assert_eq!(zvonobot_format(&by), Ok("375291234567".into()));
        let short = parse_e164("+4930123456").unwrap();
        assert_eq!(zvonobot_format(&short), Err(PhoneError::BadLength(10)));
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            PhoneError::BadLength(3).to_string(),
            "a phone number has 8 to 15 digits after `+`, this one has 3"
        );
        assert_eq!(
            PhoneError::BadChar('x').to_string(),
            "`x` is not allowed in a phone number"
        );
    }
}

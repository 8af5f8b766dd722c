//! The one error type of the speech helpers, worded for a flow's author.

use thiserror::Error;

/// Why a speech helper could not say its input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpeechError {
    /// A language tag other than Russian or English.
    #[error("unknown language `{0}`: the speech helpers speak Russian and English (`ru-RU`, `en-US`, `ru`, `en`)")]
    UnknownLanguage(String),
    /// A grammatical gender name that is not one of the three.
    #[error("unknown gender `{0}`: use `masculine`, `feminine` or `neuter`")]
    UnknownGender(String),
    /// A grammatical case name that is not one of the six.
    #[error("unknown case `{0}`: use `nominative`, `genitive`, `dative`, `accusative`, `instrumental` or `prepositional`")]
    UnknownCase(String),
    /// `plural` was given the wrong number of forms for its language.
    #[error("{lang} `plural` takes {expected} forms ({example}), got {got}")]
    FormCount {
        /// The language's name.
        lang: &'static str,
        /// How many forms the language needs.
        expected: usize,
        /// How many were given.
        got: usize,
        /// An example of the forms, in order.
        example: &'static str,
    },
    /// `digits` met a character that is neither a digit nor a separator it skips.
    #[error("`digits` reads only digits (spaces and + - ( ) . are skipped), got `{0}`")]
    NotADigit(char),
    /// `digits` was given no digit at all.
    #[error("`digits` was given no digits")]
    NoDigits,
    /// A group size of zero in `digits`.
    #[error("`digits` group sizes must be at least 1")]
    EmptyGroup,
    /// An amount of money that is not a decimal number as `money` reads it.
    #[error("`money` cannot read the amount `{text}`: {reason}")]
    BadAmount {
        /// The amount as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A currency `money` does not know.
    #[error("unknown currency `{0}`: `money` knows RUB, USD and EUR")]
    UnknownCurrency(String),
    /// A moment that is neither an RFC 3339 timestamp with an offset nor Unix seconds.
    #[error("cannot read the time `{0}`: give an RFC 3339 timestamp with an offset (`2026-12-05T14:05:00+03:00`, `…Z`) or Unix seconds")]
    BadTime(String),
    /// A time zone that is neither an IANA name nor a fixed offset.
    #[error("unknown time zone `{0}`: give an IANA name (`Europe/Moscow`) or an offset (`+03:00`, `UTC`)")]
    UnknownZone(String),
}

//! Speech helpers (issue 19): the words a prompt says for numbers, plural forms, digit strings,
//! money, dates and times, in Russian and English. Pure: no I/O and no clock (the time-zone
//! database is jiff's copy bundled into the binary, so every machine says the same time).
//!
//! ```
//! use ivrc::speech::{words, plural, Case, Gender, Lang};
//! let ru: Lang = "ru-RU".parse().unwrap();
//! assert_eq!(words(ru, 21, Gender::Feminine, Case::Nominative), "двадцать одна");
//! assert_eq!(plural(ru, 21, &["минута", "минуты", "минут"]).unwrap(), "минута");
//! ```

mod digits;
mod error;
mod lang;
mod money;
mod numbers;
mod plural;
mod when;

pub use digits::digits;
pub use error::SpeechError;
pub use lang::{Case, Gender, Lang};
pub use money::{money, Style};
pub use numbers::words;
pub use plural::plural;
pub use when::{date, time, zone_table, ZoneRules};

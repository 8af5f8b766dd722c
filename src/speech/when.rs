//! Dates and times in the flow's language, in a given time zone. Zones come from jiff's copy
//! of the IANA database bundled into the binary (never the machine's /usr/share/zoneinfo), so
//! a prompt says the same time on every machine and target.

use std::collections::BTreeMap;

use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ZonedDateTime};
use serde::Serialize;

use super::{Lang, SpeechError};

/// Russian month names in the genitive, as a date says them.
const RU_MONTHS: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// English month names.
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The calendar date of `when` in `zone`: «5 декабря 2026 года», "December 5, 2026". `when` is
/// an RFC 3339 timestamp with an offset or `Z` (`2026-12-05T14:05:00+03:00`) or Unix seconds
/// (`1796468700`, `-1`); `zone` an IANA name (`Europe/Moscow`) or a fixed offset (`+03:00`,
/// `-0530`, `+3`, `UTC`, `Z`).
pub fn date(lang: Lang, when: &str, zone: &str) -> Result<String, SpeechError> {
    let local = zoned(when, zone)?;
    let month = usize::try_from(local.month() - 1).unwrap_or_default();
    Ok(match lang {
        Lang::Ru => format!(
            "{} {} {} года",
            local.day(),
            RU_MONTHS[month % 12],
            local.year()
        ),
        Lang::En => format!(
            "{} {}, {}",
            EN_MONTHS[month % 12],
            local.day(),
            local.year()
        ),
    })
}

/// The wall-clock time of `when` in `zone` (read as [`date`] reads them): «14:05» (24 hours),
/// "2:05 PM" (12 hours; midnight is "12:00 AM", noon "12:00 PM").
pub fn time(lang: Lang, when: &str, zone: &str) -> Result<String, SpeechError> {
    let local = zoned(when, zone)?;
    let (hour, minute) = (local.hour(), local.minute());
    Ok(match lang {
        Lang::Ru => format!("{hour}:{minute:02}"),
        Lang::En => {
            let half = if hour < 12 { "AM" } else { "PM" };
            let twelve = match hour % 12 {
                0 => 12,
                h => h,
            };
            format!("{twelve}:{minute:02} {half}")
        }
    })
}

/// `when` in `zone`, both read as [`date`] documents.
fn zoned(when: &str, zone: &str) -> Result<ZonedDateTime, SpeechError> {
    let text = when.trim();
    let bad_time = || SpeechError::BadTime(when.to_string());
    let instant = if !text.is_empty()
        && text
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        let seconds: i64 = text.parse().map_err(|_| bad_time())?;
        Timestamp::from_second(seconds).map_err(|_| bad_time())?
    } else {
        text.parse::<Timestamp>().map_err(|_| bad_time())?
    };
    Ok(instant.to_zoned_datetime(time_zone(zone)?))
}

/// An IANA zone by name, or a fixed offset up to 18 hours: `UTC`, `Z`, `±H`, `±HH`, `±HHMM`,
/// `±HH:MM`.
fn time_zone(zone: &str) -> Result<TimeZone, SpeechError> {
    let unknown = || SpeechError::UnknownZone(zone.to_string());
    let text = zone.trim();
    if text.eq_ignore_ascii_case("utc") || text == "Z" {
        return Ok(TimeZone::UTC);
    }
    let sign = match text.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return TimeZone::get(text).map_err(|_| unknown()),
    };
    let body = &text[1..];
    if !body.is_ascii() {
        return Err(unknown());
    }
    let (hours, minutes) = match body.split_once(':') {
        Some(parts) => parts,
        None if body.len() == 4 => body.split_at(2),
        None => (body, "0"),
    };
    let number = |s: &str| -> Result<i32, SpeechError> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown());
        }
        s.parse().map_err(|_| unknown())
    };
    let (hours, minutes) = (number(hours)?, number(minutes)?);
    // Offsets in use run from -12:00 to +14:00; ±18:00 is ISO 8601's bound.
    if hours > 18 || minutes > 59 {
        return Err(unknown());
    }
    let offset =
        Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).map_err(|_| unknown())?;
    Ok(TimeZone::fixed(offset))
}

/// 400 Gregorian years in seconds (146 097 days, a whole number of weeks): the period after
/// which every IANA zone's rule for the future (its POSIX TZ string) repeats exactly.
const CYCLE: i64 = 146_097 * 86_400;

/// One IANA zone's UTC offsets as the JavaScript mirror of [`date`] and [`time`]
/// (`src/codegen/voximplant/speech.js`, `$sZones`) reads them: VoxEngine documents no Intl
/// time-zone support, and the host's tzdata could differ from jiff's anyway, so the build
/// hands the scenario the offsets jiff computes. Serialized as `{"o": …, "t": …, "c": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneRules {
    /// The offset in seconds before the first transition, then after each one.
    #[serde(rename = "o")]
    pub offsets: Vec<i32>,
    /// The Unix seconds at which the offset changes, ascending, up to `cycle` + 400 years.
    #[serde(rename = "t")]
    pub transitions: Vec<i64>,
    /// The Unix second from which the offsets repeat every 400 years: a moment at or after
    /// `cycle` + 400 years has the offset of the same moment 400 years (or a multiple) earlier.
    #[serde(rename = "c")]
    pub cycle: i64,
}

/// The `$sZones` table of a scenario: the rules of every IANA zone among `zones`, keyed by
/// the trimmed name in ASCII lower case (jiff looks names up in any letter case). `UTC`, `Z`
/// and fixed offsets are left out: the JavaScript reads them itself. A name jiff does not
/// know is an error, as in [`date`].
pub fn zone_table<'a>(
    zones: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, ZoneRules>, SpeechError> {
    let mut table = BTreeMap::new();
    for zone in zones {
        let text = zone.trim();
        let tz = time_zone(zone)?;
        if text.eq_ignore_ascii_case("utc") || text == "Z" || text.starts_with(['+', '-']) {
            continue;
        }
        table.insert(text.to_ascii_lowercase(), zone_rules(&tz, zone)?);
    }
    Ok(table)
}

/// The offsets of `tz` from jiff's first instant, with a start of the 400-year cycle checked
/// against jiff over the following 400 years (the explicit transitions of the IANA data end
/// long before; `zone` names the zone in the error if no candidate start holds).
fn zone_rules(tz: &TimeZone, zone: &str) -> Result<ZoneRules, SpeechError> {
    let offset_at = |second: i64| -> Result<i32, SpeechError> {
        let at = Timestamp::from_second(second)
            .map_err(|_| SpeechError::UnknownZone(zone.to_string()))?;
        Ok(tz.to_offset(at).seconds())
    };
    // The years 2038, 2100, 2200 and 2400 start on these Unix seconds.
    for cycle in [2_145_916_800, 4_102_444_800, 7_258_118_400, 13_569_465_600] {
        let mut offsets = vec![tz.to_offset(Timestamp::MIN).seconds()];
        let mut transitions = Vec::new();
        for change in tz.following(Timestamp::MIN) {
            let second = change.timestamp().as_second();
            if second >= cycle + 2 * CYCLE {
                break;
            }
            let offset = change.offset().seconds();
            if offsets.last() != Some(&offset) {
                offsets.push(offset);
                transitions.push(second);
            }
        }
        let first = transitions.partition_point(|&t| t < cycle);
        let second = transitions.partition_point(|&t| t < cycle + CYCLE);
        let repeats = transitions.len() - second == second - first
            && (first..second).all(|k| {
                let later = k + second - first;
                transitions[later] == transitions[k] + CYCLE && offsets[later + 1] == offsets[k + 1]
            })
            && offset_at(cycle)? == offset_at(cycle + CYCLE)?;
        if repeats {
            transitions.truncate(second);
            offsets.truncate(second + 1);
            return Ok(ZoneRules {
                offsets,
                transitions,
                cycle,
            });
        }
    }
    Err(SpeechError::UnknownZone(zone.to_string()))
}

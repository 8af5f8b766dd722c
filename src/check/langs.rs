//! The language tags the targets speak, and the nearest ones to a tag that is not among
//! them. Only the list and the lookup live here; the warning is the flow checker's.

use super::suggest;

/// Every language tag a target speaks with its own voices. Twilio's `<Say language>` takes
/// the widest set of the targets (the `SayLanguage` enum of `twilio/twilio-node`,
/// `src/twiml/VoiceResponse.ts`, generated from Twilio's TwiML spec); Voximplant's built-in
/// voices and the runtime speak `ru-RU` and `en-US`, which are in it; Zvonobot and Twin24
/// speak Russian. Sorted for a binary search.
const KNOWN: &[&str] = &[
    "af-ZA",
    "am-ET",
    "ar-AE",
    "ar-XA",
    "arb",
    "bg-BG",
    "bn-IN",
    "ca-ES",
    "cmn-CN",
    "cmn-TW",
    "cs-CZ",
    "cy-GB",
    "da-DK",
    "de-AT",
    "de-DE",
    "el-GR",
    "en-AU",
    "en-CA",
    "en-GB",
    "en-GB-WLS",
    "en-IE",
    "en-IN",
    "en-NZ",
    "en-US",
    "en-ZA",
    "es-ES",
    "es-MX",
    "es-US",
    "fi-FI",
    "fil-PH",
    "fr-BE",
    "fr-CA",
    "fr-FR",
    "gu-IN",
    "he-IL",
    "hi-IN",
    "hu-HU",
    "id-ID",
    "is-IS",
    "it-IT",
    "ja-JP",
    "kn-IN",
    "ko-KR",
    "lv-LV",
    "ml-IN",
    "mr-IN",
    "ms-MY",
    "nb-NO",
    "nl-BE",
    "nl-NL",
    "pa-IN",
    "pl-PL",
    "pt-BR",
    "pt-PT",
    "ro-RO",
    "ru-RU",
    "sk-SK",
    "sr-RS",
    "sv-SE",
    "ta-IN",
    "te-IN",
    "th-TH",
    "tr-TR",
    "uk-UA",
    "vi-VN",
    "yue-HK",
    "zh-CN",
    "zh-HK",
    "zh-TW",
];

/// At most this many tags are suggested.
const MAX_SUGGESTIONS: usize = 3;

/// Whether a target speaks `tag` (compared exactly, as the targets compare it).
pub fn is_known(tag: &str) -> bool {
    KNOWN.binary_search(&tag).is_ok()
}

/// The known tags nearest to `tag`: those one edit away when there are any (ignoring case),
/// else those of the same language (`ru` → `ru-RU`), else the closest by edit distance.
pub fn nearest(tag: &str) -> Vec<&'static str> {
    let lower = tag.to_lowercase();
    let by_case: Vec<&str> = KNOWN
        .iter()
        .copied()
        .filter(|k| k.to_lowercase() == lower)
        .collect();
    if !by_case.is_empty() {
        return by_case;
    }
    let language = lower.split('-').next().unwrap_or_default();
    let close: Vec<&str> = KNOWN
        .iter()
        .copied()
        .filter(|k| suggest::distance(&lower, &k.to_lowercase()) <= 1)
        .collect();
    let same_language: Vec<&str> = KNOWN
        .iter()
        .copied()
        .filter(|k| k.to_lowercase().split('-').next() == Some(language))
        .collect();
    let mut out = if !close.is_empty() {
        close
    } else if !same_language.is_empty() {
        same_language
    } else {
        KNOWN
            .iter()
            .copied()
            .map(|k| (suggest::distance(&lower, &k.to_lowercase()), k))
            .filter(|(d, _)| *d <= lower.len() / 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
            .into_iter()
            .collect()
    };
    out.truncate(MAX_SUGGESTIONS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_for_binary_search() {
        assert!(KNOWN.windows(2).all(|w| w[0] < w[1]));
        assert!(is_known("ru-RU") && is_known("en-US"));
        assert!(!is_known("ru-RF") && !is_known("ru-ru"));
    }

    #[test]
    fn suggests_the_nearest_tags() {
        assert_eq!(nearest("ru-RF"), ["ru-RU"]);
        assert_eq!(nearest("ru-ru"), ["ru-RU"]);
        assert_eq!(nearest("ru"), ["ru-RU"]);
        assert_eq!(nearest("en-UK"), ["en-US"]);
        assert_eq!(nearest("pt"), ["pt-BR", "pt-PT"]);
        assert!(nearest("xx-QQ").len() <= MAX_SUGGESTIONS);
    }
}

//! Pronunciations for a keyword spotter with an English acoustic model: English words from the
//! model's own dictionary (cmudict), Russian words by rule — each Cyrillic letter to the
//! nearest CMU phones, in a few variants (unstressed vowels reduced or not, final consonants
//! devoiced or not), since stress is unknown. Rough by design: good enough to tell a flow's
//! few phrases apart, no more (accuracy in docs/runtime.md).

use std::collections::BTreeMap;

/// Phones of one Russian letter: (full, reduced); `None` for the signs.
fn letter(c: char) -> Option<(&'static str, &'static str)> {
    Some(match c {
        'а' => ("AA", "AH"),
        'б' => ("B", "B"),
        'в' => ("V", "V"),
        'г' => ("G", "G"),
        'д' => ("D", "D"),
        'е' => ("EH", "IH"),
        'ё' => ("AO", "AO"),
        'ж' => ("ZH", "ZH"),
        'з' => ("Z", "Z"),
        'и' => ("IY", "IY"),
        'й' => ("Y", "Y"),
        'к' => ("K", "K"),
        'л' => ("L", "L"),
        'м' => ("M", "M"),
        'н' => ("N", "N"),
        'о' => ("AO", "AH"),
        'п' => ("P", "P"),
        'р' => ("R", "R"),
        'с' => ("S", "S"),
        'т' => ("T", "T"),
        'у' => ("UW", "UW"),
        'ф' => ("F", "F"),
        'х' => ("HH", "HH"),
        'ц' => ("T S", "T S"),
        'ч' => ("CH", "CH"),
        'ш' => ("SH", "SH"),
        'щ' => ("SH", "SH"),
        'ы' => ("IH", "IH"),
        'э' => ("EH", "EH"),
        'ю' => ("UW", "UW"),
        'я' => ("AA", "AH"),
        _ => return None,
    })
}

fn is_vowel(c: char) -> bool {
    "аеёиоуыэюя".contains(c)
}

/// The voiceless pair of a voiced consonant's phone, for word ends.
fn devoiced(phone: &str) -> &str {
    match phone {
        "B" => "P",
        "V" => "F",
        "G" => "K",
        "D" => "T",
        "ZH" => "SH",
        "Z" => "S",
        other => other,
    }
}

/// The most pronunciations made for one Russian word.
const MAX_VARIANTS: usize = 12;

/// Pronunciations of a Russian word (lowercase Cyrillic): each vowel in turn taken as the
/// stressed one (the others reduced), from the last, then all vowels full; each with the final
/// consonant devoiced and not. `None` when the word has other characters.
pub fn russian(word: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = word.chars().collect();
    if chars.is_empty()
        || !chars
            .iter()
            .all(|&c| c == 'ъ' || c == 'ь' || letter(c).is_some())
    {
        return None;
    }
    let vowels: Vec<usize> = (0..chars.len()).filter(|&i| is_vowel(chars[i])).collect();
    let mut stresses: Vec<Option<usize>> = vowels.iter().rev().map(|&i| Some(i)).collect();
    stresses.push(None);
    let mut variants = Vec::new();
    for devoice in [true, false] {
        for &stress in &stresses {
            let mut phones: Vec<&str> = Vec::new();
            for (i, &c) in chars.iter().enumerate() {
                let Some((full, reduced)) = letter(c) else {
                    continue; // ъ, ь
                };
                // е, ё, ю, я sound with a glide at the start and after vowels and signs
                let glide = i == 0 || is_vowel(chars[i - 1]) || matches!(chars[i - 1], 'ъ' | 'ь');
                if "еёюя".contains(c) && glide {
                    phones.push("Y");
                }
                let p = if stress.is_none_or(|s| s == i) {
                    full
                } else {
                    reduced
                };
                let last = chars[i + 1..].iter().all(|&c| c == 'ь' || c == 'ъ');
                phones.extend(
                    p.split(' ')
                        .map(|x| if devoice && last { devoiced(x) } else { x }),
                );
            }
            let text = phones.join(" ");
            if !variants.contains(&text) && variants.len() < MAX_VARIANTS {
                variants.push(text);
            }
        }
    }
    Some(variants)
}

/// English pronunciations from a cmudict text (`word PH ONES`, `word(2) …`).
pub fn english<'a>(cmudict: &'a str, word: &str) -> Vec<&'a str> {
    cmudict
        .lines()
        .filter_map(|l| {
            let (w, phones) = l.split_once(' ')?;
            let base = w.split('(').next()?;
            (base == word).then_some(phones.trim())
        })
        .collect()
}

/// A pocketsphinx dictionary for every word of `phrases`; the words without a pronunciation
/// are the error.
pub fn dictionary(phrases: &[String], cmudict: &str) -> Result<String, Vec<String>> {
    let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut missing = Vec::new();
    for word in phrases.iter().flat_map(|p| p.split_whitespace()) {
        if entries.contains_key(word) {
            continue;
        }
        let found: Vec<String> = match russian(word) {
            Some(v) => v,
            None => english(cmudict, word)
                .into_iter()
                .map(str::to_string)
                .collect(),
        };
        if found.is_empty() {
            missing.push(word.to_string());
        } else {
            entries.insert(word.to_string(), found);
        }
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut out = String::new();
    for (word, prons) in &entries {
        for (i, p) in prons.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("{word} {p}\n"));
            } else {
                out.push_str(&format!("{word}({}) {p}\n", i + 1));
            }
        }
    }
    Ok(out)
}

/// A JSGF grammar accepting exactly one of `phrases`.
pub fn grammar(phrases: &[String]) -> String {
    let alternatives: Vec<&str> = phrases.iter().map(String::as_str).collect();
    format!(
        "#JSGF V1.0;\ngrammar ivrc;\npublic <phrase> = {};\n",
        alternatives.join(" | ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_words_by_rule() {
        let v = russian("готов").expect("russian");
        assert_eq!(
            v[0], "G AH T AO F",
            "stress on the last vowel, devoiced, first"
        );
        assert!(
            v.contains(&"G AO T AH F".to_string()) && v.contains(&"G AO T AO V".to_string()),
            "{v:?}"
        );
        assert_eq!(
            russian("да").expect("russian"),
            ["D AA"],
            "one vowel is never reduced"
        );
        assert_eq!(russian("нет").expect("russian")[0], "N EH T");
        assert_eq!(russian("ёлка").expect("russian")[0], "Y AO L K AA");
        assert_eq!(russian("объём").expect("russian")[0], "AH B Y AO M");
        assert_eq!(russian("yes"), None);
        assert_eq!(russian("да1"), None);
    }

    #[test]
    fn dictionary_and_grammar() {
        let cmu = "yes Y EH S\nno N OW\nno(2) N OW W\n";
        let d = dictionary(&["да".into(), "yes".into(), "no".into()], cmu).expect("all known");
        assert!(
            d.contains("да D AA\n") && d.contains("yes Y EH S\n") && d.contains("no(2) N OW W\n"),
            "{d}"
        );
        assert_eq!(
            dictionary(&["zork".into()], cmu),
            Err(vec!["zork".to_string()])
        );
        assert!(
            grammar(&["да".into(), "не знаю".into()]).contains("public <phrase> = да | не знаю;")
        );
    }
}

//! Phrase matching for `listen`: the one definition shared by the checker, the engine and
//! every target's generated matcher.
//!
//! Matching ignores case and punctuation, treats «ё» as «е», and finds a phrase as whole
//! words anywhere in a longer utterance («да, конечно» matches «да») unless a negation comes
//! right before it («не готов» does not say «готов», [`says`]). It does not do fuzzy or
//! phonetic matching; recognizers are asked for the phrases as hints instead.

/// The canonical form of a phrase or utterance: lower case, «ё» → «е», punctuation
/// replaced by spaces, single spaces between words, no spaces at the ends.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = if c == 'ё' { 'е' } else { c };
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    out
}

/// Words that negate a phrase said right after them, in every language ivrc speaks:
/// Russian «не», «ни»; English "not", "never", "no" is not one ("no, I'm ready" agrees).
/// English contractions are caught by [`negates`]: normalization splits "don't" into
/// "don t", and a "t" after a word ending in "n" is the negation.
pub const NEGATIONS: &[&str] = &["не", "ни", "not", "never", "cannot"];

/// How many words before a phrase a negation reaches: «не готов», «не очень готов», "not
/// quite ready".
pub const NEGATION_REACH: usize = 2;

/// Whether the word at `i` of normalized `words` is a negation ([`NEGATIONS`], or the "t"
/// of an English "n't").
pub fn negates(words: &[&str], i: usize) -> bool {
    let Some(word) = words.get(i) else {
        return false;
    };
    NEGATIONS.contains(word)
        || (*word == "t" && i > 0 && words.get(i - 1).is_some_and(|w| w.ends_with('n')))
}

/// Whether the normalized `phrase` is said in the normalized `utterance`: it occurs as whole
/// words («да конечно» says «да», «дайте» does not) at least once with no negation among the [`NEGATION_REACH`]
/// words before it — «не готов» and "I'm not ready" do not say «готов» or "ready". A phrase
/// that itself holds a negation («не готов») is matched as written.
pub fn says(utterance: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let u: Vec<&str> = utterance.split(' ').collect();
    let p: Vec<&str> = phrase.split(' ').collect();
    let negative = (0..p.len()).any(|i| negates(&p, i));
    u.windows(p.len()).enumerate().any(|(start, w)| {
        w == p.as_slice()
            && (negative || !(start.saturating_sub(NEGATION_REACH)..start).any(|i| negates(&u, i)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_punctuation_and_yo() {
        assert_eq!(normalize("  Да, конечно! "), "да конечно");
        assert_eq!(normalize("Готов…"), "готов");
        assert_eq!(normalize("ЁЛКА"), "елка");
        assert_eq!(normalize("?!"), "");
    }

    #[test]
    fn matches_whole_words_only() {
        assert!(says("да конечно", "да"));
        assert!(says("ну да", "да"));
        assert!(!says("дайте подумать", "да"));
        assert!(says("я готов соединить", "готов соединить"));
        assert!(!says("готов", ""));
    }

    fn said(utterance: &str, phrase: &str) -> bool {
        says(&normalize(utterance), &normalize(phrase))
    }

    #[test]
    fn a_negated_phrase_is_not_said() {
        assert!(said("Готов!", "готов"));
        assert!(said("да, я готов", "готов"));
        assert!(said("нет, я готов", "готов"));
        assert!(!said("не готов", "готов"));
        assert!(!said("Нет, не готов.", "готов"));
        assert!(!said("я не очень готов", "готов"));
        assert!(!said("ни да ни нет", "да"));
        assert!(!said("I'm not ready", "ready"));
        assert!(!said("not quite ready", "ready"));
        assert!(!said("I don't think ready", "think ready"));
        assert!(!said("I can't, not ready", "ready"));
        assert!(!said("I’m never ready", "ready"));
        assert!(said("no, I'm ready", "ready"));
        assert!(said("yes ready", "ready"));
        assert!(!said("no, I'm not", "ready"));
    }

    #[test]
    fn a_phrase_with_a_negation_is_matched_as_written() {
        assert!(said("я не готов", "не готов"));
        assert!(said("нет, не готов", "не готов"));
        assert!(!said("готов", "не готов"));
        assert!(said("I'm not ready", "not ready"));
        assert!(said("I don't", "don't"));
    }

    /// The table the VoxEngine runtime's `$says` runs too (tests/voximplant.rs).
    #[test]
    fn the_shared_table_of_cases_holds() {
        let table: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/fixtures/phrases/says.json"))
                .expect("the table is JSON");
        assert!(table.len() >= 30);
        for case in &table {
            let utterance = case["utterance"].as_str().unwrap_or_default();
            let phrase = case["phrase"].as_str().unwrap_or_default();
            assert_eq!(
                Some(said(utterance, phrase)),
                case["said"].as_bool(),
                "{case}"
            );
        }
    }

    #[test]
    fn a_negation_only_reaches_two_words() {
        assert!(!said("не очень готов", "готов"));
        assert!(said("не знаю, но вроде готов", "готов"));
        assert!(said("не сейчас, а вообще готов", "готов"));
    }
}

//! Phrase matching for `listen`: the one definition shared by the checker, the engine and
//! every target's generated matcher.
//!
//! Matching ignores case and punctuation, treats «ё» as «е», and finds a phrase as whole
//! words anywhere in a longer utterance («да, конечно» matches «да»). It does not do fuzzy
//! or phonetic matching; recognizers are asked for the phrases as hints instead.

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

/// Whether the normalized `phrase` occurs as whole words in the normalized `utterance`.
pub fn contains_words(utterance: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let u: Vec<&str> = utterance.split(' ').collect();
    let p: Vec<&str> = phrase.split(' ').collect();
    u.windows(p.len()).any(|w| w == p.as_slice())
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
        assert!(contains_words("да конечно", "да"));
        assert!(contains_words("ну да", "да"));
        assert!(!contains_words("дайте подумать", "да"));
        assert!(contains_words("я готов соединить", "готов соединить"));
        assert!(!contains_words("готов", ""));
    }
}

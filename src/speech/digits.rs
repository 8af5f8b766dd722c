//! A digit string (a phone, order or card number) read one digit at a time, in groups.

use super::SpeechError;

/// The characters `digits` skips: the punctuation of written phone and order numbers.
const SKIPPED: [char; 5] = ['+', '-', '(', ')', '.'];

/// `text`'s digits separated by spaces, so a TTS engine says each digit alone, in groups
/// separated by ", " (a comma: espeak-ng and Polly pause there). `groups` are the group sizes
/// from the left, the last one repeating: `[4, 3, 2]` reads `89161112233` as
/// "8 9 1 6, 1 1 1, 2 2, 3 3", `[3]` makes groups of three, `[]` one group. Whitespace and
/// `+ - ( ) .` are skipped; any other character is an error, and so is a text without digits.
pub fn digits(text: &str, groups: &[usize]) -> Result<String, SpeechError> {
    if groups.contains(&0) {
        return Err(SpeechError::EmptyGroup);
    }
    let mut sizes = groups.iter().copied();
    let mut size = sizes.next().unwrap_or(usize::MAX);
    let mut in_group = 0;
    // A digit, a space, and now and then a comma: at most three bytes per character of text.
    let mut out = String::with_capacity(text.len() * 3);
    for c in text.chars() {
        if c.is_whitespace() || SKIPPED.contains(&c) {
            continue;
        }
        if !c.is_ascii_digit() {
            return Err(SpeechError::NotADigit(c));
        }
        if in_group == size {
            out.push_str(", ");
            in_group = 0;
            size = sizes.next().unwrap_or(size);
        } else if !out.is_empty() {
            out.push(' ');
        }
        out.push(c);
        in_group += 1;
    }
    if out.is_empty() {
        return Err(SpeechError::NoDigits);
    }
    Ok(out)
}

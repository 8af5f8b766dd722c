//! The one way text reaches generated JavaScript: string literals escaped by construction.
//!
//! Every prompt, phrase, URL and name goes through [`string`], which writes a double-quoted
//! literal whose value is exactly the input: backslashes, quotes, line breaks, U+2028/U+2029
//! (line terminators inside JS strings in older engines), control characters and `<` (so
//! `</script>` cannot close an HTML script element) are escaped.

/// A JavaScript string literal whose value is `text`.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JavaScript identifier-safe property path such as `VoiceList.Google.ru_RU_Wavenet_A`, or
/// `None` when `text` holds anything else.
pub fn path(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.split('.').all(|p| {
            let mut cs = p.chars();
            cs.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    ok.then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_break_out() {
        assert_eq!(string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string("line\nbreak\u{2028}"), "\"line\\nbreak\\u2028\"");
        assert_eq!(string("</script>"), "\"\\u003c/script>\"");
        assert_eq!(string("${x}`"), "\"${x}`\"");
        assert_eq!(string("\u{0}"), "\"\\u0000\"");
        assert_eq!(string("Привет"), "\"Привет\"");
    }

    #[test]
    fn paths_are_plain_dotted_names() {
        assert_eq!(
            path("VoiceList.Default.ru_RU_Female").as_deref(),
            Some("VoiceList.Default.ru_RU_Female")
        );
        assert_eq!(path("a.b;alert(1)"), None);
        assert_eq!(path(""), None);
    }
}

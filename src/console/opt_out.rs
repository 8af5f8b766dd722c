//! Opting out of texts and back in by keyword. A message counts only when it is one keyword
//! (ProgressiveCoders/Spoke #1016: "Stop texting me" is not one), in any letter case and with
//! blanks or a final `.`/`!` around it. Twilio's default opt-out words on long codes are STOP,
//! STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT; START, UNSTOP and YES opt back in
//! (Twilio, "Customize users' opt-in and opt-out experience with Advanced Opt-Out").

/// What a message asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Stop texting me.
    OptOut,
    /// Text me again.
    OptIn,
}

const OPT_OUT: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: [&str; 3] = ["START", "UNSTOP", "YES"];

/// The keyword a message is, if it is one.
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body.trim().trim_end_matches(['.', '!']).trim();
    if OPT_OUT.iter().any(|k| k.eq_ignore_ascii_case(word)) {
        Some(Keyword::OptOut)
    } else if OPT_IN.iter().any(|k| k.eq_ignore_ascii_case(word)) {
        Some(Keyword::OptIn)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_message_that_is_one_keyword_counts() {
        assert_eq!(keyword("STOP"), Some(Keyword::OptOut));
        assert_eq!(keyword("  stop. "), Some(Keyword::OptOut));
        assert_eq!(keyword("Unsubscribe!"), Some(Keyword::OptOut));
        assert_eq!(keyword("start"), Some(Keyword::OptIn));
        assert_eq!(keyword("Stop texting me"), None);
        assert_eq!(keyword("стоп"), None);
        assert_eq!(keyword(""), None);
    }
}

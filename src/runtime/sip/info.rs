//! Keys in SIP INFO bodies: `application/dtmf-relay` (`Signal=5`) and `application/dtmf`
//! (`5`). RFC 4733 keys in RTP are the media side's (`media::dtmf`).

/// The key in a SIP INFO body of type `content_type`, if it carries one.
pub fn key_of_info(content_type: &str, body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let kind = content_type.split(';').next()?.trim().to_ascii_lowercase();
    let signal = match kind.as_str() {
        "application/dtmf-relay" => text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?,
        "application/dtmf" => text.trim(),
        _ => return None,
    };
    let mut chars = signal.chars();
    let key = chars.next()?;
    if chars.next().is_some() {
        return signal.parse::<u8>().ok().and_then(key_of_event);
    }
    match key {
        '0'..='9' | '*' | '#' => Some(key),
        'A'..='D' | 'a'..='d' => Some(key.to_ascii_uppercase()),
        _ => None,
    }
}

/// The key of an RFC 4733 event code, for the 16 DTMF events: what a numeric INFO signal
/// (`Signal=11`) means, as some phones send them, and what an RTP event means (`media::dtmf`).
pub fn key_of_event(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_bodies() {
        assert_eq!(
            key_of_info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
            Some('5')
        );
        assert_eq!(
            key_of_info("application/dtmf-relay", b"Signal= #\r\n"),
            Some('#')
        );
        assert_eq!(
            key_of_info("application/dtmf-relay", b"Signal=11\r\n"),
            Some('#')
        );
        assert_eq!(key_of_info("application/dtmf", b"*"), Some('*'));
        assert_eq!(key_of_info("text/plain", b"5"), None);
        assert_eq!(key_of_info("application/dtmf", b"x"), None);
        assert_eq!(key_of_info("application/dtmf-relay", &[0xff]), None);
    }
}

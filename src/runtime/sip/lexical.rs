//! The text of a SIP message as RFC 3261's grammar has it, where rsip reads less or checks
//! less: folded header lines and whitespace before a colon made plain (§7.3.1), a request-URI
//! rsip cannot read swapped for a placeholder, and the checks of URI shape, quotes and
//! parameters that [`super::message`] applies. It works on bytes and strings only; rsip stays
//! in `message.rs`.

/// The header section made plain for rsip (RFC 3261 §7.3.1): a line starting with a space or
/// a tab continues the one before (joined with a single space), and whitespace between a
/// header's name and its colon is dropped. The start line and the body are left as they are;
/// so is a datagram that needs neither.
pub(super) fn unfold(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |at| at + 2);
    let head = &bytes[..end];
    let mut lines = head.split_inclusive(|&b| b == b'\n');
    let Some(start) = lines.next() else {
        return bytes.into();
    };
    let mut out: Vec<u8> = start.to_vec();
    let mut changed = false;
    for line in lines {
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        if continues && out.ends_with(b"\r\n") && out.len() > start.len() {
            out.truncate(out.len() - 2);
            while out.last().is_some_and(|b| matches!(b, b' ' | b'\t')) {
                out.pop();
            }
            out.push(b' ');
            let rest = line
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t'))
                .map_or(&line[line.len()..], |at| &line[at..]);
            out.extend_from_slice(rest);
            changed = true;
            continue;
        }
        match line.iter().position(|&b| b == b':') {
            Some(colon)
                if colon > 0
                    && matches!(line[colon - 1], b' ' | b'\t')
                    && line[..colon].iter().any(|b| !matches!(b, b' ' | b'\t')) =>
            {
                let name = line[..colon].trim_ascii_end();
                if name.iter().any(|b| b.is_ascii_whitespace()) {
                    out.extend_from_slice(line);
                } else {
                    out.extend_from_slice(name);
                    out.extend_from_slice(&line[colon..]);
                    changed = true;
                }
            }
            _ => out.extend_from_slice(line),
        }
    }
    if !changed {
        return bytes.into();
    }
    out.extend_from_slice(&bytes[end..]);
    out.into()
}

/// The request with `sip:placeholder.invalid` in place of its request-URI, and the URI as
/// written, when the request line is three fields split by single spaces and the URI is one
/// in RFC 3986's generic syntax (`scheme:rest`, no spaces, brackets or quotes).
pub(super) fn with_placeholder_uri(bytes: &[u8]) -> Option<(Vec<u8>, String)> {
    let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&bytes[..line_end]).ok()?;
    let mut parts = line.split(' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || !is_generic_uri(uri) {
        return None;
    }
    let mut out = format!("{method} sip:placeholder.invalid {version}").into_bytes();
    out.extend_from_slice(&bytes[line_end..]);
    Some((out, uri.to_string()))
}

/// Whether `uri` has RFC 3986's generic shape: a scheme (a letter, then letters, digits, `+`,
/// `-` or `.`), a colon, and at least one visible ASCII character that may appear in a URI.
pub(super) fn is_generic_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>\"{}|\\^`".contains(&b))
}

/// Whether a Via or Contact value has no empty element: each comma-separated value (outside
/// `<…>` and quotes) is non-empty, and so is each `;` parameter after its URI.
pub(super) fn params_well_formed(value: &str) -> bool {
    let (mut depth, mut quoted) = (0u32, false);
    let mut values = vec![String::new()];
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                values.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = values.last_mut() {
            // Parameters inside `<…>` belong to the URI: they are kept out of the check.
            last.push(if depth > 0 && c == ';' { ' ' } else { c });
        }
    }
    values.iter().all(|v| {
        let after = v.rsplit_once('>').map_or(v.as_str(), |(_, rest)| rest);
        let mut params = if v.contains('>') {
            after.split(';').skip(1)
        } else {
            v.split(';').skip(1)
        };
        !v.trim().is_empty() && params.all(|p| !p.trim().is_empty())
    })
}

/// Whether every quoted string in a header value is closed (a backslash escapes the next
/// character inside one).
pub(super) fn quotes_balanced(value: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for c in value.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, _, '"') => quoted = !quoted,
            _ => {}
        }
    }
    !quoted
}

/// The scheme of a URI, lower-cased (`SIP:a@b` → `sip`).
pub(super) fn scheme(uri: &str) -> String {
    uri.split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

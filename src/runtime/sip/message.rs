//! SIP messages as the rest of the runtime sees them: a method, a request-URI or a status,
//! headers with canonical names in order, and a body. Parsing goes through rsip (the only
//! module that imports it); requests rsip refuses only for their method (an extension such as
//! `FOO`) are still read, so that they can get 501. What RFC 3261 allows but rsip does not
//! read is made plain first ([`super::lexical`]): folded header lines are joined and
//! whitespace before a header's colon is dropped (§7.3.1), and a request-URI rsip cannot read
//! (an escaped user part, a scheme it does not know) is handed to it as a placeholder and kept
//! as written. Writing is
//! our own: responses copy the request's Via, From, To, Call-ID and CSeq lines (RFC 3261
//! §8.2.6.2), and every value we generate ourselves is a number, a token or an address.

use super::lexical::{
    is_generic_uri, params_well_formed, quotes_balanced, scheme, unfold, with_placeholder_uri,
};
use std::fmt::Write as _;

/// A request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// OPTIONS.
    Options,
    /// INFO (SIP INFO DTMF).
    Info,
    /// MESSAGE.
    Message,
    /// Anything else, as written.
    Other(String),
}

impl Method {
    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Message => "MESSAGE",
            Method::Other(m) => m,
        }
    }

    fn from_token(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "MESSAGE" => Method::Message,
            other => Method::Other(other.to_string()),
        }
    }
}

/// Headers with canonical names, in message order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of a header (canonical name, e.g. `Call-ID`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// RFC 3581 §4: when the top Via asks for `rport` (without a value), writes where the
    /// request came from into it, `rport=PORT;received=IP`, so that our responses (which go
    /// to that address) tell a client behind NAT its mapping.
    pub fn stamp_via(&mut self, peer: std::net::SocketAddr) {
        let Some((_, via)) = self.0.iter_mut().find(|(n, _)| n == "Via") else {
            return;
        };
        let (top, rest) = match via.find(',') {
            Some(i) => (via[..i].to_string(), via[i..].to_string()),
            None => (via.clone(), String::new()),
        };
        let mut params: Vec<String> = top.split(';').map(str::to_string).collect();
        let Some(at) = params
            .iter()
            .skip(1)
            .position(|p| p.trim().eq_ignore_ascii_case("rport"))
        else {
            return;
        };
        params[at + 1] = format!("rport={}", peer.port());
        if !params
            .iter()
            .skip(1)
            .any(|p| p.trim().to_ascii_lowercase().starts_with("received="))
        {
            params.push(format!("received={}", peer.ip()));
        }
        *via = params.join(";") + &rest;
    }
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its method.
    pub method: Method,
    /// The request-URI as written.
    pub uri: String,
    /// Its headers.
    pub headers: Headers,
    /// Its body.
    pub body: Vec<u8>,
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Its headers.
    pub headers: Headers,
    /// Its body.
    pub body: Vec<u8>,
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// Its headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
}

/// Why a datagram is not a usable SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SIP message: {reason}")]
pub struct ParseError {
    /// Which answer it gets.
    pub kind: ErrorKind,
    /// What is wrong.
    pub reason: String,
    /// The headers a response copies (at least a Via), when the datagram looks like a
    /// request; `None` when no response is possible.
    pub respond_to: Option<Headers>,
}

/// Kinds of unusable requests, by the response they get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 Bad Request.
    Malformed,
    /// 501 Not Implemented: a well-formed request with a method we do not know.
    UnknownMethod,
    /// 505 Version Not Supported.
    Version,
    /// 416 Unsupported URI Scheme: a request-URI that is not `sip:`, `sips:` or `tel:`.
    UriScheme,
}

/// The headers a response copies from its request.
/// The methods we take, for OPTIONS, 405 and 501 (`Allow`).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE, NOTIFY";

/// Whether `method` is a SIP method of IANA's registry (RFC 3261 and its extensions), which
/// a request we do not take gets 405 for rather than 501 (RFC 3261 §8.2.1). Methods are
/// case-sensitive.
pub fn is_known_method(method: &str) -> bool {
    matches!(
        method,
        "ACK"
            | "BYE"
            | "CANCEL"
            | "INFO"
            | "INVITE"
            | "MESSAGE"
            | "NOTIFY"
            | "OPTIONS"
            | "PRACK"
            | "PUBLISH"
            | "REFER"
            | "REGISTER"
            | "SUBSCRIBE"
            | "UPDATE"
    )
}

const DIALOG_HEADERS: [&str; 5] = ["Via", "From", "To", "Call-ID", "CSeq"];

/// Parses one datagram.
///
/// # Errors
///
/// [`ParseError`] when rsip cannot read it, a header the transaction layer needs is missing
/// or unreadable, or the body is shorter than its Content-Length.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    let bytes = unfold(bytes);
    let message = match read(&bytes) {
        Ok(m) => m,
        Err(why) => {
            // A request-URI rsip cannot read (RFC 4475's esc01, semiuri, unkscm): read the
            // rest with a placeholder in its place and keep the URI as written.
            let Some((placeholder, uri)) = with_placeholder_uri(&bytes) else {
                return Err(lenient(&bytes, &why));
            };
            match read(&placeholder) {
                Ok(Message::Request(mut r)) => {
                    r.uri = uri;
                    Message::Request(r)
                }
                _ => return Err(lenient(&bytes, &why)),
            }
        }
    };
    validate(message)
}

/// rsip's reading of a datagram, or why it refused it.
fn read(bytes: &[u8]) -> Result<Message, String> {
    // rsip is not ours: a panic inside it must cost one datagram, not the server.
    match std::panic::catch_unwind(|| rsip::SipMessage::try_from(bytes)) {
        Ok(Ok(m)) => Ok(from_rsip(m)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the parser failed".into()),
    }
}

/// Whether `uri` is a URI we can put on a request line: a `sip:`/`sips:` URI with nothing that
/// breaks the line or that [`parse`] refuses in a request-URI, which our own parser reads back
/// (a Contact such as `<sip:x@127.0.0.1:509127>` has a port that does not fit, found by the
/// fuzzer).
pub fn is_sendable_uri(uri: &str) -> bool {
    let plain = (uri.starts_with("sip:") || uri.starts_with("sips:"))
        && uri.len() > 4
        && !uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'));
    plain
        && is_generic_uri(uri)
        && std::panic::catch_unwind(|| rsip::Uri::try_from(uri)).is_ok_and(|parsed| parsed.is_ok())
}

fn from_rsip(message: rsip::SipMessage) -> Message {
    let headers = |hs: &rsip::Headers| {
        Headers(
            hs.iter()
                .filter_map(|h| {
                    let line = h.to_string();
                    let (name, value) = line.split_once(':')?;
                    Some((canonical(name.trim()), value.trim().to_string()))
                })
                .collect(),
        )
    };
    match message {
        rsip::SipMessage::Request(r) => Message::Request(Request {
            method: Method::from_token(&r.method.to_string()),
            uri: r.uri.to_string(),
            headers: headers(&r.headers),
            body: r.body,
        }),
        rsip::SipMessage::Response(r) => Message::Response(Response {
            status: r.status_code.code(),
            headers: headers(&r.headers),
            body: r.body,
        }),
    }
}

/// The status code and Call-ID of a response the parser refused (a header line without its
/// colon, say), read leniently so that the transaction it ends can still be told; `None` when the
/// datagram does not even start like a response with a Call-ID.
pub fn unreadable_response(bytes: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()?
        .strip_prefix("SIP/2.0 ")?
        .get(..3)?
        .parse::<u16>()
        .ok()
        .filter(|code| (100..700).contains(code))?;
    let call_id = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (canonical(name.trim()) == "Call-ID").then(|| value.trim().to_string())
    })?;
    (!call_id.is_empty()).then_some((status, call_id))
}

/// Reads what rsip refused, for an extension method (501) or a 400 with the right headers.
fn lenient(bytes: &[u8], why: &str) -> ParseError {
    let text = String::from_utf8_lossy(bytes);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    // Split on any run of whitespace, so that a request line with extra spaces (RFC 4475's
    // lwsstart, lwsruri) still gets its 400.
    let parts: Vec<&str> = request_line.split_ascii_whitespace().collect();
    let method = parts.first().copied().unwrap_or_default();
    let version = parts.last().copied().unwrap_or_default();
    let is_token = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    let looks_like_request = is_token && parts.len() >= 3 && version.starts_with("SIP/");
    let mut headers = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = canonical(name.trim());
            if DIALOG_HEADERS.contains(&name.as_str()) || name == "Content-Length" {
                headers.push((name, value.trim().to_string()));
            }
        }
    }
    let headers = Headers(headers);
    // A response needs somewhere to go: the top Via.
    if !looks_like_request || headers.get("Via").is_none() {
        return ParseError {
            kind: ErrorKind::Malformed,
            reason: why.to_string(),
            respond_to: None,
        };
    }
    let complete = DIALOG_HEADERS.iter().all(|h| headers.get(h).is_some());
    let unknown = Method::from_token(method);
    let well_formed = complete
        && parts.len() == 3
        && cseq(&headers).is_some()
        && DIALOG_HEADERS
            .iter()
            .all(|h| headers.all(h).count() == 1 || *h == "Via");
    let kind = if version != "SIP/2.0" {
        ErrorKind::Version
    } else if well_formed && matches!(unknown, Method::Other(_)) {
        // An extension method rsip does not know, in a request otherwise well-formed (its CSeq
        // readable): 501, even when the CSeq names another method (RFC 4475 §3.1.2.18 prefers
        // it to 400 there). A broken one is a 400 whatever its method (§3.1.2.4, scalar02).
        ErrorKind::UnknownMethod
    } else {
        ErrorKind::Malformed
    };
    ParseError {
        kind,
        reason: match kind {
            ErrorKind::Version => format!("version {version}"),
            ErrorKind::UnknownMethod => format!("unknown method {method}"),
            ErrorKind::Malformed | ErrorKind::UriScheme => why.to_string(),
        },
        respond_to: Some(headers),
    }
}

fn validate(message: Message) -> Result<Message, ParseError> {
    let (headers, body_len) = match &message {
        Message::Request(r) => (&r.headers, r.body.len()),
        Message::Response(r) => (&r.headers, r.body.len()),
    };
    let fail = |reason: String| {
        let respond_to = match &message {
            Message::Request(_) if headers.get("Via").is_some() => Some(headers.clone()),
            _ => None,
        };
        Err(ParseError {
            kind: ErrorKind::Malformed,
            reason,
            respond_to,
        })
    };
    for h in DIALOG_HEADERS {
        if headers.get(h).is_none() {
            return fail(format!("no {h} header"));
        }
    }
    // One value each (RFC 3261 §7.3.1, RFC 4475 §3.3.8): two Call-IDs, CSeqs, Froms or Tos
    // leave the transaction and the dialog undefined.
    for h in ["Call-ID", "CSeq", "From", "To"] {
        if headers.all(h).count() > 1 {
            return fail(format!("more than one {h}"));
        }
    }
    // Empty parameters or values (`;;`, `,,`: RFC 4475 §3.1.2.1) are not the grammar's.
    for h in ["Via", "Contact"] {
        if headers.all(h).any(|v| !params_well_formed(v)) {
            return fail(format!("an empty parameter or value in {h}"));
        }
    }
    // A display name's quotes must close (RFC 4475 §3.1.2.6): otherwise where the URI and
    // the tag are is anybody's guess.
    for h in ["From", "To"] {
        if headers.get(h).is_some_and(|v| !quotes_balanced(v)) {
            return fail(format!("an unterminated quoted string in {h}"));
        }
    }
    if cseq(headers).is_none() {
        return fail("an unreadable CSeq".into());
    }
    if let Message::Request(r) = &message {
        if let Some((_, m)) = cseq(headers) {
            if m != r.method {
                return fail(format!(
                    "CSeq names {} in a {}",
                    m.as_str(),
                    r.method.as_str()
                ));
            }
        }
        if !is_generic_uri(&r.uri) {
            return fail(format!("the request-URI `{}`", r.uri));
        }
        if !matches!(scheme(&r.uri).as_str(), "sip" | "sips" | "tel") {
            return Err(ParseError {
                kind: ErrorKind::UriScheme,
                reason: format!("the request-URI `{}`", r.uri),
                respond_to: Some(headers.clone()),
            });
        }
    }
    if headers.all("Content-Length").count() > 1 {
        return fail("more than one Content-Length".into());
    }
    if let Some(len) = headers.get("Content-Length") {
        match len.parse::<usize>() {
            Ok(n) if n <= body_len => {}
            Ok(n) => return fail(format!("Content-Length {n} but a body of {body_len} bytes")),
            Err(_) => return fail(format!("Content-Length `{len}`")),
        }
    }
    let mut message = message;
    if let Some(Ok(n)) = headers_of(&message)
        .get("Content-Length")
        .map(str::parse::<usize>)
    {
        match &mut message {
            Message::Request(r) => r.body.truncate(n),
            Message::Response(r) => r.body.truncate(n),
        }
    }
    Ok(message)
}

fn headers_of(m: &Message) -> &Headers {
    match m {
        Message::Request(r) => &r.headers,
        Message::Response(r) => &r.headers,
    }
}

/// The canonical name of a header (compact forms expanded, case normalized for the ones the
/// runtime reads).
fn canonical(name: &str) -> String {
    let known = [
        ("i", "Call-ID"),
        ("call-id", "Call-ID"),
        ("v", "Via"),
        ("via", "Via"),
        ("f", "From"),
        ("from", "From"),
        ("t", "To"),
        ("to", "To"),
        ("m", "Contact"),
        ("contact", "Contact"),
        ("l", "Content-Length"),
        ("content-length", "Content-Length"),
        ("c", "Content-Type"),
        ("content-type", "Content-Type"),
        ("cseq", "CSeq"),
        ("record-route", "Record-Route"),
        ("max-forwards", "Max-Forwards"),
        ("require", "Require"),
        ("accept", "Accept"),
        ("authorization", "Authorization"),
        ("user-agent", "User-Agent"),
    ];
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .find(|(k, _)| *k == lower)
        .map_or_else(|| name.to_string(), |(_, c)| (*c).to_string())
}

/// The CSeq number and method.
pub fn cseq(headers: &Headers) -> Option<(u32, Method)> {
    let value = headers.get("CSeq")?;
    let mut parts = value.split_whitespace();
    let n = parts.next()?.parse().ok()?;
    let m = parts.next()?;
    Some((n, Method::from_token(m)))
}

/// The branch of the top Via.
pub fn branch(headers: &Headers) -> Option<&str> {
    let via = headers.get("Via")?;
    let top = via.split(',').next()?;
    param(top, "branch")
}

/// What identifies a request's server transaction (RFC 3261 §17.2.3): the top Via's branch
/// when it starts with the magic cookie `z9hG4bK` and has more after it; otherwise (an RFC
/// 2543 client, RFC 4475 §3.4.1 and §3.2.1) the request-URI, From tag, Call-ID, CSeq number
/// and top Via together, which an INVITE shares with its CANCEL and its retransmissions.
pub fn transaction(r: &Request) -> String {
    match branch(&r.headers) {
        Some(b) if b.len() > 7 && b.starts_with("z9hG4bK") => b.to_string(),
        _ => {
            let h = &r.headers;
            let via = h.get("Via").unwrap_or_default();
            let top = via.split(',').next().unwrap_or_default().trim();
            format!(
                "2543 {} {} {} {} {top}",
                r.uri,
                h.get("From").and_then(tag).unwrap_or_default(),
                h.get("Call-ID").unwrap_or_default(),
                cseq(h).map_or(0, |(n, _)| n),
            )
        }
    }
}

/// The option tags of a request's Require headers (RFC 3261 §20.32), in order. The runtime
/// supports no extension that a request can require, so every one of them gets 420.
pub fn required(headers: &Headers) -> Vec<&str> {
    headers
        .all("Require")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether a request's Accept headers let a response carry SDP (RFC 3261 §20.1): no Accept at
/// all, or one media range that is `application/sdp`, `application/*` or `*/*`.
pub fn accepts_sdp(headers: &Headers) -> bool {
    let mut ranges = headers.all("Accept").peekable();
    if ranges.peek().is_none() {
        return true;
    }
    ranges.flat_map(|v| v.split(',')).any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim();
        ["application/sdp", "application/*", "*/*"]
            .iter()
            .any(|m| media.eq_ignore_ascii_case(m))
    })
}

/// The `tag` parameter of a From or To value (outside its `<…>`).
pub fn tag(value: &str) -> Option<&str> {
    let after = value.rsplit_once('>').map_or(value, |(_, rest)| rest);
    param(after, "tag")
}

/// A `;name=value` parameter.
fn param<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim())
    })
}

/// The URI of a name-addr (`"x" <sip:a@b>;tag=1` → `sip:a@b`), else the value up to its
/// first parameter.
pub fn strip_angle(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value),
    }
}

/// The user part of a SIP URI (`sip:sum@host` → `sum`), from a URI or a name-addr, its
/// escapes decoded (RFC 3261 §19.1.4: `sip:%73um@host` is `sum` too) unless that would give
/// something other than printable UTF-8 (`null-%00-null` stays as written).
pub fn uri_user(value: &str) -> Option<String> {
    let user = raw_user(value)?;
    Some(unescape(user).unwrap_or_else(|| user.to_string()))
}

/// `%XX` escapes decoded, when there are any and the result is printable UTF-8.
fn unescape(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .ok()
        .filter(|s| !s.chars().any(char::is_control))
}

/// The user part of a URI or name-addr as written.
fn raw_user(value: &str) -> Option<&str> {
    let uri = match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value,
    };
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split('@').next()?;
    let user = user.split(';').next()?;
    let has_user = rest.contains('@') || uri.starts_with("tel:");
    (has_user && !user.is_empty()).then_some(user)
}

/// Writes a response to a request whose headers are `to`: the five dialog headers copied,
/// a tag put on To when given and missing, then `extra` and the body.
pub fn response(
    to: &Headers,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    // A response that can establish a dialog carries the request's Record-Route (RFC 3261
    // §12.1.1), so that the caller's ACK and BYE go through the proxies that asked.
    let establishes = (101..300).contains(&status);
    for (name, value) in &to.0 {
        let copied =
            DIALOG_HEADERS.contains(&name.as_str()) || (establishes && name == "Record-Route");
        if !copied {
            continue;
        }
        let _ = write!(out, "{name}: {value}");
        if name == "To" {
            if let (Some(t), None) = (to_tag, tag(value)) {
                let _ = write!(out, ";tag={t}");
            }
        }
        out.push_str("\r\n");
    }
    finish(out, extra, body)
}

/// Writes a request: the request line, `headers` in order, `Content-Length` and the body.
pub fn request(method: &Method, uri: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let out = format!("{} {uri} SIP/2.0\r\n", method.as_str());
    finish(out, headers, body)
}

fn finish(mut out: String, extra: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    for (name, value) in extra {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_that_establish_a_dialog_carry_the_record_route() {
        let invite = "INVITE sip:hold@198.18.0.4 SIP/2.0\r\nRecord-Route: <sip:198.18.0.3;lr>\r\nVia: SIP/2.0/UDP 198.18.0.3;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP 198.18.0.7;branch=z9hG4bK1\r\nRecord-Route: <sip:198.18.0.2;lr>\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:hold@b>\r\nCall-ID: rr\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Request(r)) = parse(invite.as_bytes()) else {
            panic!("parses");
        };
        for (status, carries) in [(100, false), (180, true), (200, true), (486, false)] {
            let text = String::from_utf8(response(&r.headers, status, "x", Some("t"), &[], b""))
                .expect("text");
            let routes: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("Record-Route:"))
                .collect();
            let expected: &[&str] = if carries {
                &[
                    "Record-Route: <sip:198.18.0.3;lr>",
                    "Record-Route: <sip:198.18.0.2;lr>",
                ]
            } else {
                &[]
            };
            assert_eq!(routes, expected, "{status}");
        }
    }
    #[test]
    fn an_unreadable_response_still_tells_its_status_and_call_id() {
        let text = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\ni: reg-1\r\nCSeq: 2 REGISTER\r\nContact <sip:a@b>;expires=60\r\nContent-Length: 0\r\n\r\n";
        assert!(
            parse(text.as_bytes()).is_err(),
            "rsip refuses the Contact line"
        );
        assert_eq!(
            unreadable_response(text.as_bytes()),
            Some((200, "reg-1".to_string()))
        );
        for noise in [
            &b"\x00\xffgarbage\r\n\r\n"[..],
            b"SIP/2.0 2x0 OK\r\nCall-ID: a\r\n\r\n",
            b"SIP/2.0 200 OK\r\nVia: x\r\n\r\nCall-ID: in-the-body",
            b"SIP/2.0 200 OK\r\nCall-ID:   \r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nCall-ID: a\r\n\r\n",
        ] {
            assert_eq!(unreadable_response(noise), None, "{noise:?}");
        }
    }

    use super::*;

    #[test]
    fn an_empty_rport_gets_the_source_port_and_address() {
        let peer: std::net::SocketAddr = "198.18.0.9:61000".parse().expect("addr");
        let mut h = Headers(vec![(
            "Via".into(),
            "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bK0"
                .into(),
        )]);
        h.stamp_via(peer);
        assert_eq!(
            h.get("Via"),
            Some("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport=61000;received=198.18.0.9, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bK0")
        );
        // Without rport (or with a value already), the Via is left as it is.
        let mut plain = Headers(vec![(
            "Via".into(),
            "SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK2".into(),
        )]);
        plain.stamp_via(peer);
        assert_eq!(
            plain.get("Via"),
            Some("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK2")
        );
        let mut given = Headers(vec![(
            "Via".into(),
            "SIP/2.0/UDP 10.0.0.5;rport=7;branch=z9hG4bK3".into(),
        )]);
        given.stamp_via(peer);
        assert_eq!(
            given.get("Via"),
            Some("SIP/2.0/UDP 10.0.0.5;rport=7;branch=z9hG4bK3")
        );
    }

    const INVITE: &str = "INVITE sip:sum@127.0.0.1:5060 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1;rport\r\nFrom: \"A\" <sip:+79001234567@127.0.0.1>;tag=abc\r\nTo: <sip:sum@127.0.0.1>\r\ni: 1-2@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:5080>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\nextra";

    #[test]
    fn a_request_with_compact_headers() {
        let Ok(Message::Request(r)) = parse(INVITE.as_bytes()) else {
            panic!("parses");
        };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.headers.get("Call-ID"), Some("1-2@127.0.0.1"));
        assert_eq!(branch(&r.headers), Some("z9hG4bK-1"));
        assert_eq!(tag(r.headers.get("From").unwrap_or_default()), Some("abc"));
        assert_eq!(tag(r.headers.get("To").unwrap_or_default()), None);
        assert_eq!(uri_user(&r.uri).as_deref(), Some("sum"));
        assert_eq!(uri_user("sip:%73um@h").as_deref(), Some("sum"));
        assert_eq!(uri_user("<sip:%41%zz@h>").as_deref(), Some("%41%zz"));
        assert_eq!(
            uri_user("sip:null-%00-null@h").as_deref(),
            Some("null-%00-null")
        );
        assert_eq!(
            uri_user(r.headers.get("From").unwrap_or_default()).as_deref(),
            Some("+79001234567")
        );
        assert_eq!(r.body, b"v=0\n", "the body is cut at Content-Length");
        let resp = String::from_utf8(response(&r.headers, 200, "OK", Some("t1"), &[], b""))
            .unwrap_or_default();
        assert!(
            resp.starts_with(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1;rport\r\n"
            ),
            "{resp}"
        );
        assert!(
            resp.contains("To: <sip:sum@127.0.0.1>;tag=t1\r\n"),
            "{resp}"
        );
        assert!(resp.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn an_extension_method_can_be_answered() {
        let text = "FOO sip:sum@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 FOO\r\n\r\n";
        let err = parse(text.as_bytes()).expect_err("rsip refuses FOO");
        assert_eq!(
            (err.kind, err.reason.as_str()),
            (ErrorKind::UnknownMethod, "unknown method FOO")
        );
        assert!(err.respond_to.is_some());
    }

    #[test]
    fn folded_lines_and_space_before_the_colon_are_read() {
        let text = "INVITE sip:sum@127.0.0.1 SIP/2.0\r\nVia  : SIP/2.0/UDP 127.0.0.1:5080\r\n ;branch=z9hG4bK-f\r\nFrom: <sip:a@b>\r\n  ;tag=1\r\nTo : <sip:sum@b>\r\nCall-ID: f\r\nCSeq: 1\r\n\tINVITE\r\nContent-Length: 3\r\n\r\na\r\n";
        let Ok(Message::Request(r)) = parse(text.as_bytes()) else {
            panic!("parses");
        };
        assert_eq!(branch(&r.headers), Some("z9hG4bK-f"));
        assert_eq!(tag(r.headers.get("From").unwrap_or_default()), Some("1"));
        assert_eq!(cseq(&r.headers), Some((1, Method::Invite)));
        assert_eq!(r.body, b"a\r\n", "the body is left as it is");
        assert_eq!(
            unfold(b"x\r\n\r\n ;y"),
            &b"x\r\n\r\n ;y"[..],
            "nothing to do"
        );
    }

    #[test]
    fn a_request_uri_rsip_cannot_read_is_kept_as_written() {
        let request = |uri: &str| {
            format!("OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: u\r\nCSeq: 1 OPTIONS\r\n\r\n")
        };
        let uri = "sip:user;par=u%40example.net@example.com";
        let Ok(Message::Request(r)) = parse(request(uri).as_bytes()) else {
            panic!("parses");
        };
        assert_eq!(r.uri, uri);
        for (uri, kind) in [
            (
                "nobodyKnowsThisScheme:totallyopaquecontent",
                ErrorKind::UriScheme,
            ),
            ("soap.beep://192.0.2.103:3002", ErrorKind::UriScheme),
            ("<sip:user@example.com>", ErrorKind::Malformed),
        ] {
            let err = parse(request(uri).as_bytes()).expect_err(uri);
            assert_eq!(err.kind, kind, "{uri}");
            assert!(err.respond_to.is_some(), "{uri}");
        }
    }

    #[test]
    fn an_rfc_2543_transaction_is_told_by_its_fields() {
        let request = |method: &str, via: &str| {
            format!("{method} sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP {via}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: t\r\nCSeq: 7 {method}\r\n\r\n")
        };
        let id = |text: String| match parse(text.as_bytes()) {
            Ok(Message::Request(r)) => transaction(&r),
            other => panic!("{other:?}"),
        };
        let invite = id(request("INVITE", "h"));
        assert_eq!(invite, id(request("CANCEL", "h")), "its CANCEL matches");
        assert_ne!(invite, id(request("INVITE", "other")));
        assert_ne!(invite, id(request("INVITE", "h;branch=z9hG4bK")));
        assert_eq!(id(request("INVITE", "h;branch=z9hG4bKx")), "z9hG4bKx");
    }

    #[test]
    fn require_accept_and_duplicates() {
        let h = |lines: &[(&str, &str)]| {
            Headers(
                lines
                    .iter()
                    .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
                    .collect(),
            )
        };
        assert_eq!(
            required(&h(&[("Require", "a, b"), ("Require", "c")])),
            ["a", "b", "c"]
        );
        assert!(accepts_sdp(&h(&[])));
        assert!(accepts_sdp(&h(&[(
            "Accept",
            "text/plain, Application/SDP;level=1"
        )])));
        assert!(accepts_sdp(&h(&[("Accept", "*/*")])));
        assert!(!accepts_sdp(&h(&[("Accept", "text/nobodyKnowsThis")])));
        assert!(!accepts_sdp(&h(&[("Accept", "")])));
        assert!(quotes_balanced(r#""a \" b" <sip:a@b>"#));
        assert!(!quotes_balanced(r#""Mr. J. User <sip:j@b>"#));
        assert!(params_well_formed(
            "SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/UDP g"
        ));
        assert!(params_well_formed("\"x, ;y\" <sip:a@b;lr>;expires=5"));
        for bad in [
            "SIP/2.0/UDP h;;,;,,",
            "\"Joe\" <sip:joe@b>;;;;",
            "SIP/2.0/UDP h,",
        ] {
            assert!(!params_well_formed(bad), "{bad}");
        }
        let two = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCall-ID: y\r\nCSeq: 1 INVITE\r\n\r\n";
        assert_eq!(
            parse(two.as_bytes()).map_err(|e| e.kind),
            Err(ErrorKind::Malformed)
        );
    }

    #[test]
    fn broken_messages_are_errors() {
        for bad in [
            "",
            "\u{0}garbage",
            "INVITE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP\r\n\r\n",
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: one INVITE\r\n\r\n",
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n",
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 99\r\n\r\nv=0",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}

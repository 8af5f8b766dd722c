//! SIP messages as the rest of the runtime sees them: a method, a request-URI or a status,
//! headers with canonical names in order, and a body. Parsing goes through rsip (the only
//! module that imports it); requests rsip refuses only for their method (an extension such as
//! `FOO`) are still read, so that they can get 501. Writing is our own: responses copy the
//! request's Via, From, To, Call-ID and CSeq lines (RFC 3261 §8.2.6.2), and every value we
//! generate ourselves is a number, a token or an address.

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
}

/// The headers a response copies from its request.
const DIALOG_HEADERS: [&str; 5] = ["Via", "From", "To", "Call-ID", "CSeq"];

/// Parses one datagram.
///
/// # Errors
///
/// [`ParseError`] when rsip cannot read it, a header the transaction layer needs is missing
/// or unreadable, or the body is shorter than its Content-Length.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    // rsip is not ours: a panic inside it must cost one datagram, not the server.
    let parsed = std::panic::catch_unwind(|| rsip::SipMessage::try_from(bytes));
    let message = match parsed {
        Ok(Ok(m)) => from_rsip(m),
        Ok(Err(e)) => return Err(lenient(bytes, &e.to_string())),
        Err(_) => return Err(lenient(bytes, "the parser failed")),
    };
    validate(message)
}

/// Whether `uri` is a URI we can put on a request line: a `sip:`/`sips:` URI with nothing that
/// breaks the line, which our own parser reads back (a Contact such as
/// `<sip:x@127.0.0.1:509127>` has a port that does not fit, found by the fuzzer).
pub fn is_sendable_uri(uri: &str) -> bool {
    let plain = (uri.starts_with("sip:") || uri.starts_with("sips:"))
        && uri.len() > 4
        && !uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'));
    plain
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
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default();
    let uri = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    let is_token = !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    let looks_like_request = is_token && !uri.is_empty() && version.starts_with("SIP/");
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
    let kind = if version != "SIP/2.0" {
        ErrorKind::Version
    } else if complete && matches!(Method::from_token(method), Method::Other(_)) {
        // An extension method rsip does not know: a well-formed request we answer with 501.
        ErrorKind::UnknownMethod
    } else {
        ErrorKind::Malformed
    };
    ParseError {
        kind,
        reason: match kind {
            ErrorKind::Version => format!("version {version}"),
            ErrorKind::UnknownMethod => format!("unknown method {method}"),
            ErrorKind::Malformed => why.to_string(),
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
        if branch(headers).is_none() {
            return fail("the top Via has no branch".into());
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

/// The user part of a SIP URI (`sip:sum@host` → `sum`), from a URI or a name-addr.
pub fn uri_user(value: &str) -> Option<&str> {
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
        assert_eq!(uri_user(&r.uri), Some("sum"));
        assert_eq!(
            uri_user(r.headers.get("From").unwrap_or_default()),
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

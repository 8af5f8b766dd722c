//! The loopback stand-in of the systems a flow fetches from: the runtime's requests reach it
//! through `--fetch-rewrite`; it answers with the block's `respond` steps and keeps what it got
//! for a check against the engine's requests.

use super::plan::Fetch;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `scheme://host[:port]` of each URL the flow fetches, once each.
pub(super) fn origins(fetches: &[Fetch]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in fetches {
        let rest = f.url.split_once("://").map_or("", |(_, r)| r);
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let scheme = f.url.split("://").next().unwrap_or_default();
        let origin = format!("{scheme}://{host}");
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    out
}

/// The loopback stand-in of the systems the flow fetches from (the runtime's requests reach it
/// through `--fetch-rewrite`): it answers the requests in order with the block's answers (a
/// failed one with 503) and keeps what it got, checked against the engine's requests after the
/// call by [`Crm::check`].
pub(super) struct Crm {
    pub(super) port: u16,
    pub(super) expected: Vec<Fetch>,
    /// Each request: method, path with query, body.
    pub(super) got: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Crm {
    pub(super) fn start(expected: Vec<Fetch>) -> Crm {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a CRM port");
        let port = listener.local_addr().expect("addr").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let answers: Vec<Option<Option<serde_json::Value>>> =
            expected.iter().map(|f| f.answer.clone()).collect();
        let log = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { break };
                let request = read_request(&stream);
                log.lock().expect("log").push(request);
                let (status, body) = match answers.get(n).cloned().flatten() {
                    Some(Some(json)) => ("200 OK", json.to_string()),
                    Some(None) => ("503 Service Unavailable", String::new()),
                    None => {
                        // No answer: the flow's time limit ends the request.
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_secs(30));
                            drop(stream);
                        });
                        continue;
                    }
                };
                let _ = std::io::Write::write_all(
                    &mut stream,
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        Crm {
            port,
            expected,
            got,
        }
    }

    /// What differs between the requests the CRM got and the engine's: method, path and every
    /// parameter, with the call's own id and numbers in place of the engine's test values.
    pub(super) fn check(&self, record: &serde_json::Value) -> Vec<String> {
        let got = self.got.lock().expect("log").clone();
        let mut problems = Vec::new();
        if got.len() != self.expected.len() {
            problems.push(format!(
                "the CRM got {} requests, the engine made {}: {got:?}",
                got.len(),
                self.expected.len()
            ));
        }
        let platform = |v: &serde_json::Value| -> serde_json::Value {
            match v.as_str() {
                Some("sim-1") => record["call_id"].clone(),
                Some("+70000000000") => record["called"].clone(),
                _ => v.clone(),
            }
        };
        for (want, (method, target, body)) in self.expected.iter().zip(&got) {
            // The URL as the flow wrote it (its own query too), then the `with` values.
            let rest = want.url.split_once("://").map_or("", |(_, r)| r);
            let path = rest.find('/').map_or("/", |i| &rest[i..]);
            let (got_path, query) = match target.strip_prefix(path) {
                Some(more) => (path, more.trim_start_matches(['?', '&'])),
                None => (target.as_str(), ""),
            };
            let params: Vec<(String, serde_json::Value)> = want
                .params
                .iter()
                .map(|(k, v)| (k.clone(), platform(v)))
                .collect();
            let sent: Vec<(String, serde_json::Value)> = if want.method == "GET" {
                query
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (form_decode(k), serde_json::Value::String(form_decode(v)))
                    })
                    .collect()
            } else {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(body)
                    .map(|m| m.into_iter().collect())
                    .unwrap_or_default()
            };
            let as_text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let same_params = if want.method == "GET" {
                sent.len() == params.len()
                    && params
                        .iter()
                        .zip(&sent)
                        .all(|((k, v), (k2, v2))| k == k2 && as_text(v) == as_text(v2))
            } else {
                let mut a = params.clone();
                let mut b = sent.clone();
                a.sort_by(|x, y| x.0.cmp(&y.0));
                b.sort_by(|x, y| x.0.cmp(&y.0));
                a == b
            };
            if *method != want.method || got_path != path || !same_params {
                problems.push(format!(
                    "the CRM got {method} {target} {body}; the engine asked {} {} with {params:?}",
                    want.method, want.url
                ));
            }
        }
        problems
    }
}

/// A request's method, target and body, read from a connection.
pub(super) fn read_request(stream: &std::net::TcpStream) -> (String, String, String) {
    use std::io::{BufRead, Read};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    (method, target, String::from_utf8_lossy(&body).into_owned())
}

/// A form-encoded query part, decoded (`+` is a space, `%XX` a byte).
pub(super) fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

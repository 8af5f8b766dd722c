//! A strict stand-in for Twilio's REST API on loopback, for the console's texts and calls:
//! it takes only what Twilio documents and answers as Twilio does ("Message resource",
//! "Call resource", "Twilio error codes"): HTTP basic auth with the account SID and auth
//! token (20003 otherwise), form bodies, `To`/`From` in E.164 (21211/21212), a `Body` of 1
//! to 1600 characters (21602, 21617), exactly one of `Url` and `Twiml` on a call, `Twiml`
//! well-formed XML (21205: not a URL here but the closest), absolute callback URLs, and
//! 21610 for a recipient who texted STOP. Accepted requests are recorded.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One accepted request: the resource (`Messages.json`, `Calls.json`) and its form.
#[derive(Debug, Clone)]
pub struct Created {
    pub resource: String,
    pub form: BTreeMap<String, String>,
    pub sid: String,
}

#[derive(Default)]
struct State {
    created: Vec<Created>,
    refused: Vec<String>,
    unsubscribed: HashSet<String>,
}

/// The running fake.
pub struct FakeTwilio {
    /// `http://127.0.0.1:PORT`, for `TWILIO_API_BASE`.
    pub base: String,
    state: Arc<Mutex<State>>,
}

pub const ACCOUNT: &str = "AC00000000000000000000000000000001";
pub const TOKEN: &str = "2bd9e9638872de601313dc77410d3b23";

impl FakeTwilio {
    pub fn start() -> FakeTwilio {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || handle(stream, &state));
            }
        });
        FakeTwilio { base, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes texts to `number` fail as Twilio does after the recipient texted STOP.
    pub fn unsubscribe(&self, number: &str) {
        self.lock().unsubscribed.insert(number.to_string());
    }

    /// Waits up to 5 s for `count` accepted requests, then takes them all.
    pub fn take(&self, count: usize) -> Vec<Created> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.lock().created.len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::mem::take(&mut self.lock().created)
    }

    /// Requests it refused as malformed (a bug in the console if any).
    pub fn refused(&self) -> Vec<String> {
        self.lock().refused.clone()
    }
}

fn e164(s: &str) -> bool {
    s.len() >= 8
        && s.len() <= 16
        && s.starts_with('+')
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn absolute_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Twilio's answer to one request.
fn answer(
    state: &Mutex<State>,
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
) -> (u16, String) {
    let error = |status: u16, code: u32, message: &str| {
        (
            status,
            serde_json::json!({ "code": code, "message": message, "status": status }).to_string(),
        )
    };
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"))
    );
    if headers.get("authorization") != Some(&expected) {
        return error(401, 20003, "Authenticate");
    }
    let prefix = format!("/2010-04-01/Accounts/{ACCOUNT}/");
    let Some(resource) = path.strip_prefix(&prefix) else {
        return error(404, 20404, "The requested resource was not found");
    };
    if method != "POST" || !matches!(resource, "Messages.json" | "Calls.json") {
        return error(404, 20404, "The requested resource was not found");
    }
    if !headers
        .get("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
    {
        return error(400, 20001, "Form body expected");
    }
    let mut form = BTreeMap::new();
    for (k, v) in super::form_pairs(body) {
        if form.insert(k.clone(), v).is_some() {
            return error(400, 20001, &format!("{k} given twice"));
        }
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if !e164(field("To")) {
        return error(400, 21211, "Invalid 'To' Phone Number");
    }
    if !e164(field("From")) {
        return error(400, 21212, "Invalid 'From' Phone Number");
    }
    if let Some(cb) = form.get("StatusCallback") {
        if !absolute_url(cb) {
            return error(400, 21609, "Invalid StatusCallback URL");
        }
    }
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let n = st.created.len() + st.refused.len() + 1;
    let sid = if resource == "Messages.json" {
        let chars = field("Body").chars().count();
        if chars == 0 {
            return error(400, 21602, "Message body is required");
        }
        if chars > 1600 {
            return error(
                400,
                21617,
                "The concatenated message body exceeds the 1600 character limit",
            );
        }
        if st.unsubscribed.contains(field("To")) {
            return error(400, 21610, "Attempt to send to unsubscribed recipient");
        }
        format!("SM{n:032x}")
    } else {
        match (form.get("Url"), form.get("Twiml")) {
            (Some(u), None) if absolute_url(u) => {}
            (None, Some(t)) if roxmltree::Document::parse(t).is_ok() => {}
            _ => {
                return error(
                    400,
                    21205,
                    "Url or Twiml is required, and only one; Twiml must be XML",
                )
            }
        }
        format!("CA{n:032x}")
    };
    st.created.push(Created {
        resource: resource.to_string(),
        form,
        sid: sid.clone(),
    });
    (
        201,
        serde_json::json!({ "sid": sid, "status": "queued", "account_sid": ACCOUNT }).to_string(),
    )
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (status, text) = answer(state, &method, &path, &headers, &body);
    if status >= 400 && !text.contains("21610") {
        state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .refused
            .push(format!("{method} {path}: {text}"));
    }
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

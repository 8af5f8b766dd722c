//! A loopback HTTP server standing in for the systems `ivrc serve` and the generated send
//! scripts call out to: a CRM that `fetch` asks, or the Zvonobot and Twin24 APIs (answers
//! are queued by the test, in order), and Twilio's REST API, whose Messages requests it
//! records. Plain std sockets, one request per connection.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Log {
    answers: VecDeque<(u16, String)>,
    /// Text messages posted to the Messages API: (From, To, Body).
    sms: Vec<(String, String, String)>,
    /// Requests other than text messages and results: method, path with query, body.
    requests: Vec<(String, String, String)>,
    /// Bodies POSTed to `/results` (a campaign's result webhook).
    results: Vec<String>,
}

/// The running mock; it lives as long as the test process.
pub struct Mock {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<Log>>,
}

impl Mock {
    /// A mock on `port` (0 for any free one).
    pub fn start(port: u16) -> Mock {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the mock port is free");
        let base = format!("http://{}", listener.local_addr().expect("a local address"));
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = shared.clone();
                std::thread::spawn(move || handle(stream, &log));
            }
        });
        Mock { base, log }
    }

    /// Queues the answer to the next request that is not a text message.
    pub fn answer(&self, status: u16, body: String) {
        self.lock().answers.push_back((status, body));
    }

    /// Waits up to 5 s for `count` text messages, then takes all that arrived: (From, To,
    /// Body).
    pub fn take_sms(&self, count: usize) -> Vec<(String, String, String)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.lock().sms.len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::mem::take(&mut self.lock().sms)
    }

    /// Waits up to 5 s for `count` results, then takes all that arrived.
    pub fn take_results(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.lock().results.len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::mem::take(&mut self.lock().results)
    }

    /// Takes the requests made so far (not text messages): method, path, body.
    pub fn take_requests(&self) -> Vec<(String, String, String)> {
        let mut log = self.lock();
        log.answers.clear();
        std::mem::take(&mut log.requests)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One HTTP request read from `stream`: its method, path, headers and body (by its
/// Content-Length); `None` when the connection ends first.
pub struct Request {
    /// `GET`, `POST` …
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The header lines, each name and its trimmed value.
    pub headers: Vec<(String, String)>,
    /// The body, read as UTF-8 (lossily).
    pub body: String,
}

impl Request {
    /// Reads one request from `stream`.
    pub fn read(stream: &TcpStream) -> Option<Request> {
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        let length = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        let mut parts = request_line.split_whitespace();
        Some(Request {
            method: parts.next().unwrap_or_default().to_string(),
            path: parts.next().unwrap_or_default().to_string(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// The value of header `name`, if the request has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn handle(mut stream: TcpStream, log: &Mutex<Log>) {
    let Some(Request {
        method, path, body, ..
    }) = Request::read(&stream)
    else {
        return;
    };
    let (status, answer) = {
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        if path.ends_with("/Messages.json") {
            let field = |name: &str| {
                form(&body)
                    .into_iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v)
                    .unwrap_or_default()
            };
            log.sms.push((field("From"), field("To"), field("Body")));
            (201, "{\"sid\": \"SM1\"}".to_string())
        } else if path == "/results" {
            log.results.push(body);
            (200, "{}".to_string())
        } else {
            log.requests.push((method, path, body));
            log.answers
                .pop_front()
                .unwrap_or((404, "{\"error\": \"no answer queued\"}".into()))
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// Decodes an `application/x-www-form-urlencoded` body.
fn form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode(&s.replace('+', " "));
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Decodes `%XX` escapes (anything else, and a broken escape, is kept as it is).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

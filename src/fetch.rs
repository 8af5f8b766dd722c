//! The HTTP requests of `fetch`, shared by the drivers that make them (`ivrc serve` and the
//! SIP runtime). Owns the rules of a fetch's answer: a 2xx status with a JSON body of at most
//! 2 MB is the result; anything else (another status, a body that is not JSON, a timeout, a
//! connection error) fails with a reason. It does not decide what the flow does next.

use crate::ir::Method;
use std::time::Duration;

/// The largest fetch answer read.
const MAX_ANSWER: usize = 2 * 1024 * 1024;

/// An HTTP request a `fetch` waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    /// GET or POST.
    pub method: Method,
    /// The URL, placeholders filled in.
    pub url: String,
    /// Query (GET) or JSON body (POST) values.
    pub params: Vec<(String, serde_json::Value)>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Time limit in milliseconds.
    pub timeout_ms: u64,
}

/// Makes `fetch` requests.
#[derive(Debug, Clone, Default)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher with its own HTTP client.
    pub fn new() -> Fetcher {
        Fetcher::default()
    }

    /// A fetcher sharing `client` (its connection pool).
    pub fn with_client(client: reqwest::Client) -> Fetcher {
        Fetcher { client }
    }

    /// Makes a fetch's request; the JSON answer, or why it failed.
    pub async fn fetch(&self, r: &FetchRequest) -> Result<serde_json::Value, String> {
        let mut request = match r.method {
            Method::Get => {
                let query: Vec<(String, String)> = r
                    .params
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), text)
                    })
                    .collect();
                self.client.get(&r.url).query(&query)
            }
            Method::Post => {
                let body: serde_json::Map<String, serde_json::Value> =
                    r.params.iter().cloned().collect();
                self.client.post(&r.url).json(&body)
            }
        };
        for (name, value) in &r.headers {
            request = request.header(name, value);
        }
        let mut response = request
            .timeout(Duration::from_millis(r.timeout_ms))
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err("the answer is over 2 MB".into());
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        serde_json::from_slice(&body).map_err(|_| "the answer is not JSON".to_string())
    }
}

/// The largest audio file `play` downloads.
const MAX_AUDIO: usize = 50 * 1024 * 1024;

/// How long an audio download may take.
const AUDIO_TIMEOUT: Duration = Duration::from_secs(30);

impl Fetcher {
    /// Downloads the audio file at `url` for `play`: its bytes, or why not (another status
    /// than 2xx, over 50 MB, 30 s passed, a connection error).
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(url)
            .timeout(AUDIO_TIMEOUT)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_AUDIO {
                return Err("the file is over 50 MB".into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A failed request in words.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_builder() {
        format!("bad request: {e}")
    } else {
        e.to_string()
    }
}

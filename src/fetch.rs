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
    /// URL prefixes sent elsewhere (`--fetch-rewrite`), the first that matches winning.
    rewrites: Vec<(String, String)>,
}

impl Fetcher {
    /// A fetcher with its own HTTP client.
    pub fn new() -> Fetcher {
        Fetcher::default()
    }

    /// A fetcher sharing `client` (its connection pool).
    pub fn with_client(client: reqwest::Client) -> Fetcher {
        Fetcher {
            client,
            rewrites: Vec::new(),
        }
    }

    /// This fetcher sending the requests of URLs that start with a prefix to its replacement
    /// instead (`https://crm.example` → `http://127.0.0.1:8080`): a staging CRM, or a test's
    /// stand-in. The flow still sees the URL it wrote.
    pub fn with_rewrites(self, rewrites: Vec<(String, String)>) -> Fetcher {
        Fetcher { rewrites, ..self }
    }

    /// Where a request for `url` goes.
    fn target(&self, url: &str) -> String {
        self.rewrites
            .iter()
            .find_map(|(prefix, to)| {
                url.strip_prefix(prefix.as_str())
                    .map(|rest| format!("{to}{rest}"))
            })
            .unwrap_or_else(|| url.to_string())
    }

    /// Makes a fetch's request; the JSON answer, or why it failed.
    pub async fn fetch(&self, r: &FetchRequest) -> Result<serde_json::Value, String> {
        let url = self.target(&r.url);
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
                self.client.get(&url).query(&query)
            }
            Method::Post => {
                let body: serde_json::Map<String, serde_json::Value> =
                    r.params.iter().cloned().collect();
                self.client.post(&url).json(&body)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_sends_the_urls_under_its_prefix_elsewhere_and_leaves_others() {
        let f = Fetcher::new().with_rewrites(vec![(
            "https://crm.example".into(),
            "http://127.0.0.1:8080".into(),
        )]);
        assert_eq!(
            f.target("https://crm.example/ivr?a=1"),
            "http://127.0.0.1:8080/ivr?a=1"
        );
        assert_eq!(
            f.target("https://other.example/ivr"),
            "https://other.example/ivr"
        );
        assert_eq!(
            Fetcher::new().target("https://crm.example/x"),
            "https://crm.example/x"
        );
    }
}

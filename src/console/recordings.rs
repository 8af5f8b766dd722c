//! Recordings the SIP runtime wrote (`ivrc run --recordings DIR`: voicemails, whole calls),
//! played in the console: an entry's file path becomes `/console/recordings/NAME`, and the
//! console serves NAME from the same directory (`ivrc serve --recordings DIR`) to logged-in
//! agents only. Names are the runtime's own (letters, digits, `.`, `-`, `_`, ending `.wav`);
//! anything else — another directory, `..`, a name the runtime cannot have made — is not
//! served.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::Path;

/// Where the console plays an entry's recording from: a web address as it is (Twilio's); a
/// file the runtime wrote at `/console/recordings/NAME`; nothing for anything else.
pub fn console_url(url: &str) -> Option<String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Some(url.to_string());
    }
    let path = Path::new(url);
    if !path.is_absolute() {
        return None;
    }
    let name = path.file_name()?.to_str()?;
    servable(name).then(|| format!("/console/recordings/{name}"))
}

/// Whether `name` is one the runtime writes recordings under.
fn servable(name: &str) -> bool {
    name.len() <= 200
        && !name.starts_with('.')
        && name.ends_with(".wav")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The answer to `GET /console/recordings/NAME` from `dir` (the session is checked before).
pub async fn serve(dir: Option<&Path>, name: &str) -> Response {
    let Some(dir) = dir else {
        return refuse(
            StatusCode::NOT_FOUND,
            "no recordings here: start ivrc serve with --recordings DIR (where ivrc run writes them)",
        );
    };
    if !servable(name) {
        return refuse(StatusCode::NOT_FOUND, "not a recording");
    }
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "audio/wav"),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            refuse(StatusCode::NOT_FOUND, "no such recording")
        }
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot read the recording: {e}"),
        ),
    }
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runtimes_files_and_web_addresses_are_played() {
        assert_eq!(
            console_url("/var/lib/ivrc/recordings/1-22@127.0.0.1-1.wav"),
            None,
            "an @ is not in the runtime's file names"
        );
        assert_eq!(
            console_url("/var/lib/ivrc/recordings/abc_22-1.wav").as_deref(),
            Some("/console/recordings/abc_22-1.wav")
        );
        assert_eq!(
            console_url("https://api.twilio.com/x/RE1").as_deref(),
            Some("https://api.twilio.com/x/RE1")
        );
        for bad in [
            "recordings/a.wav",
            "/tmp/.hidden.wav",
            "/tmp/a.mp3",
            "/tmp/a b.wav",
            "",
        ] {
            assert_eq!(console_url(bad), None, "{bad}");
        }
        assert!(!servable("../a.wav") && !servable("a/b.wav") && servable("a-1.wav"));
    }
}

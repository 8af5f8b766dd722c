//! `play` of a URL on the runtime: WAV, Ogg Vorbis (encoded by sox) and MP3 (encoded by lame)
//! served over HTTP on loopback, downloaded once — fixed URLs before calls are taken, URLs with
//! values when a call first plays them — cached in memory and in the cache directory, decoded
//! and heard by a sipp caller. A URL that is missing or not audio stops the start when it is
//! fixed, and is an error of the call (which goes on) when it is not.

use super::harness::{require, rtp_sink, scratch, sipp, Runtime};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP server on 127.0.0.1 serving `files` by path (404 for others) and counting the
/// requests for each path.
struct Files {
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Files {
    fn serve(files: HashMap<String, Vec<u8>>) -> Files {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request.split(' ').nth(1).unwrap_or_default().to_string();
                *counted
                    .lock()
                    .expect("hits")
                    .entry(path.clone())
                    .or_insert(0) += 1;
                let answer = match files.get(&path) {
                    Some(body) => {
                        let mut a = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        a.extend_from_slice(body);
                        a
                    }
                    None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nNot found"
                        .to_vec(),
                };
                let _ = reader.get_mut().write_all(&answer);
            }
        });
        Files { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many times each path was asked for.
    fn hits(&self) -> HashMap<String, usize> {
        self.hits.lock().expect("hits").clone()
    }
}

/// A second of a 440 Hz tone as a 16 kHz WAV file at `path`.
fn tone(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("a WAV");
    for i in 0..16_000 {
        let t = f64::from(i) / 16_000.0;
        w.write_sample(((t * 440.0 * std::f64::consts::TAU).sin() * 12_000.0) as i16)
            .expect("a sample");
    }
    w.finalize().expect("written");
}

/// Runs an encoder; fails the test when it fails.
fn encode(program: &str, args: &[&std::ffi::OsStr]) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .expect("the encoder runs");
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn urls_are_downloaded_once_decoded_and_heard() {
    require("sox", "--version");
    require("lame", "--version");
    let dir = scratch("audio-url");
    let wav = dir.join("tone.wav");
    tone(&wav);
    let (ogg, mp3) = (dir.join("tone.ogg"), dir.join("tone.mp3"));
    encode("sox", &[wav.as_os_str(), ogg.as_os_str()]);
    encode(
        "lame",
        &["--quiet".as_ref(), wav.as_os_str(), mp3.as_os_str()],
    );
    let read = |p: &Path| std::fs::read(p).expect("an encoded file");
    let files = Files::serve(HashMap::from([
        ("/tone.wav".to_string(), read(&wav)),
        ("/tone.ogg".to_string(), read(&ogg)),
        ("/tone.mp3".to_string(), read(&mp3)),
        ("/late.mp3".to_string(), read(&mp3)),
        ("/page.html".to_string(), b"<html>a page</html>".to_vec()),
    ]));
    let flow = dir.join("urls.ivr");
    std::fs::write(
        &flow,
        format!(
            "flow urls {{\n  play \"{}\"\n  play \"{}\"\n  play \"{}\"\n}}\n\nflow late {{\n  let name = \"late\"\n  play \"{}\"\n  play \"{}\"\n}}\n",
            files.url("/tone.wav"),
            files.url("/tone.ogg"),
            files.url("/tone.mp3"),
            files.url("/missing-{{name}}.wav"),
            files.url("/{{name}}.mp3"),
        ),
    )
    .expect("the flow");
    let flow_arg = flow.display().to_string();

    let heard = |rt: &Runtime, service: &str| {
        let (sink, heard) = rtp_sink(Duration::from_secs(3), Duration::from_secs(20));
        let call = sipp(&rt.dir, rt.port, "uac_wait.xml", service, sink);
        assert!(
            call.status.success(),
            "{}",
            String::from_utf8_lossy(&call.stderr)
        );
        heard.join().expect("the sink")
    };
    let rt = Runtime::start_in(dir.clone(), &[&flow_arg], &[]);
    // The fixed URLs came before any call, once each.
    let before = files.hits();
    for path in ["/tone.wav", "/tone.ogg", "/tone.mp3"] {
        assert_eq!(before.get(path), Some(&1), "{path}: {before:?}");
    }
    // Three seconds of tone, from three formats: about 150 packets of sound.
    for _ in 0..2 {
        let got = heard(&rt, "urls");
        assert!(got.audible >= 130, "{got:?}");
    }
    // The URL with a value: downloaded by the first call that played it only; the missing
    // one is an error of each call (a failure is not cached), which goes on to the next
    // prompt.
    for _ in 0..2 {
        let got = heard(&rt, "late");
        assert!(got.audible >= 40, "{got:?}");
    }
    let (code, stderr) = rt.stop();
    assert_eq!(code, 0, "{stderr}");
    let hits = files.hits();
    assert_eq!(hits, {
        let mut h = before.clone();
        h.insert("/late.mp3".into(), 1);
        h.insert("/missing-late.wav".into(), 2);
        h
    });
    let late = Runtime::calls(&dir)
        .into_iter()
        .find(|r| r["flow"] == "late")
        .expect("a call of `late`");
    let missing = files.url("/missing-late.wav");
    assert_eq!(
        late["errors"],
        serde_json::json!([format!("prompt: audio at {missing}: HTTP 404")]),
        "{late:#}"
    );
    assert_eq!(late["ended_by"], "flow", "{late:#}");

    // A restart on the same cache downloads nothing.
    let rt = Runtime::start_in(dir.clone(), &[&flow_arg], &[]);
    assert!(heard(&rt, "urls").audible >= 130);
    let _ = rt.stop();
    assert_eq!(files.hits(), hits, "the cache served the restart");

    // A fixed URL that is missing, or is not audio, stops the start.
    for (path, why) in [
        ("/gone.mp3", "HTTP 404".to_string()),
        (
            "/page.html",
            "not audio in a format the runtime reads (MP3, Ogg Vorbis, WAV)".to_string(),
        ),
    ] {
        let bad = dir.join("bad.ivr");
        std::fs::write(
            &bad,
            format!("flow bad {{\n  play \"{}\"\n}}\n", files.url(path)),
        )
        .expect("the flow");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
            .arg("run")
            .arg(&bad)
            .args(["--listen", "127.0.0.1:0", "--cache-dir"])
            .arg(dir.join("cache"))
            .arg("--store")
            .arg(dir.join("bad.db"))
            .output()
            .expect("ivrc runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "error: flow `bad` plays (line 2) audio at {}: {why}",
                files.url(path)
            )),
            "{stderr}"
        );
    }
}

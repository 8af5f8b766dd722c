//! Every command run into a closed pipe (`ivrc check --format json f.ivr | head -c 10` once
//! panicked with "Broken pipe", exit 101): the binary is spawned with stdout, stderr or both
//! a pipe whose reading end is already closed, and must exit with status 2 without a panic,
//! saying why on stderr when only stdout is closed.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which streams of the child are pipes nobody reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    Stdout,
    Stderr,
    Both,
}

/// A pipe's writing end whose reading end is already closed: the stdin of a `true` that has
/// exited (`std::io::pipe` is newer than the crate's minimum Rust).
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("`true` runs");
    let writer = reader.stdin.take().expect("its stdin");
    reader.wait().expect("`true` exits");
    Stdio::from(writer)
}

/// Starts `ivrc args` with `closed` streams closed and the other one piped; `input` is
/// written to its stdin (then closed).
fn spawn(args: &[&str], closed: Closed, input: &str) -> Child {
    let (stdout, stderr) = match closed {
        Closed::Stdout => (closed_pipe(), Stdio::piped()),
        Closed::Stderr => (Stdio::piped(), closed_pipe()),
        Closed::Both => (closed_pipe(), closed_pipe()),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("the ivrc binary starts");
    if let Some(mut stdin) = child.stdin.take() {
        // The command may stop reading early (its output is gone); that is not a failure.
        let _ = stdin.write_all(input.as_bytes());
    }
    child
}

/// Waits for the child (at most two minutes); its exit code (`None` when a signal killed it)
/// and whatever it wrote to the stream that was read.
fn finish(mut child: Child) -> (Option<i32>, String) {
    let mut readable: Box<dyn Read + Send> = match (child.stdout.take(), child.stderr.take()) {
        (Some(out), _) => Box::new(out),
        (None, Some(err)) => Box::new(err),
        (None, None) => Box::new(std::io::empty()),
    };
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = readable.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child is waited for") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ivrc hung with a closed pipe");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap_or_default())
}

/// Runs a command that ends by itself with `closed` streams and checks the outcome.
fn assert_exits_2(args: &[&str], closed: Closed, input: &str) {
    let (code, text) = finish(spawn(args, closed, input));
    assert_no_panic_and_2(args, closed, code, &text);
}

fn assert_no_panic_and_2(args: &[&str], closed: Closed, code: Option<i32>, text: &str) {
    assert!(!text.contains("panicked"), "ivrc {args:?} panicked: {text}");
    assert_eq!(
        code,
        Some(2),
        "ivrc {args:?} with {closed:?} closed: {text}"
    );
    if closed == Closed::Stdout {
        assert!(
            text.contains("error: ") && text.contains("Broken pipe"),
            "ivrc {args:?} did not say why: {text}"
        );
    }
}

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli_pipes-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn commands_that_write_stdout_exit_2_when_it_is_closed() {
    let dir = scratch("stdout");
    let store = dir.join("store.db");
    ivrc::store::Store::open(&store).expect("an empty store");
    let store = store.display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["check", "--format", "json", "examples/sum.ivr"], ""),
        (
            &[
                "check",
                "--format",
                "json",
                "tests/fixtures/err/unknown_leg.ivr",
            ],
            "",
        ),
        (&["build", "examples/sum.ivr", "--target", "ir"], ""),
        (
            &["build", "examples/callback.ivr", "--target", "voximplant"],
            "",
        ),
        (&["test", "examples/sum.ivr"], ""),
        (&["test", "examples/sum.ivr", "--format", "json"], ""),
        (&["sim", "examples/sum.ivr"], "12#\n30#\n"),
        (&["graph", "examples/sum.ivr"], ""),
        (&["graph", "examples/sum.ivr", "--format", "mermaid"], ""),
        (&["fmt", "-"], "flow a { hangup }\n"),
        (&["fmt", "--check", "-"], "flow   a {\nhangup\n}\n"),
        (&["calls", "--store", &store], ""),
        (&["calls", "--store", &store, "--format", "json"], ""),
        (
            &["entries", "--contact", "+15146300808", "--store", &store],
            "",
        ),
        (&["--help"], ""),
        (&["check", "--help"], ""),
        (&["--version"], ""),
    ];
    for (args, input) in cases {
        assert_exits_2(args, Closed::Stdout, input);
    }
}

#[test]
fn commands_that_write_stderr_exit_2_when_it_is_closed() {
    let dir = scratch("stderr");
    let out = dir.join("out").display().to_string();
    let broken = dir.join("broken.ivr");
    std::fs::write(&broken, "flow a {\n  say \"x\n}\n").expect("a broken file");
    let broken = broken.display().to_string();
    let cases: &[&[&str]] = &[
        // "ok: 1 file, 1 flow" and a report: both on stderr.
        &["check", "examples/sum.ivr"],
        &["check", "tests/fixtures/err/unreachable.ivr"],
        // "wrote out/…" for each file.
        &[
            "build",
            "examples/callback.ivr",
            "--target",
            "voximplant",
            "-o",
            &out,
        ],
        &["fmt", &broken],
        &["sim", &broken],
        &["graph", &broken],
        &[
            "build",
            "examples/sum.ivr",
            "--target",
            "ir",
            "--format",
            "json",
        ],
        &["no-such-command"],
    ];
    for args in cases {
        assert_exits_2(args, Closed::Stderr, "");
    }
}

#[test]
fn the_language_server_exits_2_when_its_output_is_closed() {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;
    let message = format!("Content-Length: {}\r\n\r\n{body}", body.len());
    assert_exits_2(&["lsp"], Closed::Stdout, &message);
    assert_exits_2(&["lsp"], Closed::Both, &message);
}

/// Starts a server with `closed` streams, waits until `port` takes TCP connections, stops it
/// with SIGINT and checks that it exited 2 (some output was lost) without a panic.
fn assert_server_exits_2(args: &[&str], port: u16, closed: Closed) {
    let child = spawn(args, closed, "");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ivrc {args:?} did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The signal handlers are installed right after the sockets are bound.
    std::thread::sleep(Duration::from_millis(500));
    let stopped = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let (code, text) = finish(child);
    assert_no_panic_and_2(args, closed, code, &text);
}

/// A TCP and UDP port free right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn servers_keep_running_and_exit_2_when_their_output_is_closed() {
    let dir = scratch("servers");
    let store = dir.join("store.db").display().to_string();
    let cache = dir.join("cache").display().to_string();
    for (closed, format) in [(Closed::Stdout, "human"), (Closed::Stderr, "json")] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let run = [
            "run",
            "examples/sum.ivr",
            "--listen",
            &listen,
            "--rtp-ports",
            "26000-26099",
            "--store",
            &store,
            "--cache-dir",
            &cache,
            "--grace",
            "1",
            "--format",
            format,
        ];
        assert_server_exits_2(&run, port, closed);
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let serve = [
            "serve",
            "examples/sum.ivr",
            "--listen",
            &listen,
            "--store",
            &store,
            "--format",
            format,
        ];
        assert_server_exits_2(&serve, port, closed);
    }
}

#[test]
fn json_goes_to_stdout_for_every_command() {
    let dir = scratch("json");
    let out = dir.join("out").display().to_string();
    let build = common::ivrc(&[
        "build",
        "examples/promo.ivr",
        "--target",
        "voximplant",
        "--format",
        "json",
        "-o",
        &out,
    ]);
    assert_eq!(build.code, 1, "{}", build.stderr);
    let json: serde_json::Value = serde_json::from_str(&build.stdout).expect("JSON on stdout");
    assert!(
        common::diagnostic_codes(&json).contains(&"ivrc::codegen::unsupported_by_target"),
        "{json}"
    );
    let test = common::ivrc(&[
        "test",
        "tests/fixtures/err/unreachable.ivr",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&test.stdout).expect("JSON on stdout");
    assert!(
        common::diagnostic_codes(&json["diagnostics"]).contains(&"ivrc::check::unreachable"),
        "{json}"
    );
    assert!(test.stderr.is_empty(), "{}", test.stderr);
}

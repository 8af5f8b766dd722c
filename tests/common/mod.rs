//! Helpers shared by the integration tests: running the real `ivrc` binary, the flow
//! generator of the property tests (`generate`), and the loopback stand-in of the HTTP APIs
//! that served and generated code call (`mock`).

// Every test binary compiles this module whole, as `mod common;`, and uses a different part
// of it: what one binary leaves unused is not dead.
#![allow(dead_code)]

pub mod generate;
pub mod mock;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// What a run of the binary produced.
pub struct Run {
    /// Exit status code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The longest a single command may run before the test calls it a hang.
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// Runs `ivrc` with `args` in the repository root, without colour. Output is read while the
/// child runs (so a large output cannot block it); a run longer than [`HANG_LIMIT`] fails.
pub fn ivrc(args: &[&str]) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ivrc binary starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Output {
        status,
        stdout,
        stderr,
    } = match rx.recv_timeout(HANG_LIMIT) {
        Ok(out) => out.expect("output is read"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("ivrc {args:?} hung for more than {HANG_LIMIT:?}");
        }
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The `.ivr` files in a directory of the repository, relative to its root, sorted.
pub fn ivr_files(dir: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ivr"))
        .map(|p| rel(&p))
        .collect();
    files.sort();
    files
}

/// Path relative to the repository root, as a string.
pub fn rel(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Whether the run panicked (Rust's panic message on stderr).
pub fn panicked(run: &Run) -> bool {
    run.stderr.contains("panicked at") || run.code == 101
}

/// The `code` of each diagnostic in `--format json` output.
pub fn diagnostic_codes(json: &serde_json::Value) -> Vec<&str> {
    json.as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["code"].as_str())
        .collect()
}

/// What the engine does for the inputs of a test: the commands `keep` selects, in the words
/// of the transcripts (`say to caller "…"`, `dial +7… as op`, …).
pub fn engine_lines(
    program: &ivrc::ir::Program,
    test: &ivrc::ir::Test,
    keep: fn(&ivrc::engine::Command) -> bool,
) -> Vec<String> {
    let call = ivrc::testing::play_inputs(program, test)
        .unwrap_or_else(|f| panic!("test \"{}\": {} ({})", test.name, f.expected, f.actual));
    call.log
        .iter()
        .filter(|l| keep(&l.output.command))
        .filter_map(|l| call.describe(&l.output.command))
        .collect()
}

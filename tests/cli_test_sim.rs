//! `ivrc test` and `ivrc sim` end to end, through the real binary.

mod common;

use common::{ivr_files, ivrc, panicked};
use std::path::PathBuf;

fn examples() -> Vec<String> {
    ivr_files("examples")
}

#[test]
fn every_example_test_passes_and_there_are_at_least_25() {
    let files = examples();
    let mut args = vec!["test", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let run = ivrc(&args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON results");
    assert_eq!(json["failed"], 0);
    assert!(
        json["passed"].as_u64().is_some_and(|n| n >= 25),
        "{}",
        json["passed"]
    );
}

#[test]
fn tests_in_ok_fixtures_pass() {
    let files = ivr_files("tests/fixtures/ok");
    let mut args = vec!["test"];
    args.extend(files.iter().map(String::as_str));
    let run = ivrc(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("2 passed, 0 failed"), "{}", run.stdout);
}

/// A copy of an example with one prompt changed makes exactly the test that hears it fail,
/// with the test line, the flow line and expected vs actual.
#[test]
fn a_broken_example_fails_the_right_test_readably() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("broken_sum");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let root = env!("CARGO_MANIFEST_DIR");
    let flow = std::fs::read_to_string(format!("{root}/examples/sum.ivr")).expect("sum.ivr");
    std::fs::write(
        dir.join("sum.ivr"),
        flow.replace(
            "Сумма равна {{words sum case='dative'}}.",
            "Итого: {{sum}}.",
        ),
    )
    .expect("write");
    let tests =
        std::fs::read_to_string(format!("{root}/examples/sum.test.ivr")).expect("sum.test.ivr");
    std::fs::write(dir.join("sum.test.ivr"), tests).expect("write");
    let run = ivrc(&["test", &dir.join("sum.test.ivr").display().to_string()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let shown = run.stdout.replace(&dir.display().to_string(), "DIR");
    insta::assert_snapshot!(shown);
}

#[test]
fn sim_is_driven_through_stdin() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args([
            "sim",
            "examples/callback.ivr",
            "--param",
            "name=Иван",
            "--param",
            "product=чайник",
            "--param",
            "phone=+79001234567",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ivrc sim starts");
    use std::io::Write as _;
    let script = "/answer op\n/wait 5s\n:Готов!\n/busy nobody\n/answer client\n:да, конечно\n/hangup client\n";
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script written");
    let out = child.wait_with_output().expect("sim ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(stdout);
}

#[test]
fn sim_reports_bad_input_and_goes_on() {
    let run = ivrc(&["sim", "examples/sum.ivr"]);
    assert!(!panicked(&run));
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("the call is still waiting"),
        "{}",
        run.stdout
    );
}

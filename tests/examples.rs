//! Every example checks clean (warnings denied) and lowers to the IR in its snapshot.

mod common;

use common::{ivr_files, ivrc, rel};

#[test]
fn every_example_checks_clean() {
    let files = ivr_files("examples");
    assert!(
        files.len() >= 12,
        "expected the six seed examples and their tests, found {files:?}"
    );
    let mut args = vec!["check", "--deny-warnings"];
    args.extend(files.iter().map(String::as_str));
    let run = ivrc(&args);
    assert_eq!(run.code, 0, "ivrc check failed:\n{}", run.stderr);
}

#[test]
fn example_ir_snapshots() {
    insta::glob!("../examples", "*.ivr", |path| {
        let run = ivrc(&["build", &rel(path), "--target", "ir"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        insta::assert_snapshot!(run.stdout);
    });
}

#[test]
fn ok_fixtures_check_clean_and_lower() {
    insta::glob!("fixtures/ok", "*.ivr", |path| {
        let check = ivrc(&["check", "--deny-warnings", &rel(path)]);
        assert_eq!(check.code, 0, "{}", check.stderr);
        let run = ivrc(&["build", &rel(path), "--target", "ir"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        insta::assert_snapshot!(run.stdout);
    });
}

#[test]
fn the_seed_examples_are_short() {
    let lines = |f: &str| {
        std::fs::read_to_string(format!("{}/examples/{f}", env!("CARGO_MANIFEST_DIR")))
            .expect("readable")
            .lines()
            .count()
    };
    assert!(
        lines("sum.ivr") <= 20,
        "sum.ivr has {} lines",
        lines("sum.ivr")
    );
    assert!(
        lines("callback.ivr") <= 45,
        "callback.ivr has {} lines",
        lines("callback.ivr")
    );
}

#[test]
fn tests_in_examples_are_enough() {
    let mut count = 0;
    for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).expect("examples/")
    {
        let text = std::fs::read_to_string(e.expect("entry").path()).unwrap_or_default();
        count += text
            .lines()
            .filter(|l| l.trim_start().starts_with("test \""))
            .count();
    }
    assert!(
        count >= 25,
        "examples hold {count} test blocks, issue 3 asks for at least 25"
    );
}

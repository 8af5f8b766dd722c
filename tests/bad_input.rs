//! Bad input never panics and never hangs: each case below gets a clear coded diagnostic and
//! exit status 1. Inputs are generated into a scratch directory.

mod common;

use common::{ivrc, panicked};
use std::path::PathBuf;

fn scratch(name: &str, bytes: &[u8]) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path.display().to_string()
}

fn expect_code(path: &str, code: &str) {
    let run = ivrc(&["check", "--format", "json", path]);
    assert!(!panicked(&run), "panic on {path}: {}", run.stderr);
    assert_eq!(run.code, 1, "{path}: {}{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let codes = common::diagnostic_codes(&json);
    assert!(
        codes.contains(&code),
        "{path}: expected {code}, got {codes:?}"
    );
}

#[test]
fn empty_file() {
    expect_code(&scratch("empty.ivr", b""), "ivrc::syntax::empty_file");
}

#[test]
fn comments_only() {
    expect_code(
        &scratch("comments.ivr", b"// nothing here\n"),
        "ivrc::syntax::empty_file",
    );
}

#[test]
fn binary_junk() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 & 0x7f)
        .collect();
    expect_code(
        &scratch("junk.ivr", &junk),
        "ivrc::syntax::unexpected_token",
    );
}

#[test]
fn invalid_utf8() {
    expect_code(
        &scratch("latin1.ivr", b"flow f { say \"caf\xe9\" }\n"),
        "ivrc::source::invalid_utf8",
    );
}

#[test]
fn fifty_megabytes() {
    let line = "flow f { say \"x\" }\n";
    let text = line.repeat(50 * 1024 * 1024 / line.len());
    expect_code(
        &scratch("huge.ivr", text.as_bytes()),
        "ivrc::source::too_large",
    );
}

#[test]
fn ten_thousand_nested_blocks() {
    let text = format!(
        "flow f {{\n{}say \"x\"\n{}}}\n",
        "if true {\n".repeat(10_000),
        "}\n".repeat(10_000)
    );
    expect_code(
        &scratch("deep.ivr", text.as_bytes()),
        "ivrc::syntax::too_deep",
    );
}

#[test]
fn ten_thousand_nested_parentheses() {
    let text = format!(
        "flow f {{ let x = {}1{} }}\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    expect_code(
        &scratch("parens.ivr", text.as_bytes()),
        "ivrc::syntax::too_deep",
    );
}

#[test]
fn ten_thousand_nots() {
    let text = format!(
        "flow f {{ let x = {}true\n hangup }}\n",
        "not ".repeat(10_000)
    );
    expect_code(
        &scratch("nots.ivr", text.as_bytes()),
        "ivrc::syntax::expression_too_long",
    );
}

#[test]
fn a_million_additions() {
    let text = format!(
        "flow f {{ let x = 1{}\n hangup }}\n",
        " + 1".repeat(1_000_000)
    );
    expect_code(
        &scratch("sum.ivr", text.as_bytes()),
        "ivrc::syntax::expression_too_long",
    );
}

#[test]
fn ten_thousand_else_ifs() {
    let text = format!(
        "flow f {{ let x = 1\n if x == 0 {{ hangup }}{} else {{ hangup }} }}\n",
        " else if x == 1 { hangup }".repeat(10_000)
    );
    let run = ivrc(&["check", &scratch("elseif.ivr", text.as_bytes())]);
    assert!(!panicked(&run), "{}", run.stderr);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn unterminated_string() {
    expect_code(
        &scratch(
            "unterminated.ivr",
            b"flow f {\n  say \"hello\n  hangup\n}\n",
        ),
        "ivrc::syntax::unterminated_string",
    );
}

#[test]
fn unterminated_string_at_end_of_file() {
    expect_code(
        &scratch("unterminated_eof.ivr", b"flow f { say \"hello"),
        "ivrc::syntax::unterminated_string",
    );
}

#[test]
fn unterminated_template() {
    expect_code(
        &scratch("template.ivr", b"flow f { say \"sum {{sum\" }\n"),
        "ivrc::syntax::unterminated_placeholder",
    );
}

fn campaign_with(csv_name: &str, csv: &[u8]) -> String {
    scratch(csv_name, csv);
    let flow = format!(
        "campaign c for f {{ leads \"{csv_name}\"; dial phone; attempts 2 }}\nflow f(name: text, phone: phone) {{ say \"Здравствуйте, {{{{name}}}}\" }}\n"
    );
    scratch(&format!("{csv_name}.ivr"), flow.as_bytes())
}

#[test]
fn csv_with_bom() {
    expect_code(
        &campaign_with("bom.csv", b"\xef\xbb\xbfname;phone\nIvan;+79001234567\n"),
        "ivrc::check::leads_bom",
    );
}

#[test]
fn csv_with_wrong_delimiter() {
    expect_code(
        &campaign_with("tabs.csv", b"name\tphone\nIvan\t+79001234567\n"),
        "ivrc::check::leads_delimiter",
    );
}

#[test]
fn csv_with_missing_columns() {
    expect_code(
        &campaign_with("cols.csv", b"name;product\nIvan;kettle\n"),
        "ivrc::check::leads_missing_column",
    );
}

#[test]
fn csv_with_bad_phones() {
    let path = campaign_with(
        "phones.csv",
        b"name;phone\nIvan;+79001234567\nMaria;12345\nOleg;call me\n",
    );
    let run = ivrc(&["check", &path]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("line 3") && run.stderr.contains("line 4"),
        "{}",
        run.stderr
    );
}

#[test]
fn csv_with_ragged_rows() {
    expect_code(
        &campaign_with("ragged.csv", b"name;phone\nIvan;+79001234567;extra\n"),
        "ivrc::check::leads_bad_row",
    );
}

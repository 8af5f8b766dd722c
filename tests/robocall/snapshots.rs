//! What `ivrc build --target zvonobot|twin24` gives for every example (the files, or the
//! diagnostics of what does not fit), reviewed as snapshots; every file written satisfies its
//! schema; and one fixture per construct the platform cannot express shows its diagnostic.

use super::common::{ivr_files, ivrc, panicked, rel};
use super::{assert_valid, build, json, schema, written, CHANNEL};
use serde_json::json;
use std::path::Path;

/// Validates every payload of a build's directory against the schemas, the way the send
/// scripts send them (`apiKey` and `autoCallId` put in); returns how many were checked.
pub fn validate_build(dir: &Path) -> usize {
    let call = schema("zvonobot.create-call.schema.json");
    let salebot = schema("salebot.zvonobot-calls.schema.json");
    let task = schema("twin24.autocall.schema.json");
    let candidates = schema("twin24.candidates.schema.json");
    let mut checked = 0;
    for (name, _) in written(dir) {
        if name.ends_with(".send.sh") {
            continue;
        }
        let mut value = json(dir, &name);
        if name.contains(".call-") {
            assert!(value.get("apiKey").is_none(), "{name} holds an API key");
            value["apiKey"] = json!("test-key");
            assert_valid(&call, &value, &name);
        } else if name.ends_with(".salebot.json") {
            assert_valid(&salebot, &value, &name);
        } else if name.ends_with(".task.json") {
            assert_valid(&task, &value, &name);
        } else if name.ends_with(".candidates.json") {
            for item in value["batch"].as_array_mut().into_iter().flatten() {
                item["autoCallId"] = json!("task-1");
            }
            assert_valid(&candidates, &value, &name);
        } else {
            panic!("unexpected file {name}");
        }
        checked += 1;
    }
    checked
}

fn snapshot_of(run: &super::Run, dir: &Path) -> String {
    // `wrote PATH` lines name the scratch directory, which differs between checkouts
    let stderr: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("wrote "))
        .collect();
    let mut text = format!("exit: {}\n{}\n", run.code, stderr.join("\n"));
    for (name, contents) in written(dir) {
        text.push_str(&format!("\n==== {name} ====\n{contents}"));
    }
    text
}

#[test]
fn every_example_builds_or_says_why() {
    let mut built = Vec::new();
    for file in ivr_files("examples") {
        for target in ["zvonobot", "twin24"] {
            let stem = file
                .trim_start_matches("examples/")
                .trim_end_matches(".ivr");
            let extra: &[&str] = if target == "twin24" {
                &["--twin24-transfer-channel", CHANNEL]
            } else {
                &[]
            };
            let (run, dir) = build(&file, target, extra, &format!("{target}-{stem}"));
            assert!(!panicked(&run), "{file}: {}", run.stderr);
            assert!(run.code == 0 || run.code == 1, "{file}: exit {}", run.code);
            if run.code == 0 {
                assert!(
                    validate_build(&dir) > 0,
                    "{file} built no payload for {target}"
                );
                built.push(format!("{target} {stem}"));
            } else {
                assert!(
                    written(&dir).is_empty(),
                    "{file}: a failed build wrote files"
                );
                assert!(
                    run.stderr.contains("ivrc::codegen::unsupported_by_target"),
                    "{file}: {}",
                    run.stderr
                );
            }
            insta::assert_snapshot!(format!("{target}@{stem}"), snapshot_of(&run, &dir));
        }
    }
    // the seeds' own robocalls must fit their platforms
    for must in ["zvonobot promo", "twin24 robocall", "twin24 robocall.test"] {
        assert!(
            built.iter().any(|b| b == must),
            "{must} did not build: {built:?}"
        );
    }
}

/// The constructs and lines named in a fixture's first line: `// refuses: a @ 3; b @ 7`.
fn refused_constructs(path: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).expect("fixture");
    let first = text.lines().next().unwrap_or_default();
    let list = first
        .strip_prefix("// refuses: ")
        .unwrap_or_else(|| panic!("{}: first line must be `// refuses: …`", path.display()));
    list.split("; ")
        .map(|item| {
            let (construct, line) = item
                .rsplit_once(" @ ")
                .unwrap_or_else(|| panic!("{}: `{item}` has no ` @ LINE`", path.display()));
            (construct.to_string(), line.parse().expect("a line number"))
        })
        .collect()
}

fn unsupported_fixtures(target: &str, extra: &[&str]) {
    let mut seen = 0;
    insta::glob!("../fixtures", &format!("{target}/*.ivr"), |path| {
        seen += 1;
        let file = rel(path);
        let mut args = vec!["build", &file, "--target", target];
        if target == "twin24" {
            args.extend(["--twin24-bot", super::BOT]);
        }
        args.extend(extra);
        let run = ivrc(&args);
        assert!(!panicked(&run), "{file}: {}", run.stderr);
        assert_eq!(run.code, 1, "{file} built:\n{}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{file} wrote output");
        let out = super::scratch(&format!("{target}-refused"))
            .display()
            .to_string();
        args.extend(["--format", "json", "-o", &out]);
        let diagnostics: serde_json::Value =
            serde_json::from_str(&ivrc(&args).stdout).expect("JSON diagnostics on stdout");
        for (construct, line) in refused_constructs(path) {
            let message = format!("{construct} is not supported by the {target} target");
            let found = diagnostics
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d["message"] == message.as_str() && d["labels"][0]["line"] == line);
            assert!(
                found,
                "{file}: no `{message}` on line {line} in\n{diagnostics:#}"
            );
        }
        insta::assert_snapshot!(format!("{target}-refuses"), run.stderr);
    });
    assert!(seen >= 10, "only {seen} {target} fixtures");
}

#[test]
fn each_construct_zvonobot_cannot_express_is_refused_on_it() {
    unsupported_fixtures("zvonobot", &[]);
}

#[test]
fn each_construct_twin24_cannot_express_is_refused_on_it() {
    unsupported_fixtures("twin24", &[]);
}

//! The Zvonobot and Twin24 targets: every payload `ivrc build` writes is validated against
//! JSON Schemas written from the documented field tables (tests/schemas/), each schema rule is
//! shown to reject a payload that breaks it, each construct the platform cannot express has a
//! fixture showing its diagnostic, and the generated send scripts are run with curl and jq
//! against a loopback stand-in of each API, whose received bodies are validated too.

#[path = "../common/mod.rs"]
mod common;
mod options;
mod schema_rules;
mod send;
mod snapshots;

use common::{ivrc, Run};
use std::path::{Path, PathBuf};

/// The Twin24 bot the tests build for.
pub const BOT: &str = "5f0c7a52-9d3e-4c1b-a1de-0f6a3c2b9e11";
/// The Twin24 transfer channel the tests build for.
pub const CHANNEL: &str = "8d2f4e10-6b7a-4c59-9e3d-2a1b0c9d8e7f";

/// A compiled JSON Schema from tests/schemas.
pub fn schema(name: &str) -> jsonschema::JSONSchema {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::JSONSchema::compile(&json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Fails with every error when `value` does not satisfy `schema`.
pub fn assert_valid(schema: &jsonschema::JSONSchema, value: &serde_json::Value, what: &str) {
    if let Err(errors) = schema.validate(value) {
        let list: Vec<String> = errors
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        panic!(
            "{what} does not satisfy its schema:\n{}\n{value:#}",
            list.join("\n")
        );
    }
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("robocall-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Builds `file` for `target` into a scratch directory, with the bot and channel options
/// for Twin24 plus `extra`.
pub fn build(file: &str, target: &str, extra: &[&str], name: &str) -> (Run, PathBuf) {
    let dir = scratch(name);
    let out = dir.display().to_string();
    let mut args = vec!["build", file, "--target", target, "-o", &out];
    if target == "twin24" {
        args.extend(["--twin24-bot", BOT]);
    }
    args.extend(extra);
    (ivrc(&args), dir)
}

/// The files a build wrote, by name, sorted.
pub fn written(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    (name, text)
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A JSON file of a build.
pub fn json(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

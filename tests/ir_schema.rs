//! The published JSON Schema of the IR (docs/ir.schema.json) is the one generated from the
//! Rust types, and every example's IR validates against it with an independent validator.

mod common;

use common::ivrc;

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ir.schema.json");

fn generated() -> String {
    let schema = schemars::schema_for!(ivrc::ir::Program);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

#[test]
fn published_schema_is_up_to_date() {
    let fresh = generated();
    if std::env::var_os("IVRC_UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &fresh).expect("schema written");
    }
    let published = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(published == fresh, "docs/ir.schema.json is stale; run `IVRC_UPDATE_SCHEMA=1 cargo test --test ir_schema` and commit it");
}

#[test]
fn every_example_and_ok_fixture_ir_validates_and_round_trips() {
    let schema: serde_json::Value = serde_json::from_str(&generated()).expect("schema is JSON");
    let validator = jsonschema::JSONSchema::compile(&schema).expect("schema compiles");
    let mut checked = 0;
    for entry in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).expect("examples/")
    {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ivr") {
            continue;
        }
        let run = ivrc(&["build", &path.display().to_string(), "--target", "ir"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("IR is JSON");
        if let Err(errors) = validator.validate(&json) {
            let list: Vec<String> = errors
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            panic!("{} does not validate:\n{}", path.display(), list.join("\n"));
        }
        let program: ivrc::ir::Program =
            serde_json::from_value(json.clone()).expect("IR deserializes");
        assert_eq!(program.ir_version, ivrc::ir::IR_VERSION);
        assert_eq!(
            serde_json::to_value(&program).expect("serializes"),
            json,
            "{} does not round-trip",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 6);
}

#[test]
fn the_schema_rejects_a_wrong_ir() {
    let schema: serde_json::Value = serde_json::from_str(&generated()).expect("schema is JSON");
    let validator = jsonschema::JSONSchema::compile(&schema).expect("schema compiles");
    let run = ivrc(&["build", "examples/sum.ivr", "--target", "ir"]);
    let mut json: serde_json::Value = serde_json::from_str(&run.stdout).expect("IR is JSON");
    json["flows"][0]["nodes"][0]["edges"][0]["on"] = serde_json::json!("sideways");
    assert!(
        !validator.is_valid(&json),
        "an unknown outcome must not validate"
    );
}

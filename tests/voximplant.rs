//! The Voximplant target, checked by independent tools: every scenario passes `node --check`,
//! runs in a VoxEngine stand-in under Node (tests/js/harness.mjs) and does exactly what the
//! engine does for the same `test` blocks (a differential test), says escaped text exactly,
//! and its scenarios and CallList files are snapshot.

mod common;

use common::{ivr_files, ivrc};
use ivrc::ir;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Node must be present; under CI its absence is a failure, elsewhere too (it is installed
/// by scripts/setup.sh), so this never skips.
fn node() -> &'static str {
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "node is required for the Voximplant tests; run scripts/setup.sh"
    );
    "node"
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("voximplant")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Builds `file` for Voximplant into a fresh directory; `None` when the target refuses it.
fn build(file: &str, name: &str) -> Option<PathBuf> {
    let dir = scratch(name);
    let run = ivrc(&[
        "build",
        file,
        "--target",
        "voximplant",
        "-o",
        &dir.display().to_string(),
    ]);
    assert!(!common::panicked(&run), "{}", run.stderr);
    (run.code == 0).then_some(dir)
}

fn ir_of(file: &str) -> (String, ir::Program) {
    let run = ivrc(&["build", file, "--target", "ir"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let program = serde_json::from_str(&run.stdout).expect("IR");
    (run.stdout, program)
}

/// What the engine does for the inputs of a test, in the harness's words.
fn engine_transcript(program: &ir::Program, test: &ir::Test) -> Vec<String> {
    common::engine_lines(program, test, |c| {
        use ivrc::engine::Command as C;
        matches!(
            c,
            C::Say { .. }
                | C::Play { .. }
                | C::Dial { .. }
                | C::Bridge { .. }
                | C::Transfer { .. }
                | C::Fetch { .. }
                | C::Sms { .. }
                | C::Hangup { .. }
                | C::Report { .. }
                | C::End
        )
    })
}

fn harness(scenario: &Path, ir_json: &str, name: &str) -> serde_json::Value {
    let ir_path = scratch(&format!("{name}-ir")).join("program.json");
    std::fs::write(&ir_path, ir_json).expect("IR written");
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/harness.mjs");
    let out = Command::new(node())
        .arg(harness)
        .arg(scenario)
        .arg(&ir_path)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "harness failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("harness prints JSON")
}

fn example_files() -> Vec<String> {
    ivr_files("examples")
}

/// The examples and the Voximplant fixtures: everything that targets Voximplant.
fn voximplant_files() -> Vec<String> {
    let mut files = example_files();
    files.extend(ivr_files("tests/fixtures/voximplant"));
    files
}

#[test]
fn scenarios_pass_node_check() {
    let mut checked = 0;
    for file in voximplant_files() {
        let name = format!("check_{}", file.replace(['/', '.'], "_"));
        let Some(dir) = build(&file, &name) else {
            continue;
        };
        for entry in std::fs::read_dir(&dir).expect("output") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "js") {
                let out = Command::new(node())
                    .arg("--check")
                    .arg(&path)
                    .output()
                    .expect("node runs");
                assert!(
                    out.status.success(),
                    "{}: {}",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "only {checked} scenarios were checked");
}

/// TypeScript checks every scenario against Voximplant's official declarations (voxengine-ci
/// v28.0.0 `typings/voxengine.d.ts`, kept outside the project in ../shared/vendor): a misspelt
/// event, voice, module or method fails. `skipLibCheck` leaves out the declarations' own
/// errors (a duplicate `joinUrl`, Node's `Buffer`), not the scenario's.
#[test]
fn scenarios_type_check_against_the_official_voxengine_declarations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tsc = root.join("tests/js/node_modules/.bin/tsc");
    assert!(
        tsc.exists(),
        "TypeScript is missing; run scripts/setup.sh (npm ci in tests/js)"
    );
    let declarations = root.join("../shared/vendor/voxengine-ci/voxengine.d.ts");
    assert!(
        declarations.exists(),
        "Voximplant's official typings are missing: {}",
        declarations.display()
    );
    let mut checked = 0;
    for file in voximplant_files() {
        let name = format!("tsc_{}", file.replace(['/', '.'], "_"));
        let Some(dir) = build(&file, &name) else {
            continue;
        };
        for entry in std::fs::read_dir(&dir).expect("output") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "js") {
                continue;
            }
            let config = serde_json::json!({
                "compilerOptions": { "allowJs": true, "checkJs": true, "noEmit": true, "skipLibCheck": true, "target": "ES2020", "lib": ["ES2020"], "types": [] },
                "files": [declarations, path],
            });
            let config_path = dir.join("tsconfig.json");
            std::fs::write(&config_path, config.to_string()).expect("tsconfig written");
            let out = Command::new(node())
                .arg(&tsc)
                .arg("-p")
                .arg(&config_path)
                .output()
                .expect("tsc runs");
            assert!(
                out.status.success(),
                "{}:\n{}",
                path.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} scenarios were type-checked");
}

#[test]
fn scenarios_do_what_the_engine_does() {
    let mut compared = 0;
    let fixtures = ivr_files("tests/fixtures/voximplant");
    let files: Vec<String> = example_files()
        .into_iter()
        .filter(|f| f.ends_with(".test.ivr"))
        .chain(fixtures)
        .collect();
    for file in files {
        let name = file.replace(['/', '.'], "_");
        let Some(dir) = build(&file, &name) else {
            continue;
        };
        // The test blocks themselves hold against the engine.
        let tests = ivrc(&["test", &file]);
        assert_eq!(tests.code, 0, "{file}: {}{}", tests.stdout, tests.stderr);
        let (json, program) = ir_of(&file);
        for flow in &program.flows {
            let scenario = dir.join(format!("{}.voxengine.js", flow.name));
            let results = harness(&scenario, &json, &name);
            for test in program.tests.iter().filter(|t| t.flow == flow.name) {
                let js: Vec<String> = results["transcripts"][&test.name]
                    .as_array()
                    .expect("a transcript per test")
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect();
                let engine = engine_transcript(&program, test);
                assert_eq!(
                    js, engine,
                    "{file}: test \"{}\": the VoxEngine scenario and the engine differ",
                    test.name
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 16, "only {compared} tests were compared");
}

#[test]
fn escaped_text_is_said_exactly() {
    let file = "tests/fixtures/voximplant/escaping.ivr";
    let dir = build(file, "escaping").expect("builds");
    let (json, program) = ir_of(file);
    let results = harness(&dir.join("escaping.voxengine.js"), &json, "escaping");
    let said = results["transcripts"]["says the text exactly"][0]
        .as_str()
        .expect("a say")
        .to_string();
    let expected =
        "She said \"hi\" \\ ${alert(1)} </script> `tick` \n next line\u{2028}sep\u{2029}end";
    assert_eq!(said, format!("say to caller \"{expected}\""));
    assert_eq!(engine_transcript(&program, &program.tests[0])[0], said);
}

/// A campaign's result webhook gets the lead, whether the attempt succeeded and its result,
/// before the call list does.
#[test]
fn results_are_posted_to_the_result_webhook() {
    let file = "tests/fixtures/voximplant/recorded_campaign.ivr";
    let dir = build(file, "result_webhook").expect("builds");
    let (json, _) = ir_of(file);
    let results = harness(&dir.join("survey.voxengine.js"), &json, "result_webhook");
    let happy = &results["webhooks"]["a person answers and is happy"];
    assert_eq!(
        happy,
        &serde_json::json!([{
            "campaign": "survey_calls",
            "flow": "survey",
            "lead": { "name": "Ирина", "phone": "+79161234567" },
            "ok": true,
            "result": { "happy": true }
        }])
    );
    let silent = &results["webhooks"]["nobody presses a key"];
    assert_eq!(silent[0]["ok"], false);
    assert_eq!(silent[0]["result"]["reason"], "нет ответа");
}

#[test]
fn scenario_and_call_list_snapshots() {
    for file in [
        "examples/sum.ivr",
        "examples/callback.ivr",
        "examples/courier.ivr",
        "tests/fixtures/voximplant/window_campaign.ivr",
        "tests/fixtures/voximplant/voicemail.ivr",
    ] {
        let name = file.replace(['/', '.'], "_");
        let dir = build(file, &name).expect("builds for Voximplant");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("output")
            .map(|e| e.expect("entry").path())
            .collect();
        names.sort();
        for path in names {
            let text = std::fs::read_to_string(&path).expect("readable");
            // The runtime is the same in every scenario; snapshot what is generated.
            let shown = match text.split_once("/* ---- the flow ---- */") {
                Some((head, flow)) => format!(
                    "{}[runtime.js]\n{flow}",
                    head.split("/* ivrc runtime for VoxEngine")
                        .next()
                        .unwrap_or(head)
                ),
                None => text,
            };
            let file_name = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            insta::assert_snapshot!(format!("voximplant__{file_name}"), shown);
        }
    }
}

#[test]
fn unsupported_constructs_are_refused_with_a_diagnostic() {
    let run = ivrc(&[
        "build",
        "examples/promo.ivr",
        "--target",
        "voximplant",
        "--format",
        "json",
        "-o",
        &scratch("refused").display().to_string(),
    ]);
    assert_eq!(run.code, 1);
    let json: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("JSON diagnostics on stdout");
    let codes = common::diagnostic_codes(&json);
    assert!(
        codes
            .iter()
            .all(|c| *c == "ivrc::codegen::unsupported_by_target"),
        "{codes:?}"
    );
    assert!(json.as_array().is_some_and(|a| a.len() >= 3), "{json}");
    assert!(json[0]["labels"][0]["line"].as_u64().is_some());
}

/// Runs `call` (JavaScript, a function of one case) of the callback scenario's runtime over
/// the table at `table` (tests/js/table.mjs); `{ value }` or `{ error }` per case.
fn runtime_table(table: &str, call: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let dir = build("examples/callback.ivr", "table").expect("builds");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table_path = root.join(table);
    let out = Command::new(node())
        .arg(root.join("tests/js/table.mjs"))
        .arg(dir.join("callback.voxengine.js"))
        .arg(&table_path)
        .arg(call)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&table_path).expect("table")).expect("JSON");
    assert_eq!(results.len(), cases.len());
    (cases, results)
}

/// The scenario normalizes phones with the same rules and words as `ivrc build`: one table of
/// cases (tests/fixtures/phones/normalize.json, also run against src/phone.rs in
/// tests/phone_props.rs) through the generated `$normalizePhone`.
#[test]
fn scenarios_normalize_phones_as_ivrc_does() {
    let (cases, results) = runtime_table(
        "tests/fixtures/phones/normalize.json",
        "(c) => $normalizePhone(c.text, c.normalize)",
    );
    for (case, got) in cases.iter().zip(&results) {
        let want = match (&case["phone"], &case["error"]) {
            (serde_json::Value::String(p), _) => serde_json::json!({ "value": p }),
            (_, e) => serde_json::json!({ "error": e }),
        };
        assert_eq!(got, &want, "{case}");
    }
}

/// The scenario matches phrases with the engine's rule, negations included: one table of
/// cases (tests/fixtures/phrases/says.json, also run against src/phrase.rs) through the
/// generated `$says`.
#[test]
fn scenarios_match_phrases_as_the_engine_does() {
    let (cases, results) = runtime_table(
        "tests/fixtures/phrases/says.json",
        "(c) => $says($norm(c.utterance), $norm(c.phrase))",
    );
    for (case, got) in cases.iter().zip(&results) {
        assert_eq!(got, &serde_json::json!({ "value": case["said"] }), "{case}");
    }
}

/// Call-list rows as users upload them: the callback campaign's phone written the local way is
/// called at its normalized number; a phone that cannot be read is reported to the call list
/// with the column and the value, and nobody is called.
#[test]
fn call_list_rows_are_read_as_users_write_them() {
    let file = "examples/callback.test.ivr";
    let dir = build(file, "rows").expect("builds");
    let (json, program) = ir_of(file);
    let mut ir: serde_json::Value = serde_json::from_str(&json).expect("IR");
    let template = ir["tests"][0].clone();
    assert_eq!(template["name"], "both agree: bridge, then report ok");
    let row = |name: &str, phone: &str| {
        let mut t = template.clone();
        t["name"] = name.into();
        t["params"][2] =
            serde_json::json!(["phone", { "expr": "text", "template": [{ "text": phone }] }]);
        t
    };
    let local = [
        "79161112233",
        "89161112233",
        "+7 (916) 111-22-33",
        " 8 916 111 22 33 ",
    ];
    let mut tests: Vec<serde_json::Value> = local.iter().map(|p| row(p, p)).collect();
    tests.push(row("bad", "+7 916 111"));
    tests.push(row("blank", "  "));
    ir["tests"] = serde_json::Value::Array(tests);
    let results = harness(&dir.join("callback.voxengine.js"), &ir.to_string(), "rows");

    let engine = engine_transcript(&program, &program.tests[0]);
    for phone in local {
        let js: Vec<&str> = results["transcripts"][phone]
            .as_array()
            .expect("a transcript")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let want: Vec<String> = engine
            .iter()
            // The operator hears the client's number, digit by digit.
            .map(|l| {
                l.replace("+79001234567", "+79161112233")
                    .replace("7, 9 0 0, 1 2 3, 4 5, 6 7", "7, 9 1 6, 1 1 1, 2 2, 3 3")
            })
            .collect();
        assert_eq!(js, want, "row with phone {phone:?}");
        assert_eq!(
            results["reports"][phone],
            serde_json::json!([{ "result": {} }])
        );
    }
    for (name, reason) in [
        ("bad", "`+7 916 111` in column `phone` is not a valid phone number: a +7 number has 10 digits after the country code, this one has 6"),
        ("blank", "column `phone` is empty"),
    ] {
        assert_eq!(
            results["transcripts"][name],
            serde_json::json!(["end of the call"]),
            "{name}: nobody is called"
        );
        assert_eq!(
            results["reports"][name],
            serde_json::json!([{ "error": { "reason": reason } }]),
            "{name}"
        );
    }
}

#[test]
fn a_language_the_target_lacks_is_refused_at_the_lang_line() {
    let out = scratch("unknown_lang").display().to_string();
    let run = ivrc(&[
        "build",
        "tests/fixtures/err/unknown_lang.ivr",
        "--target",
        "voximplant",
        "--format",
        "json",
        "-o",
        &out,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON diagnostics");
    let refusal = json
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["code"] == "ivrc::codegen::unsupported_by_target")
        .expect("a refusal");
    // Line 3 is `lang ru-RF`, not the whole flow from line 2.
    assert_eq!(refusal["labels"][0]["line"], 3, "{refusal}");
    assert_eq!(refusal["labels"][0]["end_line"], 3, "{refusal}");
}

//! The schemas can fail: each required field and each conditional rule of the documented
//! tables rejects a payload that breaks it (starting from a payload ivrc built, which passes),
//! and the `cps` the task carries is the documented encoding of the campaign's `rate`.

use super::{assert_valid, build, json, schema, scratch, BOT, CHANNEL};
use serde_json::{json, Value};

/// A copy of `value` with `change` applied to the object holding the field at a
/// `/`-separated path (and the field's key).
fn edit(
    value: &Value,
    path: &str,
    change: impl FnOnce(&mut serde_json::Map<String, Value>, &str),
) -> Value {
    let mut v = value.clone();
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
    let target = if parent.is_empty() {
        Some(&mut v)
    } else {
        v.pointer_mut(&format!("/{parent}"))
    };
    let object = target
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{path}: `{parent}` is not an object"));
    change(object, key);
    v
}

/// Removes the field at a `/`-separated path.
fn without(value: &Value, path: &str) -> Value {
    edit(value, path, |o, key| {
        assert!(o.remove(key).is_some(), "{path} is not in the payload");
    })
}

/// Sets the field at a `/`-separated path.
fn with(value: &Value, path: &str, new: Value) -> Value {
    edit(value, path, |o, key| {
        o.insert(key.to_string(), new);
    })
}

fn assert_rejected(schema: &jsonschema::JSONSchema, value: &Value, rule: &str) {
    assert!(
        !schema.is_valid(value),
        "the schema accepts a payload that breaks: {rule}\n{value:#}"
    );
}

fn robocall_task() -> Value {
    let (run, dir) = build(
        "examples/robocall.ivr",
        "twin24",
        &["--twin24-transfer-channel", CHANNEL],
        "rules-twin24",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    json(&dir, "visit_reminder.task.json")
}

#[test]
fn twin24_task_rules_each_reject_a_payload_that_breaks_them() {
    let schema = schema("twin24.autocall.schema.json");
    let task = robocall_task();
    assert_valid(&schema, &task, "the robocall task");
    for field in [
        "name",
        "defaultExec",
        "defaultExecData",
        "secondExec",
        "cidType",
        "startType",
        "cps",
        "additionalOptions",
        "redialStrategyOptions",
        "additionalOptions/fullListMethod",
        "additionalOptions/fullListTime",
        "additionalOptions/recordCall",
        "redialStrategyOptions/redialStrategyEn",
        "redialStrategyOptions/busy",
        "redialStrategyOptions/noAnswer",
        "redialStrategyOptions/answerMash",
        "redialStrategyOptions/congestion",
        "redialStrategyOptions/answerNoList",
        "redialStrategyOptions/busy/redial",
    ] {
        assert_rejected(
            &schema,
            &without(&task, field),
            &format!("{field} is required"),
        );
    }
    let conditional = [
        (
            "secondExec = ch needs secondExecData",
            without(&task, "secondExecData"),
        ),
        (
            "cidType = gornum needs cidData",
            with(&task, "cidType", json!("gornum")),
        ),
        (
            "cidType = pool needs cidData",
            with(&task, "cidType", json!("pool")),
        ),
        (
            "startType = time needs startMoment",
            with(&task, "startType", json!("time")),
        ),
        (
            "useTr needs allowCallTimeFrom",
            without(&task, "additionalOptions/allowCallTimeFrom"),
        ),
        (
            "useTr needs allowCallTimeTo",
            without(&task, "additionalOptions/allowCallTimeTo"),
        ),
        (
            "recordCall needs recTrimLeft",
            without(&task, "additionalOptions/recTrimLeft"),
        ),
        (
            "detectRobot needs detectRobotMode",
            without(&task, "additionalOptions/detectRobotMode"),
        ),
        (
            "a redial needs its time",
            without(&task, "redialStrategyOptions/busy/time"),
        ),
        (
            "a redial needs its count",
            without(&task, "redialStrategyOptions/busy/count"),
        ),
        (
            "defaultExec is always robot",
            with(&task, "defaultExec", json!("human")),
        ),
        (
            "fullListMethod is always reject",
            with(&task, "additionalOptions/fullListMethod", json!("accept")),
        ),
        (
            "secondExec is end, ignore or ch",
            with(&task, "secondExec", json!("transfer")),
        ),
        ("cps is below 2", with(&task, "cps", json!(2.5))),
        ("cps is above 0", with(&task, "cps", json!(0))),
        (
            "windows are seconds of a day",
            with(&task, "additionalOptions/allowCallTimeTo", json!(86_400)),
        ),
        (
            "phoneNormalization is null or RU",
            with(&task, "phoneNormalization", json!("KZ")),
        ),
        (
            "startMoment is YYYY-MM-DD HH:mm",
            with(
                &with(&task, "startType", json!("time")),
                "startMoment",
                json!("2026-12-01T09:00"),
            ),
        ),
        ("no unknown fields", with(&task, "cpsLimit", json!(1))),
    ];
    for (rule, payload) in conditional {
        assert_rejected(&schema, &payload, rule);
    }
}

#[test]
fn twin24_candidate_rules_each_reject_a_payload_that_breaks_them() {
    let schema = schema("twin24.candidates.schema.json");
    let (_, dir) = build(
        "examples/robocall.ivr",
        "twin24",
        &["--twin24-transfer-channel", CHANNEL],
        "rules-candidates",
    );
    let mut batch = json(&dir, "visit_reminder.candidates.json");
    assert_rejected(
        &schema,
        &batch,
        "autoCallId is required (the send script adds it)",
    );
    for item in batch["batch"].as_array_mut().into_iter().flatten() {
        item["autoCallId"] = json!("task-1");
    }
    assert_valid(&schema, &batch, "the robocall candidates");
    assert_rejected(&schema, &without(&batch, "batch"), "batch is required");
    assert_rejected(
        &schema,
        &without(&batch, "batch/0/phone"),
        "a candidate's phone is required",
    );
    assert_rejected(
        &schema,
        &with(&batch, "batch/0/phone", json!([])),
        "a candidate has a phone",
    );
    assert_rejected(
        &schema,
        &with(&batch, "batch/0/phone", json!(["+79161234567"])),
        "phones are digits only",
    );
}

#[test]
fn zvonobot_rules_each_reject_a_payload_that_breaks_them() {
    let call_schema = schema("zvonobot.create-call.schema.json");
    let (run, dir) = build("examples/promo.ivr", "zvonobot", &[], "rules-zvonobot");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let call = json(&dir, "promo_run.call-2.json");
    assert_rejected(
        &call_schema,
        &call,
        "apiKey is required (the send script adds it)",
    );
    let call = with(&call, "apiKey", json!("k"));
    assert_valid(&call_schema, &call, "the promo call");
    let cases = [
        ("phone or phones is required", without(&call, "phone")),
        (
            "phones have 11 or more digits",
            with(&call, "phone", json!("9001234567")),
        ),
        (
            "phones are digits only",
            with(&call, "phone", json!("+79001234567")),
        ),
        (
            "an ivrs item needs its digit",
            without(&call, "ivrs/0/digit"),
        ),
        ("digits are 0 to 9", with(&call, "ivrs/0/digit", json!(10))),
        (
            "an ivrs item has one action",
            with(&call, "ivrs/0/smsText", json!("и ещё")),
        ),
        (
            "an ivrs item has an action",
            without(&call, "ivrs/0/record"),
        ),
        ("needBlock is 1", with(&call, "ivrs/3/needBlock", json!(0))),
        (
            "a text record needs its gender",
            with(&call, "record", json!({ "text": "Здравствуйте" })),
        ),
        (
            "gender is 0 or 1",
            with(
                &call,
                "record",
                json!({ "text": "Здравствуйте", "gender": 2 }),
            ),
        ),
        (
            "at most ten ivrs items",
            with(
                &call,
                "ivrs",
                json!(vec![json!({ "digit": 1, "needBlock": 1 }); 11]),
            ),
        ),
        (
            "no unknown fields",
            with(&call, "webhook", json!("https://crm.example")),
        ),
    ];
    for (rule, payload) in cases {
        assert_rejected(&call_schema, &payload, rule);
    }

    let salebot_schema = schema("salebot.zvonobot-calls.schema.json");
    let salebot = json(&dir, "promo_run.salebot.json");
    assert_valid(&salebot_schema, &salebot, "the promo Salebot calls");
    let cases = [
        (
            "zvonobot_digits_call needs its payload",
            without(&salebot, "0/payload"),
        ),
        (
            "zvonobot_call takes no payload",
            with(&salebot, "0/function", json!("zvonobot_call")),
        ),
        ("record_id is required", without(&salebot, "0/record_id")),
        (
            "client_phone is required",
            without(&salebot, "0/client_phone"),
        ),
        (
            "a payload entry has one action",
            with(&salebot, "0/payload/0/smsText", json!("и ещё")),
        ),
        (
            "needBlock is \"1\"",
            with(&salebot, "0/payload/3/needBlock", json!(1)),
        ),
        (
            "at most ten payload entries",
            with(&salebot, "0/payload", json!(vec![json!({}); 11])),
        ),
    ];
    for (rule, payload) in cases {
        assert_rejected(&salebot_schema, &payload, rule);
    }
}

/// Builds a one-campaign Twin24 file with `rate` and returns the task's cps, or the
/// diagnostics.
fn cps_of(rate: &str) -> Result<Value, String> {
    let dir = scratch(&format!("cps-{}", rate.replace('/', "per")));
    std::fs::write(dir.join("leads.csv"), "name;phone\nАнна;+79001234567\n").expect("leads");
    let file = dir.join("rate.ivr");
    std::fs::write(
        &file,
        format!("campaign c for f {{\n  leads \"leads.csv\"\n  dial phone\n  rate {rate}\n}}\n\nflow f(name: text, phone: phone) {{\n  say \"Здравствуйте, {{{{name}}}}!\"\n}}\n"),
    )
    .expect("flow");
    let out = dir.join("out");
    let run = super::common::ivrc(&[
        "build",
        &file.display().to_string(),
        "--target",
        "twin24",
        "--twin24-bot",
        BOT,
        "-o",
        &out.display().to_string(),
    ]);
    if run.code == 0 {
        Ok(json(&out, "c.task.json")["cps"].clone())
    } else {
        Err(run.stderr)
    }
}

#[test]
fn cps_is_the_documented_encoding_of_the_rate_at_its_edges() {
    for (rate, cps) in [
        ("1/s", json!(1.01)),
        ("3/s", json!(1.03)),
        ("99/s", json!(1.99)),
        ("1/2s", json!(0.98)),
        ("1/60s", json!(0.4)),
        ("1/99s", json!(0.01)),
        ("20/m", json!(0.97)),
        ("120/m", json!(1.02)),
    ] {
        assert_eq!(cps_of(rate), Ok(cps), "rate {rate}");
    }
    for (rate, why) in [
        ("100/s", "at most 99 calls a second, this rate is 100"),
        (
            "1/100s",
            "at most one call every 99 seconds, this rate is one every 100",
        ),
        ("2/5s", "N calls a second or one call every N seconds"),
        ("3/2s", "N calls a second or one call every N seconds"),
    ] {
        let err = cps_of(rate).expect_err(rate);
        assert!(
            err.contains("this `rate` is not supported by the twin24 target"),
            "{rate}: {err}"
        );
        assert!(
            err.replace('\n', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(why),
            "{rate}: {err}"
        );
    }
}

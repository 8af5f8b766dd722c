//! What the `--twin24-*` and `--zvonobot-*` options and the flow's own settings change in the
//! payloads, each result still satisfying its schema; and the warnings a build gives
//! (a text record too short for moderation, `lines` Twin24 does not take).

use super::common::ivrc;
use super::{assert_valid, json, schema, scratch, BOT};
use std::path::PathBuf;

const LEADS: &str = "name;phone\nАнна;+79001234567\nПётр;8 (900) 765-43-21\n";

/// Writes `source` with a leads file into a scratch dir and builds it; returns the run and
/// the output dir.
fn build_source(name: &str, source: &str, args: &[&str]) -> (super::Run, PathBuf) {
    let dir = scratch(name);
    std::fs::write(dir.join("leads.csv"), LEADS).expect("leads");
    let file = dir.join("flow.ivr");
    std::fs::write(&file, source).expect("flow");
    let out = dir.join("out");
    let file = file.display().to_string();
    let out_arg = out.display().to_string();
    let mut all = vec!["build", file.as_str(), "-o", out_arg.as_str()];
    all.extend(args);
    (ivrc(&all), out)
}

const SPOKEN: &str = r#"campaign spoken for f {
  leads "leads.csv"
  dial phone
  normalize ru
}

flow f(name: text, phone: phone) {
  voice male
  caller_id +74950000002
  say "Здравствуйте, {{name}}! Магазин «Ромашка» дарит вам скидку двадцать процентов на все товары до конца недели."
  menu {
    prompt "Нажмите 1, чтобы получить ссылку в СМС, или 2, чтобы поговорить с менеджером."
    timeout 10s; retries 0
    on "1" -> sms "{{name}}, ваша ссылка: https://example.ru/sale"
    on "2" -> transfer +74242490764
    on timeout | invalid -> hangup
  }
}
"#;

#[test]
fn a_text_record_joins_the_prompt_speaks_each_lead_and_has_the_flow_voice() {
    let (run, out) = build_source("zvonobot-spoken", SPOKEN, &["--target", "zvonobot"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let call = json(&out, "spoken.call-3.json");
    assert_eq!(
        call["record"]["text"],
        "Здравствуйте, Пётр! Магазин «Ромашка» дарит вам скидку двадцать процентов на все товары до конца недели. Нажмите 1, чтобы получить ссылку в СМС, или 2, чтобы поговорить с менеджером."
    );
    assert_eq!(
        call["record"]["gender"], 0,
        "male with the default mapping (female = 1)"
    );
    assert_eq!(call["phone"], "79007654321");
    assert_eq!(
        call["ivrs"][0]["smsText"],
        "Пётр, ваша ссылка: https://example.ru/sale"
    );
    assert_eq!(call["ivrs"][1]["managerPhone"], "74242490764");
    let mut sent = call.clone();
    sent["apiKey"] = "k".into();
    assert_valid(
        &schema("zvonobot.create-call.schema.json"),
        &sent,
        "a text call",
    );
    // Salebot takes record ids only: no Salebot file, and a warning that says so
    assert!(!out.join("spoken.salebot.json").exists());
    assert!(
        run.stderr.contains("gets no Salebot form"),
        "{}",
        run.stderr
    );

    let (run, out) = build_source(
        "zvonobot-spoken-options",
        SPOKEN,
        &[
            "--target",
            "zvonobot",
            "--zvonobot-female-gender",
            "0",
            "--zvonobot-transfer-key",
            "dutyPhone",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let call = json(&out, "spoken.call-2.json");
    assert_eq!(call["record"]["gender"], 1, "male when female = 0");
    assert_eq!(call["ivrs"][1]["dutyPhone"], "74242490764");
    assert!(call["ivrs"][1].get("managerPhone").is_none());
}

#[test]
fn leads_with_the_same_call_share_one_request_with_a_phones_list_when_asked() {
    let source = SPOKEN
        .replace("{{name}}", "друг")
        .replace("Здравствуйте, друг!", "Здравствуйте!");
    let (run, out) = build_source(
        "zvonobot-phones",
        &source,
        &["--target", "zvonobot", "--zvonobot-phones-list"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut call = json(&out, "spoken.call-2.json");
    assert_eq!(
        call["phones"],
        serde_json::json!(["79001234567", "79007654321"])
    );
    assert!(!out.join("spoken.call-3.json").exists());
    call["apiKey"] = "k".into();
    assert_valid(
        &schema("zvonobot.create-call.schema.json"),
        &call,
        "a phones call",
    );
}

#[test]
fn a_short_text_record_is_warned_about_and_the_warning_can_be_denied() {
    let source = SPOKEN.replace(
        "Здравствуйте, {{name}}! Магазин «Ромашка» дарит вам скидку двадцать процентов на все товары до конца недели.",
        "Скидка!",
    ).replace(
        "Нажмите 1, чтобы получить ссылку в СМС, или 2, чтобы поговорить с менеджером.",
        "Нажмите 1.",
    );
    let (run, _) = build_source("zvonobot-short", &source, &["--target", "zvonobot"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("the text record: reads in about 2 s"),
        "{}",
        run.stderr
    );
    let (run, out) = build_source(
        "zvonobot-short-deny",
        &source,
        &["--target", "zvonobot", "--deny-warnings"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!out.exists(), "nothing is written when warnings are denied");
}

const TASK: &str = r#"campaign reminder for f {
  leads "leads.csv"
  dial phone
  normalize ru else skip
  rate 1/60s
  lines 3
  attempts 2
  retry_after 90s
  timezone "+07:00"
  window 08:00-24:00
}

flow f(name: text, phone: phone) {
  say "Здравствуйте, {{name}}!"
}
"#;

#[test]
fn twin24_options_fill_the_account_fields() {
    let (run, out) = build_source(
        "twin24-options",
        TASK,
        &[
            "--target",
            "twin24",
            "--twin24-bot",
            BOT,
            "--twin24-caller-id",
            "pool:77",
            "--twin24-start",
            "2026-12-01 09:30",
            "--twin24-provider",
            "trunk-1",
            "--twin24-effective-after",
            "20",
            "--twin24-candidate-limit-number",
            "--twin24-normalization-error-action",
            "skip",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("`lines`: is not sent"),
        "{}",
        run.stderr
    );
    let task = json(&out, "reminder.task.json");
    assert_valid(&schema("twin24.autocall.schema.json"), &task, "the task");
    assert_eq!(
        (task["cidType"].as_str(), task["cidData"].as_str()),
        (Some("pool"), Some("77"))
    );
    assert_eq!(
        (task["startType"].as_str(), task["startMoment"].as_str()),
        (Some("time"), Some("2026-12-01 09:30"))
    );
    assert_eq!(task["cps"], 0.4);
    assert_eq!(
        (
            task["phoneNormalization"].as_str(),
            task["normalizationErrorAction"].as_str()
        ),
        (Some("RU"), Some("skip"))
    );
    assert_eq!(task["secondExec"], "end", "the flow never transfers");
    let options = &task["additionalOptions"];
    assert_eq!(options["providerId"], "trunk-1");
    assert_eq!(options["fullListTime"], 20);
    assert_eq!(
        (
            options["allowCallTimeFrom"].as_u64(),
            options["allowCallTimeTo"].as_u64()
        ),
        (Some(28_800), Some(86_399))
    );
    let rules = &task["redialStrategyOptions"];
    assert_eq!(rules["candidateLimit"], 2);
    assert_eq!(
        rules["busy"],
        serde_json::json!({ "redial": true, "time": 90, "count": 1 }),
        "attempts and retry_after without a rule"
    );
    let mut batch = json(&out, "reminder.candidates.json");
    assert_eq!(batch["batch"][0]["timezone"], 25_200, "UTC+7 in seconds");
    assert_eq!(batch["batch"][1]["phone"][0], "79007654321");
    for item in batch["batch"].as_array_mut().into_iter().flatten() {
        item["autoCallId"] = "t".into();
    }
    assert_valid(
        &schema("twin24.candidates.schema.json"),
        &batch,
        "the batch",
    );
}

#[test]
fn twin24_needs_its_bot_and_checks_its_options() {
    let (run, _) = build_source("twin24-no-bot", TASK, &["--target", "twin24"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--twin24-bot"), "{}", run.stderr);
    for (option, value) in [
        ("--twin24-start", "2026-12-01T09:30"),
        ("--twin24-start", "2026-02-30 25:00"),
        ("--twin24-caller-id", "+74950000002"),
        ("--zvonobot-female-gender", "2"),
    ] {
        let (run, _) = build_source(
            "twin24-bad-option",
            TASK,
            &["--target", "twin24", "--twin24-bot", BOT, option, value],
        );
        assert_eq!(run.code, 2, "{option} {value}: {}", run.stderr);
        assert!(run.stderr.contains(option), "{option}: {}", run.stderr);
    }
}

//! Property tests for `ivrc::phone`: normalization of the Russian forms,
//! the E.164 round trip, and totality on arbitrary text.

use ivrc::phone::{normalize, parse_e164, zvonobot_format, Normalization, PhoneError};
use proptest::prelude::*;

/// Ten national digits of a Russian number.
fn national() -> impl Strategy<Value = String> {
    "[0-9]{10}"
}

/// Inserts separators (from the allowed set) before some characters of
/// `text`, keeping a leading `+` first.
fn with_separators(text: &str, seps: &[(bool, String)]) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if let Some((true, sep)) = seps.get(i) {
            if c != '+' {
                out.push_str(sep);
            }
        }
        out.push(c);
    }
    if let Some((true, sep)) = seps.get(text.len()) {
        out.push_str(sep);
    }
    out
}

/// Up to 16 optional separator runs.
fn separators() -> impl Strategy<Value = Vec<(bool, String)>> {
    prop::collection::vec((any::<bool>(), "[ \\-().\t\u{a0}]{1,3}"), 16)
}

/// A strictly valid E.164 number (honouring the +7 length rule).
fn valid_e164() -> impl Strategy<Value = String> {
    prop_oneof!["\\+7[0-9]{10}", "\\+[1-689][0-9]{7,14}"]
}

proptest! {
    #[test]
    fn ru_accepts_every_form(d in national(), prefix in prop_oneof![
        Just(""), Just("8"), Just("+7"), Just("7"),
    ]) {
        let phone = normalize(&format!("{prefix}{d}"), Normalization::Ru);
        prop_assert_eq!(phone.map(String::from), Ok(format!("+7{d}")));
    }

    #[test]
    fn ru_ignores_separators(d in national(), prefix in prop_oneof![
        Just(""), Just("8"), Just("+7"), Just("7"),
    ], seps in separators(), lead in "[ \t]{0,2}") {
        let text = format!("{lead}{}", with_separators(&format!("{prefix}{d}"), &seps));
        let phone = normalize(&text, Normalization::Ru);
        prop_assert_eq!(phone.map(String::from), Ok(format!("+7{d}")), "input {:?}", text);
    }

    #[test]
    fn e164_ignores_separators(p in valid_e164(), seps in separators()) {
        let text = with_separators(&p, &seps);
        let phone = normalize(&text, Normalization::E164);
        prop_assert_eq!(phone.map(String::from), Ok(p), "input {:?}", text);
    }

    #[test]
    fn parse_round_trips(p in valid_e164()) {
        let phone = parse_e164(&p);
        prop_assert!(phone.is_ok(), "{:?}", phone);
        if let Ok(phone) = phone {
            prop_assert_eq!(phone.e164(), p.as_str());
            prop_assert_eq!(parse_e164(phone.e164()), Ok(phone.clone()));
            prop_assert_eq!(phone.to_string(), p);
        }
    }

    #[test]
    fn digits_is_e164_without_plus(text in "[+0-9 ()-]{0,20}") {
        for how in [Normalization::E164, Normalization::Ru] {
            if let Ok(phone) = normalize(&text, how) {
                prop_assert_eq!(phone.e164().strip_prefix('+'), Some(phone.digits()));
                prop_assert!(phone.digits().bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(parse_e164(phone.e164()), Ok(phone.clone()));
                let zvonobot = zvonobot_format(&phone);
                if phone.digits().len() >= 11 {
                    prop_assert_eq!(zvonobot, Ok(phone.digits().to_owned()));
                } else {
                    prop_assert_eq!(zvonobot, Err(PhoneError::BadLength(phone.digits().len())));
                }
            }
        }
    }

    #[test]
    fn never_panics_on_any_text(text in any::<String>()) {
        for how in [Normalization::E164, Normalization::Ru] {
            if let Ok(phone) = normalize(&text, how) {
                prop_assert_eq!(parse_e164(phone.e164()), Ok(phone.clone()));
            }
        }
        if let Ok(phone) = parse_e164(&text) {
            prop_assert_eq!(phone.e164(), text.as_str());
        }
    }

    #[test]
    fn ru_results_are_always_plus_seven(text in "[+0-9 ]{0,16}") {
        if let Ok(phone) = normalize(&text, Normalization::Ru) {
            prop_assert!(phone.country_code_is_7());
            prop_assert_eq!(phone.digits().len(), 11);
        }
    }
}

/// The table of cases the generated VoxEngine scenarios run too (tests/voximplant.rs): what
/// people write, normalized or refused with the same words.
#[test]
fn the_shared_table_of_cases_holds() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/phones/normalize.json"
    );
    let table: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the table")).expect("JSON");
    assert!(table.len() >= 30, "the table has {} cases", table.len());
    for case in &table {
        let text = case["text"].as_str().expect("text");
        let how = match case["normalize"].as_str() {
            Some("ru") => Normalization::Ru,
            Some("e164") => Normalization::E164,
            other => panic!("unknown normalization {other:?}"),
        };
        let got = match normalize(text, how) {
            Ok(phone) => serde_json::json!({ "phone": phone.e164() }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        let mut want = case.clone();
        if let Some(o) = want.as_object_mut() {
            o.remove("text");
            o.remove("normalize");
        }
        assert_eq!(got, want, "{text:?} under {how:?}");
    }
}

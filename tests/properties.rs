//! Properties over generated programs: valid programs check clean, and their IR survives
//! JSON → IR → JSON unchanged; arbitrary text never panics the front end.

mod common;

use common::generate::program;
use proptest::prelude::*;

fn compile(text: &str) -> (Vec<String>, Option<ivrc::ir::Program>) {
    let c = ivrc::compile("p.ivr", text);
    let errors = c
        .syntax_errors
        .iter()
        .map(|e| format!("{e:?}"))
        .chain(
            c.diagnostics
                .iter()
                .filter(|d| !d.is_warning())
                .map(|d| format!("{:?}", d.error)),
        )
        .collect();
    (errors, c.program)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn generated_programs_check_clean_and_round_trip(tape in proptest::collection::vec(any::<u8>(), 0..80)) {
        let text = program(&tape);
        let (errors, ir) = compile(&text);
        prop_assert!(errors.is_empty(), "errors in\n{}\n{:#?}", text, errors);
        let ir = ir.expect("a program without errors lowers");
        let json = serde_json::to_string(&ir).expect("serializes");
        let back: ivrc::ir::Program = serde_json::from_str(&json).expect("deserializes");
        prop_assert_eq!(&back, &ir);
        prop_assert_eq!(serde_json::to_string(&back).expect("serializes"), json);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = compile(&text);
    }

    #[test]
    fn mutated_programs_never_panic(tape in proptest::collection::vec(any::<u8>(), 0..40), cut in 0usize..2000, junk in "[{}()\"#:;|>\\-a-z0-9 \n]{0,8}") {
        let mut text = program(&tape);
        let at = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &junk);
        let _ = compile(&text);
    }
}

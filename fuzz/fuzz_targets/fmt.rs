//! Fuzz target: any bytes through `ivrc fmt`'s formatter. Must never panic; text it formats
//! must parse again, format to itself (idempotent), keep its comments in order, and check to
//! the same diagnostics.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The `//` comments of a text that parses (the formatter's own view: between tokens).
fn comments(text: &str) -> Vec<String> {
    text.split(['\n', '\r'])
        .filter_map(|l| l.find("//").map(|i| l[i..].trim_end().to_string()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = ivrc::syntax::decode_source(ivrc::span::FileId(0), data.to_vec()) else { return };
    let Ok(formatted) = ivrc::fmt::format_source(&text) else { return };
    let again = ivrc::fmt::format_source(&formatted).expect("formatted text parses");
    assert_eq!(again, formatted, "not idempotent");
    // Strings may hold `//`, so only texts without quotes compare comments line by line.
    if !text.contains('"') {
        assert_eq!(comments(&formatted), comments(&text), "comments changed");
    }
    let codes = |t: &str| {
        let c = ivrc::compile("fuzz.ivr", t);
        let mut codes: Vec<String> = c
            .diagnostics
            .iter()
            .map(|d| format!("{:?}", std::mem::discriminant(&d.error)))
            .collect();
        codes.sort();
        (c.syntax_errors.len(), codes, c.program.is_some())
    };
    assert_eq!(codes(&formatted), codes(&text), "checks differently");
});

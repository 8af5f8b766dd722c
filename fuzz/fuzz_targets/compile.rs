//! Fuzz target: any bytes through decode, parse, check and (when clean) lower and
//! serialize. Must never panic, overflow the stack or hang.

#![no_main]

use ivrc::span::{FileId, Sources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = ivrc::syntax::decode_source(FileId(0), data.to_vec()) else {
        return;
    };
    let mut sources = Sources::new();
    let id = sources.add("fuzz.ivr", text.as_str());
    let (module, errors) = ivrc::syntax::parse(id, &text);
    if !errors.is_empty() {
        return;
    }
    let modules = vec![(id, &module)];
    let (analysis, diags) = ivrc::check::check(&modules, &Default::default());
    if diags.iter().any(|d| !d.is_warning()) {
        return;
    }
    let program = ivrc::lower::lower(&sources, &modules, &analysis);
    let json = serde_json::to_string(&program).expect("IR serializes");
    let back: ivrc::ir::Program = serde_json::from_str(&json).expect("IR deserializes");
    assert_eq!(back, program);
});

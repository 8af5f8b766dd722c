//! Import rules of ARCHITECTURE.md, checked over the source text: rsip only in
//! `runtime/sip/message.rs`; rusqlite and postgres only in `store/`; code generation targets never import
//! each other; the language server touches no file or standard stream itself; the pure
//! modules do no I/O and read no clock; the runtime's SIP layer imports nothing from the rest
//! of the runtime; the language server and `load` never reach `lower`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            (rel, text)
        })
        .collect()
}

#[test]
fn only_the_sip_message_module_uses_rsip() {
    let users: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains("rsip::"))
        .map(|(path, _)| path)
        .collect();
    assert_eq!(users, ["src/runtime/sip/message.rs"]);
}

#[test]
fn only_the_store_uses_rusqlite_and_postgres() {
    // Another database can then stand behind the store's types and one error type, and the
    // blocking PostgreSQL client stays on the store's own threads.
    for client in ["rusqlite", "postgres::"] {
        let users: Vec<String> = sources()
            .into_iter()
            .filter(|(_, text)| text.contains(client))
            .map(|(path, _)| path)
            .filter(|path| !path.starts_with("src/store/"))
            .collect();
        assert!(users.is_empty(), "{client} outside src/store/: {users:?}");
    }
}

#[test]
fn targets_do_not_import_each_other() {
    let targets = ["voximplant", "twiml", "zvonobot", "twin24"];
    for (path, text) in sources() {
        let Some(own) = targets
            .iter()
            .find(|t| path.starts_with(&format!("src/codegen/{t}")))
        else {
            continue;
        };
        for other in targets.iter().filter(|t| *t != own) {
            assert!(
                !text.contains(&format!("codegen::{other}")),
                "{path} imports the {other} target"
            );
        }
    }
}

#[test]
fn the_sip_runtime_does_not_use_the_webhook_server() {
    for (path, text) in sources() {
        if path.starts_with("src/runtime/") {
            assert!(
                !text.contains("serve::"),
                "{path} reaches into the webhook server"
            );
        }
    }
}

#[test]
fn the_language_server_does_no_io_of_its_own() {
    // It reads files through `load::Files` and speaks over the streams it is handed.
    for (path, text) in sources() {
        if path.starts_with("src/lsp/") || path == "src/load.rs" {
            for forbidden in ["std::fs", "stdin", "stdout", "stderr", "print!", "println!"] {
                assert!(!text.contains(forbidden), "{path} uses {forbidden}");
            }
        }
    }
}

/// Whether `code` names the module `lower` in a path (`crate::lower`, `lower::lower`,
/// `ivrc::lower`, `super::lower`).
fn names_lower(code: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices("lower").any(|(at, word)| {
        let before = &code[..at];
        let after = &code[at + word.len()..];
        let whole = !before.ends_with(ident) && !after.starts_with(ident);
        whole && (before.ends_with("::") || after.starts_with("::"))
    })
}

#[test]
fn the_language_server_and_load_never_reach_lower() {
    // `load` gathers a program for the binary and the editor alike; lowering to IR is the
    // binary's step after a clean check (`command/check.rs`), never the language server's.
    let mut seen = 0;
    let mut found = Vec::new();
    for (path, text) in sources() {
        if path.starts_with("src/lsp/") || path == "src/load.rs" {
            seen += 1;
            if names_lower(&without_comments_and_literals(&text)) {
                found.push(path);
            }
        }
    }
    assert!(seen > 2, "the language server was not found ({seen} files)");
    assert!(found.is_empty(), "these reach `lower`: {found:?}");
}

#[test]
fn the_lower_rule_reads_paths_only() {
    for code in [
        "use crate::lower;",
        "crate::lower::lower(s, m, a)",
        "ivrc::lower::defaults::LANG",
        "use super::super::lower::defaults;",
    ] {
        assert!(names_lower(code), "{code}");
    }
    for code in [
        "let lower = 1;",
        "s.to_lowercase()",
        "Self::lowered",
        "flower::x",
    ] {
        assert!(!names_lower(code), "{code}");
    }
}

/// The code of a Rust source as the import rules read it: comments removed, string and
/// character literals emptied, and every `#[cfg(test)]` item left out.
fn code_outside_tests(text: &str) -> String {
    let code = without_comments_and_literals(text);
    let mut out = String::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        rest = &item[item_end(item)..];
    }
    out.push_str(rest);
    out
}

/// Where the item starting `code` ends: after its first `;` outside braces, or after the `}`
/// closing its first `{`.
fn item_end(code: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in code.char_indices() {
        match c {
            ';' if depth == 0 => return i + 1,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// `text` without `//` and `/* */` comments, with the insides of string, byte string, raw
/// string and character literals dropped (lifetimes stay).
fn without_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let before = i.checked_sub(1).map(|j| chars[j]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('#' | '"'))
            && !before.is_some_and(|b| ident(b) && b != 'b')
        {
            // r"…", r#"…"#, br"…": the closing quote is followed by as many `#`.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += hashes + 2;
            while i < chars.len()
                && !(chars[i] == '"'
                    && chars[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes)
            {
                i += 1;
            }
            i += hashes + 1;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && !before.is_some_and(ident) {
            // A character literal ('x', '\n', '\u{41}'), else a lifetime or label.
            let end = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&q| q == '\'')
                    .map(|p| i + 2 + p)
            } else {
                (chars.get(i + 2) == Some(&'\'')).then_some(i + 2)
            };
            match end {
                Some(end) => {
                    out.push_str("''");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[test]
fn the_source_reader_skips_comments_literals_and_tests() {
    let text = "use a; // std::fs\n/* tokio /* nested */ */ let s = \"std::net\"; let r = r#\"tokio \" \"#;\nlet c = '{'; fn f<'a>(x: &'a str) {}\n#[cfg(test)]\nmod tests { fn g() { let _ = \"}\"; std::fs::read(\"\"); } }\n#[cfg(test)]\nuse std::process;\nfn after() {}";
    let code = code_outside_tests(text);
    for gone in [
        "std::fs",
        "tokio",
        "std::net",
        "std::process",
        "nested",
        "mod tests",
    ] {
        assert!(!code.contains(gone), "{gone} left in {code}");
    }
    for kept in [
        "use a;",
        "let c = '';",
        "fn f<'a>(x: &'a str) {}",
        "fn after() {}",
    ] {
        assert!(code.contains(kept), "{kept} lost from {code}");
    }
}

/// The modules ARCHITECTURE.md calls pure: they do no I/O and never read the clock.
const PURE: [&str; 25] = [
    "src/syntax/",
    "src/check/",
    "src/lower/",
    "src/ir.rs",
    "src/fmt/",
    "src/load.rs",
    "src/phone.rs",
    "src/leads.rs",
    "src/phrase.rs",
    "src/engine/",
    "src/sim/",
    "src/testing/",
    "src/codegen/",
    "src/serve/state.rs",
    "src/serve/voice.rs",
    "src/serve/sms.rs",
    "src/graph.rs",
    "src/speech/",
    "src/console/auth.rs",
    "src/console/delivery.rs",
    "src/console/opt_out.rs",
    "src/console/pages.rs",
    "src/console/replies.rs",
    "src/console/segments.rs",
    "src/console/talkdesk.rs",
];

/// What a module that does no I/O and reads no clock does not name.
const IMPURE: [&str; 6] = [
    "std::fs",
    "std::net",
    "std::process",
    "tokio",
    "SystemTime",
    "Instant::now",
];

/// The names a `std::{…}` group imports, with nested groups flattened.
fn std_groups(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in code.match_indices("std::{") {
        let group = &code[at + "std::".len()..];
        let end = item_end(group);
        names.extend(
            group[..end]
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_string),
        );
    }
    names
}

#[test]
fn the_pure_modules_do_no_io_and_read_no_clock() {
    let mut found = Vec::new();
    let mut seen = 0;
    for (path, text) in sources() {
        if !PURE.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        seen += 1;
        let code = code_outside_tests(&text);
        for forbidden in IMPURE {
            if code.contains(forbidden) {
                found.push(format!("{path} uses {forbidden}"));
            }
        }
        for name in std_groups(&code) {
            if matches!(name.as_str(), "fs" | "net" | "process") {
                found.push(format!("{path} imports std::{name}"));
            }
        }
    }
    assert!(seen > 16, "the pure modules were not found ({seen} files)");
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_sip_layer_imports_nothing_from_the_rest_of_the_runtime() {
    // Media, calls and the server sit on top of SIP; SIP sits on `message` alone.
    let mut seen = 0;
    for (path, text) in sources() {
        let Some(file) = path.strip_prefix("src/runtime/sip/") else {
            continue;
        };
        seen += 1;
        let code = without_comments_and_literals(&text);
        for (at, _) in code.match_indices("crate::runtime") {
            assert!(
                code[at..].starts_with("crate::runtime::sip::"),
                "{path} imports from the runtime outside sip: {}",
                code[at..].lines().next().unwrap_or_default()
            );
        }
        assert!(
            !code.contains("super::super"),
            "{path} reaches above sip with super::super"
        );
        // In `sip/mod.rs`, `super` is the runtime itself.
        assert!(
            file != "mod.rs" || !code.contains("super::"),
            "{path} reaches into the runtime with super::"
        );
    }
    assert!(seen >= 9, "the sip modules were not found ({seen} files)");
}

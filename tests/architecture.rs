//! Import rules of ARCHITECTURE.md, checked over the source text: rsip only in
//! `runtime/sip/message.rs`; rusqlite only in `store/`; code generation targets never import
//! each other; the language server touches no file or standard stream itself.

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
fn only_the_store_uses_rusqlite() {
    // Another database can then stand behind the store's types and one error type.
    let users: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains("rusqlite"))
        .map(|(path, _)| path)
        .filter(|path| !path.starts_with("src/store/"))
        .collect();
    assert!(users.is_empty(), "rusqlite outside src/store/: {users:?}");
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

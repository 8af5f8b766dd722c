//! The served TwiML checked against the official `twilio` npm package (pinned in
//! tests/js/package-lock.json): each document is rebuilt with its VoiceResponse /
//! MessagingResponse builders in TypeScript, type-checked by tsc against the package's typings
//! (unknown attributes and wrong value types fail; voices and languages are checked against
//! its enums), run by node, and what the library writes must equal what the server wrote.

use std::process::Command;

/// Rebuilds each served document with the official `twilio` npm package's VoiceResponse /
/// MessagingResponse builders in TypeScript: tsc type-checks every verb's attributes and
/// values against the library's typings, node runs the builders, and each document the
/// library writes must be the one the server wrote (as parsed XML).
pub fn same_as_the_twilio_library(docs: &[String], name: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("tests/js/node_modules");
    let tsc = modules.join(".bin/tsc");
    assert!(
        modules.join("twilio").exists() && tsc.exists(),
        "the twilio npm package or TypeScript is missing; run scripts/setup.sh"
    );
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("twilio-typings-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut ts = String::from(
        "import VoiceResponse = require(\"twilio/lib/twiml/VoiceResponse\");\nimport MessagingResponse = require(\"twilio/lib/twiml/MessagingResponse\");\nconst docs: string[] = [];\n",
    );
    let mut n = 0;
    for doc in docs {
        let parsed = roxmltree::Document::parse(doc).expect("XML");
        let messaging = parsed.descendants().any(|e| e.has_tag_name("Message"));
        ts.push_str(&format!(
            "{{\n  const r0 = new {}();\n",
            if messaging {
                "MessagingResponse"
            } else {
                "VoiceResponse"
            }
        ));
        for child in parsed.root_element().children().filter(|c| c.is_element()) {
            builder_calls(child, "r0", &mut n, &mut ts);
        }
        ts.push_str("  docs.push(r0.toString());\n}\n");
    }
    ts.push_str("console.log(JSON.stringify(docs));\n");
    std::fs::write(dir.join("docs.ts"), ts).expect("written");
    let config = serde_json::json!({
        "compilerOptions": {
            "strict": true, "module": "commonjs", "target": "ES2020", "lib": ["ES2020", "DOM"],
            "types": [], "skipLibCheck": true, "outDir": "out", "baseUrl": ".",
            "paths": { "twilio/*": [modules.join("twilio").join("*")] }
        },
        "files": ["docs.ts"],
    });
    std::fs::write(dir.join("tsconfig.json"), config.to_string()).expect("written");
    let checked = Command::new("node")
        .arg(&tsc)
        .arg("-p")
        .arg(&dir)
        .output()
        .expect("tsc runs");
    assert!(
        checked.status.success(),
        "the served TwiML does not type-check against the twilio library:\n{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let ran = Command::new("node")
        .arg(dir.join("out/docs.js"))
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let theirs: Vec<String> = serde_json::from_slice(&ran.stdout).expect("JSON from node");
    assert_eq!(theirs.len(), docs.len());
    for (ours, theirs) in docs.iter().zip(&theirs) {
        let a = roxmltree::Document::parse(ours).expect("ours");
        let b = roxmltree::Document::parse(theirs).expect("theirs");
        assert_eq!(
            tree(a.root_element()),
            tree(b.root_element()),
            "ours: {ours}\ntheirs: {theirs}"
        );
    }
}

/// An element as a comparable value: name, sorted attributes, text, children.
pub fn tree(e: roxmltree::Node) -> String {
    let mut attrs: Vec<String> = e
        .attributes()
        .map(|a| format!("{}={:?}", a.name(), a.value()))
        .collect();
    attrs.sort();
    let text = e
        .text()
        .filter(|_| !e.children().any(|c| c.is_element()))
        .unwrap_or_default();
    let children: Vec<String> = e.children().filter(|c| c.is_element()).map(tree).collect();
    format!(
        "<{} {}>{text:?}[{}]",
        e.tag_name().name(),
        attrs.join(" "),
        children.join(",")
    )
}

/// The builder calls that make element `e` under the builder variable `parent`.
fn builder_calls(e: roxmltree::Node, parent: &str, n: &mut usize, ts: &mut String) {
    let name = e.tag_name().name();
    let method = format!("{}{}", name[..1].to_lowercase(), &name[1..]);
    let attrs: Vec<String> = e
        .attributes()
        .map(|a| {
            let value = match a.name() {
                "numDigits" | "timeout" | "length" | "maxLength" => a.value().to_string(),
                "playBeep" => a.value().to_string(),
                "input" => format!(
                    "[{}]",
                    a.value()
                        .split(' ')
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => serde_json::to_string(a.value()).expect("a JS string"),
            };
            format!("{}: {value}", a.name())
        })
        .collect();
    let attrs = format!("{{ {} }}", attrs.join(", "));
    let children: Vec<roxmltree::Node> = e.children().filter(|c| c.is_element()).collect();
    let text = e
        .text()
        .filter(|_| children.is_empty())
        .map(|t| serde_json::to_string(t).expect("a JS string"));
    let call = match (name, &text) {
        ("Hangup", _) => format!("{parent}.hangup()"),
        (_, Some(t)) => format!("{parent}.{method}({attrs}, {t})"),
        (_, None) => format!("{parent}.{method}({attrs})"),
    };
    if children.is_empty() {
        ts.push_str(&format!("  {call};\n"));
    } else {
        *n += 1;
        let var = format!("v{n}");
        ts.push_str(&format!("  const {var} = {call};\n"));
        for c in children {
            builder_calls(c, &var, n, ts);
        }
    }
}

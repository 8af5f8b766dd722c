//! `ivrc graph` on every example: DOT and Mermaid snapshots (reviewed by eye), and the SVG
//! Graphviz draws from the DOT parses as SVG. Graphviz comes from scripts/setup.sh; without
//! it the SVG test fails under CI and is skipped with a message elsewhere.

use std::process::Command;

fn examples() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
        .expect("examples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "ivr") && !p.to_string_lossy().ends_with(".test.ivr")
        })
        .collect();
    files.sort();
    files
}

fn graph(file: &std::path::Path, format: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["graph", "--format", format])
        .arg(file)
        .output()
        .expect("ivrc graph runs")
}

#[test]
fn every_example_as_dot_and_mermaid() {
    for file in examples() {
        let name = file
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        for format in ["dot", "mermaid"] {
            let out = graph(&file, format);
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            insta::assert_snapshot!(
                format!("{name}.{format}"),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn svg_is_drawn_by_graphviz_for_every_example() {
    if Command::new("dot").arg("-V").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "Graphviz dot is required under CI; run scripts/setup.sh"
        );
        eprintln!("skipped: Graphviz dot is not installed (scripts/setup.sh installs it)");
        return;
    }
    for file in examples() {
        let out = graph(&file, "svg");
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("UTF-8 SVG");
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc =
            roxmltree::Document::parse_with_options(&text, options).expect("the SVG parses as XML");
        assert_eq!(
            doc.root_element().tag_name().name(),
            "svg",
            "{}",
            file.display()
        );
        let shapes = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("node"))
            .count();
        assert!(shapes >= 3, "{}: {shapes} nodes drawn", file.display());
    }
}

#[test]
fn a_missing_flow_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_ivrc"))
        .args(["graph", "examples/sum.ivr", "--flow", "nope"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ivrc graph runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no flow `nope`"));
}

//! The platforms' text limits, checked by `ivrc build --target …`: one snapshot per target of
//! each file in tests/fixtures/limits, and the limits' edges.

mod common;

use common::{ivrc, rel};

/// The targets that have documented limits on texts.
const TARGETS: &[&str] = &["voximplant", "twiml"];

#[test]
fn texts_over_a_limit_are_refused_with_the_target_and_its_source() {
    insta::glob!("fixtures/limits/*.ivr", |path| {
        let file = rel(path);
        let check = ivrc(&["check", &file]);
        assert_eq!(check.code, 0, "{file} checks clean:\n{}", check.stderr);
        for target in TARGETS {
            let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join("text_limits")
                .join(target);
            let run = ivrc(&[
                "build",
                &file,
                "--target",
                target,
                "-o",
                &out.display().to_string(),
            ]);
            assert_eq!(run.code, 1, "{file} for {target}:\n{}", run.stderr);
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            insta::assert_snapshot!(
                format!("{stem}_{target}"),
                format!("exit: {}\n{}", run.code, run.stderr)
            );
        }
    });
}

#[test]
fn a_text_at_the_limit_builds() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("text_limits");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let flow = |n: usize| {
        format!(
            "flow f {{\n  lang ru-RU\n  answer\n  say \"{}\"\n  hangup\n}}\n",
            "а".repeat(n)
        )
    };
    for (n, code) in [(1500, 0), (1501, 1)] {
        let path = dir.join(format!("say_{n}.ivr"));
        std::fs::write(&path, flow(n)).expect("scratch file");
        let run = ivrc(&[
            "build",
            &path.display().to_string(),
            "--target",
            "voximplant",
            "-o",
            &dir.join(format!("out_{n}")).display().to_string(),
        ]);
        assert_eq!(run.code, code, "{n} characters:\n{}", run.stderr);
        assert_eq!(
            run.stderr.contains("ivrc::codegen::text_too_long"),
            code == 1,
            "{}",
            run.stderr
        );
    }
}

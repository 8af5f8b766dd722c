//! `ivrc build`: check a file and emit it for a target.

use super::check::{analyse, lower};
use super::load::load_or_exit;
use super::report::Printer;
use crate::cli::{BuildArgs, Target};
use ivrc::codegen::{Artifact, Generated};
use std::path::Path;

/// Runs `ivrc build`.
pub fn run(args: &BuildArgs) -> u8 {
    let loaded = match load_or_exit(&args.file) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (analysis, problems) = analyse(&loaded);
    let mut printer = Printer::new(args.format);
    printer.add(&loaded.sources, problems);
    let failed = printer.counts.errors > 0 || (args.deny_warnings && printer.counts.warnings > 0);
    let Some(analysis) = analysis.filter(|_| !failed) else {
        printer.finish();
        return 1;
    };
    let program = lower(&loaded, &analysis);
    if let Some(target) = limited_target(args.target) {
        let too_long = ivrc::codegen::limits::check(&program, target);
        for t in &too_long {
            printer.add_in(&loaded.sources, &t.span.file, Box::new(t.diagnostic()));
        }
        if !too_long.is_empty() {
            printer.finish();
            return 1;
        }
    }
    let artifacts = match args.target {
        Target::Ir => match serde_json::to_string_pretty(&program) {
            Ok(t) => {
                printer.finish();
                return write_one(args.output.as_deref(), t + "\n");
            }
            Err(e) => {
                ivrc::errln!("error: cannot serialize the IR: {e}");
                return 2;
            }
        },
        Target::Voximplant => ivrc::codegen::voximplant::generate(&program),
        Target::Twiml => {
            let built = ivrc::codegen::twiml::build::generate(&program, &args.base_url);
            for note in &built.notes {
                printer.add_in(
                    &loaded.sources,
                    &note.span.file,
                    Box::new(note.diagnostic()),
                );
            }
            if args.deny_warnings && !built.notes.is_empty() {
                printer.finish();
                return 1;
            }
            Ok(built.artifacts)
        }
        Target::Zvonobot => {
            return finish_generated(
                printer,
                &loaded,
                args,
                ivrc::codegen::zvonobot::generate(&program, &args.zvonobot()),
            )
        }
        Target::Twin24 => {
            return finish_generated(
                printer,
                &loaded,
                args,
                ivrc::codegen::twin24::generate(&program, &args.twin24()),
            )
        }
    };
    match artifacts {
        Ok(files) => {
            printer.finish();
            write_all(args.output.as_deref(), &files)
        }
        Err(unsupported) => {
            for u in unsupported {
                printer.add_in(&loaded.sources, &u.span.file, Box::new(u.diagnostic()));
            }
            printer.finish();
            1
        }
    }
}

/// The target's name in the table of text limits, for targets that send texts to a platform.
fn limited_target(target: Target) -> Option<&'static str> {
    match target {
        Target::Voximplant => Some("voximplant"),
        Target::Twiml => Some("twiml"),
        // Zvonobot's limits are not documented where we could read them; Twin24's texts
        // live in its bot, not in what is built (docs/language.md, Text limits).
        Target::Ir | Target::Zvonobot | Target::Twin24 => None,
    }
}

/// Reports a target's caveats and refusals, and writes its files when nothing was refused.
fn finish_generated(
    mut printer: Printer,
    loaded: &super::load::Loaded,
    args: &BuildArgs,
    generated: Generated,
) -> u8 {
    for c in &generated.caveats {
        printer.add_in(&loaded.sources, &c.span.file, Box::new(c.diagnostic()));
    }
    for u in &generated.refused {
        printer.add_in(&loaded.sources, &u.span.file, Box::new(u.diagnostic()));
    }
    let denied = args.deny_warnings && !generated.caveats.is_empty();
    printer.finish();
    if !generated.refused.is_empty() || denied {
        return 1;
    }
    write_all(args.output.as_deref(), &generated.artifacts)
}

/// Writes one output to a file, or stdout.
fn write_one(output: Option<&Path>, text: String) -> u8 {
    match output {
        None => {
            ivrc::out!("{text}");
            0
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => 0,
            Err(e) => {
                ivrc::errln!("error: cannot write `{}`: {e}", path.display());
                2
            }
        },
    }
}

/// Writes several outputs into a directory, or to stdout one after another.
fn write_all(output: Option<&Path>, files: &[Artifact]) -> u8 {
    let Some(dir) = output else {
        for f in files {
            ivrc::outln!("// ==== {} ====", f.path);
            ivrc::out!("{}", f.contents);
        }
        return 0;
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        ivrc::errln!("error: cannot create `{}`: {e}", dir.display());
        return 2;
    }
    for f in files {
        let path = dir.join(&f.path);
        if let Err(e) = std::fs::write(&path, &f.contents) {
            ivrc::errln!("error: cannot write `{}`: {e}", path.display());
            return 2;
        }
        if f.path.ends_with(".sh") {
            if let Err(e) = make_executable(&path) {
                ivrc::errln!("error: cannot make `{}` executable: {e}", path.display());
                return 2;
            }
        }
        ivrc::errln!("wrote {}", path.display());
    }
    0
}

/// Lets the owner, group and others run a generated script.
#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Scripts need no mode bit where there is none.
#[cfg(not(unix))]
fn make_executable(_: &Path) -> std::io::Result<()> {
    Ok(())
}

//! `ivrc graph`: check a file, then draw its flows (`ivrc::graph`) as DOT, Mermaid, or SVG
//! through Graphviz `dot`.

use crate::cli::{Format, GraphArgs, GraphFormat};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `ivrc graph`.
pub fn run(args: &GraphArgs) -> u8 {
    let program =
        match super::check::program_for(std::slice::from_ref(&args.file), Format::Human, |_| {
            Vec::new()
        }) {
            Ok(p) => p,
            Err(code) => return code,
        };
    let flows: Vec<&ivrc::ir::Flow> = program
        .flows
        .iter()
        .filter(|f| args.flow.as_ref().is_none_or(|n| &f.name == n))
        .collect();
    if flows.is_empty() {
        let names: Vec<&str> = program.flows.iter().map(|f| f.name.as_str()).collect();
        ivrc::errln!(
            "error: no flow `{}` in {} (flows: {})",
            args.flow.as_deref().unwrap_or_default(),
            args.file.display(),
            names.join(", ")
        );
        return 2;
    }
    let text = match args.format {
        GraphFormat::Mermaid => ivrc::graph::render(&flows, ivrc::graph::Format::Mermaid),
        GraphFormat::Dot | GraphFormat::Svg => {
            ivrc::graph::render(&flows, ivrc::graph::Format::Dot)
        }
    };
    let bytes = if args.format == GraphFormat::Svg {
        match svg(&text) {
            Ok(b) => b,
            Err(message) => {
                ivrc::errln!("error: {message}");
                return 2;
            }
        }
    } else {
        text.into_bytes()
    };
    let Some(path) = &args.output else {
        // A failed write is reported by `main` with exit status 2.
        let _ = ivrc::stdio::write_bytes(ivrc::stdio::Stream::Out, &bytes);
        return 0;
    };
    match std::fs::write(path, &bytes) {
        Ok(()) => 0,
        Err(e) => {
            ivrc::errln!("error: cannot write {}: {e}", path.display());
            2
        }
    }
}

/// The SVG Graphviz `dot` draws from `dot_text`.
fn svg(dot_text: &str) -> Result<Vec<u8>, String> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("--format svg needs Graphviz `dot` ({e}); install graphviz, or use --format dot or mermaid")
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot_text.as_bytes())
            .map_err(|e| format!("dot: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("dot: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dot failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

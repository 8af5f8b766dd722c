//! `ivrc lsp`: the language server on standard input and output, reading files from disk.

use super::load::Disk;

/// Runs the server until the client says `exit` or closes its input.
pub fn run() -> u8 {
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    match ivrc::lsp::serve(&mut stdin.lock(), &mut stdout.lock(), Disk) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            ivrc::errln!("error: {e}");
            2
        }
    }
}

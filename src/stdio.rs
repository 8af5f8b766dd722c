//! Writing to standard output and standard error without panicking.
//!
//! `print!` and `eprintln!` panic when a stream is a pipe whose reader has gone (`ivrc check
//! --format json f.ivr | head -c 10`). Everything ivrc prints for people or tools goes through
//! the macros here instead: a write that fails is remembered, never fatal, so a server keeps
//! serving calls when its log pipe closes. The binary reads [`failure`] when a command ends
//! and turns it into exit status 2, the status of every other I/O error. This module decides
//! nothing about what is printed or when.

use std::io::Write;
use std::sync::OnceLock;

/// One of the two standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: what a command produces.
    Out,
    /// Standard error: diagnostics and messages for people.
    Err,
}

/// The first write that failed: the stream and the reason.
static FAILED: OnceLock<(Stream, String)> = OnceLock::new();

/// Writes `args` to `stream` and flushes it, so that a closed pipe is noticed at once.
/// A failure is remembered for [`failure`] and returned.
pub fn write(stream: Stream, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    with(stream, |w| w.write_fmt(args))
}

/// Writes `bytes` to `stream` as they are (formatted sources, SVG) and flushes it; a failure
/// is remembered for [`failure`] and returned.
pub fn write_bytes(stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
    with(stream, |w| w.write_all(bytes))
}

fn with(
    stream: Stream,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let written = match stream {
        Stream::Out => {
            let mut out = std::io::stdout().lock();
            write(&mut out).and_then(|()| out.flush())
        }
        Stream::Err => {
            let mut err = std::io::stderr().lock();
            write(&mut err).and_then(|()| err.flush())
        }
    };
    if let Err(e) = &written {
        let _ = FAILED.set((stream, e.to_string()));
    }
    written
}

/// The first failed write of this process, if any: which stream and why.
pub fn failure() -> Option<&'static (Stream, String)> {
    FAILED.get()
}

/// Prints to standard output like `print!`, without panicking; a failure is remembered
/// (`ivrc::stdio::failure`).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = $crate::stdio::write($crate::stdio::Stream::Out, format_args!($($arg)*));
    }};
}

/// Prints a line to standard output like `println!`, without panicking; a failure is
/// remembered (`ivrc::stdio::failure`).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::println_to!($crate::stdio::Stream::Out, $($arg)*)
    };
}

/// Prints to standard error like `eprint!`, without panicking; a failure is remembered
/// (`ivrc::stdio::failure`).
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {{
        let _ = $crate::stdio::write($crate::stdio::Stream::Err, format_args!($($arg)*));
    }};
}

/// Prints a line to standard error like `eprintln!`, without panicking; a failure is
/// remembered (`ivrc::stdio::failure`).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::println_to!($crate::stdio::Stream::Err, $($arg)*)
    };
}

/// Prints to `stream` (a [`Stream`] value chosen at run time) like `println!`, without
/// panicking; a failure is remembered (`ivrc::stdio::failure`).
#[macro_export]
macro_rules! println_to {
    ($stream:expr, $($arg:tt)*) => {{
        let _ = $crate::stdio::write($stream, format_args!("{}\n", format_args!($($arg)*)));
    }};
}

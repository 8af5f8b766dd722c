//! The base protocol's framing: `Content-Length: N` headers, a blank line, N bytes of
//! JSON. Reads from any `BufRead` and writes to any `Write`, so tests use buffers and the
//! command its standard input and output.
//!
//! Owns staying in step with a client that sends something wrong: a header block without a
//! usable length, or a body too large, is reported as [`Frame::Malformed`] after the reader
//! has moved past it, and reading goes on. It does not parse JSON.

use std::io::{self, BufRead, Read, Write};

/// The longest header line accepted, in bytes.
const MAX_HEADER_LINE: u64 = 8 * 1024;

/// The largest body accepted: a source file at its largest limit, escaped as JSON.
const MAX_BODY: usize = 8 * crate::syntax::MAX_FILE_BYTES;

/// What the next frame held.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A body.
    Body(Vec<u8>),
    /// A frame that cannot be read as a message, and why; the reader is past it.
    Malformed(String),
    /// The input ended.
    End,
}

/// Reads the next frame.
pub fn read(input: &mut impl BufRead) -> io::Result<Frame> {
    let mut length: Option<Result<usize, String>> = None;
    let mut problem: Option<String> = None;
    let mut any_header = false;
    loop {
        let mut line = Vec::new();
        let n = input
            .by_ref()
            .take(MAX_HEADER_LINE)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(Frame::End);
        }
        if line.last() != Some(&b'\n') {
            if n as u64 == MAX_HEADER_LINE {
                // Skip the rest of the overlong line.
                let mut rest = Vec::new();
                if input.read_until(b'\n', &mut rest)? == 0 {
                    return Ok(Frame::End);
                }
                problem.get_or_insert_with(|| "header line too long".into());
                continue;
            }
            // The input ended inside a header.
            return Ok(Frame::End);
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if any_header || problem.is_some() {
                break;
            }
            // Blank lines between messages are tolerated.
            continue;
        }
        any_header = true;
        match line.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("bad Content-Length `{}`", value.trim())),
                );
            }
            Some(_) => {}
            None => {
                problem.get_or_insert_with(|| format!("malformed header `{line}`"));
            }
        }
    }
    let length = match (length, problem) {
        (Some(Ok(n)), None) => n,
        (Some(Ok(n)), Some(p)) => {
            skip(input, n)?;
            return Ok(Frame::Malformed(p));
        }
        (Some(Err(p)), _) | (None, Some(p)) => return Ok(Frame::Malformed(p)),
        (None, None) => return Ok(Frame::Malformed("no Content-Length header".into())),
    };
    if length > MAX_BODY {
        return Ok(match skip(input, length)? {
            true => Frame::Malformed(format!("a body of {length} bytes is too large")),
            false => Frame::End,
        });
    }
    let mut body = vec![0; length];
    match input.read_exact(&mut body) {
        Ok(()) => Ok(Frame::Body(body)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Frame::End),
        Err(e) => Err(e),
    }
}

/// Reads and drops `n` bytes; false when the input ended first.
fn skip(input: &mut impl BufRead, n: usize) -> io::Result<bool> {
    let n = u64::try_from(n).unwrap_or(u64::MAX);
    Ok(io::copy(&mut input.by_ref().take(n), &mut io::sink())? == n)
}

/// Writes one message and flushes it.
pub fn write(output: &mut impl Write, message: &serde_json::Value) -> io::Result<()> {
    let body = message.to_string();
    write!(output, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut input = io::Cursor::new(input);
        let mut out = Vec::new();
        loop {
            let frame = read(&mut input).unwrap();
            let end = frame == Frame::End;
            out.push(frame);
            if end {
                return out;
            }
        }
    }

    #[test]
    fn frames_are_read_and_bad_ones_skipped() {
        let input = b"Content-Length: 2\r\nContent-Type: application/vscode-jsonrpc\r\n\r\n{}\
            \r\ngarbage\r\n\r\n\
            content-length: x\r\n\r\n\
            Content-Length: 4\r\n\r\nnull\
            Content-Length: 3\r\n\r\n[1";
        assert_eq!(
            frames(input),
            [
                Frame::Body(b"{}".to_vec()),
                Frame::Malformed("malformed header `garbage`".into()),
                Frame::Malformed("bad Content-Length `x`".into()),
                Frame::Body(b"null".to_vec()),
                Frame::End,
            ]
        );
        assert_eq!(
            frames(b"Content-Type: x\r\n\r\nContent-Length: 1\r\n\r\n1"),
            [
                Frame::Malformed("no Content-Length header".into()),
                Frame::Body(b"1".to_vec()),
                Frame::End
            ]
        );
    }

    #[test]
    fn long_lines_and_bodies_are_skipped() {
        let mut input = vec![b'x'; 20_000];
        input.extend_from_slice(b"\r\nContent-Length: 1\r\n\r\n1Content-Length: 1\r\n\r\n2");
        assert_eq!(
            frames(&input),
            [
                Frame::Malformed("header line too long".into()),
                Frame::Body(b"2".to_vec()),
                Frame::End
            ]
        );
        let big = format!("Content-Length: {}\r\n\r\n", MAX_BODY + 1);
        assert_eq!(
            frames(big.as_bytes()),
            [Frame::End],
            "a large body cut short ends the input"
        );
    }

    #[test]
    fn messages_are_written_with_their_length() {
        let mut out = Vec::new();
        write(&mut out, &serde_json::json!({"a": "ж"})).unwrap();
        assert_eq!(out, "Content-Length: 10\r\n\r\n{\"a\":\"ж\"}".as_bytes());
    }
}

//! Random bytes from the operating system, for keys and session ids.

use std::io::Read;

/// Fills `buf` from `/dev/urandom`.
///
/// # Errors
///
/// The device cannot be read.
pub fn fill_random(buf: &mut [u8]) -> std::io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

//! Loading a program from disk: the one place that reads `.ivr` and leads files. The rules
//! (imports, leads paths) are the library's `ivrc::load`; this module supplies the disk.

use ivrc::load::Files;
pub use ivrc::load::Loaded;
use std::path::{Path, PathBuf};

/// The files of the file system.
pub struct Disk;

impl Files for Disk {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn identity(&mut self, path: &Path) -> PathBuf {
        path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
    }
}

/// Loads `root`, or prints why it cannot be read and gives exit status 2.
pub fn load_or_exit(root: &Path) -> Result<Loaded, u8> {
    ivrc::load::load(root, &mut Disk).map_err(|e| {
        ivrc::errln!("error: {}", e.0);
        2
    })
}

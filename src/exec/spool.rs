//! The live copy of a running job's output: each stream is appended, as it arrives, to a file
//! another process can read (`execq follow`), up to [`SPOOL_LIMIT`]. The file is created on the
//! first byte (a job that prints nothing costs nothing) and removed once the job's record is
//! filed; the record itself is unchanged.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// The most of each stream kept in its live copy (16 MiB); past it, `follow` says the live
/// output was cut and the record keeps the end.
pub const SPOOL_LIMIT: u64 = 16 * 1024 * 1024;

/// One stream's live copy.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    /// Writing failed (a full disk): the live copy stops; the record does not depend on it.
    broken: bool,
}

impl Spool {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            written: 0,
            broken: false,
        }
    }

    /// Appends `chunk`, up to the limit.
    pub fn write(&mut self, chunk: &[u8]) {
        if self.broken || self.written >= SPOOL_LIMIT || chunk.is_empty() {
            return;
        }
        if self.file.is_none() {
            match OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&self.path)
            {
                Ok(file) => self.file = Some(file),
                Err(_) => {
                    self.broken = true;
                    return;
                }
            }
        }
        let room = usize::try_from(SPOOL_LIMIT - self.written).unwrap_or(usize::MAX);
        let part = &chunk[..chunk.len().min(room)];
        match self.file.as_mut().map(|f| f.write_all(part)) {
            Some(Ok(())) => self.written += part.len() as u64,
            _ => self.broken = true,
        }
    }
}

//! Putting a job into `pending/` atomically and durably, under a name no one holds.
//!
//! The job is written and fsynced in `tmp/`, then hard-linked into `pending/` (a link never
//! replaces an existing file), and `pending/` is fsynced. A drain therefore never sees a partial
//! file, and a job whose enqueue returned survives a power loss.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fsutil::{self, FileId};
use crate::queue::Queue;
use crate::queue::names::{NAME_MAX, numbered};

/// Puts `bytes` into `pending/` as `name` (or `name` numbered, `stem.1.ext`..., if taken).
pub fn enqueue(queue: &Queue, name: &OsStr, bytes: &[u8]) -> Result<PathBuf> {
    enqueue_identified(queue, name, bytes).map(|(path, _)| path)
}

/// [`enqueue`], also returning the identity of the job's file, taken before it is in `pending/`
/// (a drain may claim it at once; the claim keeps the identity, so the job can be followed).
pub fn enqueue_identified(
    queue: &Queue,
    name: &OsStr,
    bytes: &[u8],
) -> Result<(PathBuf, Option<FileId>)> {
    let placed = enqueue_unsynced(queue, name, bytes)?;
    fsutil::sync_dir(&queue.pending)?;
    Ok(placed)
}

/// [`enqueue_identified`] but for its last step, the sync of `pending/` that makes the job's name
/// there durable: the caller takes it before saying the job is queued. (A door that starts a
/// drain starts it first, so that the drain gets going while `pending/` is synced; the drain's
/// claim syncs `running/` before it runs the job, whichever sync comes first.)
pub fn enqueue_unsynced(
    queue: &Queue,
    name: &OsStr,
    bytes: &[u8],
) -> Result<(PathBuf, Option<FileId>)> {
    let staged = queue.temp_path(&slug(&name.to_string_lossy()));
    fsutil::write_new_synced(&staged, bytes)?;
    let id = FileId::at(&staged);
    let placed = place(&staged, &queue.pending, name);
    fsutil::discard(&staged);
    Ok((placed?, id))
}

/// Links `file` into `pending/` as `name`, or `name` numbered (`stem.1.ext`...) if it is taken.
/// A link never replaces a file; where there are no hard links (exFAT, some network shares) the
/// file is moved instead, never over another.
pub fn place(file: &Path, pending: &Path, name: &OsStr) -> Result<PathBuf> {
    for n in 0..=u64::MAX {
        let dest = pending.join(numbered(name, n, NAME_MAX));
        match fsutil::hard_link(file, &dest) {
            Ok(()) => return Ok(dest),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(e)
                    .with_context(|| format!("failed to place the job at `{}`", dest.display()));
            }
            Err(_) => {
                if fsutil::move_if_free(file, &dest)? {
                    return Ok(dest);
                }
            }
        }
    }
    unreachable!("a folder holds fewer than 2^64 names")
}

/// A random number for unique names (std's hasher keys are random per process and call).
pub fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let hash = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (hash >> 32) as u32 ^ hash as u32
}

/// A task id made safe for a file name: letters, digits, `-`, `_` and `.` are kept.
pub fn slug(id: &str) -> String {
    let slug: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    slug.trim_start_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("build #42/linux"), "build__42_linux");
        assert_eq!(slug("..hidden"), "hidden");
        assert_eq!(slug(&"x".repeat(100)).len(), 64);
    }
}

//! Durable, no-clobber file operations.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use crate::{fault, sys};

/// Flushes a directory's entries to disk, making renames into or out of it durable.
///
/// Some filesystems refuse to sync a directory at all (EINVAL, ENOTSUP, EOPNOTSUPP, ENOTTY, after
/// the fallback of [`sys::full_sync`]); none of these reports a failed write, only that there is
/// nothing more to do, so they are not errors.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fault::step("sync", dir);
    let file = File::open(dir)
        .with_context(|| format!("failed to open `{}` to sync it", dir.display()))?;
    match sys::full_sync(&file) {
        Err(e) if sys::is_sync_unsupported(&e) => Ok(()),
        other => other.with_context(|| format!("failed to sync `{}`", dir.display())),
    }
}

/// Writes `bytes` to a new file at `path` (mode 0600) and syncs it. Fails if `path` exists.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = write_new(path, bytes)?;
    sync_file(&file, path)
}

/// Writes `bytes` to a new file at `path` (mode 0600), not yet synced. Fails if `path` exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<File> {
    write_new_with(path, |out| out.write_all(bytes))
}

/// Makes a new file at `path` (mode 0600) of what `write` writes to it, not yet synced, through a
/// buffer: content made piece by piece (a record serialized as it is written) is never held whole
/// in memory. Fails if `path` exists.
pub fn write_new_with<F>(path: &Path, write: F) -> Result<File>
where
    F: FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
{
    fault::step("create", path);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("failed to create `{}`", path.display()))?;
    fault::step("write", path);
    let mut out = BufWriter::new(&file);
    write(&mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    drop(out);
    Ok(file)
}

/// Flushes a file written with [`write_new`] to disk (`path` names it in the error).
pub fn sync_file(file: &File, path: &Path) -> Result<()> {
    fault::step("sync", path);
    sys::full_sync(file).with_context(|| format!("failed to write `{}`", path.display()))
}

/// [`sync_file`] with the plain I/O error, for callers with errors of their own.
pub fn try_sync(file: &File, path: &Path) -> io::Result<()> {
    fault::step("sync", path);
    sys::full_sync(file)
}

/// [`rename`] with the plain I/O error, for callers with errors of their own.
pub fn try_rename(from: &Path, to: &Path) -> io::Result<()> {
    fault::step("rename", to);
    fs::rename(from, to)
}

/// Renames, naming both paths in the error.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    fault::step("rename", to);
    fs::rename(from, to)
        .with_context(|| format!("failed to move `{}` to `{}`", from.display(), to.display()))
}

/// Moves `from` to `to` unless something is at `to` already: `Ok(false)` then, and `from` stays.
/// Never replaces anything (see [`sys::rename_noreplace`]).
pub fn move_if_free(from: &Path, to: &Path) -> Result<bool> {
    match rename_noreplace(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e)
            .with_context(|| format!("failed to move `{}` to `{}`", from.display(), to.display())),
    }
}

/// [`sys::rename_noreplace`], as one durable step.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    fault::step("rename", to);
    sys::rename_noreplace(from, to)
}

/// Makes `to` a second name of the file at `from` (fails if anything is at `to`).
pub fn hard_link(from: &Path, to: &Path) -> io::Result<()> {
    fault::step("link", to);
    fs::hard_link(from, to)
}

/// Writes `bytes` to `path`, replacing what is there, not synced: for a temporary file that is
/// renamed into place afterwards.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fault::step("write", path);
    fs::write(path, bytes).with_context(|| format!("failed to write `{}`", path.display()))
}

/// Appends `bytes` to `path` (created 0600 if missing; never through a symlink) in one write, not
/// synced: for files that are rebuilt from others when a crash may have cut them (the records'
/// index).
pub fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fault::step("append", path);
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .write_all(bytes)
}

/// Writes `bytes` over the start of the regular file at `path` (never through a symlink), if it
/// exists and is exactly that long; returns whether it did. Not synced: for a small file that
/// readers check (the index's stamp), rewritten without a new name or inode.
pub fn overwrite_same_length(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let file = match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(false),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() != bytes.len() as u64 {
        return Ok(false);
    }
    fault::step("write", path);
    file.write_all_at(bytes, 0)?;
    Ok(true)
}

/// Creates each of `files` empty (0600) unless it exists, in one step for the crash harness
/// (`dir` names it): files derived from others, made ahead of the appends that fill them.
pub fn create_empty_files(dir: &Path, files: &[std::path::PathBuf]) -> io::Result<()> {
    fault::step("create", dir);
    for file in files {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
        {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Removes a leftover temporary file, if there is one; an error is of no consequence.
pub fn discard(path: &Path) {
    fault::step("unlink", path);
    let _ = fs::remove_file(path);
}

/// Removes `path` if it is still the file identified by `id` (device, inode): a file that took
/// its name meanwhile is left alone. Returns whether it was removed.
pub fn remove_if_same(path: &Path, id: FileId) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) if FileId::of(&meta) == id => {
            remove_if_exists(path)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// A file's identity: (device, inode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId(pub u64, pub u64);

impl FileId {
    pub fn of(meta: &fs::Metadata) -> Self {
        Self(meta.dev(), meta.ino())
    }

    /// The identity of what is at `path` now (not following a symlink), if anything is.
    pub fn at(path: &Path) -> Option<Self> {
        fs::symlink_metadata(path).ok().map(|m| Self::of(&m))
    }
}

/// Copies `from` to `to` (a new file; a durable step of its own).
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    fault::step("write", to);
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("failed to copy `{}` to `{}`", from.display(), to.display()))
}

/// Removes a folder and everything in it, if it can (leftovers are only untidy).
pub fn discard_dir(dir: &Path) {
    fault::step("unlink", dir);
    let _ = fs::remove_dir_all(dir);
}

/// Creates `dir` and its missing parents, readable by this user only (0700).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    fault::step("mkdir", dir);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Removes a file; one that is already gone is fine.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    fault::step("unlink", path);
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("failed to remove `{}`", path.display()))
        }
        _ => Ok(()),
    }
}

/// Removes a record, file or folder (a non-file entry a drain moved to `failed/` goes whole); one
/// that is already gone is fine.
pub fn remove_entry(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            fault::step("unlink", path);
            fs::remove_dir_all(path)
                .with_context(|| format!("failed to remove `{}`", path.display()))
        }
        _ => remove_if_exists(path),
    }
}

/// Whether anything (file, dir, dangling symlink) exists at `path`.
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_if_free_never_replaces_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "old").unwrap();
        fs::write(&b, "new").unwrap();
        assert!(!move_if_free(&a, &b).unwrap());
        assert_eq!(fs::read_to_string(&b).unwrap(), "new");
        assert_eq!(fs::read_to_string(&a).unwrap(), "old", "the source stays");

        fs::remove_file(&b).unwrap();
        assert!(move_if_free(&a, &b).unwrap());
        assert!(!exists(&a));
        assert_eq!(fs::read_to_string(&b).unwrap(), "old");

        let (d, e) = (dir.path().join("d"), dir.path().join("e"));
        fs::create_dir(&d).unwrap();
        assert!(
            move_if_free(&d, &e).unwrap(),
            "a directory cannot be linked: renamed"
        );
        assert!(e.is_dir() && !exists(&d));
    }
}

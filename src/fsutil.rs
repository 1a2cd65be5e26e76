//! Durable, no-clobber file operations.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The longest file name (in bytes) on the filesystems execq supports.
pub const NAME_MAX: usize = 255;

/// Flushes a directory's entries to disk, making renames into or out of it durable.
///
/// Some filesystems (macOS among them, for some volume types) refuse to sync a directory with
/// EINVAL, ENOTSUP or ENOTTY (std uses `F_FULLFSYNC` on macOS); none of these reports a failed
/// write, only that there is nothing more to do, so they are not errors.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let file = File::open(dir)
        .with_context(|| format!("failed to open `{}` to sync it", dir.display()))?;
    match file.sync_all() {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::ENOTSUP | libc::ENOTTY)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("failed to sync `{}`", dir.display())),
    }
}

/// Writes `bytes` to a new file at `path` (mode 0600) and syncs it. Fails if `path` exists.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = write_new(path, bytes)?;
    sync_file(&file, path)
}

/// Writes `bytes` to a new file at `path` (mode 0600), not yet synced. Fails if `path` exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("failed to create `{}`", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(file)
}

/// Flushes a file written with [`write_new`] to disk (`path` names it in the error).
pub fn sync_file(file: &File, path: &Path) -> Result<()> {
    file.sync_all()
        .with_context(|| format!("failed to write `{}`", path.display()))
}

/// Renames, naming both paths in the error.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to)
        .with_context(|| format!("failed to move `{}` to `{}`", from.display(), to.display()))
}

/// Moves `from` to `to` unless something is at `to` already: `Ok(false)` then, and `from` stays.
/// A hard link and an unlink, which never replace anything; where there are no hard links (a
/// directory, exFAT) a rename after checking that `to` is free.
pub fn move_if_free(from: &Path, to: &Path) -> Result<bool> {
    let moved = match fs::hard_link(from, to) {
        Ok(()) => fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(_) if !exists(to) => fs::rename(from, to),
        Err(e) => Err(e),
    };
    moved
        .map(|()| true)
        .with_context(|| format!("failed to move `{}` to `{}`", from.display(), to.display()))
}

/// Removes a file; one that is already gone is fine.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("failed to remove `{}`", path.display()))
        }
        _ => Ok(()),
    }
}

/// Whether anything (file, dir, dangling symlink) exists at `path`.
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// `prefix + name + suffix`, shortening `name` (at a character boundary when it is UTF-8) so the
/// whole fits in [`NAME_MAX`] bytes.
pub fn fit_name(prefix: &str, name: &OsStr, suffix: &str) -> OsString {
    let room = NAME_MAX.saturating_sub(prefix.len() + suffix.len());
    let bytes = name.as_bytes();
    let mut cut = bytes.len().min(room);
    if let Ok(text) = std::str::from_utf8(bytes) {
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
    }
    let mut out = Vec::with_capacity(prefix.len() + cut + suffix.len());
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(&bytes[..cut]);
    out.extend_from_slice(suffix.as_bytes());
    OsString::from_vec(out)
}

/// Splits `job.tar.gz` into (`job.tar`, `.gz`); a name without a dot has no extension.
fn split_ext(name: &OsStr) -> (&[u8], &[u8]) {
    let bytes = name.as_bytes();
    match bytes.iter().rposition(|&b| b == b'.') {
        Some(0) | None => (bytes, &[]),
        Some(i) => bytes.split_at(i),
    }
}

/// The `n`th candidate name for `name` in a folder: `name` itself, then `stem.1.ext`, `stem.2.ext`...
pub fn numbered(name: &OsStr, n: u32) -> OsString {
    if n == 0 {
        return fit_name("", name, "");
    }
    let (stem, ext) = split_ext(name);
    let ext = String::from_utf8_lossy(ext);
    fit_name("", OsStr::from_bytes(stem), &format!(".{n}{ext}"))
}

/// The first name for `name` in `dir` that is free. With `sidecar`, `NAME.result.json` must be
/// free too, so a job file and its sidecar always share one stem.
pub fn free_name(dir: &Path, name: &OsStr, sidecar: bool) -> PathBuf {
    (0..)
        .map(|n| dir.join(numbered(name, n)))
        .find(|p| !(exists(p) || sidecar && exists(&sidecar_path(p))))
        .expect("an unbounded range always yields a free name")
}

/// `completed/x.sh` → `completed/x.sh.result.json`.
pub fn sidecar_path(job: &Path) -> PathBuf {
    let name = job.file_name().unwrap_or_default();
    job.with_file_name(fit_name("", name, ".result.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered(OsStr::new("job.json"), 0), "job.json");
        assert_eq!(numbered(OsStr::new("job.json"), 2), "job.2.json");
        assert_eq!(numbered(OsStr::new("job"), 1), "job.1");
        assert_eq!(numbered(OsStr::new(".hidden"), 1), ".hidden.1");
    }

    #[test]
    fn long_names_are_shortened_at_a_char_boundary() {
        let long = "é".repeat(200);
        let fitted = fit_name(".", OsStr::new(&long), ".record.tmp");
        assert!(fitted.len() <= NAME_MAX);
        assert!(fitted.to_str().is_some(), "still valid UTF-8");
    }

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

    #[test]
    fn free_name_skips_taken_names_and_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.sh"), "").unwrap();
        fs::write(dir.path().join("a.1.sh.result.json"), "").unwrap();
        assert_eq!(
            free_name(dir.path(), OsStr::new("a.sh"), true),
            dir.path().join("a.2.sh")
        );
        assert_eq!(
            free_name(dir.path(), OsStr::new("a.sh"), false),
            dir.path().join("a.1.sh")
        );
    }
}

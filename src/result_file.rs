//! A job's `result_file`: its full stdout, copied as it is produced, up to [`RESULT_FILE_LIMIT`].
//!
//! A relative path lands inside `QUEUE/results/` and may not leave it: `..` is refused, and so is
//! any symlink on the way down. The file is written under a temporary name beside its target and
//! renamed into place when the job ends, so a reader never sees a half-written result.

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use crate::exec::Sink;
use crate::fsutil::{self, fit_name};

/// The most of a job's stdout copied to its `result_file` (100 MiB); the rest is dropped and the
/// record says `result_file_truncated: true`.
pub const RESULT_FILE_LIMIT: u64 = 100 * 1024 * 1024;

/// An open result file being written.
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    tmp: PathBuf,
}

/// Resolves and opens `requested` for writing. Errors are messages for the job's record.
pub fn open(results: &Path, requested: &str) -> Result<(Target, Sink), String> {
    let path = resolve(results, requested)?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("`result_file` `{requested}` names no file"))?;
    let tmp = path.with_file_name(fit_name(".", name, ".execq-tmp"));
    let _ = fs::remove_file(&tmp);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| format!("cannot create `result_file` `{}`: {e}", path.display()))?;
    Ok((Target { path, tmp }, Sink::new(file, RESULT_FILE_LIMIT)))
}

/// Removes the temporary copy a killed drain may have left for `requested`.
pub fn discard_temp(results: &Path, requested: &str) {
    let requested_path = Path::new(requested);
    let path = if requested_path.is_absolute() {
        requested_path.to_owned()
    } else if requested_path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        results.join(requested_path)
    } else {
        return;
    };
    if let Some(name) = path.file_name() {
        let _ = fs::remove_file(path.with_file_name(fit_name(".", name, ".execq-tmp")));
    }
}

fn resolve(results: &Path, requested: &str) -> Result<PathBuf, String> {
    let requested_path = Path::new(requested);
    if requested_path.is_absolute() {
        refuse_inside_queue(results, requested_path, requested)?;
        return Ok(requested_path.to_owned());
    }
    let mut path = results.to_owned();
    let parts: Vec<_> = requested_path.components().collect();
    for (i, part) in parts.iter().enumerate() {
        match part {
            Component::Normal(name) => path.push(name),
            Component::CurDir => continue,
            _ => {
                return Err(format!(
                    "`result_file` `{requested}` must stay inside results/ (no `..`)"
                ));
            }
        }
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "`result_file` `{requested}` goes through a symlink inside results/"
                ));
            }
            Err(_) if i + 1 < parts.len() => DirBuilder::new()
                .mode(0o700)
                .create(&path)
                .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?,
            _ => {}
        }
    }
    Ok(path)
}

/// An absolute `result_file` may not land among the queue's own files (`drain.lock`,
/// `daemon.log`, a job in `pending/`...): inside the queue, only `results/` holds result files.
/// Folders are compared after resolving symlinks, so no spelling of the path gets around it.
fn refuse_inside_queue(results: &Path, path: &Path, requested: &str) -> Result<(), String> {
    let (Some(root), Some(dir)) = (results.parent(), path.parent()) else {
        return Ok(());
    };
    // A folder that does not exist cannot hold the file either; creating it fails later, naming it.
    let (Ok(root), Ok(dir)) = (fs::canonicalize(root), fs::canonicalize(dir)) else {
        return Ok(());
    };
    if dir.starts_with(&root) && !dir.starts_with(root.join("results")) {
        return Err(format!(
            "`result_file` `{requested}` is inside the queue `{}`; only its results/ folder may hold result files",
            root.display()
        ));
    }
    Ok(())
}

impl Target {
    /// Syncs the copy and renames it into place. Returns whether it was cut at the limit.
    pub fn commit(self, sink: Sink) -> Result<bool, String> {
        let fail = |e: &dyn std::fmt::Display| {
            let _ = fs::remove_file(&self.tmp);
            format!(
                "could not write `result_file` `{}`: {e}",
                self.path.display()
            )
        };
        if let Some(e) = &sink.error {
            return Err(fail(e));
        }
        crate::sys::full_sync(&sink.file).map_err(|e| fail(&e))?;
        fsutil::rename(&self.tmp, &self.path).map_err(|e| fail(&format!("{e:#}")))?;
        Ok(sink.truncated)
    }

    /// Removes the temporary file of a job that never started.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

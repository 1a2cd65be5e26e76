//! Rewriting a job that waits in `pending/` (`execq edit`, `hold`, `release`), so that a drain
//! claiming it at the same moment gets the old job or the new one, never a mix, and never both.
//!
//! 1. The new job is written whole to a temporary file and synced.
//! 2. The job is taken: renamed to `pending/.editing-NAME.PID`, a dot-name no drain claims. If it
//!    is gone, a drain claimed it (or it was cancelled) first: nothing is changed.
//! 3. If the file taken is not the one read, someone replaced it meanwhile: it goes back as it was.
//! 4. The new job is renamed over the taken file, then back to its name (or, if a new job took
//!    that name meanwhile, a free one), and `pending/` is synced.
//!
//! The editing process locks the job's file (and the new one) before the take and holds the locks
//! to the end. A kill at any step leaves the job whole — the old one or the new one — under its
//! name or under the dot-name; a drain that finds a dot-name no process holds locked puts it back
//! ([`recover`]),
//! which is in its pass over `pending/` already, so an idle drain pays nothing more for it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use crate::fsutil::{self, FileId};
use crate::queue::Queue;
use crate::queue::names::{Slot, fit_name, move_to_free};

const PREFIX: &str = ".editing-";

/// What became of an edit.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// The new job is in `pending/`, here.
    Done(PathBuf),
    /// The job left `pending/` first (a drain claimed it, or it was cancelled): unchanged.
    Gone,
    /// The job was replaced by someone else after it was read: unchanged.
    Changed,
    /// Another process is changing it right now: unchanged.
    Busy,
}

/// Replaces the job `pending/name`, as read (`read`: the file's identity), with `bytes`, keeping
/// its modification time (its place among jobs of equal priority).
pub fn rewrite(
    queue: &Queue,
    name: &OsStr,
    read: FileId,
    bytes: &[u8],
    mtime: SystemTime,
) -> Result<Rewritten> {
    let suffix = format!(".{}", std::process::id());
    let taken_name = fit_name(PREFIX, name, &suffix);
    if parse(&taken_name).is_none_or(|(n, _)| n != name) {
        bail!(
            "`{}`: the name is too long to edit in place",
            name.to_string_lossy()
        );
    }
    let from = queue.pending.join(name);
    let taken = queue.pending.join(&taken_name);
    // Locked before it is taken, and kept locked until this edit is done: a drain puts a taken
    // job back only when no process holds its lock (see [`recover`]), however long this one
    // stalls and whatever process its id names later.
    let old = match crate::sys::open_nofollow(&from) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Rewritten::Gone),
        Err(e) => return Err(e).with_context(|| format!("cannot open `{}`", from.display())),
    };
    if FileId::of(&old.metadata()?) != read {
        return Ok(Rewritten::Changed);
    }
    if fs2::FileExt::try_lock_exclusive(&old).is_err() {
        return Ok(Rewritten::Busy);
    }
    let tmp = queue.temp_path("edit");
    let new = fsutil::write_new(&tmp, bytes)?;
    new.set_modified(mtime)
        .with_context(|| format!("cannot set the time of `{}`", tmp.display()))?;
    fsutil::sync_file(&new, &tmp)?;
    fs2::FileExt::lock_exclusive(&new)
        .with_context(|| format!("cannot lock `{}`", tmp.display()))?;
    match fsutil::rename_noreplace(&from, &taken) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fsutil::remove_if_exists(&tmp)?;
            return Ok(Rewritten::Gone);
        }
        Err(e) => {
            fsutil::remove_if_exists(&tmp)?;
            return Err(e).with_context(|| format!("cannot take `{}` to edit it", from.display()));
        }
    }
    if FileId::at(&taken) != Some(read) {
        put_back(queue, &taken, name)?;
        fsutil::remove_if_exists(&tmp)?;
        return Ok(Rewritten::Changed);
    }
    fsutil::rename(&tmp, &taken)?;
    let dest = put_back(queue, &taken, name)?;
    drop((old, new));
    Ok(Rewritten::Done(dest))
}

/// Gives a taken job its name in `pending/` back, or a free one if a new job took it meanwhile.
fn put_back(queue: &Queue, taken: &Path, name: &OsStr) -> Result<PathBuf> {
    let home = queue.pending.join(name);
    let dest = if fsutil::move_if_free(taken, &home)? {
        home
    } else {
        move_to_free(taken, &queue.pending, name, Slot::Plain)?
    };
    fsutil::sync_dir(&queue.pending)?;
    Ok(dest)
}

/// `.editing-NAME.PID` → (NAME, PID).
fn parse(file_name: &OsStr) -> Option<(OsString, u32)> {
    let text = file_name.to_str()?.strip_prefix(PREFIX)?;
    let (name, pid) = text.rsplit_once('.')?;
    Some((name.into(), pid.parse().ok()?))
}

/// Whether another process has the job `name` taken for an edit now.
pub fn being_edited(queue: &Queue, name: &OsStr) -> bool {
    std::fs::read_dir(&queue.pending).is_ok_and(|dir| {
        dir.flatten()
            .any(|e| parse(&e.file_name()).is_some_and(|(n, _)| n == name))
    })
}

/// Whether a dot-name in `pending/` is an edit's.
pub fn is_edit(file_name: &OsStr) -> bool {
    parse(file_name).is_some()
}

/// Puts back the jobs in `pending/` that edits killed midway left under their dot-name (`names`:
/// the dot-names a pass saw). Returns how many.
pub fn recover<'a>(queue: &Queue, names: impl IntoIterator<Item = &'a OsStr>) -> Result<usize> {
    let mut found = 0;
    for file_name in names {
        let Some((name, _)) = parse(file_name) else {
            continue;
        };
        let taken = queue.pending.join(file_name);
        // Its edit is alive while it holds the file's lock (a lock dies with its process).
        let Ok(file) = crate::sys::open_nofollow(&taken) else {
            continue;
        };
        if fs2::FileExt::try_lock_exclusive(&file).is_err() {
            continue;
        }
        match put_back(queue, &taken, &name) {
            Ok(dest) => {
                found += 1;
                tracing::warn!(file = ?name, to = %dest.display(), "put back a job an edit cut short had taken");
            }
            // Another drain put it back first.
            Err(_) if !fsutil::exists(&taken) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_names_carry_the_job_and_the_process() {
        assert_eq!(
            parse(OsStr::new(".editing-a.b.json.42")),
            Some(("a.b.json".into(), 42))
        );
        assert_eq!(parse(OsStr::new(".cancelling-a.json.42")), None);
        assert_eq!(parse(OsStr::new(".editing-a.json")), None);
    }
}

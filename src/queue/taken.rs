//! Jobs that a command other than the drain takes out of a folder before acting on them: `cancel`
//! takes a pending job, `retry` a failed one. The take is a rename to a dot-name in `failed/`
//! (`.cancelling-NAME.PID`, `.retrying-NAME.PID`), so of two processes acting on one job only one
//! succeeds, and a drain claiming the same pending job gets it or the command does, never both.
//!
//! A command killed between the take and its last step leaves that dot-file: hidden, not lost. A
//! drain that did work looks for such files whose process is gone and finishes for it ([`recover`]):
//! a job being cancelled is filed as `cancelled`; a job being retried is put back in `failed/`.
//!
//! The last step of each is one rename, so a kill never leaves a job in two places: the
//! cancelled record (the job with its `result`), or the retried job (the record with its `result`
//! moved to `history`), is first written over the dot-file, then renamed to its name in `failed/`
//! or `pending/`. Recovery tells the two contents apart: a dot-file holding a cancelled record is
//! only given its name; one holding a retried job goes on to `pending/`.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::fsutil;
use crate::job::result::{self as job_result, JobResult, Status};
use crate::queue::Queue;
use crate::queue::catalog;
use crate::queue::names::{Slot, fit_name, is_internal, move_to_free, sidecar_path};
use crate::sys;

/// Why a job was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Cancel,
    Retry,
}

impl Purpose {
    fn prefix(self) -> &'static str {
        match self {
            Self::Cancel => ".cancelling-",
            Self::Retry => ".retrying-",
        }
    }
}

/// Renames `from` (the job `name`) to this process's dot-name for `purpose` in `failed/`.
/// `NotFound` when another process took it first.
pub fn take(queue: &Queue, from: &Path, name: &OsStr, purpose: Purpose) -> io::Result<PathBuf> {
    let suffix = format!(".{}", std::process::id());
    let taken = queue.failed.join(fit_name(purpose.prefix(), name, &suffix));
    fsutil::rename_noreplace(from, &taken)?;
    Ok(taken)
}

/// Files the taken job `name` in `failed/` with `result`, without running it: a JSON job
/// (`object`) as its object with `result` merged in, anything else with a sidecar.
pub fn file_unrun(
    queue: &Queue,
    taken: &Path,
    object: Option<Map<String, Value>>,
    name: &OsStr,
    result: &JobResult,
) -> Result<PathBuf> {
    let dest = match object {
        Some(mut object) => {
            job_result::merge(&mut object, result);
            let tmp = queue.temp_path("unrun");
            fsutil::write_new_synced(&tmp, &pretty(&Value::Object(object))?)?;
            // The record takes the taken file's place, then its own name in one rename: a kill
            // leaves one file, which [`recover`] recognises by its `result`, never two.
            fsutil::rename(&tmp, taken)?;
            move_to_free(taken, &queue.failed, name, Slot::Plain)?
        }
        None => {
            let dest = move_to_free(taken, &queue.failed, name, Slot::WithSidecar)?;
            let sidecar =
                json!({ "job": dest.file_name().map(|n| n.to_string_lossy()), "result": result });
            let tmp = queue.temp_path("unrun");
            fsutil::write_new_synced(&tmp, &pretty(&sidecar)?)?;
            if !fsutil::move_if_free(&tmp, &sidecar_path(&dest))? {
                fsutil::remove_if_exists(&tmp)?;
                bail!("`{}` appeared meanwhile", sidecar_path(&dest).display());
            }
            dest
        }
    };
    fsutil::sync_dir(&queue.failed)?;
    Ok(dest)
}

fn pretty(value: &Value) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Finishes what killed `cancel`s and `retry`s left in `failed/` (see the module docs). Returns
/// how many it found.
pub fn recover(queue: &Queue) -> Result<usize> {
    let Ok(dir) = fs::read_dir(&queue.failed) else {
        return Ok(0);
    };
    let mut found = 0;
    for entry in dir.flatten() {
        let file_name = entry.file_name();
        let Some((purpose, name, pid)) = parse(&file_name) else {
            continue;
        };
        if sys::process_exists(pid) {
            continue;
        }
        found += 1;
        // Another drain may be finishing the same file: whoever gets there second finds it gone.
        if let Err(e) = finish(queue, &entry.path(), purpose, &name)
            && fsutil::exists(&entry.path())
        {
            tracing::warn!(file = ?file_name, "could not finish a cut-short cancel or retry: {e:#}");
        }
    }
    Ok(found)
}

fn finish(queue: &Queue, taken: &Path, purpose: Purpose, name: &OsStr) -> Result<()> {
    let object = name
        .as_encoded_bytes()
        .ends_with(b".json")
        .then(|| catalog::read_object(taken))
        .flatten();
    let has_result = object.as_ref().is_some_and(|o| o.contains_key("result"));
    let dest = match purpose {
        // The new job had taken the old record's place (see `execq retry`): it goes forward.
        Purpose::Retry if is_requeued(queue, object.as_ref(), name) => {
            let dest = move_to_free(taken, &queue.pending, name, Slot::Plain)?;
            fsutil::sync_dir(&queue.pending)?;
            dest
        }
        Purpose::Retry => put_back(queue, taken, name)?,
        // The cancelled record had taken the job's place: it only needs its name.
        Purpose::Cancel if has_result => move_to_free(taken, &queue.failed, name, Slot::Plain)?,
        Purpose::Cancel => {
            let result = JobResult::skipped(
                Status::Cancelled,
                "cancelled by `execq cancel` before it started (filed by a later drain: the \
                 cancel was cut short)",
            );
            file_unrun(queue, taken, object, name, &result)?
        }
    };
    tracing::warn!(file = ?name, to = %dest.display(), "finished a cancel or retry that was cut short");
    Ok(())
}

/// Puts a job taken out of `failed/` back under its own name — beside its sidecar, which stayed
/// there — or, if that name was taken meanwhile, under a free one.
pub fn put_back(queue: &Queue, taken: &Path, name: &OsStr) -> Result<PathBuf> {
    let home = queue.failed.join(name);
    let dest = match fsutil::rename_noreplace(taken, &home) {
        Ok(()) => home,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            move_to_free(taken, &queue.failed, name, Slot::WithSidecar)?
        }
        Err(e) => {
            return Err(e).with_context(|| format!("failed to put `{}` back", home.display()));
        }
    };
    fsutil::sync_dir(&queue.failed)?;
    Ok(dest)
}

/// Whether a job taken to be retried is already its new copy: a JSON job without the `result`
/// every merged record has (a job filed with a sidecar is never rewritten).
fn is_requeued(queue: &Queue, object: Option<&Map<String, Value>>, name: &OsStr) -> bool {
    object.is_some_and(|o| !o.contains_key("result"))
        && !fsutil::exists(&sidecar_path(&queue.failed.join(name)))
}

/// `.cancelling-NAME.PID` → (cancel, NAME, PID).
fn parse(file_name: &OsStr) -> Option<(Purpose, OsString, u32)> {
    if !is_internal(file_name) {
        return None;
    }
    let text = file_name.to_str()?;
    let (purpose, rest) = [Purpose::Cancel, Purpose::Retry]
        .into_iter()
        .find_map(|p| text.strip_prefix(p.prefix()).map(|rest| (p, rest)))?;
    let (name, pid) = rest.rsplit_once('.')?;
    Some((purpose, name.into(), pid.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_names_carry_what_and_whose() {
        assert_eq!(
            parse(OsStr::new(".cancelling-job.json.123")),
            Some((Purpose::Cancel, "job.json".into(), 123))
        );
        assert_eq!(
            parse(OsStr::new(".retrying-x.sh.9")),
            Some((Purpose::Retry, "x.sh".into(), 9))
        );
        assert_eq!(parse(OsStr::new("job.json")), None);
        assert_eq!(parse(OsStr::new(".job.json.record")), None);
    }
}

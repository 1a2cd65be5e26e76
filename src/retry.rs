//! `execq retry JOB`: send a failed job back to `pending/` to run again, keeping its earlier result.
//!
//! The job is first claimed (renamed to a dot-name in `failed/`), so that two retries of one job
//! cannot both requeue it. A JSON job goes back as its object with the old `result` moved to the
//! end of `history`; a script or other file goes back byte for byte, its old sidecar staying in
//! `failed/`, marked with `retried_at`. Both are linked into `pending/` under a free name.

use std::ffi::OsStr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::catalog::{self, Entry, State};
use crate::fsutil;
use crate::queue::Queue;
use crate::record::{self, timestamp};
use crate::submit;

/// Requeues `job` and returns its new path in `pending/`.
pub fn retry(queue: &Queue, job: &str) -> Result<PathBuf> {
    queue.open()?;
    let entry = catalog::find(queue, job)?;
    match entry.state {
        State::Failed => {}
        State::Completed => {
            bail!(
                "`{}` completed; only failed jobs are retried (submit it again to re-run it)",
                entry.name
            )
        }
        State::Pending | State::Running => {
            bail!("`{}` is {} already", entry.name, entry.state.as_str())
        }
    }
    let claimed = claim(queue, &entry)?;
    let path = match (&entry.sidecar, &entry.object) {
        (None, Some(_)) => requeue_record(queue, &entry)?,
        _ => requeue_file(queue, &entry, &claimed)?,
    };
    fsutil::remove_if_exists(&claimed)?;
    fsutil::sync_dir(&queue.failed)?;
    tracing::info!(file = ?entry.name, to = %path.display(), "job retried");
    Ok(path)
}

/// Takes the job out of `failed/` before anything else, by renaming it to a dot-name only this
/// process uses: of two retries of one job, only one rename can succeed, so it runs once.
/// (A retry killed right after this leaves the dot-file in `failed/`; nothing is lost.)
fn claim(queue: &Queue, entry: &Entry) -> Result<PathBuf> {
    let suffix = format!(".{}", std::process::id());
    let claimed = queue.failed.join(fsutil::fit_name(
        ".retrying-",
        OsStr::new(&entry.name),
        &suffix,
    ));
    match std::fs::rename(&entry.path, &claimed) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "`{}` is being retried by another execq, or was just removed",
                entry.name
            )
        }
        other => other
            .with_context(|| format!("failed to take `{}` out of failed/", entry.path.display()))?,
    }
    Ok(claimed)
}

/// `job.tar.gz` → (`job.tar`, `.gz`); a name without an extension has an empty one.
fn split_name(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    }
}

fn requeue_record(queue: &Queue, entry: &Entry) -> Result<PathBuf> {
    let mut object = entry.object.clone().expect("a merged record is an object");
    record::archive_result(&mut object);
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(object))?;
    bytes.push(b'\n');
    let (stem, ext) = split_name(&entry.name);
    submit::enqueue(queue, stem, ext, &bytes)
}

fn requeue_file(queue: &Queue, entry: &Entry, claimed: &std::path::Path) -> Result<PathBuf> {
    let (stem, ext) = split_name(&entry.name);
    let dest = submit::place(claimed, &queue.pending, stem, ext)?;
    fsutil::sync_dir(&queue.pending)?;
    if let Some(sidecar) = &entry.sidecar {
        let mut old = entry.record()?;
        old["retried_at"] = json!(timestamp(chrono::Local::now()));
        old["retried_as"] = json!(dest.file_name().map(|n| n.to_string_lossy()));
        let tmp = queue.temp_path("retry");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&old)?)
            .with_context(|| format!("failed to write `{}`", tmp.display()))?;
        fsutil::rename(&tmp, sidecar)?;
    }
    Ok(dest)
}

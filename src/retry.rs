//! `execq retry JOB`: send a failed job back to `pending/` to run again, keeping its earlier result.
//!
//! A JSON job goes back as its object with the old `result` moved to the end of `history` (written
//! atomically, then the old record is removed). A script or other file goes back byte for byte;
//! its old sidecar stays in `failed/`, marked with `retried_at`.

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
    let path = match (&entry.sidecar, &entry.object) {
        (None, Some(_)) => requeue_record(queue, &entry)?,
        _ => requeue_file(queue, &entry)?,
    };
    tracing::info!(file = ?entry.name, to = %path.display(), "job retried");
    Ok(path)
}

fn requeue_record(queue: &Queue, entry: &Entry) -> Result<PathBuf> {
    let mut object = entry.object.clone().expect("a merged record is an object");
    record::archive_result(&mut object);
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(object))?;
    bytes.push(b'\n');
    let stem = entry.name.strip_suffix(".json").unwrap_or(&entry.name);
    let path = submit::enqueue(queue, stem, ".json", &bytes)?;
    fsutil::remove_if_exists(&entry.path)?;
    fsutil::sync_dir(&queue.failed)?;
    Ok(path)
}

fn requeue_file(queue: &Queue, entry: &Entry) -> Result<PathBuf> {
    let dest = fsutil::free_name(&queue.pending, std::ffi::OsStr::new(&entry.name), false);
    if let Some(sidecar) = &entry.sidecar {
        let mut old = entry.record()?;
        old["retried_at"] = json!(timestamp(chrono::Local::now()));
        old["retried_as"] = json!(dest.file_name().map(|n| n.to_string_lossy()));
        let tmp = queue.temp_path("retry");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&old)?)
            .with_context(|| format!("failed to write `{}`", tmp.display()))?;
        fsutil::rename(&tmp, sidecar)?;
    }
    fsutil::rename(&entry.path, &dest)?;
    fsutil::sync_dir(&queue.pending)?;
    Ok(dest)
}

//! Rerun a finished job (`execq rerun`, MCP `rerun_job`, the served dashboard): a fresh copy of
//! it — completed, failed or cancelled — is queued under a new name, with `rerun_of` naming the
//! original, whose record stays as it is. (`retry` is different: it sends a failed job itself
//! back, its earlier result moved to `history`.)

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

use anyhow::{Result, bail};
use chrono::Local;
use serde_json::{Map, Value, json};

use crate::job::sandbox::Origin;
use crate::job::{self, JobSpec};
use crate::ops::submit::check_sandbox;
use crate::queue::Queue;
use crate::queue::catalog::State;
use crate::queue::enqueue::{enqueue_unsynced, slug};
use crate::queue::pending::MAX_JOB_BYTES;

/// The fields of a record that belong to its run, not to the job: a rerun starts without them
/// (a copy of a job cancelled while held runs: it was asked for).
const RUN_FIELDS: [&str; 8] = [
    "result",
    "hold",
    "history",
    "retried_at",
    "retried_as",
    "rerun_of",
    "submitted_at",
    "mcp_task",
];

/// Queues a copy of the finished job `reference` names, coming through `origin`'s door, if
/// `allowed` accepts it (as the drain will read it); returns the new job's path in `pending/`.
pub fn rerun(
    queue: &Queue,
    reference: &str,
    origin: Origin,
    allowed: impl FnOnce(&JobSpec) -> Result<(), String>,
) -> Result<PathBuf> {
    queue.open()?;
    let entry = super::get::in_queue(queue, reference, "rerun")?;
    if matches!(entry.state, State::Pending | State::Running) {
        bail!(
            "`{}` is {}: only a finished job can be rerun",
            entry.name,
            entry.state.as_str()
        );
    }
    let (None, Some(record)) = (&entry.sidecar, &entry.object) else {
        bail!(
            "`{}` is not a JSON job: a script is rerun by submitting it again",
            entry.name
        );
    };
    let mut object: Map<String, Value> = record.clone();
    for field in RUN_FIELDS {
        object.remove(field);
    }
    crate::executor::as_asked(&mut object);
    super::submit::check_executor(queue, &object)
        .map_err(|why| anyhow::anyhow!("`{}` cannot run again as it is: {why}", entry.name))?;
    object.insert("origin".into(), json!(origin.as_str()));
    object.insert("rerun_of".into(), json!(entry.name));
    object.insert(
        "submitted_at".into(),
        json!(crate::job::result::timestamp(Local::now())),
    );
    let spec = job::from_json(&object)
        .map_err(|e| anyhow::anyhow!("`{}` cannot run again as it is: {e}", entry.name))?;
    if let Err(why) = allowed(&spec)
        .and_then(|()| check_sandbox(queue, spec.sandbox.as_ref(), origin, spec.cwd.as_deref()))
    {
        bail!("`{}` was not rerun: {why}", entry.name);
    }
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(object))?;
    bytes.push(b'\n');
    if bytes.len() as u64 > MAX_JOB_BYTES {
        bail!(
            "`{}` is over the {MAX_JOB_BYTES}-byte limit for job files",
            entry.name
        );
    }
    let stamp = Local::now().format("%Y%m%d-%H%M%S%.6f").to_string();
    let random = format!(
        "{:06x}",
        RandomState::new().build_hasher().finish() & 0xff_ffff
    );
    let name = format!("{stamp}-{}.json", slug(entry.task_id().unwrap_or(&random)));
    let (path, _) = enqueue_unsynced(queue, OsStr::new(&name), &bytes)?;
    crate::fsutil::sync_dir(&queue.pending)?;
    tracing::info!(file = %entry.name, to = %path.display(), by = origin.as_str(), "job rerun");
    Ok(path)
}

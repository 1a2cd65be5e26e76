//! Retry a failed job: send it back to `pending/` to run again, keeping its earlier result.
//!
//! The job is first claimed (renamed to a dot-name in `failed/`), so that two retries of one job
//! cannot both requeue it. A JSON job goes back as its object with the old `result` moved to the
//! end of `history`; a script or other file goes back byte for byte, its old sidecar staying in
//! `failed/`, marked with `retried_at`. Both reach `pending/` by one rename, under a free name:
//! the new JSON job is first written over the taken record, so a kill at any step leaves the job
//! in `failed/` or in `pending/`, never in both (`queue::taken` finishes a cut-short retry).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::fsutil;
use crate::job::result::{self as record, timestamp};
use crate::job::sandbox::Origin;
use crate::job::{self, Format, JobError, JobSpec};
use crate::ops::submit::{check_sandbox, floor_unkept};
use crate::queue::Queue;
use crate::queue::catalog::{Entry, State};
use crate::queue::index;
use crate::queue::names::{Slot, move_to_free};
use crate::queue::pending::MAX_JOB_BYTES;
use crate::queue::taken::{self, Purpose};

/// Requeues `job`, coming through `origin`'s door, and returns its new path in `pending/`.
pub fn retry(queue: &Queue, job: &str, origin: Origin) -> Result<PathBuf> {
    retry_if(queue, job, origin, |_| Ok(()))
}

/// [`retry`], if `allowed` accepts the job as it would go back to `pending/` (as the drain will
/// read it); otherwise the job stays in `failed/` as it was and `allowed`'s reason is the error.
/// The check is made on what was taken out of `failed/`, so it is what would run. The job goes
/// back as coming through `origin`'s door, whose `[sandbox]` floor it is held to (a looser
/// sandbox is refused here, naming the floor).
pub fn retry_if(
    queue: &Queue,
    job: &str,
    origin: Origin,
    allowed: impl FnOnce(&JobSpec) -> Result<(), String>,
) -> Result<PathBuf> {
    queue.open()?;
    let entry = super::get::in_queue(queue, job, "retried")?;
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
    if entry.orphan {
        match entry.retried_as() {
            Some(new) => bail!("`{}` was retried already, as `{new}`", entry.name),
            None => bail!(
                "`{}` cannot run again: the job removed its own file while it ran, so only its record is left",
                entry.name
            ),
        }
    }
    let mut change = index::Change::begin(queue);
    let claimed = claim(queue, &entry)?;
    let merged = entry.sidecar.is_none() && entry.object.is_some();
    let sandboxed = |spec: &JobSpec| match floor_unkept(queue, origin) {
        Some(why) if !merged => Err(why),
        _ => check_sandbox(queue, spec.sandbox.as_ref(), origin, spec.cwd.as_deref()),
    };
    // Where it would run must be able to run it as it is (a Slurm job under a sandbox cannot).
    let forwardable = || match &entry.object {
        Some(object) if merged => super::submit::check_executor(queue, object),
        _ => Ok(()),
    };
    let checked = requeued_spec(&entry, &claimed)
        .and_then(|spec| allowed(&spec).and_then(|()| sandboxed(&spec)))
        .and_then(|()| forwardable());
    if let Err(why) = checked {
        if taken::put_back(queue, &claimed, &entry.file_name)? != entry.path {
            // Its name was taken meanwhile: back under another one, which the index has not.
            change.forget();
        }
        change.commit(queue);
        tracing::warn!(target: crate::logging::DAEMON_LOG_ONLY, file = ?entry.file_name, "retry refused: {why}");
        bail!("`{}` was not retried: {why}", entry.name);
    }
    let path = match (&entry.sidecar, &entry.object) {
        (None, Some(_)) => requeue_record(queue, &entry, &claimed, origin)?,
        _ => requeue_file(queue, &entry, &claimed)?,
    };
    fsutil::sync_dir(&queue.failed)?;
    change.removed(State::Failed, 1);
    if let Some(sidecar) = entry.sidecar.as_ref().filter(|s| fsutil::exists(s)) {
        // The old sidecar stays as the record of the run that failed, marked `retried_as`.
        let tid = index::TaskId::Known(None);
        change.filed(State::Failed, sidecar, &entry.file_name, tid);
    }
    change.commit(queue);
    tracing::info!(file = ?entry.name, to = %path.display(), "job retried");
    Ok(path)
}

/// Takes the job out of `failed/` before anything else (see `queue::taken`): of two retries of
/// one job, only one can succeed, so it runs once.
fn claim(queue: &Queue, entry: &Entry) -> Result<PathBuf> {
    match taken::take(queue, &entry.path, &entry.file_name, Purpose::Retry) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "`{}` is being retried by another execq, or was just removed",
                entry.name
            )
        }
        other => other
            .with_context(|| format!("failed to take `{}` out of failed/", entry.path.display())),
    }
}

/// What the job would run once back in `pending/`: a merged record's object, or the bytes taken.
fn requeued_spec(entry: &Entry, claimed: &Path) -> Result<JobSpec, String> {
    let cannot = |e: JobError| format!("it cannot run as it is ({e})");
    if let (None, Some(object)) = (&entry.sidecar, &entry.object) {
        return job::from_json(object).map_err(cannot);
    }
    let bytes =
        std::fs::read(claimed).map_err(|e| format!("cannot read `{}`: {e}", claimed.display()))?;
    match Format::of(&entry.file_name) {
        Format::Json => job::parse_object(&bytes)
            .and_then(|object| job::from_json(&object))
            .map_err(cannot),
        Format::Script => job::from_script(&bytes).map_err(cannot),
        Format::Unsupported => Err(cannot(JobError::Unsupported(entry.name.clone()))),
    }
}

/// Writes the new job over the taken record, then moves it to `pending/` in one rename, so a kill
/// leaves it in exactly one of the two (see `queue::taken`).
fn requeue_record(queue: &Queue, entry: &Entry, claimed: &Path, origin: Origin) -> Result<PathBuf> {
    let mut object = entry.object.clone().expect("a merged record is an object");
    record::archive_result(&mut object);
    crate::executor::as_asked(&mut object);
    object.insert("origin".into(), json!(origin.as_str()));
    // Retried, it is to run: a job cancelled while held does not come back held.
    object.remove("hold");
    let limit = usize::try_from(MAX_JOB_BYTES).unwrap_or(usize::MAX);
    let Some(bytes) = record::fit_history(&mut object, limit) else {
        bail!(
            "`{}` is over the {MAX_JOB_BYTES}-byte limit for job files even without its earlier results",
            entry.name
        );
    };
    let tmp = queue.temp_path("retry");
    fsutil::write_new_synced(&tmp, &bytes)?;
    fsutil::rename(&tmp, claimed)?;
    let dest = move_to_free(claimed, &queue.pending, &entry.file_name, Slot::Plain)?;
    fsutil::sync_dir(&queue.pending)?;
    Ok(dest)
}

fn requeue_file(queue: &Queue, entry: &Entry, claimed: &Path) -> Result<PathBuf> {
    let dest = move_to_free(claimed, &queue.pending, &entry.file_name, Slot::Plain)?;
    fsutil::sync_dir(&queue.pending)?;
    if let Some(sidecar) = &entry.sidecar {
        let mut old = entry.record()?;
        old["retried_at"] = json!(timestamp(chrono::Local::now()));
        old["retried_as"] = json!(dest.file_name().map(|n| n.to_string_lossy()));
        let tmp = queue.temp_path("retry");
        fsutil::write_new_synced(&tmp, &serde_json::to_vec_pretty(&old)?)?;
        // Replaces the old sidecar with itself, marked: the one file this is meant to replace.
        fsutil::rename(&tmp, sidecar)?;
    }
    Ok(dest)
}

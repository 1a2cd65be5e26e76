//! Recording a finished job: its record is written and synced in `running/`, then filed in
//! `completed/` or `failed/` with the job file (see the `queue` module for the crash states).

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::fsutil;
use crate::job::result::{self as job_result, JobResult, Status};
use crate::queue::catalog::State;
use crate::queue::claim::{Claimed, still_there};
use crate::queue::index::{self, TaskId};
use crate::queue::names::{self, Slot, fit_name, free_name, sidecar_path};
use crate::queue::{Outbox, Queue};

/// How a job's result is stored.
#[derive(Clone, Debug)]
pub enum Record {
    /// A JSON job: the object itself, with `result` added.
    Merged(Map<String, Value>),
    /// Anything else: the job file moves unchanged, with `<name>.result.json` beside it.
    Sidecar,
}

/// Where a finished job ended up.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The record (JSON job) or the job file (sidecar records).
    pub path: PathBuf,
    /// The file holding the JSON record: `path`, or the sidecar.
    pub record: PathBuf,
}

/// execq's own file `running/.NAME+suffix` for the job at `running/NAME`. Claims leave room for
/// every suffix (see [`Slot::Running`]), so two jobs never share one.
pub(crate) fn internal(job: &Path, suffix: &str) -> PathBuf {
    job.with_file_name(fit_name(".", job.file_name().unwrap_or_default(), suffix))
}

/// The file `execq cancel` writes to ask the drain running the job at `running/NAME` to end it:
/// `running/.NAME.cancel`.
pub fn cancel_marker(job: &Path) -> PathBuf {
    internal(job, ".cancel")
}

/// The live copies of a running job's stdout and stderr (see `exec::spool`):
/// `running/.NAME.stdout` and `.stderr`.
pub fn spool_paths(job: &Path) -> [PathBuf; 2] {
    [internal(job, ".stdout"), internal(job, ".stderr")]
}

/// Where a record is written before it is synced and renamed to `.NAME.record` (or `.sidecar`).
pub(crate) fn staged(job: &Path, sidecar: bool) -> PathBuf {
    internal(
        job,
        if sidecar {
            ".sidecar.tmp"
        } else {
            ".record.tmp"
        },
    )
}

/// Stores `result` for a claimed job and moves it to `completed/` or `failed/`.
pub fn finish(queue: &Queue, job: &Claimed, record: Record, result: &JobResult) -> Result<Stored> {
    let finishing = prepare(queue, job, record, result)?;
    finishing.sync()?;
    finishing.complete(queue)
}

/// A job's record, written to `running/.NAME.record.tmp` (or `.sidecar.tmp`) but neither synced nor
/// moved yet: [`finish`] in steps, so that a drain can make one record and the next claim durable
/// with one sync (see `drain::job`). The record is only renamed after [`Finishing::sync`], so
/// a half-written one is never anything but a `.tmp` file. Recovery files a `.tmp` record that is
/// complete (a drain killed before syncing it) and removes one that is not (a power loss).
#[derive(Debug)]
pub struct Finishing {
    file: fs::File,
    tmp: PathBuf,
    done: PathBuf,
    job: Claimed,
    /// The sidecar's destination for a sidecar record; `None` for a merged one.
    sidecar_dest: Option<PathBuf>,
    outbox: PathBuf,
    status: Status,
    /// The job's own `notify` field, if it has one.
    notify: Option<Value>,
    /// The job's `task_id`, for the index of records.
    task_id: Option<String>,
}

/// Writes the record for `job` (see [`Finishing`]).
pub fn prepare(
    queue: &Queue,
    job: &Claimed,
    record: Record,
    result: &JobResult,
) -> Result<Finishing> {
    let outbox = queue.outbox(Outbox::of(result)).to_owned();
    let notify = match &record {
        Record::Merged(object) => object.get("notify").filter(|v| !v.is_null()).cloned(),
        Record::Sidecar => None,
    };
    let task_id = match &record {
        Record::Merged(object) => object
            .get("task_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Record::Sidecar => None,
    };
    let sidecar_dest =
        matches!(record, Record::Sidecar).then(|| free_name(&outbox, &job.name, Slot::WithSidecar));
    // A job may have removed `running/` itself; its record still needs a place to be written.
    ensure_dir(&queue.running)?;
    let tmp = staged(&job.path, sidecar_dest.is_some());
    let (file, done) = match record {
        Record::Merged(mut object) => {
            let record = job_result::Merged::new(&mut object, result);
            (write_record(&tmp, &record)?, internal(&job.path, ".record"))
        }
        Record::Sidecar => {
            let name = sidecar_dest.as_deref().and_then(Path::file_name);
            let sidecar = Sidecar {
                job: name.map(OsStr::to_string_lossy),
                result,
            };
            (
                write_record(&tmp, &sidecar)?,
                internal(&job.path, ".sidecar"),
            )
        }
    };
    Ok(Finishing {
        file,
        tmp,
        done,
        job: job.clone(),
        sidecar_dest,
        outbox,
        status: result.status,
        notify,
        task_id,
    })
}

/// A sidecar record: the name of the job file it goes with, and the job's result.
#[derive(Serialize)]
struct Sidecar<'a> {
    job: Option<Cow<'a, str>>,
    result: &'a JobResult,
}

/// Writes `record` to `tmp` (replacing a leftover) as pretty JSON and a newline, serialized
/// straight into the file: the whole text is never in memory (a job's output alone can make
/// 6 MiB of it, six bytes for each NUL byte it printed).
fn write_record(tmp: &Path, record: &impl Serialize) -> Result<fs::File> {
    fsutil::remove_if_exists(tmp)?;
    fsutil::write_new_with(tmp, |out| {
        serde_json::to_writer_pretty(&mut *out, record)?;
        out.write_all(b"\n")
    })
}

impl Finishing {
    /// The job this record is for.
    pub fn job(&self) -> &Claimed {
        &self.job
    }

    /// The job's status in the record.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The job's own `notify` field.
    pub fn notify(&self) -> Option<&Value> {
        self.notify.as_ref()
    }

    /// Flushes the record to disk. On ext4 this one sync also commits every rename made before
    /// it, a claim included.
    pub fn sync(&self) -> Result<()> {
        fsutil::sync_file(&self.file, &self.tmp)
    }

    /// Moves the synced record and the job into `completed/` or `failed/`.
    pub fn complete(self, queue: &Queue) -> Result<Stored> {
        fsutil::rename(&self.tmp, &self.done)?;
        let task_id = TaskId::Known(self.task_id.as_deref());
        let stored = indexed(queue, &self.outbox, task_id, || match &self.sidecar_dest {
            None => complete_merged(Some(&self.job), &self.done, &self.outbox, &self.job.name),
            Some(dest) => complete_sidecar(Some(&self.job), &self.done, dest),
        })?;
        fsutil::remove_if_exists(&cancel_marker(&self.job.path))?;
        for spool in spool_paths(&self.job.path) {
            fsutil::remove_if_exists(&spool)?;
        }
        Ok(stored)
    }
}

/// Files a record with `file` (into `outbox`), keeping the index of records (see `queue::index`).
pub(crate) fn indexed(
    queue: &Queue,
    outbox: &Path,
    task_id: TaskId<'_>,
    file: impl FnOnce() -> Result<Stored>,
) -> Result<Stored> {
    let mut change = index::Change::begin(queue);
    let stored = file()?;
    let state = if outbox == queue.completed {
        State::Completed
    } else {
        State::Failed
    };
    let name = stored.path.file_name().unwrap_or_default();
    change.filed(state, &stored.record, name, task_id);
    change.commit(queue);
    Ok(stored)
}

/// Recreates a queue folder someone removed (say, to clean up `completed/`) mid-drain.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fsutil::create_private_dir(dir)
        .with_context(|| format!("failed to recreate `{}`", dir.display()))?;
    tracing::warn!(folder = %dir.display(), "a queue folder was missing and has been recreated");
    Ok(())
}

/// The record is safe in `running/` before this runs, so a folder that cannot be used here loses
/// nothing: the next drain completes the move.
pub(crate) fn complete_merged(
    job: Option<&Claimed>,
    done: &Path,
    outbox: &Path,
    name: &OsStr,
) -> Result<Stored> {
    ensure_dir(outbox)?;
    if let Some(job) = job {
        remove_job_file(job)?;
    }
    let dest = names::move_to_free(done, outbox, name, Slot::Plain)?;
    Ok(Stored {
        record: dest.clone(),
        path: dest,
    })
}

/// The job file goes with its sidecar, unless the job removed (or replaced) it while it ran: then
/// the sidecar alone is the record, under the name picked for the pair.
fn complete_sidecar(job: Option<&Claimed>, done: &Path, dest: &Path) -> Result<Stored> {
    let outbox = dest.parent().expect("an outbox path has a parent");
    ensure_dir(outbox)?;
    let mut dest = dest.to_owned();
    if let Some(job) = job.filter(|job| still_there(job)) {
        let name = dest.file_name().unwrap_or_default().to_owned();
        dest = names::move_to_free(&job.path, outbox, &name, Slot::WithSidecar)?;
    } else if let Some(job) = job {
        warn_replaced(job);
    }
    let mut sidecar = sidecar_path(&dest);
    if !fsutil::move_if_free(done, &sidecar)? {
        let name = sidecar.file_name().unwrap_or_default().to_owned();
        sidecar = names::move_to_free(done, outbox, &name, Slot::Plain)?;
    }
    Ok(Stored {
        path: dest,
        record: sidecar,
    })
}

fn remove_job_file(job: &Claimed) -> Result<()> {
    if !fsutil::remove_if_same(&job.path, job.id)? {
        warn_replaced(job);
    }
    Ok(())
}

/// A file the job put in its own place is not the job: it is left in `running/`, where the next
/// drain records it as interrupted, rather than removed or filed as this job.
fn warn_replaced(job: &Claimed) {
    if fsutil::exists(&job.path) {
        tracing::warn!(file = %job.path.display(), "the job replaced its own file in running/; the new file is left there");
    }
}

/// Makes the moves into `completed/` and `failed/` durable. A drain calls this once per batch rather
/// than once per job: until it runs, a power loss can only leave a finished record as
/// `running/.x.record` (its content is already synced), which the next drain files. Only the
/// folders named (those that received something) are synced.
pub fn sync_outboxes(queue: &Queue, completed: bool, failed: bool) -> Result<()> {
    if completed {
        fsutil::sync_dir(&queue.completed)?;
    }
    if failed {
        fsutil::sync_dir(&queue.failed)?;
    }
    Ok(())
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let bytes = fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("`{}` is not valid JSON", path.display()))
}

pub(crate) fn read_result(path: &Path) -> Result<JobResult> {
    let value = read_json(path)?;
    serde_json::from_value(value["result"].clone())
        .with_context(|| format!("`{}` holds no valid result", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sidecar_serializes_as_its_json_object_does() {
        let result = JobResult::error("no such program");
        for name in [Some(Cow::from("job.sh")), None] {
            let expected = json!({ "job": name, "result": result });
            let sidecar = Sidecar {
                job: name.clone(),
                result: &result,
            };
            assert_eq!(
                serde_json::to_string_pretty(&sidecar).unwrap(),
                serde_json::to_string_pretty(&expected).unwrap()
            );
        }
    }
}

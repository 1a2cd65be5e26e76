//! Moving a job through the queue: claim it, store its record, and finish what a killed drain
//! left in `running/`. The crash-safety argument is in the `queue` module's docs.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Local, TimeZone};
use serde_json::{Map, Value, json};

use crate::fsutil::{self, FileId, Slot, fit_name, free_name, sidecar_path};
use crate::queue::Queue;
use crate::record::{self, JobResult};

/// A job moved into `running/`.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The name it was queued under; its record is filed under it.
    pub name: OsString,
    /// Where it is in `running/`. The name there is numbered (`same.1.json`) when `same.json` is
    /// still there (the previous job of that name, whose record is not filed yet), and shortened
    /// when execq's own `.NAME.sidecar.tmp` would not fit beside it.
    pub path: PathBuf,
    /// The claimed file's identity: only this file is ever moved or removed as this job.
    pub id: FileId,
}

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
}

/// Moves `pending/name` into `running/` under a free name (never over another file). The claim is
/// not durable, and the job must not start, until [`sync_claims`] has returned. `None` when the
/// file vanished first (its producer took it back).
pub fn claim(queue: &Queue, name: &OsStr) -> Result<Option<Claimed>> {
    let from = queue.pending.join(name);
    let mut moved = fsutil::try_move_to_free(&from, &queue.running, name, Slot::Running);
    if matches!(&moved, Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        && !queue.running.is_dir()
    {
        ensure_dir(&queue.running)?;
        moved = fsutil::try_move_to_free(&from, &queue.running, name, Slot::Running);
    }
    let path = match moved {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.with_context(|| format!("failed to claim `{}`", from.display()))?,
    };
    Ok(FileId::at(&path).map(|id| Claimed {
        name: name.to_owned(),
        path,
        id,
    }))
}

/// Makes the claims made so far durable: after this, a power loss leaves them in `running/`.
pub fn sync_claims(queue: &Queue) -> Result<()> {
    fsutil::sync_dir(&queue.running)
}

/// Puts a claimed job back in `pending/` (it has not started). If a producer has written a new
/// file under its name meanwhile, that one is not replaced: the job stays in `running/`, where the
/// next drain records it as interrupted.
pub fn unclaim(queue: &Queue, job: &Claimed) -> Result<()> {
    let back = queue.pending.join(&job.name);
    if !fsutil::move_if_free(&job.path, &back)? {
        anyhow::bail!(
            "`{}` was taken by a new job meanwhile; the claimed one stays in running/",
            back.display()
        );
    }
    Ok(())
}

/// execq's own file `running/.NAME+suffix` for the job at `running/NAME`. Claims leave room for
/// every suffix (see [`Slot::Running`]), so two jobs never share one.
fn internal(job: &Path, suffix: &str) -> PathBuf {
    job.with_file_name(fit_name(".", job.file_name().unwrap_or_default(), suffix))
}

/// Where a record is written before it is synced and renamed to `.NAME.record` (or `.sidecar`).
fn staged(job: &Path, sidecar: bool) -> PathBuf {
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
    finishing.complete()
}

/// A job's record, written to `running/.NAME.record.tmp` (or `.sidecar.tmp`) but neither synced nor
/// moved yet: [`finish`] in steps, so that a drain can make one record and the next claim durable
/// with one sync (see `drain::process`). The record is only renamed after [`Finishing::sync`], so
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
    status: record::Status,
}

/// Writes the record for `job` (see [`Finishing`]).
pub fn prepare(
    queue: &Queue,
    job: &Claimed,
    record: Record,
    result: &JobResult,
) -> Result<Finishing> {
    let outbox = queue.outbox(result.outbox()).to_owned();
    let (value, done, sidecar_dest) = match record {
        Record::Merged(mut object) => {
            record::merge(&mut object, result);
            let done = internal(&job.path, ".record");
            (Value::Object(object), done, None)
        }
        Record::Sidecar => {
            let dest = free_name(&outbox, &job.name, Slot::WithSidecar);
            let sidecar =
                json!({ "job": dest.file_name().map(|n| n.to_string_lossy()), "result": result });
            (sidecar, internal(&job.path, ".sidecar"), Some(dest))
        }
    };
    // A job may have removed `running/` itself; its record still needs a place to be written.
    ensure_dir(&queue.running)?;
    let tmp = staged(&job.path, sidecar_dest.is_some());
    let mut bytes = serde_json::to_vec_pretty(&value).context("failed to serialize a record")?;
    bytes.push(b'\n');
    fsutil::remove_if_exists(&tmp)?;
    let file = fsutil::write_new(&tmp, &bytes)?;
    Ok(Finishing {
        file,
        tmp,
        done,
        job: job.clone(),
        sidecar_dest,
        outbox,
        status: result.status,
    })
}

impl Finishing {
    /// The job this record is for.
    pub fn job(&self) -> &Claimed {
        &self.job
    }

    /// The job's status in the record.
    pub fn status(&self) -> record::Status {
        self.status
    }

    /// Flushes the record to disk. On ext4 this one sync also commits every rename made before
    /// it, a claim included.
    pub fn sync(&self) -> Result<()> {
        fsutil::sync_file(&self.file, &self.tmp)
    }

    /// Moves the synced record and the job into `completed/` or `failed/`.
    pub fn complete(self) -> Result<Stored> {
        fsutil::rename(&self.tmp, &self.done)?;
        match &self.sidecar_dest {
            None => complete_merged(Some(&self.job), &self.done, &self.outbox, &self.job.name),
            Some(dest) => complete_sidecar(Some(&self.job), &self.done, dest),
        }
    }
}

/// Recreates a queue folder someone removed (say, to clean up `completed/`) mid-drain.
fn ensure_dir(dir: &Path) -> Result<()> {
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
fn complete_merged(
    job: Option<&Claimed>,
    done: &Path,
    outbox: &Path,
    name: &OsStr,
) -> Result<Stored> {
    ensure_dir(outbox)?;
    if let Some(job) = job {
        remove_job_file(job)?;
    }
    let dest = fsutil::move_to_free(done, outbox, name, Slot::Plain)?;
    Ok(Stored { path: dest })
}

/// The job file goes with its sidecar, unless the job removed (or replaced) it while it ran: then
/// the sidecar alone is the record, under the name picked for the pair.
fn complete_sidecar(job: Option<&Claimed>, done: &Path, dest: &Path) -> Result<Stored> {
    let outbox = dest.parent().expect("an outbox path has a parent");
    ensure_dir(outbox)?;
    let mut dest = dest.to_owned();
    if let Some(job) = job.filter(|job| still_there(job)) {
        let name = dest.file_name().unwrap_or_default().to_owned();
        dest = fsutil::move_to_free(&job.path, outbox, &name, Slot::WithSidecar)?;
    } else if let Some(job) = job {
        warn_replaced(job);
    }
    let sidecar = sidecar_path(&dest);
    if !fsutil::move_if_free(done, &sidecar)? {
        let name = sidecar.file_name().unwrap_or_default().to_owned();
        fsutil::move_to_free(done, outbox, &name, Slot::Plain)?;
    }
    Ok(Stored { path: dest })
}

/// Whether the claimed file is still in `running/` (a job may remove or replace its own file).
pub fn still_there(job: &Claimed) -> bool {
    FileId::at(&job.path) == Some(job.id)
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

/// What recovery did with one leftover.
#[derive(Debug)]
pub enum Recovered {
    /// A job that was running when drain died: recorded as interrupted.
    Interrupted { name: OsString, stored: Stored },
    /// A finished job whose move was cut short: the move was completed.
    Completed { name: OsString, stored: Stored },
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

/// Finishes whatever a killed drain left in `running/`. Never runs a job again.
/// `make_record` decides how an interrupted job's record is stored (merged or sidecar).
pub fn recover(queue: &Queue, make_record: impl Fn(&Claimed) -> Record) -> Result<Vec<Recovered>> {
    let mut names: Vec<OsString> = fs::read_dir(&queue.running)
        .with_context(|| format!("failed to read `{}`", queue.running.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("failed to read `{}`", queue.running.display()))?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    names.sort();
    let mut done = Vec::new();
    let is_ours = |n: &&OsString| n.as_encoded_bytes().starts_with(b".");
    let jobs: Vec<&OsString> = names.iter().filter(|n| !is_ours(n)).collect();
    for name in &jobs {
        done.push(recover_job(queue, name, &make_record)?);
    }
    // What is left of temporary files was cut short mid-write: nothing to keep.
    for name in names
        .iter()
        .filter(is_ours)
        .filter(|n| n.as_encoded_bytes().ends_with(b".tmp"))
    {
        fsutil::remove_if_exists(&queue.running.join(name))?;
    }
    for name in names.iter().filter(is_ours) {
        let path = queue.running.join(name);
        if fsutil::exists(&path) {
            if let Some(stored) = recover_orphan(queue, &path)? {
                done.push(Recovered::Completed {
                    name: name.clone(),
                    stored,
                });
            }
        }
    }
    Ok(done)
}

fn recover_job(
    queue: &Queue,
    name: &OsStr,
    make_record: &impl Fn(&Claimed) -> Record,
) -> Result<Recovered> {
    let path = queue.running.join(name);
    let job = Claimed {
        name: name.to_owned(),
        id: FileId::at(&path).with_context(|| format!("`{}` vanished", path.display()))?,
        path,
    };
    let merged = internal(&job.path, ".record");
    let sidecar = internal(&job.path, ".sidecar");
    adopt_staged(&staged(&job.path, false), &merged)?;
    adopt_staged(&staged(&job.path, true), &sidecar)?;
    if fsutil::exists(&merged) {
        let outbox = queue.outbox(read_result(&merged)?.outbox());
        let stored = complete_merged(Some(&job), &merged, outbox, name)?;
        return Ok(Recovered::Completed {
            name: name.to_owned(),
            stored,
        });
    }
    if fsutil::exists(&sidecar) {
        let result = read_result(&sidecar)?;
        let stored = finish(queue, &job, Record::Sidecar, &result)?;
        return Ok(Recovered::Completed {
            name: name.to_owned(),
            stored,
        });
    }
    let claimed_at = fs::symlink_metadata(&job.path)
        .ok()
        .and_then(|m| Local.timestamp_opt(m.ctime(), 0).single());
    let result = JobResult::interrupted_by_crash(claimed_at);
    let stored = finish(queue, &job, make_record(&job), &result)?;
    Ok(Recovered::Interrupted {
        name: name.to_owned(),
        stored,
    })
}

/// A record a killed drain had written in full but not yet synced and renamed (see
/// [`Finishing`]): it is the job's real result, so it is synced and renamed into place. One cut
/// short (by a power loss) does not parse and is left to be removed.
fn adopt_staged(tmp: &Path, done: &Path) -> Result<()> {
    if !fsutil::exists(tmp) || fsutil::exists(done) || read_result(tmp).is_err() {
        return Ok(());
    }
    let file =
        fs::File::open(tmp).with_context(|| format!("failed to open `{}`", tmp.display()))?;
    fsutil::sync_file(&file, tmp)?;
    fsutil::rename(tmp, done)
}

/// A finished record whose job file is already gone from `running/`.
fn recover_orphan(queue: &Queue, path: &Path) -> Result<Option<Stored>> {
    let file_name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    if let Some(stem) = file_name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".record"))
    {
        let outbox = queue.outbox(read_result(path)?.outbox());
        return complete_merged(None, path, outbox, OsStr::new(stem)).map(Some);
    }
    if file_name.ends_with(".sidecar") {
        let value = read_json(path)?;
        let result: JobResult = serde_json::from_value(value["result"].clone())
            .with_context(|| format!("`{}` holds no valid result", path.display()))?;
        // The name is only ever one execq wrote, but it is read back from a file: keep it a name.
        let job_name = value["job"]
            .as_str()
            .and_then(|n| Path::new(n).file_name())
            .unwrap_or(OsStr::new("unknown-job"));
        let outbox = queue.outbox(result.outbox());
        ensure_dir(outbox)?;
        let sidecar_name = fit_name("", job_name, fsutil::SIDECAR_SUFFIX);
        let dest = fsutil::move_to_free(path, outbox, &sidecar_name, Slot::Plain)?;
        fsutil::sync_dir(outbox)?;
        return Ok(Some(Stored { path: dest }));
    }
    Ok(None)
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes = fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("`{}` is not valid JSON", path.display()))
}

fn read_result(path: &Path) -> Result<JobResult> {
    let value = read_json(path)?;
    serde_json::from_value(value["result"].clone())
        .with_context(|| format!("`{}` holds no valid result", path.display()))
}

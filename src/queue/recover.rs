//! Recovery: finishing whatever a killed drain left in `running/`, never running a job again.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Local, TimeZone};

use crate::fsutil::{self, FileId};
use crate::job::result::JobResult;
use crate::queue::claim::Claimed;
use crate::queue::forwarded;
use crate::queue::index::TaskId;
use crate::queue::names::{self, Slot, fit_name};
use crate::queue::record::{
    Record, Stored, complete_merged, ensure_dir, finish, indexed, internal, read_json, read_result,
    staged,
};
use crate::queue::{Outbox, Queue};

/// What recovery did with one leftover.
#[derive(Debug)]
pub enum Recovered {
    /// A job that was running when drain died: recorded as interrupted.
    Interrupted { name: OsString, stored: Stored },
    /// A finished job whose move was cut short: the move was completed.
    Completed { name: OsString, stored: Stored },
    /// A job that never started: a held job a drain had claimed in the moment it was held, and
    /// was putting back, or a job for another executor that had not been handed over (its note
    /// not yet written): back in `pending/`, as it was.
    PutBack {
        name: OsString,
        to: std::path::PathBuf,
    },
    /// A job handed to another executor (see `queue::forwarded`): not a leftover, it runs there.
    Forwarded(Box<crate::queue::forwarded::Forwarded>),
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
    let is_ours = |n: &&OsString| names::is_internal(n);
    let jobs: Vec<&OsString> = names.iter().filter(|n| !is_ours(n)).collect();
    for name in &jobs {
        done.push(recover_job(queue, name, &make_record)?);
    }
    // What is left of temporary files was cut short mid-write, and a cancel request is moot
    // once its job is recorded: nothing to keep.
    for name in names.iter().filter(is_ours).filter(|n| {
        let n = n.as_encoded_bytes();
        [&b".tmp"[..], b".cancel", b".stdout", b".stderr"]
            .iter()
            .any(|suffix| n.ends_with(suffix))
    }) {
        fsutil::remove_if_exists(&queue.running.join(name))?;
    }
    // A note whose job is gone: its record was filed, or it went back to `pending/`.
    forwarded::all(queue, &names)?;
    for name in names.iter().filter(is_ours) {
        let path = queue.running.join(name);
        if fsutil::exists(&path)
            && let Some(stored) = recover_orphan(queue, &path)?
        {
            done.push(Recovered::Completed {
                name: name.clone(),
                stored,
            });
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
        let outbox = queue.outbox(Outbox::of(&read_result(&merged)?));
        let stored = indexed(queue, outbox, TaskId::InRecord, || {
            complete_merged(Some(&job), &merged, outbox, name)
        })?;
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
    if let Some(note) = forwarded::read(&job.path) {
        return Ok(Recovered::Forwarded(Box::new(note)));
    }
    // A held job never starts; a job for another executor starts there only once its note is
    // on disk: either, found here without that, never ran.
    if held(&job.path) || bound_elsewhere(&job.path) {
        let to = names::move_to_free(&job.path, &queue.pending, name, names::Slot::Plain)?;
        fsutil::sync_dir(&queue.pending)?;
        return Ok(Recovered::PutBack {
            name: name.to_owned(),
            to,
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

/// Whether the JSON job at `path` names an executor other than `local` (`executor: "slurm"`).
/// A job that only defaults to one (config.toml) is not put back: the config may have changed
/// since a drain ran it here.
fn bound_elsewhere(path: &Path) -> bool {
    use crate::job::executor::Kind;
    let Some(bytes) = crate::queue::pending::read_regular(path) else {
        return false;
    };
    crate::job::parse_object(&bytes)
        .ok()
        .and_then(|o| Kind::of_job(&o).ok().flatten())
        .is_some_and(|kind| kind != Kind::Local)
}

/// Whether the JSON job at `path` says `hold: true`.
fn held(path: &Path) -> bool {
    let Some(bytes) = crate::queue::pending::read_regular(path) else {
        return false;
    };
    crate::job::parse_object(&bytes)
        .is_ok_and(|o| o.get("hold") == Some(&serde_json::Value::Bool(true)))
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
        let outbox = queue.outbox(Outbox::of(&read_result(path)?));
        return indexed(queue, outbox, TaskId::InRecord, || {
            complete_merged(None, path, outbox, OsStr::new(stem))
        })
        .map(Some);
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
        let outbox = queue.outbox(Outbox::of(&result));
        ensure_dir(outbox)?;
        let sidecar_name = fit_name("", job_name, names::SIDECAR_SUFFIX);
        // Not kept in the index: its job file may have been filed (and indexed by a rebuild) as
        // an entry of its own before the kill; the change leaves the index to be rebuilt.
        let dest = names::move_to_free(path, outbox, &sidecar_name, Slot::Plain)?;
        fsutil::sync_dir(outbox)?;
        return Ok(Some(Stored {
            record: dest.clone(),
            path: dest,
        }));
    }
    Ok(None)
}

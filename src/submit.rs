//! `execq submit`: write a JSON job into `pending/` atomically and durably.
//!
//! The job is written and fsynced in `tmp/`, then hard-linked into `pending/` under a name no one
//! holds (a link never replaces an existing file), and `pending/` is fsynced. A drain therefore
//! never sees a partial file, and a `submit` that returned 0 survives a power loss.

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::Local;
use serde_json::{Map, Value, json};

use crate::fsutil;
use crate::job;
use crate::lock::{self, DrainLock};
use crate::queue::Queue;
use crate::signals::Shutdown;
use crate::sys;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub enum SubmitCommand {
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// A command line for `/bin/sh -c`.
    Shell(String),
}

/// A job to submit.
#[derive(Clone, Debug, PartialEq)]
pub struct SubmitOptions {
    pub command: SubmitCommand,
    pub task_id: Option<String>,
    pub description: Option<String>,
    pub result_file: Option<String>,
    pub timeout: Option<f64>,
    pub cwd: Option<PathBuf>,
}

/// What `submit --start` did about draining.
#[derive(Debug)]
pub enum Start {
    /// A drain holds the queue already; it will run the job. (Also: none could be started, and
    /// the job waits for the next one.)
    AlreadyDraining,
    /// This process forked a drain and goes on as the submitter.
    Started,
    /// This process *is* the forked drain, holding the queue's lock: drain, then exit.
    Drain(DrainLock),
}

/// Starts a drain in the background unless one holds the queue (`submit --start`).
///
/// The job is already in `pending/` when this takes the lock, so there is no gap: either the lock
/// is free and the new drain runs the job, or a drain holds it and sees the job — at the latest
/// when it looks at `pending/` once more after letting go of the lock. The lock is taken here,
/// before forking, and the forked copy inherits it, so no other drain can slip in between.
///
/// The drain is a fork of this process rather than a new `execq drain`: the submitter returns
/// without waiting for a program to load, which is most of what a submission costs. The copy runs
/// in its own session with no terminal, so closing the terminal or Ctrl-C does not stop it.
pub fn start_drain(queue: &Queue) -> Result<Start> {
    let Some(lock) = lock::acquire(queue, false, &Shutdown::default())? else {
        return Ok(Start::AlreadyDraining);
    };
    if sys::fork_detached(&lock.raw_fds()).context("failed to start a background drain")? {
        Ok(Start::Drain(lock))
    } else {
        // Closing this copy of the descriptor leaves the lock with the forked drain.
        drop(lock);
        Ok(Start::Started)
    }
}

/// Where a submitted job went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub task_id: String,
    pub path: PathBuf,
}

/// Writes the job into `queue`'s `pending/`.
pub fn submit(queue: &Queue, opts: &SubmitOptions) -> Result<Submitted> {
    queue.open()?;
    let stamp = Local::now().format("%Y%m%d-%H%M%S%.6f").to_string();
    let random = format!(
        "{:06x}",
        RandomState::new().build_hasher().finish() & 0xff_ffff
    );
    let task_id = opts
        .task_id
        .clone()
        .unwrap_or_else(|| format!("{stamp}-{random}"));
    let object = job_object(opts, &task_id)?;
    let mut bytes =
        serde_json::to_vec_pretty(&Value::Object(object)).context("failed to serialize the job")?;
    bytes.push(b'\n');
    let name = format!(
        "{stamp}-{}.json",
        slug(opts.task_id.as_deref().unwrap_or(&random))
    );
    let path = enqueue(queue, OsStr::new(&name), &bytes)?;
    Ok(Submitted { task_id, path })
}

/// Puts `bytes` into `pending/` as `name` (or `name` numbered, `stem.1.ext`..., if taken),
/// atomically and durably: staged and fsynced in `tmp/`, linked into place, `pending/` fsynced.
pub fn enqueue(queue: &Queue, name: &OsStr, bytes: &[u8]) -> Result<PathBuf> {
    let staged = queue.temp_path(&slug(&name.to_string_lossy()));
    fsutil::write_new_synced(&staged, bytes)?;
    let placed = place(&staged, &queue.pending, name);
    let _ = fs::remove_file(&staged);
    let path = placed?;
    fsutil::sync_dir(&queue.pending)?;
    Ok(path)
}

fn job_object(opts: &SubmitOptions, task_id: &str) -> Result<Map<String, Value>> {
    let mut object = Map::new();
    object.insert("task_id".into(), json!(task_id));
    match &opts.command {
        SubmitCommand::Argv(argv) => {
            let Some((program, args)) = argv.split_first() else {
                bail!("no program given to run")
            };
            object.insert("command".into(), json!(program));
            object.insert("args".into(), json!(args));
        }
        SubmitCommand::Shell(line) => {
            object.insert("command".into(), json!(line));
        }
    }
    // The drain runs elsewhere (its own folder, or the service's): a relative folder means the
    // submitter's.
    let cwd = opts
        .cwd
        .as_deref()
        .map(|c| {
            std::path::absolute(c)
                .with_context(|| format!("cannot make `--cwd {}` absolute", c.display()))
        })
        .transpose()?;
    let optional = [
        ("description", opts.description.as_ref().map(|d| json!(d))),
        ("result_file", opts.result_file.as_ref().map(|f| json!(f))),
        ("timeout", opts.timeout.map(|t| json!(t))),
        ("cwd", cwd.map(|c| json!(c.to_string_lossy()))),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            object.insert(key.into(), value);
        }
    }
    object.insert(
        "submitted_at".into(),
        json!(crate::record::timestamp(Local::now())),
    );
    job::from_json(&object).map_err(|e| anyhow::anyhow!("invalid job: {e}"))?;
    Ok(object)
}

/// Links `staged` into `pending/` as `name`, or `name` numbered (`stem.1.ext`...) if it is taken.
/// A link never replaces a file; where there are no hard links (exFAT, some network shares) the
/// file is moved instead, never over another.
pub(crate) fn place(staged: &Path, pending: &Path, name: &OsStr) -> Result<PathBuf> {
    for n in 0..=u64::MAX {
        let dest = pending.join(fsutil::numbered(name, n, fsutil::NAME_MAX));
        match fs::hard_link(staged, &dest) {
            Ok(()) => return Ok(dest),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(e)
                    .with_context(|| format!("failed to place the job at `{}`", dest.display()));
            }
            Err(_) => {
                if fsutil::move_if_free(staged, &dest)? {
                    return Ok(dest);
                }
            }
        }
    }
    unreachable!("a folder holds fewer than 2^64 names")
}

/// A task id made safe for a file name: letters, digits, `-`, `_` and `.` are kept.
fn slug(id: &str) -> String {
    let slug: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    slug.trim_start_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("build #42/linux"), "build__42_linux");
        assert_eq!(slug("..hidden"), "hidden");
        assert_eq!(slug(&"x".repeat(100)).len(), 64);
    }
}

//! Following one job until it has a record, from another process (`wait`, `submit --wait`,
//! `cancel`): found once by reference, then followed by the identity of its file, which the
//! claim's rename keeps. Each look is a `stat` of its pending name and a listing of `running/`,
//! so waiting costs next to nothing.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::fsutil::FileId;
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::names::{display_name, is_internal, split_ext};

/// How many more times [`Tracked::find`] looks for a job it did not find (50 ms apart).
const FIND_RETRIES: usize = 10;

/// A job being followed.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// How the user named it (a task_id, file name or stem): its record is found by it.
    pub reference: String,
    pending_name: Option<OsString>,
    id: Option<FileId>,
}

/// Where a followed job is now.
#[derive(Debug)]
pub enum Phase {
    Pending,
    Running,
    Finished(Box<Entry>),
}

impl Tracked {
    /// Finds the job `reference` names (see `catalog::find_all`): the one pending or running if
    /// there is one (an earlier run of the same name may have finished), else the newest record.
    pub fn find(queue: &Queue, reference: &str) -> Result<Self> {
        Self::find_entry(queue, reference).map(|(tracked, _)| tracked)
    }

    /// [`Tracked::find`], and the job as it was found.
    pub fn find_entry(queue: &Queue, reference: &str) -> Result<(Self, Entry)> {
        // A JSON job's file leaves running/ a moment before its record reaches completed/ or
        // failed/: look a few times before saying no job matches.
        let mut matches = catalog::find_all(queue, reference)?;
        for _ in 0..FIND_RETRIES {
            if !matches.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            matches = catalog::find_all(queue, reference)?;
        }
        let (live, done): (Vec<Entry>, Vec<Entry>) = matches
            .into_iter()
            .partition(|e| matches!(e.state, State::Pending | State::Running));
        let entry = match (live.is_empty(), done.into_iter().max_by_key(|e| e.time)) {
            (true, Some(newest)) => newest,
            _ => catalog::one(live, reference)?,
        };
        let reference = entry
            .task_id()
            .map_or_else(|| reference.to_owned(), str::to_owned);
        Ok((Self::at(reference, &entry), entry))
    }

    /// Follows the job `entry` is, known as `reference`.
    pub fn at(reference: String, entry: &Entry) -> Self {
        let live = matches!(entry.state, State::Pending | State::Running);
        Self {
            reference,
            pending_name: (entry.state == State::Pending).then(|| entry.file_name.clone()),
            id: live.then(|| FileId::at(&entry.path)).flatten(),
        }
    }

    /// Follows the job just put at `pending/name` as the file `id`, known as `reference` (its
    /// task_id).
    pub fn pending(reference: String, name: OsString, id: Option<FileId>) -> Self {
        Self {
            reference,
            pending_name: Some(name),
            id,
        }
    }

    /// Where the job's file is in `running/`, while it runs.
    pub fn running_path(&self, queue: &Queue) -> Option<PathBuf> {
        running_path(queue, self.id?)
    }

    /// Where the job is now. Between leaving `running/` and its record appearing (a moment) it
    /// still counts as running.
    pub fn phase(&self, queue: &Queue) -> Result<Phase> {
        if let Some(id) = self.id {
            if let Some(name) = &self.pending_name
                && FileId::at(&queue.pending.join(name)) == Some(id)
            {
                return Ok(Phase::Pending);
            }
            if in_running(queue, id) {
                return Ok(Phase::Running);
            }
        }
        match finished(queue, &self.reference)? {
            Some(entry) => Ok(Phase::Finished(Box::new(entry))),
            None if self.id.is_some() => Ok(Phase::Running),
            None => bail!("`{}` is no longer in the queue", self.reference),
        }
    }
}

fn in_running(queue: &Queue, id: FileId) -> bool {
    running_path(queue, id).is_some()
}

fn running_path(queue: &Queue, id: FileId) -> Option<PathBuf> {
    fs::read_dir(&queue.running)
        .ok()?
        .flatten()
        .filter(|e| !is_internal(&e.file_name()))
        .map(|e| e.path())
        .find(|p| FileId::at(p) == Some(id))
}

/// The newest record in `completed/` or `failed/` that `reference` names.
pub fn finished(queue: &Queue, reference: &str) -> Result<Option<Entry>> {
    let mut newest: Option<Entry> = None;
    for state in [State::Completed, State::Failed] {
        for entry in catalog::load(queue, state)? {
            let (stem, _) = split_ext(&entry.file_name);
            let named = entry.name == reference
                || display_name(std::ffi::OsStr::new(
                    std::str::from_utf8(stem).unwrap_or_default(),
                )) == reference
                || entry.task_id() == Some(reference);
            if named && newest.as_ref().is_none_or(|n| n.time <= entry.time) {
                newest = Some(entry);
            }
        }
    }
    Ok(newest)
}

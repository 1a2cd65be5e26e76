//! Following one job until it has a record, from another process (`wait`, `submit --wait`,
//! `cancel`): found once by reference, then followed by the identity of its file, which the
//! claim's rename keeps. Each look is a `stat` of its pending name and a listing of `running/`,
//! so waiting costs next to nothing.
//!
//! A job's record is filed under its name or, when that is taken, a numbered one (`my_job.1.json`,
//! see `names`): a reference finds every such namesake, and the newest record is the run meant.
//! A job followed from `pending/` or `running/` is never given a record that was there before it
//! was found (yesterday's `my_job.json` while today's is between `running/` and `completed/`).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};

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
    /// Records that were there before the job was found alive: none is its own.
    earlier: Records,
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
        // Listed first: the job found alive may be filed the moment after.
        let earlier = records(queue);
        // A JSON job's file leaves running/ a moment before its record reaches completed/ or
        // failed/: look a few times before saying no job matches.
        let mut found = look(queue, reference)?;
        for _ in 0..FIND_RETRIES {
            if found.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            found = look(queue, reference)?;
        }
        // A record left in running/ by a killed drain waits for the next drain to be filed.
        let found = match found {
            Some(entry) => Some(entry),
            None => newest_record(queue, reference, &Records::new())?,
        };
        let entry = match found {
            Some(entry) => entry,
            None => catalog::one(Vec::new(), reference)?,
        };
        let reference = entry
            .task_id()
            .map_or_else(|| reference.to_owned(), str::to_owned);
        Ok((Self::at(reference, &entry, earlier), entry))
    }

    /// Follows the job `entry` is, known as `reference`; `earlier` (see [`records`]), listed
    /// before `entry` was found, are not its record.
    pub fn at(reference: String, entry: &Entry, earlier: Records) -> Self {
        let live = matches!(entry.state, State::Pending | State::Running);
        Self {
            reference,
            pending_name: (entry.state == State::Pending).then(|| entry.file_name.clone()),
            id: live.then(|| FileId::at(&entry.path)).flatten(),
            earlier: if live { earlier } else { Records::new() },
        }
    }

    /// Follows the job just put at `pending/name` as the file `id`, known as `reference` (its
    /// task_id). `earlier` are the records listed before it was put there (see [`records`]);
    /// none is needed for a task_id that no other job can have.
    pub fn pending(
        reference: String,
        name: OsString,
        id: Option<FileId>,
        earlier: Records,
    ) -> Self {
        Self {
            reference,
            pending_name: Some(name),
            id,
            earlier,
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
        match newest_record(queue, &self.reference, &self.earlier)? {
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

/// What `reference` names now: the job pending or running if there is one (an earlier run of
/// the same name may have finished), else the newest record.
fn look(queue: &Queue, reference: &str) -> Result<Option<Entry>> {
    let live: Vec<Entry> = catalog::find_all(queue, reference)?
        .into_iter()
        .filter(|e| matches!(e.state, State::Pending | State::Running))
        .collect();
    if !live.is_empty() {
        return catalog::one(live, reference).map(Some);
    }
    if named_in_running(queue, reference) {
        // Claimed after pending/ was listed, or its record on its way: the newest record now
        // would be an earlier run's.
        return Ok(None);
    }
    newest_record(queue, reference, &Records::new())
}

/// Whether a job `reference` names is in `running/`: its file, or its record on the way to its
/// folder (`running/.NAME.record` or `.sidecar`, renamed there before the file is removed).
fn named_in_running(queue: &Queue, reference: &str) -> bool {
    let Ok(listing) = fs::read_dir(&queue.running) else {
        return false;
    };
    listing.flatten().any(|e| {
        let name = e.file_name();
        let bytes = name.as_encoded_bytes();
        let job = match bytes.strip_prefix(b".") {
            None => Some(bytes),
            Some(rest) => [&b".record"[..], b".sidecar"]
                .iter()
                .find_map(|suffix| rest.strip_suffix(*suffix)),
        };
        job.is_some_and(|job| names(OsStr::new(&*String::from_utf8_lossy(job)), reference))
    })
}

/// The newest record in `completed/` or `failed/` that `reference` names (see [`names`]),
/// leaving out the `earlier` ones.
pub fn newest_record(queue: &Queue, reference: &str, earlier: &Records) -> Result<Option<Entry>> {
    let mut newest: Option<Entry> = None;
    for state in [State::Completed, State::Failed] {
        for entry in catalog::load(queue, state)? {
            let named = names(&entry.file_name, reference) || entry.task_id() == Some(reference);
            if named
                && newest.as_ref().is_none_or(|n| n.time <= entry.time)
                && !earlier.contains(&identity(&entry.path))
            {
                newest = Some(entry);
            }
        }
    }
    Ok(newest)
}

/// Whether `reference` names the file `name`: its name or stem, or theirs before the number a
/// namesake's record was filed under (`my_job.1.json` is a run of `my_job.json`, `my_job`).
fn names(name: &OsStr, reference: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (stem, ext) = split_ext(name);
    let stem = display_name(OsStr::from_bytes(stem));
    if display_name(name) == reference || stem == reference {
        return true;
    }
    let Some((base, number)) = stem.rsplit_once('.') else {
        return false;
    };
    let numbered = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    let ext = display_name(OsStr::from_bytes(ext));
    numbered && (base == reference || format!("{base}{ext}") == reference)
}

/// Records in `completed/` and `failed/`, by name and inode (a name alone could be freed by
/// `prune` and taken by the job followed).
pub type Records = HashSet<(OsString, u64)>;

/// Every record now in `completed/` and `failed/`. A listing: no record is read.
pub fn records(queue: &Queue) -> Records {
    [&queue.completed, &queue.failed]
        .into_iter()
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flat_map(|listing| listing.flatten())
        .map(|e| (e.file_name(), e.ino()))
        .collect()
}

fn identity(path: &Path) -> (OsString, u64) {
    let ino = fs::symlink_metadata(path).map_or(0, |m| m.ino());
    (path.file_name().unwrap_or_default().to_owned(), ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_names_its_numbered_namesakes_and_nothing_else() {
        for (name, reference) in [
            ("my_job.json", "my_job"),
            ("my_job.json", "my_job.json"),
            ("my_job.1.json", "my_job"),
            ("my_job.12.json", "my_job.json"),
            ("script.1", "script"),
        ] {
            assert!(names(OsStr::new(name), reference), "{name} {reference}");
        }
        for (name, reference) in [
            ("my_job.x.json", "my_job"),
            ("my_job.1.json", "my"),
            ("other.1.json", "my_job"),
        ] {
            assert!(!names(OsStr::new(name), reference), "{name} {reference}");
        }
    }
}

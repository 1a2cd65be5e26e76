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
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::fsutil::FileId;
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::names::{answers_to, is_internal};

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
        for _ in 0..FIND_RETRIES {
            // Listed first: the job found alive may be filed the moment after.
            let earlier = records_named(queue, reference);
            let entry = find_now(queue, reference)?;
            let own = entry
                .task_id()
                .map_or_else(|| reference.to_owned(), str::to_owned);
            if own == reference || !matches!(entry.state, State::Pending | State::Running) {
                return Ok((Self::at(own, &entry, earlier), entry));
            }
            // Followed by its task_id from now on: the records that name were listed after it
            // was found alive, so they are earlier runs only if it is still alive now.
            let earlier = records_named(queue, &own);
            let tracked = Self::at(own, &entry, earlier);
            if tracked.alive(queue) {
                return Ok((tracked, entry));
            }
        }
        let entry = find_now(queue, reference)?;
        let own = entry
            .task_id()
            .map_or_else(|| reference.to_owned(), str::to_owned);
        Ok((Self::at(own, &entry, Records::new()), entry))
    }

    /// Whether the job is still in `pending/` or `running/`.
    fn alive(&self, queue: &Queue) -> bool {
        let Some(id) = self.id else { return false };
        let pending = self.pending_name.as_ref();
        pending.is_some_and(|n| FileId::at(&queue.pending.join(n)) == Some(id))
            || in_running(queue, id)
    }

    /// Follows the job `entry` is, known as `reference`; `earlier` (see [`records`]), listed
    /// before `entry` was found, are not its record.
    pub fn at(reference: String, entry: &Entry, earlier: Records) -> Self {
        let live = matches!(entry.state, State::Pending | State::Running);
        Self {
            reference,
            pending_name: (entry.state == State::Pending).then(|| entry.file_name.clone()),
            id: live.then_some(entry.id),
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

/// The job `reference` names now, looking a few times before saying none does.
fn find_now(queue: &Queue, reference: &str) -> Result<Entry> {
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
    match found {
        Some(entry) => Ok(entry),
        None => catalog::one(Vec::new(), reference),
    }
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
        job.is_some_and(|job| answers_to(OsStr::new(&*String::from_utf8_lossy(job)), reference))
    })
}

/// The newest record in `completed/` or `failed/` that `reference` names (see [`names`]),
/// leaving out the `earlier` ones.
pub fn newest_record(queue: &Queue, reference: &str, earlier: &Records) -> Result<Option<Entry>> {
    let mut newest: Option<Entry> = None;
    for entry in catalog::records_named(queue, reference)? {
        if newest.as_ref().is_none_or(|n| n.time <= entry.time)
            && !earlier.contains(&identity(&entry.path))
        {
            newest = Some(entry);
        }
    }
    Ok(newest)
}

/// Records in `completed/` and `failed/`, by name and inode (a name alone could be freed by
/// `prune` and taken by the job followed).
pub type Records = HashSet<(OsString, u64)>;

/// The records `reference` names now (see `catalog::records_named`): found through the index, so
/// the cost follows the records named, not the queue.
pub fn records_named(queue: &Queue, reference: &str) -> Records {
    catalog::records_named(queue, reference)
        .unwrap_or_default()
        .iter()
        .map(|e| identity(&e.path))
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
            assert!(
                answers_to(OsStr::new(name), reference),
                "{name} {reference}"
            );
        }
        for (name, reference) in [
            ("my_job.x.json", "my_job"),
            ("my_job.1.json", "my"),
            ("other.1.json", "my_job"),
        ] {
            assert!(
                !answers_to(OsStr::new(name), reference),
                "{name} {reference}"
            );
        }
    }
}

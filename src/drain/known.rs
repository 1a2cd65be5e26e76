//! What a drain knows of the jobs outside `pending/`, for `after`.
//!
//! Only what the pending jobs' references name is read: the jobs in `running/`, and for each
//! reference the records it names, found through the index of records (`queue::index`), so the
//! cost follows the references, not the number of records. Then kept up to date as the queue
//! changes:
//! - by this drain: a claim adds the job as running, and filing its record replaces that entry
//!   with the record under every reference it answers to (a dependent must never see its
//!   dependency as both running and done, nor as missing while it runs);
//! - by other processes, which only take jobs out of `pending/` (`execq cancel` files a pending
//!   job in `failed/`): when an entry the last look saw in `pending/` is gone and this drain did
//!   not claim it, or before a reference is judged to match no job, the references are looked up
//!   again.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

use anyhow::Result;

use crate::job::result::Status;
use crate::queue::Queue;
use crate::queue::catalog::{self, State};
use crate::queue::names::answers_to;
use crate::queue::pending::Entry;
use crate::queue::record::Stored;
use crate::queue::schedule::{Known, Pending};

/// The jobs in `running/`, and the records the pending jobs' references name, as one drain keeps
/// them.
pub(super) struct KnownJobs {
    running: Vec<Known>,
    /// By reference, the records it names.
    records: HashMap<String, Vec<Known>>,
    /// The names the last look saw in `pending/`, less those this drain claimed since.
    pending: HashSet<OsString>,
}

impl KnownJobs {
    /// Reads `running/`.
    pub(super) fn load(queue: &Queue) -> Result<Self> {
        Ok(Self {
            running: catalog::known_in(queue, State::Running)?,
            records: HashMap::new(),
            pending: HashSet::new(),
        })
    }

    /// The jobs `candidates`' references may name: every running job, and the records each
    /// reference names (looked up the first time it is met).
    pub(super) fn jobs(&mut self, queue: &Queue, candidates: &[Pending]) -> Result<Vec<Known>> {
        let mut jobs = self.running.clone();
        let mut seen: HashSet<(State, OsString)> = HashSet::new();
        for reference in candidates.iter().flat_map(|c| &c.schedule.after) {
            if !self.records.contains_key(reference) {
                let found = catalog::known_named(queue, reference)?;
                self.records.insert(reference.clone(), found);
            }
            for known in &self.records[reference] {
                if seen.insert((known.state, known.name.clone())) {
                    jobs.push(known.clone());
                }
            }
        }
        Ok(jobs)
    }

    /// Takes in a look at `pending/`: if a job the last look saw is gone and this drain did not
    /// claim it, another process filed it (or took it back), and the references are looked up
    /// again.
    pub(super) fn look(&mut self, entries: &[Entry]) {
        let now: HashSet<OsString> = entries.iter().map(|e| e.name.clone()).collect();
        let vanished = self.pending.iter().any(|name| !now.contains(name));
        self.pending = now;
        if vanished {
            self.recheck();
        }
    }

    /// Forgets what the references named, so that they are looked up again.
    pub(super) fn recheck(&mut self) {
        self.records.clear();
    }

    /// This drain claimed `pending/from` as `running/name`.
    pub(super) fn claimed(&mut self, from: &OsStr, name: &OsStr, task_id: Option<String>) {
        self.pending.remove(from);
        self.running.push(Known {
            name: name.to_owned(),
            task_id,
            state: State::Running,
            time: SystemTime::now(),
            status: None,
        });
    }

    /// This drain filed the job it ran as `running/name`: its record replaces it.
    pub(super) fn filed(&mut self, name: &OsStr, stored: &Stored, status: Status) {
        let ran = self.running.iter().position(|k| k.name == name);
        let task_id = match ran {
            Some(i) => self.running.swap_remove(i).task_id,
            None => catalog::read_object(&stored.record)
                .and_then(|o| o.get("task_id").and_then(|t| t.as_str()).map(str::to_owned)),
        };
        let state = if status == Status::Completed {
            State::Completed
        } else {
            State::Failed
        };
        let record = Known {
            name: stored.path.file_name().unwrap_or_default().to_owned(),
            task_id,
            state,
            time: SystemTime::now(),
            status: Some(status),
        };
        for (reference, found) in &mut self.records {
            let named = answers_to(&record.name, reference)
                || record.task_id.as_deref() == Some(reference.as_str());
            if named
                && !found
                    .iter()
                    .any(|k| k.state == state && k.name == record.name)
            {
                found.push(record.clone());
            }
        }
    }
}

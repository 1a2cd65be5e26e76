//! What a drain knows of the jobs outside `pending/`, for `after`.
//!
//! Read once, when a pass first meets a dependent, then kept up to date as the queue changes:
//! - by this drain: a claim adds the job as running, and filing its record replaces that entry
//!   with the record (a dependent must never see its dependency as both running and done, nor
//!   as missing while it runs);
//! - by other processes, which only take jobs out of `pending/` (`execq cancel` files a pending
//!   job in `failed/`): when an entry the last look saw in `pending/` is gone and this drain did
//!   not claim it, or before a reference is judged to match no job, `completed/` and `failed/`
//!   are listed again and only the records not seen before are read.
//!
//! So the cost follows what happened, not the size of the queue: nothing per pass but a set of
//! the pending names, and a listing only when a job left `pending/` some other way.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

use anyhow::Result;

use crate::job::result::Status;
use crate::queue::Queue;
use crate::queue::catalog::{self, State};
use crate::queue::pending::Entry;
use crate::queue::record::Stored;
use crate::queue::schedule::Known;

/// The jobs in `running/`, `completed/` and `failed/`, as one drain keeps them.
pub(super) struct KnownJobs {
    jobs: Vec<Known>,
    /// By folder, every name already read into `jobs` (or filed there by this drain).
    listed: HashMap<State, HashSet<OsString>>,
    /// The names the last look saw in `pending/`, less those this drain claimed since.
    pending: HashSet<OsString>,
}

impl KnownJobs {
    /// Reads `running/`, `completed/` and `failed/`.
    pub(super) fn load(queue: &Queue) -> Result<Self> {
        let mut known = Self {
            jobs: Vec::new(),
            listed: HashMap::new(),
            pending: HashSet::new(),
        };
        known.read_unseen(queue, &[State::Running, State::Completed, State::Failed])?;
        Ok(known)
    }

    pub(super) fn jobs(&self) -> &[Known] {
        &self.jobs
    }

    /// Takes in a look at `pending/`: if a job the last look saw is gone and this drain did not
    /// claim it, another process filed it (or took it back), and its record is read.
    pub(super) fn look(&mut self, queue: &Queue, entries: &[Entry]) -> Result<()> {
        let now: HashSet<OsString> = entries.iter().map(|e| e.name.clone()).collect();
        let vanished = self.pending.iter().any(|name| !now.contains(name));
        self.pending = now;
        if vanished {
            self.recheck(queue)?;
        }
        Ok(())
    }

    /// Reads the records filed in `completed/` and `failed/` since the last read. Returns whether
    /// there were any.
    pub(super) fn recheck(&mut self, queue: &Queue) -> Result<bool> {
        let before = self.jobs.len();
        self.read_unseen(queue, &[State::Completed, State::Failed])?;
        Ok(self.jobs.len() > before)
    }

    fn read_unseen(&mut self, queue: &Queue, states: &[State]) -> Result<()> {
        for &state in states {
            let listed = self.listed.entry(state).or_default();
            let (found, names) = catalog::known_unseen(queue, state, |n| listed.contains(n))?;
            self.jobs.extend(found);
            listed.extend(names);
        }
        Ok(())
    }

    /// This drain claimed `pending/from` as `running/name`.
    pub(super) fn claimed(&mut self, from: &OsStr, name: &OsStr, task_id: Option<String>) {
        self.pending.remove(from);
        self.jobs.push(Known {
            name: name.to_owned(),
            task_id,
            state: State::Running,
            time: SystemTime::now(),
            status: None,
        });
    }

    /// This drain filed the job it ran as `running/name`: its record replaces it.
    pub(super) fn filed(&mut self, name: &OsStr, stored: &Stored, status: Status) {
        let ran = self
            .jobs
            .iter()
            .position(|k| k.state == State::Running && k.name == name);
        let task_id = match ran {
            Some(i) => self.jobs.swap_remove(i).task_id,
            None => catalog::read_object(&stored.record)
                .and_then(|o| o.get("task_id").and_then(|t| t.as_str()).map(str::to_owned)),
        };
        let state = if status == Status::Completed {
            State::Completed
        } else {
            State::Failed
        };
        let listed = self.listed.entry(state).or_default();
        for path in [&stored.path, &stored.record] {
            if let Some(file) = path.file_name() {
                listed.insert(file.to_owned());
            }
        }
        self.jobs.push(Known {
            name: stored.path.file_name().unwrap_or_default().to_owned(),
            task_id,
            state,
            time: SystemTime::now(),
            status: Some(status),
        });
    }
}

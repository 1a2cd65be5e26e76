//! One pass over `pending/`: read what is there, let the scheduling rules (`queue::schedule`)
//! decide what may run, and run it in their order.
//!
//! The pass reads every ready entry once for its scheduling fields and keeps only those (a few
//! bytes each), then reads a job again just before claiming it: memory stays small however many
//! jobs wait, and the file claimed is the one checked (see `job`).

use std::ffi::OsStr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use super::Drainer;
use super::job::{Outcome, Step};
use crate::job::result::Status;
use crate::job::schedule::Schedule;
use crate::queue::catalog::{self, State};
use crate::queue::pending::{self, Entry, Intake, Loaded};
use crate::queue::schedule::{self, Known, Pending, Verdict};

impl Drainer<'_> {
    /// Runs what is ready among `entries`, in scheduling order. Returns whether any job was
    /// claimed, and when to look again at entries still being written.
    pub(super) fn pass(&mut self, entries: Vec<Entry>) -> Result<(bool, Option<Instant>)> {
        let mut next_look: Option<Instant> = None;
        let mut candidates = Vec::new();
        for entry in &entries {
            match pending::intake(&self.queue.pending, &entry.name, &mut self.settle)? {
                Intake::Gone => {}
                Intake::NotYet(when) => next_look = Some(next_look.map_or(when, |n| n.min(when))),
                Intake::Ready(loaded) => candidates.push(candidate(&loaded, entry.mtime)),
            }
        }
        let needs_known = candidates.iter().any(|c| !c.schedule.after.is_empty());
        if needs_known {
            // The last job's record waits for the next claim to be synced; a dependent must see
            // it filed.
            self.settle_record()?;
        }
        let known = if needs_known { self.known()? } else { &[] };
        let verdicts = schedule::verdicts(&candidates, known, SystemTime::now());
        self.waiting = candidates
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| matches!(v, Verdict::Wait(_)))
            .map(|(c, _)| c.name.clone())
            .collect();
        let mut ran = false;
        for i in schedule::run_order(&candidates) {
            if self.stopping() {
                break;
            }
            let outcome = match &verdicts[i] {
                Verdict::Wait(_) => continue,
                Verdict::Ready => Outcome::Run,
                Verdict::Fail(status, why) => Outcome::Skip(*status, why.clone()),
            };
            ran |= self.take(&candidates[i].name, entries.len(), outcome)? == Step::Ran;
        }
        Ok((ran, next_look))
    }

    /// Reads the entry again (the pass kept only its scheduling fields; it may also have gone)
    /// and runs or files it. Its readiness was judged by the pass.
    fn take(&mut self, name: &OsStr, pending: usize, outcome: Outcome) -> Result<Step> {
        let Some((loaded, _)) = pending::load(&self.queue.pending.join(name), name)? else {
            return Ok(Step::Vanished);
        };
        if !self.announced {
            tracing::info!(pending, queue = %self.queue.root.display(), "drain started");
            self.announced = true;
        }
        self.process(loaded, outcome)
    }

    /// The jobs outside `pending/`, read on first use and kept up to date as records are filed.
    fn known(&mut self) -> Result<&[Known]> {
        if self.known.is_none() {
            let mut known = Vec::new();
            for state in [State::Running, State::Completed, State::Failed] {
                known.extend(
                    catalog::load(self.queue, state)?
                        .into_iter()
                        .map(|e| Known {
                            task_id: e.task_id().map(str::to_owned),
                            name: e.file_name,
                            state,
                            time: e.time,
                            status: e.result.map(|r| r.status),
                        }),
                );
            }
            self.known = Some(known);
        }
        Ok(self.known.as_deref().unwrap_or_default())
    }

    /// Adds a record just filed at `path` to the known jobs, if they are being kept.
    pub(super) fn remember(&mut self, path: &Path, status: Status) {
        let Some(known) = self.known.as_mut() else {
            return;
        };
        let task_id = catalog::read_object(path)
            .and_then(|o| o.get("task_id").and_then(|t| t.as_str()).map(str::to_owned));
        known.push(Known {
            name: path.file_name().unwrap_or_default().to_owned(),
            task_id,
            state: if status == Status::Completed {
                State::Completed
            } else {
                State::Failed
            },
            time: SystemTime::now(),
            status: Some(status),
        });
    }

    /// Sleeps until `when` (for an entry to settle), waking early for a stop signal or for a
    /// new entry in `pending/`, which may be ready at once.
    pub(super) fn sleep_until(&self, when: Instant) {
        let before = pending::count(&self.queue.pending);
        while Instant::now() < when && !self.stopping() {
            thread::sleep(
                when.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(50)),
            );
            if pending::count(&self.queue.pending) != before {
                return;
            }
        }
    }
}

/// What the rules need to know of a ready entry. Anything that is not a valid JSON job has the
/// default schedule: it runs (or fails, naming what is wrong) in its turn.
fn candidate(loaded: &Loaded, mtime: SystemTime) -> Pending {
    let object = loaded.json.as_ref().and_then(|j| j.as_ref().ok());
    Pending {
        name: loaded.name.clone(),
        mtime,
        task_id: object
            .and_then(|o| o.get("task_id"))
            .and_then(|t| t.as_str())
            .map(str::to_owned),
        schedule: object
            .and_then(|o| Schedule::of(o).ok())
            .unwrap_or_default(),
    }
}

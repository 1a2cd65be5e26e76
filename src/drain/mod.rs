//! `execq drain`: take the queue's lock, finish what a killed drain left behind, run every ready
//! job oldest first, and exit.
//!
//! The drain loops until `pending/` holds nothing ready, then lets go of the lock and looks once
//! more: a job that landed just as it let go (while a second drain, started by that job's trigger,
//! found the lock still taken and left) is picked up instead of waiting for the next trigger.
//! One job's way through it (claim, run, record) is in [`job`]; what the drain does once its
//! passes are over (retention, the dashboard page, its account of itself) in [`wrap_up`].

pub mod background;
mod forward;
mod job;
mod known;
mod pass;
mod wrap_up;

use std::collections::HashSet;
use std::ffi::OsString;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use tracing::{debug, info, warn};

use crate::config::DrainOptions;
use crate::job::result::Status;
use crate::queue::Queue;
use crate::queue::lock::{self, DrainLock};
use crate::queue::pending::{self, Settle};
use crate::queue::record::{self, Finishing};
use crate::queue::recover::{self, Recovered};
use crate::signals::Shutdown;
use crate::sys;

/// How long a drain waits for entries that are not ready yet (see `pending`) before leaving them
/// to the next trigger.
pub const MAX_SETTLE_WAIT: Duration = Duration::from_secs(30);

/// How long a drain started by `submit --start` lingers: long enough for a tool submitting a
/// burst of jobs to have them all run by one drain, short enough to let go of the queue at once to
/// a person's eye.
pub const SUBMIT_LINGER: Duration = Duration::from_millis(200);

/// What a drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub completed: usize,
    pub failed: usize,
    /// Jobs found in `running/` from a drain that died.
    pub recovered: usize,
    /// Jobs handed to another executor (see `executor`), still running there.
    pub forwarded: usize,
    /// The stop signal that ended this drain early.
    pub stopped_by: Option<i32>,
}

impl Summary {
    fn count(&mut self, status: Status) {
        if status == Status::Completed {
            self.completed += 1
        } else {
            self.failed += 1
        }
    }

    fn touched(&self) -> bool {
        self.completed + self.failed + self.recovered + self.forwarded > 0
    }
}

/// Why a pass over `pending/` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// Nothing ready is left (or a stop signal came).
    Empty,
    /// Entries stayed not-ready for [`MAX_SETTLE_WAIT`]; they are left to the next trigger.
    GaveUp,
}

/// One drain: what its steps share.
struct Drainer<'a> {
    queue: &'a Queue,
    opts: &'a DrainOptions,
    shutdown: &'a Shutdown,
    settle: Settle,
    /// Whether "drain started" was logged (on the first job: a drain that only finds jobs waiting
    /// writes nothing).
    announced: bool,
    /// Fires schedules while this drain is busy (started with its first job).
    ticker: Option<crate::cron::ticker::Ticker>,
    /// The jobs in `running/`, `completed/` and `failed/`, read once the first `after` needs them
    /// in a hold of the lock (see [`known`]).
    known: Option<known::KnownJobs>,
    /// The entries the last pass left waiting (for a time, a dependency, or to settle): only an
    /// entry not among them makes the drain look again.
    waiting: HashSet<(OsString, u64)>,
    summary: Summary,
    /// The last job's record, written but not yet synced: the next claim's sync covers it (see
    /// [`job`]).
    unsynced: Option<Finishing>,
    /// The queue folder the lock held now is on; `None` between holds.
    folder: Option<crate::fsutil::FileId>,
    /// Set once the queue's folder is found removed or replaced under this drain.
    lost: std::cell::Cell<bool>,
    /// Executors that could not take a job in this drain: their jobs wait for the next one.
    parked: forward::Parked,
    /// A second descriptor of the lock held now, lent to the command that hands a job over.
    lent: Option<std::fs::File>,
    /// When this drain last asked about forwarded jobs.
    polled: Option<Instant>,
}

/// Runs one drain of `queue`, taking its lock (or starting with `held`, a lock already taken).
pub fn drain(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    held: Option<DrainLock>,
) -> Result<Summary> {
    queue.open()?;
    // Before the lock: schedules fire on time even while another drain runs a long job (its
    // passes pick the new jobs up), and a schedule that cannot fire never stops the queue.
    if let Err(e) = crate::cron::fire::fire_due(queue) {
        tracing::error!("schedules could not be checked: {e:#}");
    }
    if let Err(e) = crate::notify::outbox::retry_due(queue) {
        tracing::error!("webhook deliveries could not be retried: {e:#}");
    }
    sys::become_subreaper();
    let started_at = chrono::Local::now();
    let started = Instant::now();
    let mut drainer = Drainer {
        queue,
        opts,
        shutdown,
        settle: Settle::new(opts.settle),
        announced: false,
        ticker: None,
        known: None,
        waiting: HashSet::new(),
        summary: Summary::default(),
        unsynced: None,
        folder: None,
        lost: std::cell::Cell::new(false),
        parked: Default::default(),
        lent: None,
        polled: None,
    };
    let mut outcome = drainer.run(held);
    // A drain whose queue folder was replaced under it leaves the new queue alone entirely.
    let lost = drainer.lost.get();
    if drainer.summary.touched() && outcome.is_ok() && !lost {
        outcome = wrap_up::after_work(queue, opts);
    }
    let mut summary = drainer.summary;
    summary.stopped_by = shutdown.requested();
    wrap_up::report(queue, &summary, started_at, started, &outcome, lost);
    outcome.map(|()| summary)
}

impl Drainer<'_> {
    /// Whether to take no more work: a stop signal came, or the queue's folder is no longer the
    /// one this drain locked (see [`DrainLock::folder_id`]; one `stat`, at each point where work
    /// would be taken).
    fn stopping(&self) -> bool {
        self.shutdown.requested().is_some() || self.lost_queue()
    }

    fn lost_queue(&self) -> bool {
        if self.lost.get() {
            return true;
        }
        let Some(folder) = self.folder else {
            return false;
        };
        if lock::is_folder(self.queue, folder) {
            return false;
        }
        warn!(queue = %self.queue.root.display(), "the queue's folder was removed or replaced while this drain held it; leaving the new one to its own drain");
        self.lost.set(true);
        true
    }

    /// Takes the lock and drains until nothing is left, looking once more each time it lets go.
    fn run(&mut self, mut first: Option<DrainLock>) -> Result<()> {
        loop {
            let taken = match first.take() {
                Some(lock) => Some(lock),
                None => lock::acquire(self.queue, self.opts.wait_for_lock, self.shutdown)?,
            };
            let Some(mut held) = taken else {
                debug!("another drain holds the queue; leaving it the work");
                return Ok(());
            };
            self.folder = Some(held.folder_id());
            self.lent = held.share().ok();
            let pass = self.drain_held(&mut held);
            // Both descriptors of the lock go, or the queue would stay locked.
            self.lent = None;
            let pass = pass?;
            drop(held);
            self.folder = None;
            if pass == Pass::GaveUp
                || self.stopping()
                || !pending::has_new_entries(&self.queue.pending, &self.waiting)?
            {
                return Ok(());
            }
            debug!("a job arrived as the lock was released; draining again");
        }
    }

    /// Everything done under one hold of the lock: recovery, then passes over `pending/` for as
    /// long as jobs keep arriving within the linger time, then one sync of the folders filled.
    fn drain_held(&mut self, held: &mut DrainLock) -> Result<Pass> {
        let before = self.summary.clone();
        // Another drain may have run jobs while this one did not hold the lock.
        self.known = None;
        self.recover()?;
        sweep_tmp(self.queue);
        let outcome = loop {
            let outcome = self.drain_locked();
            lock::reassert(self.queue, held)?;
            // Lingering leaves the last records' moves unsynced a little longer; a power loss
            // meanwhile only puts them back in `running/`, where the next drain files them.
            if !matches!(outcome, Ok(Pass::Empty)) || self.stopping() || !self.linger()? {
                break outcome;
            }
        };
        if self.lost_queue() {
            // The folders these records went to were removed with the queue: nothing to sync.
            return outcome;
        }
        let recovered = self.summary.recovered > before.recovered;
        record::sync_outboxes(
            self.queue,
            recovered || self.summary.completed > before.completed,
            recovered || self.summary.failed > before.failed,
        )?;
        outcome
    }

    /// Waits up to the linger time for a new entry to appear in `pending/` (polling every
    /// millisecond: a directory listing costs microseconds). Returns whether one did.
    fn linger(&self) -> Result<bool> {
        let until = Instant::now() + self.opts.linger;
        while Instant::now() < until && !self.stopping() {
            thread::sleep(Duration::from_millis(1));
            if pending::has_new_entries(&self.queue.pending, &self.waiting)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn recover(&mut self) -> Result<()> {
        let queue = self.queue;
        let mut forwarded = Vec::new();
        for item in recover::recover(queue, |job| job::record_shape_after_crash(queue, job))? {
            if let Recovered::Forwarded(note) = item {
                forwarded.push(*note);
                continue;
            }
            self.summary.recovered += 1;
            match item {
                Recovered::Interrupted { name, stored } => {
                    self.summary.failed += 1;
                    warn!(file = ?name, to = %stored.path.display(), "job was running when a drain died; recorded as interrupted, not re-run");
                }
                Recovered::Completed { name, stored } => {
                    info!(file = ?name, to = %stored.path.display(), "finished moving a job a killed drain had completed");
                }
                Recovered::PutBack { name, to } => {
                    warn!(file = ?name, to = %to.display(), "put back a job a killed drain had claimed but never started (held, or not yet handed to its executor)");
                }
                Recovered::Forwarded(_) => {}
            }
        }
        self.poll_forwarded(forwarded)
    }

    /// Drains `pending/` while holding the lock, then files the last record.
    fn drain_locked(&mut self) -> Result<Pass> {
        let outcome = self.drain_pending();
        let stored = self.settle_record();
        let pass = outcome?;
        stored?;
        Ok(pass)
    }

    /// Syncs and files the last job's record, which [`Drainer::process`] leaves for the next
    /// claim to sync.
    fn settle_record(&mut self) -> Result<()> {
        let Some(finishing) = self.unsynced.take() else {
            return Ok(());
        };
        finishing.sync()?;
        self.file_record(finishing)
    }

    fn file_record(&mut self, finishing: Finishing) -> Result<()> {
        let name = finishing.job().name.clone();
        let status = finishing.status();
        let own_notify = finishing.notify().cloned();
        let stored = finishing.complete(self.queue)?;
        info!(file = ?name, status = %status.as_str(), to = %stored.path.display(), "job moved");
        self.summary.count(status);
        if let Some(known) = self.known.as_mut() {
            known.filed(&name, &stored, status);
        }
        if self.opts.notify.is_some() || own_notify.is_some() {
            self.notify(&stored, status, own_notify.as_ref());
        }
        Ok(())
    }

    /// Sends the notifications the config and the job ask for (see `notify`).
    fn notify(&self, stored: &record::Stored, status: Status, own: Option<&serde_json::Value>) {
        let own = crate::job::notify::Notify::of_job(own).ok().flatten();
        let notify = match (own, &self.opts.notify) {
            (Some(own), base) => own.or(base.as_ref()),
            (None, Some(base)) => base.clone(),
            (None, None) => return,
        };
        if !notify.wants(status) {
            return;
        }
        let record: serde_json::Value = std::fs::read(&stored.record)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let job = stored
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let event = crate::notify::Event {
            job: &job,
            record: &stored.record,
            status,
            returncode: record["result"]["returncode"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok()),
            task_id: record["task_id"].as_str().map(str::to_owned),
        };
        crate::notify::send(self.queue, &notify, &event, self.shutdown);
    }
}

/// Removes files left in `tmp/` by execq processes that no longer exist (a submit or drain that
/// was killed mid-write); see `Queue::temp_path`.
fn sweep_tmp(queue: &Queue) {
    let Ok(entries) = std::fs::read_dir(&queue.tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(crate::queue::temp_owner) else {
            continue;
        };
        if !sys::process_exists(pid) {
            debug!(file = ?name, "removing a temporary file left by a killed execq");
            crate::fsutil::discard(&entry.path());
        }
    }
}

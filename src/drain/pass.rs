//! One pass over `pending/`: read what is there, let the scheduling rules (`queue::schedule`)
//! decide what may run, and run it in their order.
//!
//! The pass reads every ready entry once for its scheduling fields and keeps only those (a few
//! bytes each), then reads a job again just before claiming it: memory stays small however many
//! jobs wait, and the file claimed is the one checked (see `job`).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use super::job::{Outcome, Started, Step, Work};
use super::known::KnownJobs;
use super::{Drainer, MAX_SETTLE_WAIT, Pass};
use crate::job::executor::Kind;
use crate::job::result::JobResult;
use crate::job::result::Status;
use crate::job::schedule::Schedule;
use crate::queue::pause;
use crate::queue::pending::{self, Entry, Intake, Loaded};
use crate::queue::record;
use crate::queue::schedule::{self, Pending, Verdict};
use std::sync::mpsc;
use tracing::{debug, warn};

/// A finished job handed back by a worker: what was run, and its result.
type Done = (Box<Work>, JobResult);

/// The workers of a drain with `--jobs N` (N > 1): each runs one job on its own thread, with its
/// own supervisor (timeout, group kill, bounded capture); claims and records stay on the drain's
/// thread, in order.
struct Pool<'scope, 'env> {
    scope: &'scope thread::Scope<'scope, 'env>,
    done_tx: mpsc::Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    running: usize,
    /// How many run now in each slot group (see `DrainOptions::slot_group`).
    by_group: HashMap<String, usize>,
}

impl<'a> Drainer<'a> {
    /// Passes over `pending/` until nothing is ready, waiting (up to [`MAX_SETTLE_WAIT`]) only for
    /// entries still being written; jobs that wait for a time or a dependency are left for the
    /// next start (see `queue::schedule`). With `--jobs N`, up to N run at once.
    pub(super) fn drain_pending(&mut self) -> Result<Pass> {
        thread::scope(|scope| {
            let (done_tx, done_rx) = mpsc::channel();
            let mut pool = Pool {
                scope,
                done_tx,
                done_rx,
                running: 0,
                by_group: HashMap::new(),
            };
            let outcome = self.drain_with(&mut pool);
            // On an error or a stop signal the running jobs still end and are recorded.
            let mut collected = Ok(());
            while pool.running > 0 {
                let result = self.collect(&mut pool, false);
                collected = collected.and(result.map(drop));
            }
            let pass = outcome?;
            collected.map(|()| pass)
        })
    }

    fn drain_with<'s>(&mut self, pool: &mut Pool<'s, '_>) -> Result<Pass>
    where
        'a: 's,
    {
        let mut waiting_since: Option<Instant> = None;
        loop {
            if self.stopping() {
                return Ok(Pass::Empty);
            }
            let (mut entries, edits) = pending::scan_with_edits(&self.queue.pending)?;
            if !edits.is_empty()
                && crate::queue::edit::recover(self.queue, edits.iter().map(|e| e.as_os_str()))? > 0
            {
                entries = pending::scan(&self.queue.pending)?;
            }
            let (ran, next_look) = self.pass(entries, pool)?;
            if ran {
                waiting_since = None;
                // Between jobs, a busy drain files the forwarded jobs that finished meanwhile.
                self.poll_if_due()?;
                continue;
            }
            if pool.running > 0 {
                self.collect(pool, true)?;
                continue;
            }
            let Some(when) = next_look else {
                return Ok(Pass::Empty);
            };
            let since = *waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= MAX_SETTLE_WAIT {
                warn!(
                    "entries in pending/ are still being written; leaving them for the next drain"
                );
                return Ok(Pass::GaveUp);
            }
            debug!("waiting for entries in pending/ to settle");
            self.settle_record()?;
            record::sync_outboxes(self.queue, true, true)?;
            self.sleep_until(when);
        }
    }

    /// Runs what is ready among `entries`, in scheduling order. Returns whether any job was
    /// claimed, and when to look again at entries still being written.
    fn pass<'s>(
        &mut self,
        entries: Vec<Entry>,
        pool: &mut Pool<'s, '_>,
    ) -> Result<(bool, Option<Instant>)>
    where
        'a: 's,
    {
        let mut next_look: Option<Instant> = None;
        let mut candidates = Vec::new();
        let mut settling = Vec::new();
        let mut kept = Kept::default();
        for entry in &entries {
            match pending::intake(&self.queue.pending, &entry.name, &mut self.settle)? {
                Intake::Gone => {}
                Intake::NotYet(when) => {
                    next_look = Some(next_look.map_or(when, |n| n.min(when)));
                    settling.push(entry.name.clone());
                }
                Intake::Ready(loaded) => {
                    candidates.push(candidate(&loaded, entry.mtime));
                    kept.keep(loaded);
                }
            }
        }
        let verdicts = self.verdicts(&candidates, &entries)?;
        let inode: HashMap<&OsString, u64> = entries.iter().map(|e| (&e.name, e.ino)).collect();
        let seen = |name: &OsString| (name.clone(), inode.get(name).copied().unwrap_or(0));
        self.waiting = candidates
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| matches!(v, Verdict::Wait(_)))
            .map(|(c, _)| seen(&c.name))
            .chain(settling.iter().map(seen))
            .collect();
        let mut ran = false;
        let (order, here) = self.order(&candidates, &kept);
        for i in order {
            let outcome = match &verdicts[i] {
                Verdict::Wait(_) => continue,
                Verdict::Ready => Outcome::Run,
                Verdict::Fail(status, why) => Outcome::Skip(*status, why.clone()),
            };
            // A paused queue or group starts nothing, and files nothing either: its jobs wait.
            let group = candidates[i].schedule.group();
            if !pause::may_start(self.queue, group) {
                // Seen, not new: neither a reason to drain again nor to stop lingering.
                self.waiting.insert(seen(&candidates[i].name));
                continue;
            }
            // A full group's job waits for a slot; other groups' jobs go on (the drain looks
            // again as each job ends). A job for another executor takes no slot here.
            let slot = self.opts.slot_group(group);
            if outcome == Outcome::Run
                && here[i]
                && self.opts.parallel()
                && pool.by_group.get(slot).copied().unwrap_or(0) >= self.opts.slots(slot)
            {
                continue;
            }
            if self.stopping() {
                break;
            }
            let loaded = kept.take(&candidates[i].name);
            if self.take(&candidates[i].name, loaded, entries.len(), outcome, pool)? {
                ran = true;
                // Between jobs, a busy drain files the forwarded jobs that finished meanwhile.
                self.poll_if_due()?;
            } else {
                // Not taken (gone, replaced, or its executor parked): only a change makes it
                // new again.
                self.waiting.insert(seen(&candidates[i].name));
            }
        }
        Ok((ran, next_look))
    }

    /// The order to take `candidates` in, and whether each runs here: jobs for another executor
    /// first (handing one over takes a moment and no slot, and it should not wait behind a long
    /// local job), then the rest, each in the scheduling rules' order.
    fn order(&self, candidates: &[Pending], kept: &Kept) -> (Vec<usize>, Vec<bool>) {
        let here: Vec<bool> = (candidates.iter())
            .map(|c| {
                let object =
                    (kept.loaded.get(&c.name)).and_then(|l| l.json.as_ref()?.as_ref().ok());
                self.executor_of(object) == Kind::Local
            })
            .collect();
        let (elsewhere, local): (Vec<usize>, Vec<usize>) = schedule::run_order(candidates)
            .into_iter()
            .partition(|&i| !here[i]);
        (elsewhere.into_iter().chain(local).collect(), here)
    }

    /// Runs or files the entry — as the pass read it if it kept it, else read again (it may
    /// have gone) — on this thread with `--jobs 1`, else on a worker. Its readiness was judged by
    /// the pass; the claim checks it is still the file read. Returns whether it was claimed.
    fn take<'s>(
        &mut self,
        name: &OsStr,
        kept: Option<Loaded>,
        pending: usize,
        outcome: Outcome,
        pool: &mut Pool<'s, '_>,
    ) -> Result<bool>
    where
        'a: 's,
    {
        let loaded = match kept {
            Some(loaded) => loaded,
            None => match pending::load(&self.queue.pending.join(name), name)? {
                Some((loaded, _)) => loaded,
                None => return Ok(false),
            },
        };
        if !self.announced {
            tracing::info!(pending, queue = %self.queue.root.display(), "drain started");
            self.announced = true;
            self.ticker = crate::cron::ticker::Ticker::start(self.queue);
        }
        if !self.opts.parallel() {
            return Ok(self.process(loaded, outcome)? == Step::Ran);
        }
        match self.start(loaded, outcome)? {
            Started::Vanished => Ok(false),
            Started::Recorded => Ok(true),
            Started::Run(work) => {
                let (queue, opts, shutdown) = (self.queue, self.opts, self.shutdown);
                let done = pool.done_tx.clone();
                pool.running += 1;
                let slot = self.opts.slot_group(work.spec.schedule.group()).to_owned();
                *pool.by_group.entry(slot).or_default() += 1;
                pool.scope.spawn(move || {
                    let result = work.run(queue, opts, shutdown);
                    // The drain's thread waits for every worker, so the receiver is there.
                    let _ = done.send((work, result));
                });
                Ok(true)
            }
        }
    }

    /// Waits for a worker's job to end and records it. With `watch`, gives up after a moment
    /// (returning `false`) when a new entry has appeared in `pending/`, so a free slot takes it
    /// at once. A record is filed at once while other jobs still run: the next claim, which
    /// would sync it, may be a long way off.
    fn collect(&mut self, pool: &mut Pool<'_, '_>, watch: bool) -> Result<bool> {
        let done = loop {
            match pool.done_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(done) => break done,
                Err(mpsc::RecvTimeoutError::Timeout)
                    if watch && pending::has_new_entries(&self.queue.pending, &self.waiting)? =>
                {
                    return Ok(false);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => self.poll_if_due()?,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("a job's worker thread ended without a result")
                }
            }
        };
        pool.running -= 1;
        let (work, result) = done;
        let slot = self.opts.slot_group(work.spec.schedule.group());
        if let Some(n) = pool.by_group.get_mut(slot) {
            *n = n.saturating_sub(1);
        }
        self.record_result(work.claimed, work.record, result)?;
        if pool.running > 0 {
            self.settle_record()?;
        }
        Ok(true)
    }

    /// The verdict on each candidate. Only a pass that meets a dependent reads (or brings up to
    /// date) the jobs outside `pending/`, with `entries` (what it saw in `pending/`) telling which
    /// jobs left it without this drain (see `known`).
    fn verdicts(&mut self, candidates: &[Pending], entries: &[Entry]) -> Result<Vec<Verdict>> {
        if candidates.iter().all(|c| c.schedule.after.is_empty()) {
            return Ok(schedule::verdicts(candidates, &[], SystemTime::now()));
        }
        // The last job's record waits for the next claim to be synced; a dependent must see it
        // filed.
        self.settle_record()?;
        let mut known = match self.known.take() {
            Some(known) => known,
            None => KnownJobs::load(self.queue)?,
        };
        known.look(entries);
        let jobs = known.jobs(self.queue, candidates)?;
        let mut verdicts = schedule::verdicts(candidates, &jobs, SystemTime::now());
        // A job is failed for good on what the queue holds: look for records filed since the
        // last read (a reference to no job, a cycle) before filing it.
        let failing = verdicts
            .iter()
            .any(|v| matches!(v, Verdict::Fail(Status::Error, _)));
        if failing {
            known.recheck();
            let jobs = known.jobs(self.queue, candidates)?;
            verdicts = schedule::verdicts(candidates, &jobs, SystemTime::now());
        }
        self.known = Some(known);
        Ok(verdicts)
    }

    /// This drain claimed `pending/from` as `running/name`: a dependent sees it running.
    pub(super) fn claimed(&mut self, from: &OsStr, name: &OsStr, task_id: Option<String>) {
        if let Some(known) = self.known.as_mut() {
            known.claimed(from, name, task_id);
        }
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

/// Jobs a pass read and keeps until their turn, within a small budget, so that most jobs are
/// read once; the rest are read again when their turn comes. Memory stays bounded however many
/// jobs there are.
#[derive(Default)]
struct Kept {
    loaded: HashMap<OsString, Loaded>,
    bytes: usize,
}

impl Kept {
    const MAX_JOBS: usize = 256;
    const MAX_BYTES: usize = 1024 * 1024;

    fn keep(&mut self, loaded: Loaded) {
        let size = loaded.bytes.len();
        if self.loaded.len() < Self::MAX_JOBS && self.bytes + size <= Self::MAX_BYTES {
            self.bytes += size;
            self.loaded.insert(loaded.name.clone(), loaded);
        }
    }

    fn take(&mut self, name: &OsStr) -> Option<Loaded> {
        self.loaded.remove(name)
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

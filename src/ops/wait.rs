//! Waiting for jobs' records: the one loop behind `execq wait`, `submit --wait`, `cancel` of a
//! running job and the MCP tools' `wait_seconds`. Each look is cheap (see `queue::watch`); between
//! looks a waiter looks again after a moment while the wait is young, then waits for something to
//! change in the queue's folders ([`Pause`]).

use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::queue::Queue;
use crate::queue::catalog::Entry;
use crate::queue::watch::{Phase, Tracked};
use crate::sys::FolderWatch;

/// How long a waiter sleeps between looks when the queue's folders cannot be watched (no
/// descriptor left, the inotify instance limit reached).
pub const POLL: Duration = Duration::from_millis(100);

/// How long a waiter with a watch waits for a change before looking anyway. Only a change nobody
/// was told of needs it: an event lost (the kernel's queue overflowing), or a filesystem that sends
/// none, as some network shares do. The wait still ends then, a second late at worst, while an
/// idle waiter looks once a second instead of ten times. (Tests set another: [`fallback`].)
pub const FALLBACK: Duration = Duration::from_secs(1);

/// How often a waiter has a drain ask about forwarded jobs (see [`Pause::nudge_forwarded`]).
const FORWARDED_POLL: Duration = Duration::from_secs(1);

/// How long a wait goes on by looking again and again, at most [`MIN_GAP`] apart, before it makes
/// a watch. Most waits are for a short job, which a look every millisecond or two sees end as
/// soon as a watch would, for a few dozen `stat`s; and on Linux a process that has had a watch
/// takes 5 to 25 ms longer to exit (see `watch_folders`), more than such a job takes to run. A
/// waiter still waiting after this has the watch: the exit's cost is then small beside the wait.
const LOOK_FIRST: Duration = Duration::from_millis(20);

/// The first gaps between those looks. Each gap is an eighth of the time waited so far, from this
/// up to [`MIN_GAP`]: a job that takes 3 ms is seen done at most half a millisecond late.
const FIRST_GAP: Duration = Duration::from_micros(500);

/// The least time from one look to the next while changes keep coming. A busy queue changes
/// thousands of times a second; a waiter woken by each would spend more on looking than the
/// drain spends on the jobs. Far below the time a job takes from claim to record, so the one
/// change a quiet queue makes is still seen at once.
const MIN_GAP: Duration = Duration::from_millis(2);

/// How a wait ended.
#[derive(Debug)]
pub enum Waited {
    /// The job has a record.
    Finished(Box<Entry>),
    /// The deadline came, or the caller stopped waiting, first.
    NotYet,
}

/// What a waiter does between two looks at the queue: for the first [`LOOK_FIRST`], sleeps a
/// moment; then waits until something changes in `pending/`, `running/`, `completed/` or
/// `failed/` (where a job's every move shows), or, while the folders cannot be watched, sleeps
/// [`POLL`]. Every look begins with [`Pause::looking`] and ends with [`Pause::looked`]: a change
/// after the look began is never missed.
pub struct Pause<'q> {
    queue: &'q Queue,
    /// When the wait began: for [`LOOK_FIRST`] from then, a waiter looks again, not watching.
    began: Instant,
    watch: Option<FolderWatch>,
    /// The folders could not be watched (no descriptor left, the inotify limits reached), or
    /// watching them failed: the rest of this wait polls.
    broken: bool,
    /// When the last look began.
    looked: Instant,
    /// How long that look took: the gap to the next is at least as long, so a waiter on many
    /// jobs in a busy queue spends at most about half a core looking. (Not a larger multiple: the
    /// look between a job's file leaving `running/` and its record landing reads the records,
    /// and its gap delays the wake-up for that record.)
    look_took: Duration,
    /// When this waiter last started a drain for forwarded jobs.
    nudged: Option<Instant>,
}

impl<'q> Pause<'q> {
    pub fn new(queue: &'q Queue) -> Self {
        Self {
            queue,
            began: Instant::now(),
            watch: None,
            broken: false,
            looked: Instant::now(),
            look_took: Duration::ZERO,
            nudged: None,
        }
    }

    /// Marks the start of a look: changes from here on wake the next [`Pause::wait`].
    pub fn looking(&mut self) {
        if let Some(watch) = &self.watch
            && let Err(e) = watch.drain()
        {
            self.give_up(&e);
        }
        self.looked = Instant::now();
    }

    /// Marks the end of a look.
    pub fn looked(&mut self) {
        self.look_took = self.looked.elapsed();
    }

    /// While jobs run on another executor (see `executor`), nothing on this machine tells the
    /// queue when they end: only a drain asking does. A waiter starts one (if none runs) every
    /// [`FORWARDED_POLL`], as launchd's interval trigger would, and looks at least that often.
    /// Returns how long to wait at most.
    pub fn nudge_forwarded(&mut self) -> Duration {
        // Jobs that wait for an executor that could not take them are tried again by a drain.
        let waiting = crate::queue::forwarded::fault_path(self.queue).exists();
        if !waiting && !crate::queue::forwarded::any(self.queue) {
            return fallback();
        }
        if self.nudged.is_none_or(|at| at.elapsed() >= FORWARDED_POLL) {
            self.nudged = Some(Instant::now());
            if let Err(e) = super::kick::kick(self.queue, super::kick::Launch::Process) {
                tracing::debug!("could not start a drain to look at forwarded jobs: {e:#}");
            }
        }
        fallback().min(FORWARDED_POLL)
    }

    /// Waits until something changes or `most` passes, and not past `deadline`.
    pub fn wait(&mut self, most: Duration, deadline: Option<Instant>) {
        let until =
            |now: Instant| deadline.map_or(most, |d| most.min(d.saturating_duration_since(now)));
        // What is left of `gap` after the last look began: never less than that look took.
        let (looked, look_took) = (self.looked, self.look_took);
        let rest = |gap: Duration| {
            let now = Instant::now();
            let gap = gap.max(look_took).min(POLL);
            gap.saturating_sub(now.saturating_duration_since(looked))
                .min(until(now))
        };
        if self.watch.is_none() && !self.broken {
            let waited = self.looked.saturating_duration_since(self.began);
            if waited < LOOK_FIRST {
                thread::sleep(rest((waited / 8).clamp(FIRST_GAP, MIN_GAP)));
                return;
            }
            if self.watch_folders() {
                // Look again at once: that look sees what changed before the watch was made.
                return;
            }
        }
        if let Some(watch) = &self.watch {
            match watch.wait(until(Instant::now())) {
                Ok(true) => {
                    // Changes coming thick and fast are taken together: see MIN_GAP.
                    thread::sleep(rest(MIN_GAP));
                    return;
                }
                Ok(false) => return,
                Err(e) => self.give_up(&e),
            }
        }
        thread::sleep(until(Instant::now()).min(POLL));
    }

    /// Starts watching the queue's folders, if they are all there (a queue no drain has opened
    /// has only `pending/`, and is watched once the others are made). Only a wait that did not
    /// end in its first [`LOOK_FIRST`] gets this far: on Linux, a process that has had a watch
    /// takes 5 to 25 ms longer to exit (the kernel waits for a grace period to free it; measured
    /// on 6.18), which a wait for a job already finished, or one that takes a few milliseconds,
    /// need not pay. Making one opens a descriptor or two and writes nothing.
    ///
    /// `EXECQ_FAULT=deaf-watch` (tests only) makes a watch on no folder: one that is never told
    /// of a change, as when events are lost, so that the wait ends only at its fallback.
    fn watch_folders(&mut self) -> bool {
        let q = self.queue;
        let folders = [&q.pending, &q.running, &q.completed, &q.failed];
        if !folders.iter().all(|f| f.is_dir()) {
            return false;
        }
        let folders = if crate::fault::active("deaf-watch") {
            &folders[..0]
        } else {
            &folders[..]
        };
        match FolderWatch::new(folders) {
            Ok(watch) => self.watch = Some(watch),
            Err(e) => self.give_up(&e),
        }
        self.watch.is_some()
    }

    fn give_up(&mut self, err: &std::io::Error) {
        tracing::debug!("waiting by polling: watching the queue failed: {err}");
        self.watch = None;
        self.broken = true;
    }
}

/// How long a waiter with a watch waits for a change before looking anyway: [`FALLBACK`], unless
/// a test set `EXECQ_WAIT_FALLBACK` (see `fault`).
pub fn fallback() -> Duration {
    crate::fault::wait_fallback().unwrap_or(FALLBACK)
}

/// Waits until `job` has a record, or `deadline` passes, or `between` (called between looks, at
/// least every [`fallback`]) returns false.
pub fn until(
    queue: &Queue,
    job: &Tracked,
    deadline: Option<Instant>,
    mut between: impl FnMut() -> bool,
) -> Result<Waited> {
    let mut pause = Pause::new(queue);
    loop {
        pause.looking();
        if let Phase::Finished(entry) = job.phase(queue)? {
            return Ok(Waited::Finished(entry));
        }
        pause.looked();
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || !between() {
            return Ok(Waited::NotYet);
        }
        let most = pause.nudge_forwarded();
        pause.wait(most, deadline);
    }
}

/// Waits for each of `jobs` in turn of their finishing, calling `finished` with each record as it
/// lands; returns the jobs still going when `deadline` passes (none without a deadline).
pub fn each(
    queue: &Queue,
    mut jobs: Vec<Tracked>,
    deadline: Option<Instant>,
    mut finished: impl FnMut(Entry) -> Result<()>,
) -> Result<Vec<Tracked>> {
    let mut pause = Pause::new(queue);
    loop {
        pause.looking();
        let mut still = Vec::new();
        for job in jobs {
            match job.phase(queue)? {
                Phase::Finished(entry) => finished(*entry)?,
                Phase::Pending | Phase::Running => still.push(job),
            }
        }
        pause.looked();
        jobs = still;
        let now = Instant::now();
        if jobs.is_empty() || deadline.is_some_and(|d| now >= d) {
            return Ok(jobs);
        }
        let most = pause.nudge_forwarded();
        pause.wait(most, deadline);
    }
}

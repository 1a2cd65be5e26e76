//! Waiting for jobs' records: the one loop behind `execq wait`, `submit --wait`, `cancel` of a
//! running job and the MCP tools' `wait_seconds`. Each look is cheap (see `queue::watch`); between
//! looks it sleeps [`POLL`], or less when the deadline is nearer.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::queue::Queue;
use crate::queue::catalog::Entry;
use crate::queue::watch::{Phase, Tracked};

/// How long a waiter sleeps between looks.
pub const POLL: Duration = Duration::from_millis(100);

/// How a wait ended.
#[derive(Debug)]
pub enum Waited {
    /// The job has a record.
    Finished(Box<Entry>),
    /// The deadline came, or the caller stopped waiting, first.
    NotYet,
}

/// Waits until `job` has a record, or `deadline` passes, or `between` (called between looks)
/// returns false.
pub fn until(
    queue: &Queue,
    job: &Tracked,
    deadline: Option<Instant>,
    mut between: impl FnMut() -> bool,
) -> Result<Waited> {
    loop {
        if let Phase::Finished(entry) = job.phase(queue)? {
            return Ok(Waited::Finished(entry));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || !between() {
            return Ok(Waited::NotYet);
        }
        let nap = deadline.map_or(POLL, |d| POLL.min(d.saturating_duration_since(now)));
        thread::sleep(nap);
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
    loop {
        let mut still = Vec::new();
        for job in jobs {
            match job.phase(queue)? {
                Phase::Finished(entry) => finished(*entry)?,
                Phase::Pending | Phase::Running => still.push(job),
            }
        }
        jobs = still;
        let now = Instant::now();
        if jobs.is_empty() || deadline.is_some_and(|d| now >= d) {
            return Ok(jobs);
        }
        let nap = deadline.map_or(POLL, |d| POLL.min(d.saturating_duration_since(now)));
        thread::sleep(nap);
    }
}

//! `submit --start`: a drain started in the background unless one holds the queue, as nq does.

use anyhow::{Context, Result};

use crate::queue::Queue;
use crate::queue::lock::{self, DrainLock};
use crate::signals::Shutdown;
use crate::sys;

/// What `submit --start` did about draining.
#[derive(Debug)]
pub enum Start {
    /// A drain holds the queue already; it will run the job. (Also: none could be started, and
    /// the job waits for the next one.)
    AlreadyDraining,
    /// This process forked a drain and goes on as the submitter.
    Started,
    /// This process *is* the forked drain, holding the queue's lock: drain, then exit.
    Drain(DrainLock),
}

/// Starts a drain in the background unless one holds the queue.
///
/// The job is already in `pending/` when this takes the lock, so there is no gap: either the lock
/// is free and the new drain runs the job, or a drain holds it and sees the job — at the latest
/// when it looks at `pending/` once more after letting go of the lock. The lock is taken here,
/// before forking, and the forked copy inherits it, so no other drain can slip in between.
///
/// The drain is a fork of this process rather than a new `execq drain`: the submitter returns
/// without waiting for a program to load, which is most of what a submission costs. The copy runs
/// in its own session with no terminal, so closing the terminal or Ctrl-C does not stop it.
pub fn start_drain(queue: &Queue) -> Result<Start> {
    let Some(lock) = lock::acquire(queue, false, &Shutdown::default())? else {
        return Ok(Start::AlreadyDraining);
    };
    if sys::fork_detached(&lock.fds()).context("failed to start a background drain")? {
        Ok(Start::Drain(lock))
    } else {
        // Closing this copy of the descriptors leaves the lock with the forked drain.
        drop(lock);
        Ok(Start::Started)
    }
}

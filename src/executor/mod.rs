//! Where a claimed job runs: the seam between the drain (claims, records) and what runs the
//! command.
//!
//! [`Executor`] is the one small trait; [`local`] runs a job as a child of the drain and waits for
//! it (what execq has always done), [`slurm`] hands it to a Slurm cluster and returns at once. A
//! job handed over stays in `running/` with a [`Forwarded`] note beside it until a later drain's
//! [`Executor::poll`] finds it finished. Another scheduler (Kubernetes Jobs, Nomad) would be one
//! more implementation of the same three calls.

pub mod local;
pub mod slurm;

use std::os::fd::BorrowedFd;

use anyhow::Result;
use serde_json::Value;

use crate::config::DrainOptions;
use crate::job::JobSpec;
pub use crate::job::executor::{Kind, as_asked};
use crate::job::result::JobResult;
use crate::queue::Queue;
use crate::queue::claim::Claimed;
use crate::queue::forwarded::Forwarded;
use crate::signals::Shutdown;

/// A claimed job, ready to be started, and what starting it may need.
pub struct Job<'a> {
    pub queue: &'a Queue,
    pub opts: &'a DrainOptions,
    pub shutdown: &'a Shutdown,
    pub claimed: &'a Claimed,
    pub spec: &'a JobSpec,
    /// The drain's lock on the queue. A forwarding executor lends it to the command that hands
    /// the job over, so that a drain killed meanwhile leaves the queue locked until that command
    /// has ended: the next drain never asks about a hand-over still on its way.
    pub lock: Option<BorrowedFd<'a>>,
}

/// What became of a job an executor was asked to start.
#[derive(Debug)]
pub enum Launched {
    /// It ran here, to its end.
    Finished(Box<JobResult>),
    /// It was handed over and goes on elsewhere: it stays in `running/` until `poll` finds it
    /// finished.
    Forwarded(Box<Forwarded>),
    /// It could not be handed over for a reason that passes (the cluster cannot be reached):
    /// it goes back to `pending/`, untouched, and waits.
    Later(String),
}

/// A forwarded job's news, from [`Executor::poll`].
#[derive(Debug)]
pub enum News {
    /// Still queued or running there; its note, brought up to date (state, node).
    Running(Box<Forwarded>),
    /// Finished: its result, and what the record says of where it ran.
    Finished {
        job: Box<Forwarded>,
        result: Box<JobResult>,
        executor: Value,
    },
    /// It never reached the executor (a hand-over cut short): it goes back to `pending/`.
    NeverSent(Box<Forwarded>),
}

/// Something that runs jobs.
pub trait Executor {
    /// Starts a claimed job (see [`Launched`]).
    fn launch(&self, job: &Job<'_>) -> Launched;

    /// What has become of the jobs this executor was handed, in one question to it. `Err` when
    /// it cannot be asked now (they are left as they are).
    fn poll(&self, _queue: &Queue, _jobs: Vec<Forwarded>) -> Result<Vec<News>, String> {
        Ok(Vec::new())
    }

    /// Asks it to stop a job it was handed.
    fn cancel(&self, _job: &Forwarded) -> Result<()> {
        Ok(())
    }
}

/// The executor of `kind`, with the queue's settings.
pub fn of(kind: Kind, opts: &DrainOptions) -> Box<dyn Executor + '_> {
    match kind {
        Kind::Local => Box::new(local::Local),
        Kind::Slurm => Box::new(slurm::Slurm::new(&opts.slurm)),
    }
}

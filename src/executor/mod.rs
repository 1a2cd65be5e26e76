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
use serde_json::{Map, Value};

use crate::config::DrainOptions;
use crate::job::JobSpec;
use crate::job::result::JobResult;
use crate::queue::Queue;
use crate::queue::claim::Claimed;
use crate::queue::forwarded::Forwarded;
use crate::signals::Shutdown;

/// The executors a job may name (`executor` in a job, `[executor] default` in config.toml).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A child process of the drain, on this machine.
    #[default]
    Local,
    /// A Slurm batch job (`sbatch`).
    Slurm,
}

impl Kind {
    pub const NAMES: &str = "`local` or `slurm`";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Slurm => "slurm",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "local" => Ok(Self::Local),
            "slurm" => Ok(Self::Slurm),
            other => Err(format!("unknown executor `{other}` (use {})", Self::NAMES)),
        }
    }

    fn named(name: &str) -> Result<Self, String> {
        Self::parse(name).map_err(|_| format!("must be {}, found `{name}`", Self::NAMES))
    }

    /// A job's `executor` field: a name, or the object a record carries (`{"kind": "slurm",
    /// ...}`: a retried record runs where it ran). `None` when absent or null.
    pub fn of_job(job: &Map<String, Value>) -> Result<Option<Self>, String> {
        match job.get("executor") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(name)) => Self::named(name).map(Some),
            Some(Value::Object(o)) => match o.get("kind") {
                Some(Value::String(name)) => Self::named(name).map(Some),
                _ => Err("as an object needs `kind` (`local` or `slurm`)".into()),
            },
            Some(other) => Err(format!(
                "must be {}, found {}",
                Self::NAMES,
                crate::job::type_name(other)
            )),
        }
    }
}

/// A job queued again from its record (`retry`, `rerun`) asks for the executor it ran on, not for
/// that run's Slurm id: `"executor": {"kind": "slurm", "job_id": 7}` becomes `"slurm"`.
pub fn as_asked(job: &mut Map<String, Value>) {
    if let Some(Value::Object(ran)) = job.get("executor")
        && let Some(Value::String(kind)) = ran.get("kind")
    {
        let kind = kind.clone();
        job.insert("executor".into(), Value::String(kind));
    }
}

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
    Finished(JobResult),
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
        result: JobResult,
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

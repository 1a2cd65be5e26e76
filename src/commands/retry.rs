//! `execq retry JOB`: send a failed job back to `pending/` to run again, keeping its earlier
//! result (see `ops::retry`). It starts no drain: the service's, or the next `execq drain`, runs it.

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::ops;
use crate::output;
use crate::queue::Queue;

/// Runs `execq retry JOB` (a file name, its stem, or a task_id): prints the job's new path.
pub fn run(queue: &Queue, job: &str) -> Result<ExitCode> {
    let path = ops::retry::retry(queue, job, crate::job::sandbox::Origin::Cli)?;
    output::print_line(&path.display().to_string())?;
    Ok(ExitCode::Success)
}

/// Runs `execq rerun JOB`: queues a fresh copy of a finished job (`rerun_of` names the original)
/// and prints its path. Like `retry`, it starts no drain.
pub fn rerun(queue: &Queue, job: &str) -> Result<ExitCode> {
    let path = ops::rerun::rerun(queue, job, crate::job::sandbox::Origin::Cli, |_| Ok(()))?;
    output::print_line(&path.display().to_string())?;
    Ok(ExitCode::Success)
}

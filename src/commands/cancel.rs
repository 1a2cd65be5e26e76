//! `execq cancel REF…`: cancels each job (see `ops::cancel`), one line each
//! (`NAME\tSTATUS\t(detail)`); exits 1 if any could not be cancelled.

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::ops::cancel::{Origin, cancel};
use crate::queue::Queue;

/// Runs `execq cancel`: every job is tried; exits 1 if any could not be cancelled.
pub fn run(queue: &Queue, jobs: &[String]) -> Result<ExitCode> {
    super::for_each_job(jobs, |reference| {
        let done = cancel(queue, reference, Origin::Cli)?;
        Ok(format!(
            "{}\t{}\t({})",
            done.job(),
            done.status(),
            done.detail()
        ))
    })
}

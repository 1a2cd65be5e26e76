//! `execq wait REF… [--timeout SECONDS]`: block until every job named has a record.
//!
//! Prints one line per job as it finishes (`FILE STATUS RETURNCODE`), and exits 0 if every job
//! completed, 1 if any did not, 124 if the timeout ran out first. The waiting is `ops::wait`'s.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::job::result::Status;
use crate::ops::wait;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::Entry;
use crate::queue::watch::Tracked;

/// `execq wait`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    pub jobs: Vec<String>,
    pub timeout: Option<Duration>,
}

/// Runs `execq wait`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let jobs = opts
        .jobs
        .iter()
        .map(|r| Tracked::find(queue, r))
        .collect::<Result<Vec<_>>>()?;
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let mut all_completed = true;
    let still = wait::each(queue, jobs, deadline, |entry| {
        all_completed &= completed(&entry);
        output::print_line(&line(&entry))
    })?;
    if !still.is_empty() {
        for job in &still {
            eprintln!("execq: `{}` has not finished", job.reference);
        }
        return Ok(ExitCode::TimedOut);
    }
    Ok(if all_completed {
        ExitCode::Success
    } else {
        ExitCode::Error
    })
}

fn completed(entry: &Entry) -> bool {
    entry
        .result
        .as_ref()
        .is_some_and(|r| r.status == Status::Completed)
}

fn line(entry: &Entry) -> String {
    let (status, code) = entry
        .result
        .as_ref()
        .map_or(("unknown", None), |r| (r.status.as_str(), r.returncode));
    let code = code.map_or_else(|| "-".into(), |c| c.to_string());
    format!("{}\t{status}\t{code}", entry.name)
}

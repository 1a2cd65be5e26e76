//! `execq wait REF… [--timeout SECONDS]`: block until every job named has a record.
//!
//! Prints one line per job as it finishes (`FILE STATUS RETURNCODE`), and exits 0 if every job
//! completed, 1 if any did not, 124 if the timeout ran out first. It looks every 100 ms with a
//! `stat` and a listing of `running/` (see `queue::watch`): no measurable CPU while it waits.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::job::result::Status;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::Entry;
use crate::queue::watch::{Phase, Tracked};

/// How often a waiting command looks.
pub const POLL: Duration = Duration::from_millis(100);

/// `execq wait`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    pub jobs: Vec<String>,
    pub timeout: Option<Duration>,
}

/// Runs `execq wait`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let mut waiting = opts
        .jobs
        .iter()
        .map(|r| Tracked::find(queue, r))
        .collect::<Result<Vec<_>>>()?;
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let mut all_completed = true;
    loop {
        let mut still = Vec::new();
        for job in waiting {
            match job.phase(queue)? {
                Phase::Finished(entry) => {
                    all_completed &= completed(&entry);
                    output::print_line(&line(&entry))?;
                }
                Phase::Pending | Phase::Running => still.push(job),
            }
        }
        waiting = still;
        if waiting.is_empty() {
            return Ok(if all_completed {
                ExitCode::Success
            } else {
                ExitCode::Error
            });
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            for job in &waiting {
                eprintln!("execq: `{}` has not finished", job.reference);
            }
            return Ok(ExitCode::TimedOut);
        }
        thread::sleep(POLL);
    }
}

/// Waits (without a limit) until `job` has a record, and returns it.
pub fn until_finished(queue: &Queue, job: &Tracked) -> Result<Entry> {
    loop {
        if let Phase::Finished(entry) = job.phase(queue)? {
            return Ok(*entry);
        }
        thread::sleep(POLL);
    }
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

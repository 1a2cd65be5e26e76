//! `execq cancel REF…`: a pending job is filed in `failed/` as `cancelled` without running; a
//! running job's drain is asked (through `running/.NAME.cancel`) to end its whole process group
//! (TERM, then KILL half a second later) and records it as `cancelled` with the output it had
//! produced. Works while a drain holds the queue, from any process of the same user.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::exit_code::ExitCode;
use crate::fsutil;
use crate::job::result::{JobResult, Status};
use crate::output;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::taken::{self, Purpose};
use crate::queue::watch::{self, Phase, Tracked};
use crate::queue::{Queue, lock, record};

/// How long `cancel` waits for a running job's record before saying it was asked.
const RECORD_WAIT: Duration = Duration::from_secs(10);

/// Runs `execq cancel`: every job is tried; exits 1 if any could not be cancelled.
pub fn run(queue: &Queue, jobs: &[String]) -> Result<ExitCode> {
    let mut all = true;
    for reference in jobs {
        match cancel(queue, reference) {
            Ok(done) => output::print_line(&done)?,
            Err(e) => {
                eprintln!("execq: error: {e:#}");
                all = false;
            }
        }
    }
    Ok(if all {
        ExitCode::Success
    } else {
        ExitCode::Error
    })
}

/// Cancels one job; says what happened in one line (`NAME\tSTATUS\t(detail)`).
pub fn cancel(queue: &Queue, reference: &str) -> Result<String> {
    queue.open()?;
    let earlier = watch::records(queue);
    let entry = catalog::find(queue, reference)?;
    match entry.state {
        State::Pending => match cancel_pending(queue, &entry)? {
            Some(done) => Ok(done),
            // A drain claimed it meanwhile: it is running now.
            None => cancel_running(queue, &catalog::find(queue, reference)?, earlier),
        },
        State::Running => cancel_running(queue, &entry, earlier),
        State::Completed | State::Failed => bail!(
            "`{}` has already finished ({}); only pending and running jobs can be cancelled",
            entry.name,
            entry.result.as_ref().map_or("done", |r| r.status.as_str())
        ),
    }
}

/// Takes the job out of `pending/` (a rename, so a drain claiming it at the same instant gets it
/// or this does, never both) and files it. `None` if a drain took it first.
fn cancel_pending(queue: &Queue, entry: &Entry) -> Result<Option<String>> {
    let taken = match taken::take(queue, &entry.path, &entry.file_name, Purpose::Cancel) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !fsutil::exists(&entry.path) => {
            return Ok(None);
        }
        other => other.with_context(|| format!("failed to take `{}`", entry.path.display()))?,
    };
    let result = JobResult::skipped(
        Status::Cancelled,
        "cancelled by `execq cancel` before it started",
    );
    let dest = taken::file_unrun(
        queue,
        &taken,
        entry.object.clone(),
        &entry.file_name,
        &result,
    )?;
    tracing::info!(file = ?entry.file_name, to = %dest.display(), "pending job cancelled");
    Ok(Some(format!(
        "{}\tcancelled\t(was pending; recorded in {})",
        entry.name,
        dest.display()
    )))
}

/// Asks the drain running the job to end it, and waits (briefly) for its record.
fn cancel_running(queue: &Queue, entry: &Entry, earlier: watch::Records) -> Result<String> {
    if !lock::is_held(queue)? {
        bail!(
            "`{}` is in running/ but no drain is running it: the next drain records it as interrupted",
            entry.name
        );
    }
    let marker = record::cancel_marker(&entry.path);
    match fsutil::write_new(&marker, b"") {
        Ok(_) => {}
        Err(e) if fsutil::exists(&marker) => drop(e),
        Err(e) => return Err(e),
    }
    let job = Tracked::at(
        entry
            .task_id()
            .map_or_else(|| entry.name.clone(), str::to_owned),
        entry,
        earlier,
    );
    let deadline = Instant::now() + RECORD_WAIT;
    while Instant::now() < deadline {
        if let Phase::Finished(done) = job.phase(queue)? {
            let status = done
                .result
                .as_ref()
                .map_or("unknown", |r| r.status.as_str());
            return Ok(format!("{}\t{status}\t(was running)", entry.name));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(format!(
        "{}\tcancelling\t(the drain was asked to end it)",
        entry.name
    ))
}

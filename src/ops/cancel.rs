//! Cancel a job: a pending job is filed in `failed/` as `cancelled` without running; a running
//! job's drain is asked (through `running/.NAME.cancel`) to end its whole process group (TERM,
//! then KILL half a second later) and records it as `cancelled` with the output it had produced.
//! Works while a drain holds the queue, from any process of the same user.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::get;
use super::wait::{self, Waited};
use crate::fsutil;
use crate::job::result::{JobResult, Status};
use crate::queue::catalog::{Entry, State};
use crate::queue::index;
use crate::queue::names::sidecar_path;
use crate::queue::taken::{self, Purpose};
use crate::queue::watch::{self, Tracked};
use crate::queue::{Queue, lock, record};

/// How long a cancel waits for a running job's record before saying its drain was asked.
const RECORD_WAIT: Duration = Duration::from_secs(10);

/// Which door asked: the cancelled record says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Cli,
    Mcp,
    Dashboard,
}

impl Origin {
    fn who(self) -> &'static str {
        match self {
            Self::Cli => "`execq cancel`",
            Self::Mcp => "`cancel_job` (execq mcp)",
            Self::Dashboard => "the dashboard",
        }
    }
}

/// What a cancel did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// It was pending: filed as `cancelled` without running, here.
    WasPending { job: String, record: PathBuf },
    /// It was running: its drain ended it and recorded it with this status.
    Ended { job: String, status: String },
    /// It was running: its drain was asked to end it and has not recorded it yet.
    Asked { job: String },
}

impl Cancelled {
    /// The job's name.
    pub fn job(&self) -> &str {
        match self {
            Self::WasPending { job, .. } | Self::Ended { job, .. } | Self::Asked { job } => job,
        }
    }

    /// Its status now: `cancelled`, the status its drain recorded, or `cancelling`.
    pub fn status(&self) -> &str {
        match self {
            Self::WasPending { .. } => "cancelled",
            Self::Ended { status, .. } => status,
            Self::Asked { .. } => "cancelling",
        }
    }

    /// What happened, in a few words.
    pub fn detail(&self) -> String {
        match self {
            Self::WasPending { record, .. } => {
                format!("was pending; recorded in {}", record.display())
            }
            Self::Ended { .. } => "was running".to_owned(),
            Self::Asked { .. } => "the drain was asked to end it".to_owned(),
        }
    }
}

/// Cancels the job `reference` names.
pub fn cancel(queue: &Queue, reference: &str, origin: Origin) -> Result<Cancelled> {
    queue.open()?;
    let entry = get::in_queue(queue, reference, "cancelled")?;
    match entry.state {
        State::Pending => match cancel_pending(queue, &entry, origin)? {
            Some(done) => Ok(done),
            // A drain claimed it meanwhile: it is running now.
            None => cancel_running(queue, &get::in_queue(queue, reference, "cancelled")?),
        },
        State::Running => cancel_running(queue, &entry),
        State::Completed | State::Failed => bail!(
            "`{}` has already finished ({}); only pending and running jobs can be cancelled",
            entry.name,
            entry.result.as_ref().map_or("done", |r| r.status.as_str())
        ),
    }
}

/// Takes the job out of `pending/` (a rename, so a drain claiming it at the same instant gets it
/// or this does, never both) and files it. `None` if a drain took it first.
fn cancel_pending(queue: &Queue, entry: &Entry, origin: Origin) -> Result<Option<Cancelled>> {
    let mut change = index::Change::begin(queue);
    let taken = match taken::take(queue, &entry.path, &entry.file_name, Purpose::Cancel) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !fsutil::exists(&entry.path) => {
            return Ok(None);
        }
        other => other.with_context(|| format!("failed to take `{}`", entry.path.display()))?,
    };
    let why = format!("cancelled by {} before it started", origin.who());
    let result = JobResult::skipped(Status::Cancelled, why);
    let record = taken::file_unrun(
        queue,
        &taken,
        entry.object.clone(),
        &entry.file_name,
        &result,
    )?;
    let task_id = entry
        .object
        .as_ref()
        .and_then(|o| o.get("task_id")?.as_str());
    let record_file = match &entry.object {
        Some(_) => record.clone(),
        None => sidecar_path(&record),
    };
    let name = record.file_name().unwrap_or_default();
    change.filed(
        State::Failed,
        &record_file,
        name,
        index::TaskId::Known(task_id),
    );
    change.commit(queue);
    tracing::info!(file = ?entry.file_name, to = %record.display(), "pending job cancelled");
    Ok(Some(Cancelled::WasPending {
        job: entry.name.clone(),
        record,
    }))
}

/// Asks the drain running the job to end it (or, for a job forwarded to another executor, that
/// executor), and waits (briefly) for its record.
fn cancel_running(queue: &Queue, entry: &Entry) -> Result<Cancelled> {
    let forwarded = crate::queue::forwarded::read(&entry.path);
    if let Some(note) = &forwarded {
        // Cancelling needs none of the queue's settings for the executor.
        let opts = crate::config::DrainOptions::default();
        crate::executor::of(note.kind, &opts)
            .cancel(note)
            .with_context(|| {
                format!(
                    "`{}` runs on {}, which could not cancel it",
                    entry.name,
                    note.kind.as_str()
                )
            })?;
        tracing::info!(file = ?entry.file_name, job_id = %note.job_id.map_or_else(|| "-".into(), |id| id.to_string()), "forwarded job cancelled");
    } else if !lock::is_held(queue)? {
        bail!(
            "`{}` is in running/ but no drain is running it: the next drain records it as interrupted",
            entry.name
        );
    }
    let marker = record::cancel_marker(&entry.path);
    match fsutil::write_new(&marker, b"") {
        _ if forwarded.is_some() => {}
        Ok(_) => {}
        Err(e) if fsutil::exists(&marker) => drop(e),
        Err(e) => return Err(e),
    }
    let reference = entry
        .task_id()
        .map_or_else(|| entry.name.clone(), str::to_owned);
    // The records the reference names while the job is still in running/ are earlier runs'.
    let earlier = watch::records_named(queue, &reference);
    let earlier = match fsutil::exists(&entry.path) {
        true => earlier,
        false => watch::Records::new(),
    };
    let job = Tracked::at(reference, entry, earlier);
    let job_name = entry.name.clone();
    match wait::until(queue, &job, Some(Instant::now() + RECORD_WAIT), || true)? {
        Waited::Finished(done) => Ok(Cancelled::Ended {
            job: job_name,
            status: done
                .result
                .as_ref()
                .map_or("unknown", |r| r.status.as_str())
                .to_owned(),
        }),
        Waited::NotYet => Ok(Cancelled::Asked { job: job_name }),
    }
}

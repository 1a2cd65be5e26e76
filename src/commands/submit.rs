//! `execq submit`: write a JSON job into `pending/` atomically and durably (see
//! `queue::enqueue`), print where it went, and with `--start` make sure a drain will run it.

use anyhow::Result;
use serde_json::json;

use crate::commands::drain as drain_command;
use crate::config::{DrainOptions, Flags};
use crate::drain::SUBMIT_LINGER;
use crate::exit_code::ExitCode;
use crate::job::result::Status;
use crate::ops::kick::{self, Kicked, Launch};
use crate::ops::submit::{SubmitOptions, Submitted, submit_unsynced};
use crate::ops::wait::{self, Waited};
use crate::output;
use crate::queue::Queue;
use crate::queue::names::display_path;
use crate::queue::watch::{self, Records, Tracked};

/// `submit --wait`: the job's output on this process's stdout and stderr, its exit code as this
/// process's (see [`ExitCode::of_job`]).
fn wait_for(queue: &Queue, submitted: &Submitted, earlier: Records) -> Result<ExitCode> {
    let name = submitted.path.file_name().unwrap_or_default().to_owned();
    // Followed by its file name, the surest reference: its task_id may be any text, even another
    // job's file name.
    let reference = crate::queue::names::display_name(&name);
    let job = Tracked::pending(reference, name, submitted.id, earlier);
    let Waited::Finished(entry) = wait::until(queue, &job, None, || true)? else {
        unreachable!("a wait without a deadline ends with the record")
    };
    let Some(result) = entry.result else {
        anyhow::bail!("`{}` finished without a readable result", entry.name);
    };
    output::print(&result.stdout)?;
    eprint!("{}", result.stderr);
    if let Some(error) = result
        .error
        .as_deref()
        .filter(|_| result.status != Status::Completed)
    {
        eprintln!("execq: {} {}: {error}", entry.name, result.status.as_str());
    }
    Ok(ExitCode::of_job(&result))
}

/// `execq submit`'s options.
#[derive(Clone, Debug, PartialEq)]
pub struct Opts {
    pub job: SubmitOptions,
    /// Print `{"task_id", "path"}` as JSON.
    pub json: bool,
    /// Start a drain in the background unless one holds the queue.
    pub start: bool,
    /// Wait for the job's record, print its output and exit with its exit code (starts a drain
    /// as `start` does).
    pub wait: bool,
}

/// Why a job of `group` cannot start now, if it cannot: the queue or its group is paused.
fn paused(queue: &Queue, group: Option<&str>) -> Option<String> {
    let group = group.unwrap_or(crate::job::schedule::DEFAULT_GROUP);
    (!crate::queue::pause::may_start(queue, group))
        .then(|| format!("the queue (or group `{group}`) is paused"))
}

/// Runs `execq submit`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    // A task_id given by hand may be an earlier job's: its records are not this job's.
    let earlier = match &opts.job.task_id {
        Some(task_id) if opts.wait => watch::records_named(queue, task_id),
        _ => Records::new(),
    };
    // The job is in pending/ but not yet durably: the drain is started first, and gets going
    // while pending/ is synced (a drain that was already running sees the job either way).
    let unsynced = submit_unsynced(queue, &opts.job)?;
    if opts.start || opts.wait {
        let kicked = kick::kick(queue, Launch::Fork).unwrap_or_else(|e| {
            // The job is queued either way; failing here would invite a second submission.
            tracing::warn!("the job is queued, but no drain could be started: {e:#}");
            Kicked::AlreadyDraining
        });
        if let Kicked::ThisProcessDrains(lock) = kicked {
            // The forked drain: its stdout is /dev/null and nobody waits for its exit code.
            let flags = Flags {
                linger: Some(SUBMIT_LINGER),
                ..Flags::default()
            };
            let options = drain_command::settings(queue, &flags, DrainOptions::default())?;
            return drain_command::drain_with(queue, &options, false, Some(lock));
        }
    }
    let submitted = unsynced.sync(queue)?;
    if (opts.start || opts.wait)
        && !opts.job.hold
        && let Some(why) = paused(queue, opts.job.group.as_deref())
    {
        eprintln!("execq: {why}: the job waits until `execq resume`");
    }
    if opts.wait {
        return wait_for(queue, &submitted, earlier);
    }
    let line = if opts.json {
        json!({ "task_id": submitted.task_id, "path": display_path(&submitted.path) }).to_string()
    } else {
        submitted.path.display().to_string()
    };
    output::print_line(&line)?;
    Ok(ExitCode::Success)
}

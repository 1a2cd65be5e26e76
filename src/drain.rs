//! `execq drain`: take the queue's lock, finish what a killed drain left behind, run every ready
//! job oldest first, and exit.
//!
//! The drain loops until `pending/` holds nothing ready, then lets go of the lock and looks once
//! more: a job that landed just as it let go (while a second drain, started by that job's trigger,
//! found the lock still taken and left) is picked up instead of waiting for the next trigger.

use std::ffi::OsStr;
use std::io;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tracing::{debug, error, info, warn};

use crate::exec::{self, Limits, RunError};
use crate::job::{self, Format, JobError, JobSpec, Program};
use crate::lock;
use crate::pending::{self, Intake, Loaded, Settle};
use crate::queue::Queue;
use crate::record::{JobResult, Status};
use crate::result_file;
use crate::signals::Shutdown;
use crate::store::{self, Claimed, Record, Recovered};
use crate::sys;

/// How long a drain waits for entries that are not ready yet (see `pending`) before leaving them
/// to the next trigger.
pub const MAX_SETTLE_WAIT: Duration = Duration::from_secs(30);

/// Settings for one drain.
#[derive(Clone, Debug)]
pub struct DrainOptions {
    /// Default per-job timeout (a job's own `timeout` field overrides it).
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL when ending a job's process group.
    pub grace: Duration,
    /// How long a not-yet-parseable file must stay unchanged before it is acted on.
    pub settle: Duration,
    /// Wait for another drain to finish instead of leaving at once.
    pub wait_for_lock: bool,
    /// Bytes kept at each end of each output stream in the record.
    pub keep: usize,
    /// How long to keep the lock once `pending/` is empty, for jobs that arrive meanwhile.
    pub linger: Duration,
}

/// How long a drain started by `submit --start` lingers: long enough for a tool submitting a
/// burst of jobs to have them all run by one drain, short enough to let go of the queue at once to
/// a person's eye.
pub const SUBMIT_LINGER: Duration = Duration::from_millis(200);

impl Default for DrainOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            grace: Duration::from_secs(5),
            settle: Duration::from_secs(2),
            wait_for_lock: false,
            keep: crate::capture::DEFAULT_KEEP,
            linger: Duration::ZERO,
        }
    }
}

/// What a drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub completed: usize,
    pub failed: usize,
    /// Jobs found in `running/` from a drain that died.
    pub recovered: usize,
    /// The stop signal that ended this drain early.
    pub stopped_by: Option<i32>,
}

impl Summary {
    fn count(&mut self, status: Status) {
        if status == Status::Completed {
            self.completed += 1
        } else {
            self.failed += 1
        }
    }

    fn touched(&self) -> bool {
        self.completed + self.failed + self.recovered > 0
    }
}

/// What the last drain that did something recorded, in `QUEUE/last-drain.json`.
pub const LAST_DRAIN: &str = "last-drain.json";

/// Runs one drain of `queue`, taking its lock (or starting with `held`, a lock already taken).
pub fn drain(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    held: Option<lock::DrainLock>,
) -> Result<Summary> {
    queue.open()?;
    sys::become_subreaper();
    let started_at = chrono::Local::now();
    let started = Instant::now();
    let mut summary = Summary::default();
    let outcome = drain_all(queue, opts, shutdown, held, &mut summary);
    summary.stopped_by = shutdown.requested();
    if summary.touched() || summary.stopped_by.is_some() || outcome.is_err() {
        info!(
            completed = summary.completed,
            failed = summary.failed,
            recovered = summary.recovered,
            duration_ms = started.elapsed().as_millis() as u64,
            peak_rss_kib = sys::peak_rss_bytes() / 1024,
            stopped_by = %summary.stopped_by.map_or_else(|| "-".into(), |s| s.to_string()),
            "drain finished"
        );
        let error = outcome.as_ref().err().map(|e| format!("{e:#}"));
        if let Err(e) = record_last_drain(queue, &summary, started_at, error) {
            warn!("could not record the drain's outcome: {e:#}");
        }
    }
    outcome.map(|()| summary)
}

fn record_last_drain(
    queue: &Queue,
    summary: &Summary,
    started_at: chrono::DateTime<chrono::Local>,
    error: Option<String>,
) -> Result<()> {
    let outcome = match (&error, summary.stopped_by) {
        (Some(_), _) => "error".to_owned(),
        (None, Some(signal)) => format!("stopped by signal {signal}"),
        (None, None) if summary.failed > 0 => "some jobs failed".to_owned(),
        (None, None) => "ok".to_owned(),
    };
    let value = serde_json::json!({
        "started_at": crate::record::timestamp(started_at),
        "finished_at": crate::record::timestamp(chrono::Local::now()),
        "outcome": outcome,
        "completed": summary.completed,
        "failed": summary.failed,
        "recovered": summary.recovered,
        "stopped_by": summary.stopped_by,
        "error": error,
        "pid": std::process::id(),
    });
    let tmp = queue.temp_path(LAST_DRAIN);
    std::fs::write(&tmp, serde_json::to_vec_pretty(&value)?)
        .with_context(|| format!("failed to write `{}`", tmp.display()))?;
    crate::fsutil::rename(&tmp, &queue.root.join(LAST_DRAIN))
}

fn drain_all(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    mut first: Option<lock::DrainLock>,
    summary: &mut Summary,
) -> Result<()> {
    let mut settle = Settle::new(opts.settle);
    let mut announced = false;
    loop {
        let taken = match first.take() {
            Some(lock) => Some(lock),
            None => lock::acquire(queue, opts.wait_for_lock, shutdown)?,
        };
        let Some(mut held) = taken else {
            debug!("another drain holds the queue; leaving it the work");
            break;
        };
        let before = summary.clone();
        recover(queue, summary)?;
        sweep_tmp(queue);
        let outcome = loop {
            let outcome = drain_locked(queue, opts, shutdown, &mut settle, &mut announced, summary);
            lock::reassert(queue, &mut held)?;
            // Lingering leaves the last records' moves unsynced a little longer; a power loss
            // meanwhile only puts them back in `running/`, where the next drain files them.
            if !matches!(outcome, Ok(false))
                || shutdown.requested().is_some()
                || !linger(queue, opts.linger, shutdown)?
            {
                break outcome;
            }
        };
        let recovered = summary.recovered > before.recovered;
        store::sync_outboxes(
            queue,
            recovered || summary.completed > before.completed,
            recovered || summary.failed > before.failed,
        )?;
        let gave_up = outcome?;
        drop(held);
        if gave_up || shutdown.requested().is_some() || !pending::has_entries(&queue.pending)? {
            break;
        }
        debug!("a job arrived as the lock was released; draining again");
    }
    Ok(())
}

/// Waits up to `how_long` for an entry to appear in `pending/` (polling every millisecond: a
/// directory listing costs microseconds). Returns whether one did.
fn linger(queue: &Queue, how_long: Duration, shutdown: &Shutdown) -> Result<bool> {
    let until = Instant::now() + how_long;
    while Instant::now() < until && shutdown.requested().is_none() {
        thread::sleep(Duration::from_millis(1));
        if pending::has_entries(&queue.pending)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn recover(queue: &Queue, summary: &mut Summary) -> Result<()> {
    for item in store::recover(queue, |job| {
        let record = plan_record(
            &job.name,
            &pending::read_regular(&job.path).unwrap_or_default(),
        );
        if let Record::Merged(object) = &record {
            if let Some(requested) = job::from_json(object)
                .ok()
                .and_then(|spec| spec.result_file)
            {
                result_file::discard_temp(&queue.results, &requested);
            }
        }
        record
    })? {
        summary.recovered += 1;
        match item {
            Recovered::Interrupted { name, stored } => {
                summary.failed += 1;
                warn!(file = ?name, to = %stored.path.display(), "job was running when a drain died; recorded as interrupted, not re-run");
            }
            Recovered::Completed { name, stored } => {
                info!(file = ?name, to = %stored.path.display(), "finished moving a job a killed drain had completed");
            }
        }
    }
    Ok(())
}

/// Removes files left in `tmp/` by execq processes that no longer exist (a submit or drain that
/// was killed mid-write); see `Queue::temp_path`.
fn sweep_tmp(queue: &Queue) {
    let Ok(entries) = std::fs::read_dir(&queue.tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(crate::queue::temp_owner) else {
            continue;
        };
        if !sys::process_exists(pid) {
            debug!(file = ?name, "removing a temporary file left by a killed execq");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Drains `pending/` while holding the lock. Returns `true` if it stopped because entries stayed
/// not-ready for [`MAX_SETTLE_WAIT`].
fn drain_locked(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    settle: &mut Settle,
    announced: &mut bool,
    summary: &mut Summary,
) -> Result<bool> {
    let mut unsynced = None;
    let outcome = drain_entries(
        queue,
        opts,
        shutdown,
        settle,
        announced,
        summary,
        &mut unsynced,
    );
    let stored = settle_record(unsynced, summary);
    let gave_up = outcome?;
    stored?;
    Ok(gave_up)
}

/// Syncs and files the last job's record, which [`process`] leaves for the next claim to sync.
fn settle_record(unsynced: Option<store::Finishing>, summary: &mut Summary) -> Result<()> {
    let Some(finishing) = unsynced else {
        return Ok(());
    };
    finishing.sync()?;
    file_record(finishing, summary)
}

fn file_record(finishing: store::Finishing, summary: &mut Summary) -> Result<()> {
    let name = finishing.job().name.clone();
    let status = finishing.status();
    let stored = finishing.complete()?;
    info!(file = ?name, status = %status.as_str(), to = %stored.path.display(), "job moved");
    summary.count(status);
    Ok(())
}

fn drain_entries(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    settle: &mut Settle,
    announced: &mut bool,
    summary: &mut Summary,
    unsynced: &mut Option<store::Finishing>,
) -> Result<bool> {
    let mut waiting_since: Option<Instant> = None;
    loop {
        let entries = pending::scan(&queue.pending)?;
        if entries.is_empty() || shutdown.requested().is_some() {
            return Ok(false);
        }
        if !*announced {
            info!(pending = entries.len(), queue = %queue.root.display(), "drain started");
            *announced = true;
        }
        let mut next_look: Option<Instant> = None;
        let mut progressed = false;
        for entry in entries {
            if shutdown.requested().is_some() {
                return Ok(false);
            }
            match pending::intake(&queue.pending, &entry.name, settle)? {
                Intake::Gone => {}
                Intake::NotYet(when) => next_look = Some(next_look.map_or(when, |n| n.min(when))),
                Intake::Ready(loaded) => {
                    progressed |= process(queue, opts, shutdown, loaded, summary, unsynced)?;
                }
            }
        }
        if progressed {
            waiting_since = None;
            continue;
        }
        let Some(when) = next_look else { continue };
        let since = *waiting_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= MAX_SETTLE_WAIT {
            warn!("entries in pending/ are still being written; leaving them for the next drain");
            return Ok(true);
        }
        debug!("waiting for entries in pending/ to settle");
        settle_record(unsynced.take(), summary)?;
        store::sync_outboxes(queue, true, true)?;
        sleep_until(when, shutdown);
    }
}

fn sleep_until(when: Instant, shutdown: &Shutdown) {
    while Instant::now() < when && shutdown.requested().is_none() {
        thread::sleep(
            when.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
    }
}

/// Claims, runs and records one job. Returns whether anything was done.
///
/// One sync per job: the previous job's record is written but left unsynced (`unsynced`) until
/// this job is claimed, and then one sync of that record makes both durable (on ext4 a single
/// journal commit; elsewhere the sync of `running/` that follows does the claim's share). The job
/// starts only after both. A drain killed in between leaves both jobs in `running/` with the
/// previous one's record complete in a `.tmp` file: the next drain files that record and records
/// the claimed job as interrupted (it is never run again). After a power loss the record may be
/// cut short; then both are recorded as interrupted, as they would be had the power failed a
/// moment earlier, before the record was written.
fn process(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    loaded: Loaded,
    summary: &mut Summary,
    unsynced: &mut Option<store::Finishing>,
) -> Result<bool> {
    let Some(claimed) = store::claim(queue, &loaded.name)? else {
        return Ok(false);
    };
    let previous = unsynced.take();
    let synced = previous
        .as_ref()
        .map_or(Ok(()), store::Finishing::sync)
        .and_then(|()| store::sync_claims(queue));
    let filed = synced.and_then(|()| previous.map_or(Ok(()), |f| file_record(f, summary)));
    if let Err(e) = filed {
        // The job has not started: give it back rather than leave it to be found "interrupted".
        if let Err(undo) = store::unclaim(queue, &claimed) {
            error!(file = ?claimed.name, error = %format!("{undo:#}"), "could not put a claimed job back in pending/");
        }
        return Err(e);
    }
    let loaded = claimed_content(loaded, &claimed)?;
    let (record, spec) = plan(loaded);
    let mut result = match spec {
        Ok(spec) => run_job(queue, opts, shutdown, &claimed, &spec),
        Err(why) => {
            error!(file = ?claimed.name, error = %why, "job cannot run");
            JobResult::error(why.to_string())
        }
    };
    if !store::still_there(&claimed) {
        result.notes.push(
            "the job file was removed or replaced in running/ while the job ran (by the job?); \
             this record is kept without it"
                .into(),
        );
    }
    *unsynced = Some(store::prepare(queue, &claimed, record, &result)?);
    Ok(true)
}

/// What was claimed. A producer may rename a new file over the name between the read and the
/// claim; then the new file is the one in `running/`, and it is the one to run and record.
fn claimed_content(loaded: Loaded, claimed: &Claimed) -> Result<Loaded> {
    match claimed.id == loaded.id {
        true => Ok(loaded),
        false => {
            warn!(file = ?claimed.name, "the job file was replaced as it was claimed; running the new one");
            let reloaded = pending::load(&claimed.path, &claimed.name)?;
            reloaded.map(|(fresh, _)| fresh).with_context(|| {
                format!("the claimed job `{}` disappeared", claimed.path.display())
            })
        }
    }
}

/// How a loaded job will be recorded, and what it asks to run (or why it cannot).
fn plan(loaded: Loaded) -> (Record, Result<JobSpec, JobError>) {
    if let Some(why) = loaded.refusal {
        return (Record::Sidecar, Err(why));
    }
    match (loaded.format, loaded.json) {
        (Format::Json, Some(Ok(object))) => {
            let spec = job::from_json(&object);
            (Record::Merged(object), spec)
        }
        (_, Some(Err(why))) => (Record::Sidecar, Err(why)),
        (Format::Script, _) => (Record::Sidecar, job::from_script(&loaded.bytes)),
        (Format::Json | Format::Unsupported, _) => (
            Record::Sidecar,
            Err(JobError::Unsupported(loaded.name.to_string_lossy().into())),
        ),
    }
}

/// The record shape for a job file's bytes (used when recovering an interrupted job).
pub fn plan_record(name: &OsStr, bytes: &[u8]) -> Record {
    match (Format::of(name), job::parse_object(bytes)) {
        (Format::Json, Ok(object)) => Record::Merged(object),
        _ => Record::Sidecar,
    }
}

fn run_job(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    job: &Claimed,
    spec: &JobSpec,
) -> JobResult {
    let summary = job::summary(&spec.program, &job.path);
    info!(file = ?job.name, task_id = %spec.task_id.as_deref().unwrap_or("-"), command = %summary, "job started");
    let timeout = spec.timeout.unwrap_or(opts.timeout);
    let result = execute(queue, opts, shutdown, job, spec, timeout);
    let returncode = result
        .returncode
        .map_or_else(|| "-".into(), |c| c.to_string());
    let error = result.error.as_deref().unwrap_or("-");
    if result.status == Status::Completed {
        info!(file = ?job.name, status = %"completed", %returncode, duration_ms = result.duration_ms, "job finished");
    } else {
        warn!(file = ?job.name, status = %result.status.as_str(), %returncode, duration_ms = result.duration_ms, %error, "job finished");
    }
    result
}

fn execute(
    queue: &Queue,
    opts: &DrainOptions,
    shutdown: &Shutdown,
    job: &Claimed,
    spec: &JobSpec,
    timeout: Duration,
) -> JobResult {
    let command = match command_for(queue, job, spec) {
        Ok(command) => command,
        Err(message) => return JobResult::error(message),
    };
    let (target, sink) = match spec
        .result_file
        .as_deref()
        .map(|f| result_file::open(&queue.results, f))
    {
        None => (None, None),
        Some(Ok((target, sink))) => (Some(target), Some(sink)),
        Some(Err(message)) => return JobResult::error(message),
    };
    let limits = Limits {
        timeout,
        grace: opts.grace,
        keep: opts.keep,
    };
    let mut run = match exec::run(command, &limits, shutdown, sink) {
        Ok(run) => run,
        Err(e) => {
            // The sink went down with the failed run; only its temporary file is left.
            if let Some(target) = target {
                target.discard();
            }
            return JobResult::error(match e {
                RunError::Spawn(e) => spawn_error(spec, &e),
                supervise @ RunError::Supervise(_) => supervise.to_string(),
            });
        }
    };
    let sink = run.sink.take();
    let mut result = JobResult::from_execution(run, timeout.as_secs_f64());
    if let (Some(target), Some(sink)) = (target, sink) {
        result.result_file = Some(target.path.display().to_string());
        match target.commit(sink) {
            Ok(truncated) => result.result_file_truncated = Some(truncated),
            Err(message) => {
                result.result_file_truncated = Some(false);
                result.error.get_or_insert(message);
            }
        }
    }
    result
}

fn command_for(queue: &Queue, job: &Claimed, spec: &JobSpec) -> Result<Command, String> {
    let mut command = match &spec.program {
        Program::Argv { program, args } => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        Program::Shell(line) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(line);
            c
        }
        Program::Script { interpreter } => {
            let mut c = Command::new(&interpreter[0]);
            c.args(&interpreter[1..]).arg(&job.path);
            c
        }
    };
    if let Some(dir) = &spec.cwd {
        if !dir.is_dir() {
            return Err(format!(
                "working directory `{}` does not exist",
                dir.display()
            ));
        }
        command.current_dir(dir);
    }
    command
        .env("EXECQ_QUEUE", &queue.root)
        .env("EXECQ_JOB", &job.name);
    if let Some(id) = &spec.task_id {
        command.env("EXECQ_TASK_ID", id);
    }
    Ok(command)
}

fn spawn_error(spec: &JobSpec, err: &io::Error) -> String {
    let program = match &spec.program {
        Program::Argv { program, .. } => program.as_str(),
        Program::Shell(_) => "/bin/sh",
        Program::Script { interpreter } => interpreter[0].as_str(),
    };
    match err.kind() {
        io::ErrorKind::NotFound if program.contains('/') => {
            format!("program `{program}` not found")
        }
        io::ErrorKind::NotFound => format!(
            "program `{program}` not found in PATH (`{}`)",
            std::env::var("PATH").unwrap_or_default()
        ),
        io::ErrorKind::PermissionDenied => {
            format!("program `{program}` is not executable (permission denied)")
        }
        _ => format!("failed to start `{program}`: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::FileId;

    #[test]
    fn a_file_replaced_before_the_claim_is_the_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let name = OsStr::new("job.json");
        let first = dir.path().join("read.json");
        std::fs::write(&first, r#"{"command": "echo old"}"#).unwrap();
        let (loaded, _) = pending::load(&first, name).unwrap().unwrap();

        let path = dir.path().join("job.json");
        std::fs::write(&path, r#"{"command": "echo new"}"#).unwrap();
        let claimed = Claimed {
            name: name.to_owned(),
            id: FileId::at(&path).unwrap(),
            path,
        };
        let content = claimed_content(loaded, &claimed).unwrap();
        let object = content.json.unwrap().unwrap();
        assert_eq!(object["command"], "echo new");
    }

    #[test]
    fn the_file_read_is_kept_when_it_is_the_one_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let name = OsStr::new("job.json");
        let path = dir.path().join("job.json");
        std::fs::write(&path, r#"{"command": "echo same"}"#).unwrap();
        let (loaded, _) = pending::load(&path, name).unwrap().unwrap();
        std::fs::write(dir.path().join("other"), "unrelated").unwrap();
        let content = claimed_content(
            loaded,
            &Claimed {
                name: name.to_owned(),
                id: FileId::at(&path).unwrap(),
                path,
            },
        )
        .unwrap();
        assert_eq!(content.json.unwrap().unwrap()["command"], "echo same");
    }
}

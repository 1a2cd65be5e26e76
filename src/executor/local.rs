//! The local executor: the job runs as a child of the drain, on this machine, which waits for it
//! to end (with its timeout, resource limits and sandbox; see `exec`).

use std::time::Duration;

use tracing::{info, warn};

use super::{Executor, Job, Launched};
use crate::config::DrainOptions;
use crate::exec::{self, Limits, StartError, Watch, command, result_file};
use crate::job::limits::{self, Plan, ResourceLimits};
use crate::job::result::{JobResult, Status, describe};
use crate::job::{self, JobSpec};
use crate::queue::Queue;
use crate::queue::claim::Claimed;
use crate::queue::record;
use crate::signals::Shutdown;

/// Runs jobs here (the default).
pub struct Local;

impl Executor for Local {
    fn launch(&self, job: &Job<'_>) -> Launched {
        Launched::Finished(Box::new(run(job)))
    }
}

/// Runs the job to its end and returns its result.
pub fn run(job: &Job<'_>) -> JobResult {
    run_job(job.queue, job.opts, job.shutdown, job.claimed, job.spec)
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
    let limits = Limits {
        timeout: spec.timeout.unwrap_or(opts.timeout),
        grace: opts.grace,
        keep: opts.keep,
    };
    let resources = spec.limits.or(opts.limits);
    let (mut sandbox, mut temp) = (None, None);
    let mut result = execute(
        queue,
        opts,
        &limits,
        &resources,
        shutdown,
        job,
        spec,
        (&mut sandbox, &mut temp),
    )
    .unwrap_or_else(|e| JobResult::error(describe(&e)));
    result.sandbox = sandbox;
    if let Some(note) = temp.and_then(crate::sys::sandbox::remove_temp) {
        result.notes.push(note);
    }
    exec::sandbox::hint(&mut result);
    if result.status == Status::Failed
        && let Some((limit, why)) = limits::which(&resources, &result)
    {
        result.limit = Some(limit.to_owned());
        let how = result
            .error
            .take()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        result.error = Some(format!("stopped by a resource limit: {why}{how}"));
    }
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

/// Builds the job's command (in its sandbox, whose description and temporary folder go to
/// `sandboxed`), opens its result file, runs it, and turns what happened into its result.
#[allow(clippy::too_many_arguments)]
fn execute(
    queue: &Queue,
    opts: &DrainOptions,
    limits: &Limits,
    resources: &ResourceLimits,
    shutdown: &Shutdown,
    job: &Claimed,
    spec: &JobSpec,
    (sandbox, temp_out): (
        &mut Option<serde_json::Value>,
        &mut Option<tempfile::TempDir>,
    ),
) -> Result<JobResult, StartError> {
    let plan = limits_plan(resources)?;
    let sandboxed = exec::sandbox::plan(&opts.sandbox, spec, &job.path, queue, sandbox)?;
    let prepared = sandboxed.map(|s| {
        *temp_out = Some(s.temp);
        s.prepared
    });
    let temp = temp_out.as_ref();
    let mut env = vec![
        ("EXECQ_QUEUE", queue.root.as_os_str()),
        ("EXECQ_JOB", job.name.as_os_str()),
    ];
    if let Some(temp) = temp {
        env.push(("TMPDIR", temp.path().as_os_str()));
    }
    let command = command::build(spec, &job.path, &env, plan, prepared)?;
    let program = command::program_name(&spec.program);
    let cancel = record::cancel_marker(&job.path);
    let watch = Watch {
        shutdown,
        cancel: Some(&cancel),
        spool: Some(record::spool_paths(&job.path)),
    };
    let Some(requested) = spec.result_file.as_deref() else {
        let run = exec::run(command, program, limits, watch, None)?;
        return Ok(run.into_result(secs(limits.timeout)));
    };
    let (target, mut sink) = result_file::open(&queue.results, requested, &job.path)?;
    let run = match exec::run(command, program, limits, watch, Some(&mut sink)) {
        Ok(run) => run,
        Err(e) => {
            target.discard();
            return Err(e);
        }
    };
    let mut result = run.into_result(secs(limits.timeout));
    result.result_file = Some(target.path.display().to_string());
    match target.commit(sink) {
        Ok(truncated) => result.result_file_truncated = Some(truncated),
        Err(e) => {
            result.result_file_truncated = Some(false);
            result.error.get_or_insert(describe(&e));
        }
    }
    Ok(result)
}

/// The system calls that apply `limits` to the job's process, or why they cannot be made.
fn limits_plan(limits: &ResourceLimits) -> Result<Plan, StartError> {
    if let Some(why) = limits::unsupported(limits) {
        return Err(StartError::Limits(why));
    }
    Plan::new(limits)
        .map_err(|e| StartError::Limits(format!("cannot read drain's own resource limits: {e}")))
}

fn secs(timeout: Duration) -> f64 {
    timeout.as_secs_f64()
}

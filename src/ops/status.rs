//! Is the queue healthy? Counts, the oldest waiting job, the running drain, the last drain's
//! outcome, the service, and recent errors: `execq status`, MCP `queue_status` and the served
//! dashboard's `/api/status` all give this one report.

use std::fs;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::job::result::timestamp;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::{self, State};
use crate::queue::last_drain;
use crate::queue::lock;
use crate::service::{self, ServiceState};

/// A pending job older than this makes the queue unhealthy: drains are not running, or are stuck.
pub const STALE_PENDING: Duration = Duration::from_secs(10 * 60);

/// Everything `status` reports.
#[derive(Debug, Serialize)]
pub struct Report {
    pub queue: String,
    pub counts: Counts,
    pub oldest_pending: Option<Waiting>,
    pub drain: Option<Running>,
    pub last_drain: Option<Value>,
    pub service: Option<ServiceState>,
    /// Whether sandboxed jobs can run here, and what enforces them.
    pub sandbox: SandboxState,
    /// The whole queue is paused (`execq pause`): drains start none of its jobs.
    pub paused: bool,
    /// Each group: its slots, pending and running jobs, and whether it is paused.
    pub groups: Vec<super::pause::GroupView>,
    /// Jobs in `running/` handed to another executor (Slurm), each with its state there.
    pub forwarded: Vec<ForwardedJob>,
    /// Why jobs could not be handed over or looked at lately (the cluster unreachable).
    pub forwarding_fault: Option<crate::queue::forwarded::Fault>,
    pub recent_errors: Vec<String>,
    pub healthy: bool,
    pub problems: Vec<String>,
}

/// Sandboxing on this system (see `exec::sandbox`).
#[derive(Debug, Serialize)]
pub struct SandboxState {
    pub available: bool,
    /// What enforces a sandbox here (`Landlock ABI 7 and seccomp`), or why nothing can.
    pub detail: String,
}

impl SandboxState {
    fn here() -> Self {
        match crate::sys::sandbox::availability() {
            Ok(detail) => Self {
                available: true,
                detail,
            },
            Err(detail) => Self {
                available: false,
                detail,
            },
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub pending: usize,
    /// Of `pending`, those held or waiting for a time or a dependency (see `queue::schedule`).
    pub waiting: usize,
    pub running: usize,
    /// Of `running`, those forwarded to another executor (not run by a drain here).
    pub forwarded: usize,
    pub completed: usize,
    pub failed: usize,
}

#[derive(Debug, Serialize)]
pub struct Waiting {
    pub file: String,
    pub since: String,
    pub age_seconds: u64,
}

/// The drain holding the lock now, and the jobs it runs.
#[derive(Debug, Serialize)]
pub struct Running {
    /// The first running job (also in `jobs`).
    pub job: Option<String>,
    pub since: Option<String>,
    pub jobs: Vec<RunningJob>,
}

/// A job running on another executor.
#[derive(Debug, Serialize)]
pub struct ForwardedJob {
    pub file: String,
    /// `{"kind": "slurm", "job_id": ..., "state": ..., "node": ..., "reason": ...}`.
    pub executor: Value,
    /// In a few words: `slurm job 12 (RUNNING on node1)`.
    pub summary: String,
}

#[derive(Debug, Serialize)]
pub struct RunningJob {
    pub file: String,
    pub since: String,
}

/// Looks at the queue (never creates or changes anything).
pub fn report(queue: &Queue, label: &str) -> Result<Report> {
    let service = service::spec(queue, label, None, None).ok();
    let service = service.as_ref();
    let mut report = Report {
        queue: queue.root.display().to_string(),
        counts: Counts::default(),
        oldest_pending: None,
        drain: None,
        last_drain: None,
        service: service.map(service::state),
        sandbox: SandboxState::here(),
        paused: false,
        groups: Vec::new(),
        forwarded: Vec::new(),
        forwarding_fault: None,
        recent_errors: Vec::new(),
        healthy: false,
        problems: Vec::new(),
    };
    if !queue.pending.is_dir() {
        report.problems.push(format!(
            "the queue `{}` does not exist yet (it is created by the first submit or drain)",
            queue.root.display()
        ));
        return Ok(report);
    }
    let pending = catalog::load(queue, State::Pending)?;
    let (forwarded, running) = split_forwarded(catalog::load(queue, State::Running)?);
    report.forwarded = forwarded;
    report.forwarding_fault = crate::queue::forwarded::read_fault(queue);
    let waiting = catalog::waiting(queue, &pending)?;
    report.counts = Counts {
        pending: pending.len(),
        waiting: waiting.len(),
        running: running.len() + report.forwarded.len(),
        forwarded: report.forwarded.len(),
        completed: catalog::count(queue, State::Completed)?,
        failed: catalog::count(queue, State::Failed)?,
    };
    let ready = pending
        .iter()
        .filter(|e| !waiting.contains_key(&e.file_name));
    report.oldest_pending = ready.min_by_key(|e| e.time).map(|e| Waiting {
        file: e.name.clone(),
        since: timestamp(e.time.into()),
        age_seconds: SystemTime::now()
            .duration_since(e.time)
            .unwrap_or_default()
            .as_secs(),
    });
    report.drain = lock::is_held(queue)?.then(|| running_now(&running));
    report.last_drain = last_drain::read(queue);
    report.recent_errors = recent_errors(queue, 5);
    // An invalid config is reported below; the groups are then those the jobs name.
    if let Ok(groups) = super::pause::groups(queue) {
        report.paused = groups.paused;
        report.groups = groups.groups;
    }
    report.problems = problems(&report, running.first().map(|e| e.name.as_str()));
    for problem in crate::cron::problems(queue).into_iter().rev() {
        report.problems.insert(0, problem);
    }
    if let Err(invalid) = crate::config::load(queue) {
        report
            .problems
            .insert(0, format!("drains will not run jobs: {invalid}"));
    }
    if let Err(unsafe_queue) = queue.check_ownership() {
        report
            .problems
            .insert(0, format!("drains will not run: {unsafe_queue:#}"));
    }
    report.healthy = report.problems.is_empty();
    Ok(report)
}

/// The jobs in `running/` handed to another executor, and the rest (run by a drain here).
fn split_forwarded(running: Vec<catalog::Entry>) -> (Vec<ForwardedJob>, Vec<catalog::Entry>) {
    let mut forwarded = Vec::new();
    let mut here = Vec::new();
    for entry in running {
        match crate::queue::forwarded::read(&entry.path) {
            Some(note) => forwarded.push(ForwardedJob {
                file: entry.name,
                executor: note.view(),
                summary: note.summary(),
            }),
            None => here.push(entry),
        }
    }
    (forwarded, here)
}

fn running_now(running: &[catalog::Entry]) -> Running {
    Running {
        job: running.first().map(|e| e.name.clone()),
        since: running.first().map(|e| timestamp(e.time.into())),
        jobs: running
            .iter()
            .map(|e| RunningJob {
                file: e.name.clone(),
                since: timestamp(e.time.into()),
            })
            .collect(),
    }
}

/// What makes a queue unhealthy, each as a sentence that says what to look at.
fn problems(r: &Report, running_job: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(fault) = &r.forwarding_fault {
        out.push(format!(
            "jobs for {} wait in pending/ (and forwarded ones are not looked at) since {}: {}",
            fault.executor.as_str(),
            fault.since,
            fault.error
        ));
    }
    if let (None, Some(job)) = (&r.drain, running_job) {
        out.push(format!(
            "`{job}` is in running/ but no drain is running: a drain died; the next one records it as interrupted"
        ));
    }
    if let Some(w) = r
        .oldest_pending
        .as_ref()
        .filter(|w| w.age_seconds >= STALE_PENDING.as_secs())
    {
        out.push(format!(
            "`{}` has waited {} in pending/: are drains running?",
            w.file,
            output::age_secs(w.age_seconds)
        ));
    }
    if let Some(d) = r.last_drain.as_ref().filter(|d| d["outcome"] == "error") {
        out.push(format!(
            "the last drain failed: {}",
            d["error"].as_str().unwrap_or("")
        ));
    }
    if let Some(s) = r
        .service
        .as_ref()
        .filter(|s| s.installed && s.loaded == Some(false))
    {
        out.push(format!(
            "the {} service `{}` is installed but not loaded",
            s.manager, s.label
        ));
    }
    out
}

/// The newest `n` warning and error lines of `daemon.log`.
fn recent_errors(queue: &Queue, n: usize) -> Vec<String> {
    let Ok(bytes) = fs::read(&queue.log) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text
        .lines()
        .rev()
        .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
        .take(n)
        .map(str::to_owned)
        .collect();
    lines.reverse();
    lines
}

//! `execq status`: is the queue healthy? Counts, the oldest waiting job, the running drain, the
//! last drain's outcome, the service, and recent errors. The exit code says healthy or not.

use std::fs;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::commands;
use crate::exit_code::ExitCode;
use crate::job::result::timestamp;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::{self, State};
use crate::queue::last_drain;
use crate::queue::lock;
use crate::service::{self, ServiceSpec, ServiceState};

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
    pub recent_errors: Vec<String>,
    pub healthy: bool,
    pub problems: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub pending: usize,
    /// Of `pending`, those waiting for a time or a dependency (see `queue::schedule`).
    pub waiting: usize,
    pub running: usize,
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

#[derive(Debug, Serialize)]
pub struct RunningJob {
    pub file: String,
    pub since: String,
}

/// Looks at the queue (never creates or changes anything).
pub fn report(queue: &Queue, service: Option<&ServiceSpec>) -> Result<Report> {
    let mut report = Report {
        queue: queue.root.display().to_string(),
        counts: Counts::default(),
        oldest_pending: None,
        drain: None,
        last_drain: None,
        service: service.map(service::state),
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
    let running = catalog::load(queue, State::Running)?;
    let waiting = catalog::waiting(queue, &pending)?;
    report.counts = Counts {
        pending: pending.len(),
        waiting: waiting.len(),
        running: running.len(),
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

/// `execq status`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    pub json: bool,
    /// The service label to ask about.
    pub label: String,
}

/// Runs `execq status`: prints the report; exits 4 when the queue is not healthy.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let service = commands::service::spec(queue, &opts.label, None, None).ok();
    let r = report(queue, service.as_ref())?;
    if opts.json {
        output::print_json(&r)?;
    } else {
        output::print(&render(&r))?;
    }
    Ok(if r.healthy {
        ExitCode::Success
    } else {
        ExitCode::Unhealthy
    })
}

fn render(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<11} {v}\n"));
    line("queue", r.queue.clone());
    let oldest = r.oldest_pending.as_ref().map_or(String::new(), |w| {
        format!(" (oldest: {} waiting {}s)", w.file, w.age_seconds)
    });
    let waiting = match r.counts.waiting {
        0 => String::new(),
        n => format!(", {n} waiting for a time or a dependency"),
    };
    line("pending", format!("{}{waiting}{oldest}", r.counts.pending));
    line("running", running_line(r));
    line("completed", r.counts.completed.to_string());
    line("failed", r.counts.failed.to_string());
    line(
        "last drain",
        match &r.last_drain {
            Some(d) => format!(
                "{} at {}: {} completed, {} failed",
                d["outcome"].as_str().unwrap_or("?"),
                d["finished_at"].as_str().unwrap_or("?"),
                d["completed"],
                d["failed"]
            ),
            None => "none recorded yet".into(),
        },
    );
    if let Some(s) = &r.service {
        line("service", service_line(s));
    }
    line(
        "health",
        if r.healthy {
            output::paint("ok", "32")
        } else {
            output::paint("PROBLEMS", "1;31")
        },
    );
    for p in &r.problems {
        out.push_str(&format!("  - {p}\n"));
    }
    if !r.recent_errors.is_empty() {
        out.push_str("recent errors (daemon.log):\n");
        for e in &r.recent_errors {
            out.push_str(&format!("  {e}\n"));
        }
    }
    out
}

fn service_line(s: &ServiceState) -> String {
    let loaded = match s.loaded {
        Some(true) => "loaded",
        Some(false) => "not loaded",
        None => "unknown",
    };
    let why = s
        .unknown_because
        .as_deref()
        .map_or(String::new(), |why| format!(" ({why})"));
    let installed = if s.installed {
        "installed"
    } else {
        "not installed"
    };
    format!("{} ({}): {installed}, {loaded}{why}", s.label, s.manager)
}

fn running_line(r: &Report) -> String {
    match &r.drain {
        Some(Running { jobs, .. }) if !jobs.is_empty() => jobs
            .iter()
            .map(|j| format!("{} (since {})", j.file, j.since))
            .collect::<Vec<_>>()
            .join(", "),
        Some(_) => "a drain is running (between jobs)".into(),
        None if r.counts.running > 0 => "no drain running (but running/ is not empty)".into(),
        None => "no drain running".into(),
    }
}

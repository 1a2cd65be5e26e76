//! `execq status`: is the queue healthy? The report (`ops::status`) as lines or JSON; the exit
//! code says healthy or not.

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::ops::status::{Report, Running, report};
use crate::output;
use crate::queue::Queue;
use crate::service::ServiceState;

/// `execq status`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    pub json: bool,
    /// The service label to ask about.
    pub label: String,
}

/// Runs `execq status`: prints the report; exits 4 when the queue is not healthy.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let r = report(queue, &opts.label)?;
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
        n => format!(", {n} waiting (held, or for a time or a dependency)"),
    };
    line("pending", format!("{}{waiting}{oldest}", r.counts.pending));
    line("running", running_line(r));
    if !r.forwarded.is_empty() {
        let jobs: Vec<String> = (r.forwarded.iter())
            .map(|j| format!("{}: {}", j.file, j.summary))
            .collect();
        line(
            "forwarded",
            format!("{} ({})", r.forwarded.len(), jobs.join(", ")),
        );
    }
    for (key, value) in pause_lines(r) {
        line(key, value);
    }
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
        "sandbox",
        if r.sandbox.available {
            format!("available ({})", r.sandbox.detail)
        } else {
            format!("unavailable: {}", r.sandbox.detail)
        },
    );
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

/// `paused` (the whole queue) and `groups` (when there is more than `default`, or one is paused).
fn pause_lines(r: &Report) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if r.paused {
        out.push((
            "paused",
            "yes: no job starts until `execq resume` (running ones go on; schedules still fire, and their jobs wait)".into(),
        ));
    }
    if r.groups.len() > 1 || r.groups.iter().any(|g| g.paused) {
        let groups: Vec<String> = (r.groups.iter())
            .map(|g| {
                let paused = if g.paused { ", paused" } else { "" };
                let shared = if g.configured {
                    ""
                } else {
                    ", shares default's"
                };
                format!(
                    "{} ({} slot{}{shared}{paused}: {} pending, {} running)",
                    g.name,
                    g.slots,
                    if g.slots == 1 { "" } else { "s" },
                    g.pending,
                    g.running
                )
            })
            .collect();
        out.push(("groups", groups.join("; ")));
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
        None if r.counts.running > r.counts.forwarded => {
            "no drain running (but running/ is not empty)".into()
        }
        None => "no drain running".into(),
    }
}

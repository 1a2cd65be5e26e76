//! `execq list`: the jobs in the queue (`ops::list`), oldest first, as a table or as JSON rows of
//! the shared job view.

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::ops::list::{self, ListRequest, Order};
use crate::ops::view::{Detail, JobView};
use crate::output::{self, Table};
use crate::queue::Queue;
use crate::queue::catalog::{Entry, State};
use crate::queue::schedule::Wait;

/// Options for `list`.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Only this state (all states when `None`).
    pub state: Option<State>,
    /// Only the newest N jobs (still printed oldest first).
    pub limit: Option<usize>,
    pub json: bool,
    /// List the jobs archived by `[retention]` instead (`archive/*.jsonl.gz`).
    pub archived: bool,
}

/// Runs `execq list`.
pub fn run(queue: &Queue, opts: &ListOptions) -> Result<ExitCode> {
    if opts.archived {
        return archived(queue, opts);
    }
    let states: Vec<State> = opts.state.into_iter().collect();
    let Some(limit) = opts.limit else {
        return everything(queue, &states, opts.json);
    };
    let request = ListRequest {
        states,
        limit: Some(limit),
        order: Order::OldestFirst,
        mcp_tasks: false,
    };
    let listing = list::list(queue, &request)?;
    if opts.json {
        output::print_json(&listing.views()?)?;
        return Ok(ExitCode::Success);
    }
    let mut t = Table::new(&HEADER);
    for e in &listing.entries {
        t.row(row(e, listing.waiting.get(&e.file_name)));
    }
    output::print(&t.render())?;
    groups_footer(queue)?;
    Ok(ExitCode::Success)
}

/// Under the table, when jobs wait or run in groups besides `default`: each group's counts.
fn groups_footer(queue: &Queue) -> Result<()> {
    let Ok(groups) = crate::ops::pause::groups(queue) else {
        return Ok(());
    };
    let busy: Vec<String> = (groups.groups.iter())
        .filter(|g| g.pending + g.running > 0 || g.paused)
        .map(|g| {
            let paused = if g.paused { ", paused" } else { "" };
            format!(
                "{} {} pending, {} running{paused}",
                g.name, g.pending, g.running
            )
        })
        .collect();
    if busy.len() > 1 || groups.groups.iter().any(|g| g.paused) || groups.paused {
        let queue_paused = if groups.paused {
            " (the queue is paused)"
        } else {
            ""
        };
        output::print_line(&format!("groups: {}{queue_paused}", busy.join("; ")))?;
    }
    Ok(())
}

const HEADER: [&str; 7] = [
    "STATE", "FILE", "TASK_ID", "AGE", "RC", "DURATION", "COMMAND",
];

/// Every job, printed as it is read (a queue may hold a million records).
fn everything(queue: &Queue, states: &[State], json: bool) -> Result<ExitCode> {
    if json {
        let mut out = output::JsonArray::default();
        list::each(queue, states, |e, waiting| {
            out.item(&JobView::of(e, waiting, Detail::Row)?)?;
            Ok(!out.gone())
        })?;
        out.finish()?;
    } else {
        let mut out = output::StreamTable::new(&HEADER);
        list::each(queue, states, |e, waiting| {
            out.row(row(e, waiting))?;
            Ok(!out.gone())
        })?;
        out.finish()?;
        groups_footer(queue)?;
    }
    Ok(ExitCode::Success)
}

fn row(e: &Entry, waiting: Option<&Wait>) -> Vec<String> {
    let result = e.result.as_ref();
    let state = match result.map(|r| r.status.as_str()) {
        Some(status) if status != e.state.as_str() => status.to_owned(),
        _ if waiting == Some(&Wait::Held) => "held".to_owned(),
        _ if waiting == Some(&Wait::Paused) => "paused".to_owned(),
        _ if waiting.is_some() => "waiting".to_owned(),
        // A job handed to Slurm: `slurm:RUNNING`, its state there.
        _ if e.state == crate::queue::catalog::State::Running => {
            match crate::queue::forwarded::read(&e.path) {
                Some(note) => format!(
                    "{}:{}",
                    note.kind.as_str(),
                    note.state.as_deref().unwrap_or("SUBMITTED")
                ),
                None => e.state.as_str().to_owned(),
            }
        }
        _ => e.state.as_str().to_owned(),
    };
    vec![
        state,
        e.name.clone(),
        e.task_id().unwrap_or("-").to_owned(),
        output::age(e.time),
        result
            .and_then(|r| r.returncode)
            .map_or_else(|| "-".into(), |c| c.to_string()),
        result.map_or_else(|| "-".into(), |r| output::duration_ms(r.duration_ms)),
        crate::job::shorten(&e.command(), 60),
    ]
}

/// `list --archived`: one row per archived job, oldest archive first.
fn archived(queue: &Queue, opts: &ListOptions) -> Result<ExitCode> {
    let mut lines = crate::retention::read_all(queue)?;
    if let Some(state) = opts.state {
        lines.retain(|l| l["state"] == state.as_str());
    }
    if let Some(limit) = opts.limit {
        let skip = lines.len().saturating_sub(limit);
        lines.drain(..skip);
    }
    let rows: Vec<JobView> = lines
        .iter()
        .map(|l| JobView::archived(l, Detail::Row))
        .collect();
    if opts.json {
        output::print_json(&rows)?;
        return Ok(ExitCode::Success);
    }
    let mut t = Table::new(&[
        "STATUS",
        "FILE",
        "TASK_ID",
        "RC",
        "COMPLETED_AT",
        "ARCHIVED_AT",
    ]);
    let text = |v: Option<&str>| v.unwrap_or("-").to_owned();
    for row in &rows {
        t.row(vec![
            text(row.status.as_deref()),
            row.job.clone(),
            text(row.task_id.as_deref()),
            row.returncode.map_or_else(|| "-".into(), |c| c.to_string()),
            text(row.completed_at.as_deref()),
            text(row.archived_at.as_deref()),
        ]);
    }
    output::print(&t.render())?;
    Ok(ExitCode::Success)
}

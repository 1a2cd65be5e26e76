//! `execq list`: the jobs in the queue, oldest first, as a table or JSON.

use anyhow::Result;
use serde_json::{Value, json};

use crate::exit_code::ExitCode;
use crate::job::result::timestamp;
use crate::output::{self, Table};
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
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

/// The entries `list` shows.
pub fn entries(queue: &Queue, opts: &ListOptions) -> Result<Vec<Entry>> {
    let states: Vec<State> = opts.state.map_or_else(|| State::ALL.to_vec(), |s| vec![s]);
    let mut all = Vec::new();
    for state in states {
        all.extend(catalog::load(queue, state)?);
    }
    crate::queue::oldest_first(&mut all, |e| (e.time, &e.file_name));
    if let Some(limit) = opts.limit {
        let skip = all.len().saturating_sub(limit);
        all.drain(..skip);
    }
    Ok(all)
}

/// One entry as JSON; `waiting` says why a pending job waits.
pub fn to_json(entry: &Entry, waiting: Option<&Wait>) -> Value {
    let result = entry.result.as_ref();
    let schedule = entry.schedule();
    json!({
        "state": entry.state,
        "file": entry.name,
        "path": crate::queue::names::display_path(&entry.path),
        "task_id": entry.task_id(),
        "command": entry.command(),
        "time": timestamp(entry.time.into()),
        "status": result.map(|r| r.status),
        "returncode": result.and_then(|r| r.returncode),
        "duration_ms": result.map(|r| r.duration_ms),
        "priority": schedule.priority,
        "after": schedule.after,
        "not_before": schedule.not_before.map(|t| t.to_rfc3339()),
        "waiting": waiting.map(ToString::to_string),
    })
}

/// Runs `execq list`.
pub fn run(queue: &Queue, opts: &ListOptions) -> Result<ExitCode> {
    if opts.archived {
        return archived(queue, opts);
    }
    let entries = entries(queue, opts)?;
    let pending: Vec<Entry> = entries
        .iter()
        .filter(|e| e.state == State::Pending)
        .cloned()
        .collect();
    let waiting = catalog::waiting(queue, &pending)?;
    if opts.json {
        let rows: Vec<Value> = entries
            .iter()
            .map(|e| to_json(e, waiting.get(&e.file_name)))
            .collect();
        output::print_json(&rows)?;
        return Ok(ExitCode::Success);
    }
    let mut t = Table::new(&[
        "STATE", "FILE", "TASK_ID", "AGE", "RC", "DURATION", "COMMAND",
    ]);
    for e in &entries {
        let result = e.result.as_ref();
        let state = match result.map(|r| r.status.as_str()) {
            Some(status) if status != e.state.as_str() => status.to_owned(),
            _ if waiting.contains_key(&e.file_name) => "waiting".to_owned(),
            _ => e.state.as_str().to_owned(),
        };
        t.row(vec![
            state,
            e.name.clone(),
            e.task_id().unwrap_or("-").to_owned(),
            output::age(e.time),
            result
                .and_then(|r| r.returncode)
                .map_or_else(|| "-".into(), |c| c.to_string()),
            result.map_or_else(|| "-".into(), |r| output::duration_ms(r.duration_ms)),
            crate::job::shorten(&e.command(), 60),
        ]);
    }
    output::print(&t.render())?;
    Ok(ExitCode::Success)
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
    let rows: Vec<Value> = lines
        .iter()
        .map(|l| {
            let result = &l["record"]["result"];
            json!({
                "state": "archived",
                "archived_from": l["state"],
                "file": l["file"],
                "task_id": l["record"]["task_id"],
                "status": result["status"],
                "returncode": result["returncode"],
                "completed_at": result["completed_at"],
                "archived_at": l["archived_at"],
            })
        })
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
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    for row in &rows {
        t.row(vec![
            text(&row["status"]),
            text(&row["file"]),
            text(&row["task_id"]),
            text(&row["returncode"]),
            text(&row["completed_at"]),
            text(&row["archived_at"]),
        ]);
    }
    output::print(&t.render())?;
    Ok(ExitCode::Success)
}

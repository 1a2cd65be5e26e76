//! `execq show JOB`: one job's whole record, stdout and stderr included.

use anyhow::Result;
use serde_json::{Value, json};

use crate::exit_code::ExitCode;
use crate::job::result::JobResult;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry};
use crate::queue::names::display_path;
use crate::queue::schedule::Wait;

/// `execq show`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    /// A file name, its stem, or a task_id.
    pub job: String,
    pub json: bool,
}

/// Runs `execq show`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let entry = match catalog::find_all(queue, &opts.job)? {
        found if found.is_empty() => return show_archived(queue, opts),
        _ => catalog::find(queue, &opts.job)?,
    };
    let waiting = waiting(queue, &entry)?;
    if opts.json {
        output::print_json(&live_json(&entry, waiting.as_ref())?)?;
    } else {
        output::print(&render(&entry, waiting.as_ref()))?;
    }
    Ok(ExitCode::Success)
}

/// What `execq show --json REF` prints, for the dashboard's API and the MCP server: the job in
/// the queue, or else in the archive.
pub fn json(queue: &Queue, reference: &str) -> Result<Value> {
    if catalog::find_all(queue, reference)?.is_empty() {
        return Ok(archived_json(&archived(queue, reference)?));
    }
    let entry = catalog::find(queue, reference)?;
    live_json(&entry, waiting(queue, &entry)?.as_ref())
}

fn waiting(queue: &Queue, entry: &Entry) -> Result<Option<Wait>> {
    Ok(catalog::waiting(queue, std::slice::from_ref(entry))?
        .remove(&entry.file_name)
        .filter(|_| entry.state == catalog::State::Pending))
}

fn live_json(entry: &Entry, waiting: Option<&Wait>) -> Result<Value> {
    Ok(json!({
        "state": entry.state,
        "file": entry.name,
        "path": display_path(&entry.path),
        "waiting": waiting.map(ToString::to_string),
        "record": entry.record()?,
    }))
}

fn render(entry: &Entry, waiting: Option<&Wait>) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
    line("file", display_path(&entry.path));
    line("state", entry.state.as_str().to_owned());
    if let Some(why) = waiting {
        line("waiting", why.to_string());
    }
    line("task_id", entry.task_id().unwrap_or("-").to_owned());
    line("command", entry.command());
    let schedule = entry.schedule();
    if schedule.priority != 0 {
        line("priority", schedule.priority.to_string());
    }
    if !schedule.after.is_empty() {
        line("after", schedule.after.join(", "));
    }
    if let Some(at) = schedule.not_before {
        line("not_before", at.to_rfc3339());
    }
    for key in ["description", "purpose"] {
        if let Some(text) = entry
            .object
            .as_ref()
            .and_then(|o| o.get(key))
            .and_then(|v| v.as_str())
        {
            line(key, text.to_owned());
        }
    }
    if let Some(result) = &entry.result {
        render_result(result, &mut out);
    }
    out
}

/// The archive's line for `reference`; the queue's own "no such job" error when it has none.
fn archived(queue: &Queue, reference: &str) -> Result<Value> {
    let mut found = crate::retention::find(queue, reference)?;
    match found.len() {
        0 => Err(catalog::find(queue, reference)
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("no job matches `{reference}`"))),
        1 => Ok(found.remove(0)),
        n => anyhow::bail!(
            "`{reference}` is ambiguous; it matches {n} archived jobs: {}",
            found
                .iter()
                .map(|l| l["file"].as_str().unwrap_or("?").to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn archived_json(line: &Value) -> Value {
    json!({
        "state": "archived",
        "archived_from": line["state"],
        "archived_at": line["archived_at"],
        "file": line["file"],
        "record": line["record"],
    })
}

/// A job found only in the archive (see `retention`).
fn show_archived(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let line = archived(queue, &opts.job)?;
    if opts.json {
        output::print_json(&archived_json(&line))?;
        return Ok(ExitCode::Success);
    }
    let mut out = String::new();
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    out.push_str(&format!("{:<12} {}\n", "file", text(&line["file"])));
    out.push_str(&format!(
        "{:<12} archived ({} before), {}\n",
        "state",
        text(&line["state"]),
        text(&line["archived_at"])
    ));
    out.push_str(&format!(
        "{:<12} {}\n",
        "task_id",
        text(&line["record"]["task_id"])
    ));
    if let Ok(result) = serde_json::from_value::<JobResult>(line["record"]["result"].clone()) {
        render_result(&result, &mut out);
    }
    output::print(&out)?;
    Ok(ExitCode::Success)
}

fn render_result(r: &JobResult, out: &mut String) {
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
    line("status", r.status.as_str().to_owned());
    line(
        "returncode",
        r.returncode.map_or_else(|| "-".into(), |c| c.to_string()),
    );
    line(
        "started_at",
        r.started_at.clone().unwrap_or_else(|| "-".into()),
    );
    line("completed_at", r.completed_at.clone());
    line("duration", output::duration_ms(r.duration_ms));
    if let Some(e) = &r.error {
        line("error", e.clone());
    }
    if let Some(limit) = &r.limit {
        line("limit", limit.clone());
    }
    if let Some(f) = &r.result_file {
        line("result_file", f.clone());
    }
    for note in &r.notes {
        line("note", note.clone());
    }
    for (name, text, truncated, bytes) in [
        ("stdout", &r.stdout, r.stdout_truncated, r.stdout_bytes),
        ("stderr", &r.stderr, r.stderr_truncated, r.stderr_bytes),
    ] {
        let cut = if truncated { ", truncated" } else { "" };
        out.push_str(&format!("--- {name} ({bytes} bytes{cut}) ---\n{text}"));
        if !text.is_empty() && !text.ends_with('\n') {
            out.push('\n');
        }
    }
}

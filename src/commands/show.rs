//! `execq show JOB`: one job's whole record, stdout and stderr included; `--json` prints the
//! shared job view (`ops::view`) with the record in it.

use anyhow::Result;
use serde_json::Value;

use crate::exit_code::ExitCode;
use crate::job::result::JobResult;
use crate::ops::get::{self, Found};
use crate::ops::view::Detail;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::Entry;
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
    let found = get::find(queue, &opts.job)?;
    if opts.json {
        output::print_json(&get::view(queue, &found, Detail::Record)?)?;
        return Ok(ExitCode::Success);
    }
    match &found {
        Found::InQueue(entry) => {
            let waiting = get::waiting(queue, entry)?;
            output::print(&render(entry, waiting.as_ref()))?;
        }
        Found::Archived(line) => output::print(&render_archived(line))?,
    }
    Ok(ExitCode::Success)
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
    if let Some(note) = crate::queue::forwarded::read(&entry.path) {
        line("executor", note.summary());
        line("output", note.dir.display().to_string());
    } else if let Some(ran) = (entry.object.as_ref()).and_then(|o| o.get("executor")?.as_object()) {
        let text = |k: &str| {
            ran.get(k)
                .map(|v| v.to_string().trim_matches('"').to_owned())
        };
        line(
            "executor",
            format!(
                "{} job {} on {}",
                text("kind").unwrap_or_default(),
                text("job_id").unwrap_or("-".into()),
                text("node").unwrap_or("-".into())
            ),
        );
    }
    let schedule = entry.schedule();
    if schedule.priority != 0 {
        line("priority", schedule.priority.to_string());
    }
    if let Some(group) = &schedule.group {
        line("group", group.clone());
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

/// A job found only in the archive (see `retention`).
fn render_archived(line: &Value) -> String {
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
    out
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

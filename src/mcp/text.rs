//! The tools' answers as text, beside their structured content: a few lines for people (and
//! models) to read.

use crate::ops::output::OutputPage;
use crate::ops::status::Report;
use crate::ops::view::JobView;

/// The view as a few lines for people (and models) to read.
pub fn job(view: &JobView) -> String {
    let mut out = format!("job {}", view.job);
    if let Some(id) = &view.task_id {
        out.push_str(&format!(" (task_id {id})"));
    }
    out.push_str(&format!(
        ": {}",
        view.status.as_deref().unwrap_or(&view.state)
    ));
    if let Some(code) = view.returncode {
        out.push_str(&format!(", exit code {code}"));
    }
    if let Some(ms) = view.duration_ms {
        out.push_str(&format!(", took {}", crate::output::duration_ms(ms)));
    }
    if let Some(secs) = view.running_seconds {
        out.push_str(&format!(", running for {secs:.0} s"));
    }
    out.push_str(&format!("\ncommand: {}", view.command));
    if let Some(why) = &view.waiting {
        out.push_str(&format!("\nwaiting for: {why}"));
    }
    if let Some(error) = &view.error {
        out.push_str(&format!("\nerror: {error}"));
    }
    for (name, text, bytes) in [
        ("stdout", &view.stdout_tail, view.stdout_bytes),
        ("stderr", &view.stderr_tail, view.stderr_bytes),
    ] {
        if bytes > 0 {
            let shown = if (text.len() as u64) < bytes {
                format!(
                    " (last {} of {bytes} bytes; job_output has the rest)",
                    text.len()
                )
            } else {
                String::new()
            };
            out.push_str(&format!("\n{name}{shown}:\n{text}"));
        }
    }
    if !view.done {
        out.push_str("\n(not finished: get_job with wait_seconds waits for it)");
    }
    out
}

/// A listing: a count, then one line per job.
pub fn list(jobs: &[JobView], total: usize) -> String {
    let mut text = format!("{} of {total} jobs", jobs.len());
    for j in jobs {
        text.push_str(&format!(
            "\n{}  {}  {}  {}",
            j.status.as_deref().unwrap_or(&j.state),
            j.job,
            j.time.as_deref().unwrap_or("-"),
            j.command
        ));
    }
    text
}

/// A page of output, and where the next one starts.
pub fn page(page: &OutputPage) -> String {
    let end = if page.eof {
        "the end".to_owned()
    } else if page.running {
        format!(
            "more may come: the job is running; next_offset {}",
            page.next_offset
        )
    } else {
        format!("next_offset {}", page.next_offset)
    };
    format!(
        "{}[{} bytes {}..{} of {}; {end}]",
        page.data,
        page.stream.name(),
        page.offset,
        page.next_offset,
        page.total_bytes
    )
}

/// The queue's health in one sentence.
pub fn status(report: &Report) -> String {
    let c = &report.counts;
    let paused: Vec<&str> = (report.groups.iter())
        .filter(|g| g.paused)
        .map(|g| g.name.as_str())
        .collect();
    let paused = match (report.paused, paused.is_empty()) {
        (true, _) => "; PAUSED: no job starts until resume_queue".to_owned(),
        (false, false) => format!("; paused groups: {}", paused.join(", ")),
        (false, true) => String::new(),
    };
    format!(
        "queue {}: {} pending ({} waiting: held, or for a time or a dependency), {} running, {} completed, {} failed; {}{paused}",
        report.queue,
        c.pending,
        c.waiting,
        c.running,
        c.completed,
        c.failed,
        if report.healthy {
            "healthy".to_owned()
        } else {
            format!("problems: {}", report.problems.join("; "))
        }
    )
}

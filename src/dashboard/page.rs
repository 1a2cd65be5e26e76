//! The page: counts, running jobs, pending jobs in run order with why each waits, recent finished
//! jobs with their records, and two inline SVG charts. Everything taken from a job (commands,
//! output, names) goes through [`esc`].
//!
//! It reads a bounded amount: the counts from folder listings, the newest [`RECENT`] finished
//! records, the first [`PENDING_SHOWN`] pending jobs.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::time::SystemTime;

use anyhow::Result;

use crate::job::result::timestamp;
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::schedule::Wait;

use super::charts;

/// Finished records the page shows (and its charts count).
pub const RECENT: usize = 200;

/// Pending jobs the page lists.
pub const PENDING_SHOWN: usize = 100;

/// Output kept per stream in a job's detail.
const OUTPUT_SHOWN: usize = 16 * 1024;

/// Where the page will be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A file with no script, reloading itself every `refresh` seconds when set.
    File { refresh: Option<u32> },
    /// Served by `execq dashboard --serve`: our own script (`/app.js`) updates the live part in
    /// place and adds retry and cancel buttons.
    Served,
}

/// The whole page.
pub fn render(queue: &Queue, mode: Mode) -> Result<String> {
    let live = render_live(queue, mode)?;
    let root = esc(&queue.root.display().to_string());
    let head_extra = match mode {
        Mode::File { refresh: Some(s) } => format!("<meta http-equiv=\"refresh\" content=\"{s}\">"),
        Mode::File { refresh: None } => String::new(),
        Mode::Served => "<script src=\"/app.js\" defer></script>".to_owned(),
    };
    // A file says when it was written; the served page's live part changes only with the queue.
    let status_line = match mode {
        Mode::File { .. } => format!(
            "<p class=\"muted\" id=\"updated\">as of {}</p>",
            esc(&timestamp(chrono::Local::now()))
        ),
        Mode::Served => "<p id=\"msg\" role=\"status\" class=\"muted\"><span class=\"live\" id=\"live-dot\"></span><span id=\"msg-text\">live</span></p>".to_owned(),
    };
    Ok(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head_extra}\
         <title>execq — {root}</title><style>{CSS}</style></head><body>\
         <header><h1>execq</h1><p class=\"muted\">{root}</p>{status_line}</header>\
         <main id=\"live\">{live}</main>\
         <footer class=\"muted\">made by <code>execq dashboard</code></footer></body></html>\n"
    ))
}

/// The part of the page that changes: everything inside `<main id="live">`.
pub fn render_live(queue: &Queue, mode: Mode) -> Result<String> {
    let served = mode == Mode::Served;
    let (mut recent, completed) = catalog::newest(queue, State::Completed, RECENT)?;
    let (failed_recent, failed) = catalog::newest(queue, State::Failed, RECENT)?;
    recent.extend(failed_recent);
    recent.sort_by_key(|e| Reverse(e.time));
    recent.truncate(RECENT);
    let counts = [
        (State::Pending, catalog::count(queue, State::Pending)?),
        (State::Running, catalog::count(queue, State::Running)?),
        (State::Completed, completed),
        (State::Failed, failed),
    ];
    let running = catalog::load(queue, State::Running)?;
    let mut pending = catalog::load(queue, State::Pending)?;
    pending.sort_by_key(|e| (Reverse(e.schedule().priority), e.time, e.file_name.clone()));
    pending.truncate(PENDING_SHOWN);
    let waiting = catalog::waiting(queue, &pending)?;
    let now = SystemTime::now();

    let mut page = String::new();
    pause_section(&mut page, queue, served)?;
    counts_section(&mut page, counts);
    running_section(&mut page, &running, served);
    pending_section(&mut page, &pending, &waiting, served);
    page.push_str("<section class=\"charts\"><div><h2>Finished per hour, last 24 h</h2>");
    page.push_str(&charts::hourly_chart(&recent, now));
    page.push_str("</div><div><h2>Durations</h2>");
    page.push_str(&charts::duration_chart(&recent));
    page.push_str("</div></section>");
    let _ = write!(
        page,
        "<section id=\"recent\"><h2>Recent</h2><p class=\"muted\">the newest {} finished jobs; select one for its record</p>",
        recent.len()
    );
    for e in &recent {
        page.push_str(&job_detail(e, served));
    }
    page.push_str("</section>");
    Ok(page)
}

/// Whether the queue (or a group) is paused, with the served page's pause or resume button.
fn pause_section(page: &mut String, queue: &Queue, served: bool) -> Result<()> {
    let paused = crate::queue::pause::paused(queue)?;
    let queue_paused = paused.contains_key(&crate::queue::pause::Scope::Queue);
    let groups: Vec<String> = (paused.keys())
        .filter_map(|s| match s {
            crate::queue::pause::Scope::Group(name) if served => Some(format!(
                "{n} <button type=\"button\" class=\"act\" data-act=\"resume\" data-queue=\"{n}\">resume</button>",
                n = esc(name)
            )),
            crate::queue::pause::Scope::Group(name) => Some(esc(name)),
            crate::queue::pause::Scope::Queue => None,
        })
        .collect();
    page.push_str("<section id=\"pause\">");
    if queue_paused {
        page.push_str("<p class=\"error\" id=\"paused\"><b>Paused</b>: no job starts until it is resumed (running jobs go on; schedules still fire, and their jobs wait)</p>");
    }
    if !groups.is_empty() {
        let _ = write!(
            page,
            "<p class=\"error\" id=\"paused-groups\">Paused groups: {}</p>",
            groups.join(", ")
        );
    }
    if served {
        let act = if queue_paused { "resume" } else { "pause" };
        let _ = write!(
            page,
            "<button type=\"button\" class=\"act\" data-act=\"{act}\" data-queue=\"\">{act} the queue</button>"
        );
    }
    page.push_str("</section>");
    Ok(())
}

/// How many jobs each state holds.
fn counts_section(page: &mut String, counts: [(State, usize); 4]) {
    page.push_str("<section class=\"counts\">");
    for (state, n) in counts {
        let _ = write!(
            page,
            "<div class=\"count {s}\" id=\"count-{s}\"><span class=\"n\">{n}</span><span>{s}</span></div>",
            s = state.as_str()
        );
    }
    page.push_str("</section>");
}

/// The jobs running now.
fn running_section(page: &mut String, running: &[Entry], served: bool) {
    page.push_str("<section id=\"running\"><h2>Running</h2>");
    if running.is_empty() {
        page.push_str("<p class=\"muted\">nothing is running</p>");
    } else {
        page.push_str("<table><tr><th>job</th><th>running for</th><th>command</th></tr>");
        for e in running {
            // A job handed to Slurm says where it runs.
            let place = crate::queue::forwarded::read(&e.path)
                .map(|note| format!(" <span class=\"muted\">{}</span>", esc(&note.summary())))
                .unwrap_or_default();
            let _ = write!(
                page,
                "<tr><td>{}{}{place}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&e.name),
                button(served, "cancel", e),
                crate::output::age(e.time),
                esc(&e.command())
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

/// The pending jobs in run order, with what each waits for.
fn pending_section(
    page: &mut String,
    pending: &[Entry],
    waiting: &HashMap<OsString, Wait>,
    served: bool,
) {
    page.push_str("<section id=\"pending\"><h2>Pending, in run order</h2>");
    if pending.is_empty() {
        page.push_str("<p class=\"muted\">nothing is pending</p>");
    } else {
        page.push_str(
            "<table><tr><th>job</th><th>priority</th><th>waits for</th><th>command</th></tr>",
        );
        for e in pending {
            let wait = waiting.get(&e.file_name);
            let why = wait.map_or_else(|| "ready".to_owned(), ToString::to_string);
            let hold = if wait == Some(&Wait::Held) {
                "release"
            } else {
                "hold"
            };
            let _ = write!(
                page,
                "<tr><td>{}{}{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&e.name),
                button(served, hold, e),
                button(served, "cancel", e),
                e.schedule().priority,
                esc(&why),
                esc(&e.command())
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");
}

/// A retry or cancel button for the served page (nothing in a file: it has no script).
fn button(served: bool, act: &str, e: &Entry) -> String {
    if served {
        format!(
            "<button type=\"button\" class=\"act\" data-act=\"{act}\" data-job=\"{}\">{act}</button>",
            esc(&e.name)
        )
    } else {
        String::new()
    }
}

fn job_detail(e: &Entry, served: bool) -> String {
    let result = e.result.as_ref();
    let status = result.map_or("?", |r| r.status.as_str());
    let code = result
        .and_then(|r| r.returncode)
        .map_or_else(|| "-".into(), |c| c.to_string());
    let duration = result.map_or_else(|| "-".into(), |r| crate::output::duration_ms(r.duration_ms));
    let mut out = format!(
        "<details class=\"job\" id=\"job-{id}\"><summary><span class=\"status {status}\">{status}</span> \
         <b>{name}</b> <span class=\"muted\">exit {code} · {duration} · {when}</span>{retry}</summary>\
         <p><code>{command}</code></p>",
        retry = if e.state == State::Failed {
            button(served, "retry", e) + &button(served, "rerun", e)
        } else {
            button(served, "rerun", e)
        },
        id = esc(&e.name),
        name = esc(&e.name),
        when = esc(&timestamp(e.time.into())),
        command = esc(&e.command()),
    );
    if let Some(r) = result {
        if let Some(error) = &r.error {
            let _ = write!(out, "<p class=\"error\">{}</p>", esc(error));
        }
        for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            if !text.is_empty() {
                let _ = write!(
                    out,
                    "<h3>{name}</h3><pre>{}</pre>",
                    esc(&tail(text, OUTPUT_SHOWN))
                );
            }
        }
    }
    if let Ok(record) = e.record().map(super::redacted) {
        let pretty = serde_json::to_string_pretty(&record).unwrap_or_default();
        let _ = write!(
            out,
            "<h3>record</h3><pre class=\"record\">{}</pre>",
            esc(&tail(&pretty, 4 * OUTPUT_SHOWN))
        );
    }
    out.push_str("</details>");
    out
}

/// The last `max` bytes of `text` (at a character boundary).
fn tail(text: &str, max: usize) -> String {
    match crate::output::tail_start(text, max) {
        0 => text.to_owned(),
        cut => format!("[… {cut} bytes not shown]\n{}", &text[cut..]),
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = include_str!("style.css");

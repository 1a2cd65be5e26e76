//! One job by reference — a file name, its stem, or a task_id — wherever it is: in the queue, or
//! in the archive (see `retention`).

use anyhow::Result;
use serde_json::Value;

use super::view::{Detail, JobView};
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::schedule::Wait;
use crate::queue::watch::Tracked;

/// Where a reference led.
#[derive(Debug)]
pub enum Found {
    /// A job in `pending/`, `running/`, `completed/` or `failed/`.
    InQueue(Box<Entry>),
    /// A line of `archive/*.jsonl.gz`.
    Archived(Value),
}

/// The job `reference` names, by the one rule every door follows: the pending or running job it
/// names (an error naming them if it names several), else the newest record among the jobs it
/// names — a task_id used again, or a name filed as `NAME.1.json` the second time, means the
/// latest run — else the job in the archive. The same rule follows a job in `wait` and `follow`
/// (`queue::watch`).
pub fn find(queue: &Queue, reference: &str) -> Result<Found> {
    match Tracked::find_entry(queue, reference) {
        Ok((_, entry)) => Ok(Found::InQueue(Box::new(entry))),
        // Ambiguous, or between running/ and its record still: not a matter for the archive.
        Err(not_here) if !catalog::find_all(queue, reference)?.is_empty() => Err(not_here),
        Err(_) => archived(queue, reference).map(Found::Archived),
    }
}

/// The view of what [`find`] found.
pub fn view(queue: &Queue, found: &Found, detail: Detail) -> Result<JobView> {
    match found {
        Found::InQueue(entry) => JobView::of(entry, waiting(queue, entry)?.as_ref(), detail),
        Found::Archived(line) => Ok(JobView::archived(line, detail)),
    }
}

/// [`find`], for an operation on a job in the queue: an archived one is refused, saying so.
pub fn in_queue(queue: &Queue, reference: &str, doing: &str) -> Result<Entry> {
    match find(queue, reference)? {
        Found::InQueue(entry) => Ok(*entry),
        Found::Archived(line) => anyhow::bail!(
            "`{}` was archived ({} before); an archived job cannot be {doing}",
            line["file"].as_str().unwrap_or(reference),
            line["state"].as_str().unwrap_or("finished")
        ),
    }
}

/// [`find`], then its [`view`].
pub fn get(queue: &Queue, reference: &str, detail: Detail) -> Result<JobView> {
    view(queue, &find(queue, reference)?, detail)
}

/// Why a pending job waits, if it does.
pub fn waiting(queue: &Queue, entry: &Entry) -> Result<Option<Wait>> {
    if entry.state != State::Pending {
        return Ok(None);
    }
    if entry.schedule().after.is_empty() {
        return Ok(catalog::waiting(queue, std::slice::from_ref(entry))?.remove(&entry.file_name));
    }
    // It waits for other jobs, some perhaps pending too: judged among all of pending/, as the
    // drain judges it (alone, a pending dependency would look like no job at all).
    let mut pending = catalog::load(queue, State::Pending)?;
    if !pending.iter().any(|e| e.file_name == entry.file_name) {
        pending.push(entry.clone());
    }
    Ok(catalog::waiting(queue, &pending)?.remove(&entry.file_name))
}

/// The archive's line for `reference`; the queue's own "no such job" error when it has none.
fn archived(queue: &Queue, reference: &str) -> Result<Value> {
    let mut found = crate::retention::find(queue, reference)?;
    match found.len() {
        0 => Err(catalog::one(Vec::new(), reference)
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

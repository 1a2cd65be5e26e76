//! One job by reference — a file name, its stem, or a task_id — wherever it is: in the queue, or
//! in the archive (see `retention`).

use anyhow::Result;
use serde_json::Value;

use super::view::{Detail, JobView};
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::schedule::Wait;

/// Where a reference led.
#[derive(Debug)]
pub enum Found {
    /// A job in `pending/`, `running/`, `completed/` or `failed/`.
    InQueue(Box<Entry>),
    /// A line of `archive/*.jsonl.gz`.
    Archived(Value),
}

/// The job `reference` names: in the queue if it is there (the old record of a retried script
/// only when nothing else matches), else in the archive; an error naming the candidates if the
/// reference is ambiguous, or saying so if it matches nothing.
pub fn find(queue: &Queue, reference: &str) -> Result<Found> {
    let mut matches = catalog::find_all(queue, reference)?;
    if matches.is_empty() {
        return archived(queue, reference).map(Found::Archived);
    }
    if matches.iter().any(|e| e.retried_as().is_none()) {
        matches.retain(|e| e.retried_as().is_none());
    }
    catalog::one(matches, reference).map(|e| Found::InQueue(Box::new(e)))
}

/// The view of what [`find`] found.
pub fn view(queue: &Queue, found: &Found, detail: Detail) -> Result<JobView> {
    match found {
        Found::InQueue(entry) => JobView::of(entry, waiting(queue, entry)?.as_ref(), detail),
        Found::Archived(line) => Ok(JobView::archived(line, detail)),
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
    Ok(catalog::waiting(queue, std::slice::from_ref(entry))?.remove(&entry.file_name))
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

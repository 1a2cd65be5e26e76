//! Jobs in the queue, newest or oldest first: `execq list`, MCP `list_jobs`.

use std::collections::HashMap;
use std::ffi::OsString;

use anyhow::Result;

use super::view::{Detail, JobView};
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::schedule::Wait;

/// In which order a listing comes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first (`execq list`).
    #[default]
    OldestFirst,
    /// Newest first (MCP `list_jobs`' default).
    NewestFirst,
}

/// Which jobs to list.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    /// These states (every state when empty).
    pub states: Vec<State>,
    /// Only the newest this many (in the order asked for).
    pub limit: Option<usize>,
    pub order: Order,
    /// Only jobs submitted as MCP tasks (`mcp_task`), the limit counted among them.
    pub mcp_tasks: bool,
}

/// The jobs listed, why each pending one waits, and how many there are in those states in all.
#[derive(Debug)]
pub struct Listing {
    pub entries: Vec<Entry>,
    pub waiting: HashMap<OsString, Wait>,
    pub total: usize,
}

impl Listing {
    /// The jobs as rows of the shared view.
    pub fn views(&self) -> Result<Vec<JobView>> {
        self.entries
            .iter()
            .map(|e| JobView::of(e, self.waiting.get(&e.file_name), Detail::Row))
            .collect()
    }
}

/// Lists the jobs `request` asks for. With a limit only that many records per folder are read
/// (the newest, by modification time).
pub fn list(queue: &Queue, request: &ListRequest) -> Result<Listing> {
    let states = if request.states.is_empty() {
        State::ALL.to_vec()
    } else {
        request.states.clone()
    };
    let mut entries = Vec::new();
    let mut total = 0;
    for state in states {
        match request.limit.filter(|_| !request.mcp_tasks) {
            Some(limit) => {
                let (newest, n) = catalog::newest(queue, state, limit)?;
                entries.extend(newest);
                total += n;
            }
            None => {
                let all = catalog::load(queue, state)?;
                total += all.len();
                entries.extend(all);
            }
        }
    }
    if request.mcp_tasks {
        entries.retain(|e| e.object.as_ref().and_then(|o| o.get("mcp_task")) == Some(&true.into()));
        total = entries.len();
    }
    crate::queue::oldest_first(&mut entries, |e| (e.time, &e.file_name));
    if let Some(limit) = request.limit {
        let skip = entries.len().saturating_sub(limit);
        entries.drain(..skip);
    }
    if request.order == Order::NewestFirst {
        entries.reverse();
    }
    let pending: Vec<Entry> = entries
        .iter()
        .filter(|e| e.state == State::Pending)
        .cloned()
        .collect();
    let waiting = catalog::waiting(queue, &pending)?;
    Ok(Listing {
        entries,
        waiting,
        total,
    })
}

/// Every job in `states` (every state when empty), oldest first, passed to `each` one at a time
/// with why it waits, until `each` returns false: memory stays small however many records there
/// are (`execq list` without `-n`).
pub fn each(
    queue: &Queue,
    states: &[State],
    mut each: impl FnMut(&Entry, Option<&Wait>) -> Result<bool>,
) -> Result<()> {
    let states = if states.is_empty() {
        State::ALL.to_vec()
    } else {
        states.to_vec()
    };
    let mut pending = Vec::new();
    if states.contains(&State::Pending) {
        pending = catalog::load(queue, State::Pending)?;
    }
    let waiting = catalog::waiting(queue, &pending)?;
    let mut sources: Vec<std::iter::Peekable<Box<dyn Iterator<Item = Entry>>>> = Vec::new();
    for state in states {
        let source = match state {
            State::Pending => Box::new(std::mem::take(&mut pending).into_iter()),
            other => catalog::stream(queue, other)?,
        };
        sources.push(source.peekable());
    }
    loop {
        let next = sources
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.peek().map(|e| (e.time, e.file_name.clone(), i)))
            .min();
        let Some((_, _, i)) = next else {
            return Ok(());
        };
        let entry = sources[i].next().expect("peeked");
        if !each(&entry, waiting.get(&entry.file_name))? {
            return Ok(());
        }
    }
}

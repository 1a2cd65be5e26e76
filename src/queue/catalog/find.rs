//! Finding a job by what a person or tool calls it: a file name, its stem, or a task_id.

use std::ffi::OsStr;

use anyhow::Result;

use super::{Entry, State, load, of_record};
use crate::fsutil;
use crate::queue::Queue;
use crate::queue::index;
use crate::queue::names::answers_to;

/// Every job `wanted` names (a file name, its stem, or a task_id), in any state. A name that is
/// not UTF-8 is matched as `list` shows it (`\xNN` for each such byte).
pub fn find_all(queue: &Queue, wanted: &str) -> Result<Vec<Entry>> {
    let named = |entry: &Entry| {
        let (stem, _) = fsutil_split(&entry.name);
        entry.name == wanted || stem == wanted || entry.task_id() == Some(wanted)
    };
    let mut matches = Vec::new();
    for state in [State::Pending, State::Running] {
        matches.extend(load(queue, state)?.into_iter().filter(|e| named(e)));
    }
    let mut records = records_named(queue, wanted)?;
    records.retain(|e| named(e));
    records.sort_by_key(|e| (e.state, e.time));
    matches.extend(records);
    prefer_file_names(&mut matches, wanted);
    // The folders are listed one after another: a job a drain claimed in between is seen in
    // pending/ and again in running/. The pending/ one is gone by now; it is not a second job.
    if matches.len() > 1 {
        matches.retain(|e| e.state != State::Pending || fsutil::exists(&e.path));
    }
    Ok(matches)
}

/// The records in `completed/` and `failed/` that `reference` names: by task_id, file name,
/// stem, or the numbered name a namesake's record was filed under (see
/// [`crate::queue::names::answers_to`]). Found through the index of records, which is rebuilt
/// first if it does not vouch for the folders; a queue where it cannot be kept is read whole.
pub fn records_named(queue: &Queue, reference: &str) -> Result<Vec<Entry>> {
    let named = |e: &Entry| answers_to(&e.file_name, reference) || e.task_id() == Some(reference);
    let Some(candidates) = index::lookup(queue, reference) else {
        let mut all = load(queue, State::Completed)?;
        all.extend(load(queue, State::Failed)?);
        all.retain(named);
        prefer_file_names(&mut all, reference);
        return Ok(all);
    };
    let mut found: Vec<Entry> = Vec::new();
    for (state, file) in candidates {
        if let Some(entry) = of_record(state.dir(queue), state, &file)
            && named(&entry)
            && !found.iter().any(|f| f.path == entry.path)
        {
            found.push(entry);
        }
    }
    prefer_file_names(&mut found, reference);
    Ok(found)
}

/// A file name is the surest reference: when `wanted` is some job's file name, it names that
/// job (and its numbered namesakes) only, never another whose task_id or stem happens to be the
/// same text — which anyone can choose, so it must not take a job's name (or an MCP task) over.
fn prefer_file_names(matches: &mut Vec<Entry>, wanted: &str) {
    let by_name = |e: &Entry| e.name == wanted || answers_to(&e.file_name, wanted);
    if matches.iter().any(|e| e.name == wanted) {
        matches.retain(by_name);
    }
}

fn fsutil_split(name: &str) -> (&str, &str) {
    let (stem, ext) = crate::queue::names::split_ext(OsStr::new(name));
    let stem = std::str::from_utf8(stem).unwrap_or(name);
    (stem, std::str::from_utf8(ext).unwrap_or(""))
}

/// The one entry of `matches`, or an error saying there is none or which ones there are.
pub fn one(mut matches: Vec<Entry>, wanted: &str) -> Result<Entry> {
    match matches.len() {
        0 => anyhow::bail!(
            "no job matches `{wanted}` (a job is named by its file name, its stem, or its task_id)"
        ),
        1 => Ok(matches.remove(0)),
        _ => {
            let found: Vec<String> = matches
                .iter()
                .map(|e| format!("{}/{}", e.state.as_str(), e.name))
                .collect();
            anyhow::bail!("`{wanted}` is ambiguous; it matches: {}", found.join(", "))
        }
    }
}

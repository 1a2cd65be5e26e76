//! Finding a job by what a person or tool calls it: a file name, its stem, or a task_id.

use std::ffi::OsStr;

use anyhow::Result;

use super::{Entry, State, load};
use crate::fsutil;
use crate::queue::Queue;

/// Every job `wanted` names (a file name, its stem, or a task_id), in any state. A name that is
/// not UTF-8 is matched as `list` shows it (`\xNN` for each such byte).
pub fn find_all(queue: &Queue, wanted: &str) -> Result<Vec<Entry>> {
    let mut matches = Vec::new();
    for state in State::ALL {
        for entry in load(queue, state)? {
            let (stem, _) = fsutil_split(&entry.name);
            if entry.name == wanted || stem == wanted || entry.task_id() == Some(wanted) {
                matches.push(entry);
            }
        }
    }
    // The folders are listed one after another: a job a drain claimed in between is seen in
    // pending/ and again in running/. The pending/ one is gone by now; it is not a second job.
    if matches.len() > 1 {
        matches.retain(|e| e.state != State::Pending || fsutil::exists(&e.path));
    }
    Ok(matches)
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

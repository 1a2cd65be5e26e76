//! `execq reindex --check`: whether the index answers as a reading of every record would — every
//! record found by its file name, stem and task_id, listed, and the counts right. For tests and
//! for a person who doubts it; it reads every record, so it costs what the index saves. An index
//! that does not vouch for the folders is rebuilt first, as any verb would, and that is checked.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io;

use anyhow::{Context, Result};

use super::{build, lookup, usable};
use crate::queue::Queue;
use crate::queue::catalog::{self, State};

/// What the index gets wrong, one sentence each (none: it agrees with the records).
pub fn check(queue: &Queue) -> Result<Vec<String>> {
    let stamp = usable(queue).context("the index of records cannot be kept in this queue")?;
    let mut problems = Vec::new();
    for state in [State::Completed, State::Failed] {
        let dir = state.dir(queue);
        let listing = match fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
        };
        let listed: HashSet<OsString> = super::oldest_first(queue, state)
            .map(|log| log.collect())
            .unwrap_or_default();
        let mut count = 0;
        for entry in listing.flatten() {
            let Some((record, _)) = build::record_of(dir, &entry.file_name()) else {
                continue;
            };
            count += 1;
            if !listed.contains(&record) {
                problems.push(format!(
                    "{}/{} is not in the index's log (list leaves it out)",
                    state.as_str(),
                    crate::queue::names::display_name(&record)
                ));
            }
            let Some(job) = catalog::of_record(dir, state, &record) else {
                continue;
            };
            let stem = super::stem(&job.name).to_owned();
            let references = [
                Some(job.name.clone()),
                Some(stem),
                job.task_id().map(str::to_owned),
            ];
            for reference in references.into_iter().flatten() {
                let found = lookup(queue, &reference).unwrap_or_default();
                if !found.iter().any(|(s, f)| *s == state && *f == record) {
                    problems.push(format!(
                        "{}/{} is not found by `{reference}`",
                        state.as_str(),
                        job.name
                    ));
                }
            }
        }
        if count != stamp.count(state) {
            problems.push(format!(
                "the index counts {} records in {}/, which holds {count}",
                stamp.count(state),
                state.as_str()
            ));
        }
    }
    Ok(problems)
}

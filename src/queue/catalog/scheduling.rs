//! The queue's jobs as the scheduling rules (`queue::schedule`) see them: what `after` waits for,
//! and why each pending job waits.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::time::SystemTime;

use anyhow::Result;

use super::{Entry, State, load};
use crate::queue::Queue;
use crate::queue::schedule::{self, Known, Pending, Verdict, Wait};

/// The jobs in `state`, as the scheduling rules see them.
pub fn known_in(queue: &Queue, state: State) -> Result<Vec<Known>> {
    Ok(load(queue, state)?
        .into_iter()
        .map(|e| known_of(e, state))
        .collect())
}

/// The records `reference` names (see [`super::records_named`]), as the scheduling rules see
/// them.
pub fn known_named(queue: &Queue, reference: &str) -> Result<Vec<Known>> {
    Ok(super::records_named(queue, reference)?
        .into_iter()
        .map(|e| {
            let state = e.state;
            known_of(e, state)
        })
        .collect())
}

/// The jobs the references of `pending` may name: every running job and the records each
/// reference names.
fn known_for(queue: &Queue, pending: &[Pending]) -> Result<Vec<Known>> {
    let mut known = known_in(queue, State::Running)?;
    let mut seen = HashSet::new();
    for reference in pending.iter().flat_map(|p| &p.schedule.after) {
        if seen.insert(reference.as_str()) {
            known.extend(known_named(queue, reference)?);
        }
    }
    Ok(known)
}

fn known_of(e: Entry, state: State) -> Known {
    Known {
        task_id: e.task_id().map(str::to_owned),
        name: e.file_name,
        state,
        time: e.time,
        status: e.result.map(|r| r.status),
    }
}

/// Why each pending job waits, by file name (jobs that may run now are not in the map), by the
/// same rules the drain applies (`queue::schedule`).
pub fn waiting(queue: &Queue, pending: &[Entry]) -> Result<HashMap<OsString, Wait>> {
    let jobs: Vec<Pending> = pending
        .iter()
        .map(|e| Pending {
            name: e.file_name.clone(),
            mtime: e.time,
            task_id: e.task_id().map(str::to_owned),
            schedule: e.schedule(),
        })
        .collect();
    let paused = crate::queue::pause::paused(queue)?;
    if paused.is_empty() && jobs.iter().all(|j| j.schedule.is_default()) {
        return Ok(HashMap::new());
    }
    let verdicts = schedule::verdicts(&jobs, &known_for(queue, &jobs)?, SystemTime::now());
    let stopped = |job: &Pending| {
        paused.contains_key(&crate::queue::pause::Scope::Queue)
            || paused.contains_key(&crate::queue::pause::Scope::Group(
                job.schedule.group().to_owned(),
            ))
    };
    Ok(jobs
        .into_iter()
        .zip(verdicts)
        .filter_map(|(job, verdict)| match verdict {
            Verdict::Wait(Wait::Held) => Some((job.name, Wait::Held)),
            _ if stopped(&job) => Some((job.name, Wait::Paused)),
            Verdict::Wait(why) => Some((job.name, why)),
            _ => None,
        })
        .collect())
}

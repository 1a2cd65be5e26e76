//! The queue's jobs as the scheduling rules (`queue::schedule`) see them: what `after` waits for,
//! and why each pending job waits.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

use anyhow::Result;

use super::{Entry, State, entry, is_sidecar_of_a_job, job_names, load};
use crate::queue::Queue;
use crate::queue::schedule::{self, Known, Pending, Verdict, Wait};

/// The jobs in `running/`, `completed/` and `failed/`, as the scheduling rules see them.
pub fn known(queue: &Queue) -> Result<Vec<Known>> {
    let mut known = Vec::new();
    for state in [State::Running, State::Completed, State::Failed] {
        known.extend(load(queue, state)?.into_iter().map(|e| known_of(e, state)));
    }
    Ok(known)
}

/// The jobs in `state` as the scheduling rules see them, reading only the entries whose names
/// `seen` does not already know; also returns every name listed. A caller keeping its own list
/// up to date pays a listing of the folder, not a read of every record.
pub fn known_unseen(
    queue: &Queue,
    state: State,
    seen: impl Fn(&OsStr) -> bool,
) -> Result<(Vec<Known>, Vec<OsString>)> {
    let dir = state.dir(queue);
    let names = job_names(dir)?;
    let known = names
        .iter()
        .filter(|n| !seen(n) && !is_sidecar_of_a_job(dir, n))
        .filter_map(|name| entry(dir, state, name))
        .map(|e| known_of(e, state))
        .collect();
    Ok((known, names))
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
    if jobs.iter().all(|j| j.schedule.is_default()) {
        return Ok(HashMap::new());
    }
    let verdicts = schedule::verdicts(&jobs, &known(queue)?, SystemTime::now());
    Ok(jobs
        .into_iter()
        .zip(verdicts)
        .filter_map(|(job, verdict)| match verdict {
            Verdict::Wait(why) => Some((job.name, why)),
            _ => None,
        })
        .collect())
}

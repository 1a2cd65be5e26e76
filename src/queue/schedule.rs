//! The scheduling rules, in one place: which pending job may run now, which waits and why, and
//! which can never run. Pure functions of what is in the queue and the time, so they are tested
//! without processes or clocks; the drain, `list`, `show` and `status` all use them.
//!
//! - Order: higher `priority` first; ties oldest first, then by name (as without priorities).
//! - `not_before`: the job waits in `pending/` until then.
//! - `after`: each reference (a task_id, a file name or its stem) must name a job whose newest
//!   record is in `completed/`. While a match is pending or running, the job waits. If the newest
//!   match is in `failed/` (any status), the job fails as `dependency_failed`, naming it — so a
//!   failure propagates down a chain. A reference that matches no job waits [`UNKNOWN_GRACE`]
//!   from the job's own submission (its file's modification time), for a producer that writes
//!   the dependent first, then fails as `error`. Every job on a cycle of references fails as
//!   `error`, naming a cycle through it; a job that only depends on one waits, then fails as
//!   `dependency_failed` naming it.
//! - `hold: true`: the job waits, untouched (never filed, not even on a cycle), until released.
//! - Waiting never blocks the jobs behind; a drain that finds only waiting jobs leaves them, and
//!   the next start (launchd every 2 s, the systemd timer, cron) looks again.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, FixedOffset};

use crate::job::result::Status;
use crate::job::schedule::Schedule;
use crate::queue::catalog::State;
use crate::queue::names::{display_name, split_ext};

/// How long a reference that matches no job may wait for one to appear.
pub const UNKNOWN_GRACE: Duration = Duration::from_secs(60);

/// A job in `pending/`, as the rules see it.
#[derive(Clone, Debug)]
pub struct Pending {
    pub name: OsString,
    pub mtime: SystemTime,
    pub task_id: Option<String>,
    pub schedule: Schedule,
}

/// A job in `running/`, `completed/` or `failed/`.
#[derive(Clone, Debug)]
pub struct Known {
    pub name: OsString,
    pub task_id: Option<String>,
    pub state: State,
    /// When it was claimed (running) or recorded.
    pub time: SystemTime,
    pub status: Option<Status>,
}

/// What may happen to a pending job now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    Wait(Wait),
    /// It can never run: filed in `failed/` with this status and error, without running.
    Fail(Status, String),
}

/// Why a job waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wait {
    /// `hold: true` (`execq hold`): until `execq release`.
    Held,
    /// The queue, or the job's group, is paused (`execq pause`): until `execq resume`.
    Paused,
    NotBefore(DateTime<FixedOffset>),
    /// For `reference`, which names a job in `state` (`None`: no job yet).
    After {
        reference: String,
        on: Option<(State, String)>,
    },
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Held => write!(f, "held (execq release starts it)"),
            Self::Paused => write!(f, "paused (execq resume starts it)"),
            Self::NotBefore(at) => write!(f, "not before {}", at.to_rfc3339()),
            Self::After {
                on: Some((state, name)),
                ..
            } => write!(f, "after {name} ({})", state.as_str()),
            Self::After {
                reference,
                on: None,
            } => write!(f, "after `{reference}` (no such job yet)"),
        }
    }
}

/// Where a reference points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Pending(usize),
    Known(usize),
}

/// Every name, stem and task_id, to the jobs that answer to it.
struct Index(HashMap<String, Vec<Target>>);

impl Index {
    fn new(pending: &[Pending], known: &[Known]) -> Self {
        let mut index = Self(HashMap::new());
        for (i, job) in pending.iter().enumerate() {
            index.add(&job.name, job.task_id.as_deref(), Target::Pending(i));
        }
        for (i, job) in known.iter().enumerate() {
            index.add(&job.name, job.task_id.as_deref(), Target::Known(i));
        }
        index
    }

    fn add(&mut self, name: &OsStr, task_id: Option<&str>, target: Target) {
        let shown = display_name(name);
        let stem = display_name(OsStr::new(
            std::str::from_utf8(split_ext(name).0).unwrap_or(&shown),
        ));
        let mut keys = vec![shown, stem];
        keys.extend(task_id.map(str::to_owned));
        keys.dedup();
        for key in keys {
            let targets = self.0.entry(key).or_default();
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }

    fn get(&self, reference: &str) -> &[Target] {
        self.0.get(reference).map_or(&[], Vec::as_slice)
    }
}

/// The verdict for each of `pending` (same order), given the jobs `known` elsewhere and `now`.
pub fn verdicts(pending: &[Pending], known: &[Known], now: SystemTime) -> Vec<Verdict> {
    let needs_index = pending.iter().any(|p| !p.schedule.after.is_empty());
    let index = needs_index.then(|| Index::new(pending, known));
    let cycles = index
        .as_ref()
        .map(|ix| cycles(pending, ix))
        .unwrap_or_default();
    pending
        .iter()
        .enumerate()
        .map(|(i, job)| match (cycles.get(&i), &index) {
            // A held job is never filed, not even for a cycle: untouched until released.
            _ if job.schedule.hold => Verdict::Wait(Wait::Held),
            (Some(cycle), _) => Verdict::Fail(Status::Error, cycle.clone()),
            (None, Some(index)) => verdict(i, job, pending, known, index, now),
            (None, None) => not_before(job, now),
        })
        .collect()
}

fn not_before(job: &Pending, now: SystemTime) -> Verdict {
    match job.schedule.not_before {
        Some(at) if SystemTime::from(at) > now => Verdict::Wait(Wait::NotBefore(at)),
        _ => Verdict::Ready,
    }
}

fn verdict(
    i: usize,
    job: &Pending,
    pending: &[Pending],
    known: &[Known],
    index: &Index,
    now: SystemTime,
) -> Verdict {
    let mut wait = None;
    for reference in &job.schedule.after {
        let targets: Vec<Target> = index
            .get(reference)
            .iter()
            .copied()
            .filter(|t| *t != Target::Pending(i))
            .collect();
        match dependency(reference, &targets, job, pending, known, now) {
            Verdict::Ready => {}
            Verdict::Wait(w) => {
                wait.get_or_insert(w);
            }
            fail @ Verdict::Fail(..) => return fail,
        }
    }
    match wait {
        Some(w) => Verdict::Wait(w),
        None => not_before(job, now),
    }
}

/// What one reference means for `job`.
fn dependency(
    reference: &str,
    targets: &[Target],
    job: &Pending,
    pending: &[Pending],
    known: &[Known],
    now: SystemTime,
) -> Verdict {
    let waiting_on = targets.iter().find_map(|t| match *t {
        Target::Pending(j) => Some((State::Pending, display_name(&pending[j].name))),
        Target::Known(k) if known[k].state == State::Running => {
            Some((State::Running, display_name(&known[k].name)))
        }
        _ => None,
    });
    if let Some(on) = waiting_on {
        return Verdict::Wait(Wait::After {
            reference: reference.to_owned(),
            on: Some(on),
        });
    }
    let newest = targets
        .iter()
        .filter_map(|t| match *t {
            Target::Known(k) => Some(&known[k]),
            Target::Pending(_) => None,
        })
        .max_by_key(|k| k.time);
    match newest {
        Some(k) if k.state == State::Completed => Verdict::Ready,
        Some(k) => Verdict::Fail(
            Status::DependencyFailed,
            format!(
                "dependency `{reference}` did not complete: {}/{} ({})",
                k.state.as_str(),
                display_name(&k.name),
                k.status.map_or("failed", Status::as_str)
            ),
        ),
        None if now.duration_since(job.mtime).unwrap_or_default() < UNKNOWN_GRACE => {
            Verdict::Wait(Wait::After {
                reference: reference.to_owned(),
                on: None,
            })
        }
        None => Verdict::Fail(
            Status::Error,
            format!(
                "dependency `{reference}` matches no job (no task_id, file name or stem; waited {} s for one to appear)",
                UNKNOWN_GRACE.as_secs()
            ),
        ),
    }
}

/// The pending jobs whose references lead back to themselves, each with the error naming a cycle
/// through it. Every job of a strongly connected group is on some cycle, so each is told so,
/// not only those on the first cycle a walk happens to find.
fn cycles(pending: &[Pending], index: &Index) -> HashMap<usize, String> {
    let edges: Vec<Vec<usize>> = pending
        .iter()
        .map(|job| {
            job.schedule
                .after
                .iter()
                .flat_map(|r| index.get(r))
                .filter_map(|t| match *t {
                    Target::Pending(j) => Some(j),
                    Target::Known(_) => None,
                })
                .collect()
        })
        .collect();
    let group = components(&edges);
    let mut size = vec![0usize; pending.len()];
    for &g in &group {
        size[g] += 1;
    }
    let mut found = HashMap::new();
    for start in 0..pending.len() {
        let on_cycle = size[group[start]] > 1 || edges[start].contains(&start);
        if !on_cycle || found.contains_key(&start) {
            continue;
        }
        let cycle = cycle_through(start, &edges, &group);
        let names: Vec<String> = cycle
            .iter()
            .chain(cycle.first())
            .map(|&j| format!("`{}`", display_name(&pending[j].name)))
            .collect();
        let message = format!("dependency cycle: {}", names.join(" → "));
        for &j in &cycle {
            found.entry(j).or_insert_with(|| message.clone());
        }
    }
    found
}

/// The strongly connected group of each node (Kosaraju's two walks, with explicit stacks so a
/// 10,000-job chain cannot overflow the real one).
fn components(edges: &[Vec<usize>]) -> Vec<usize> {
    let n = edges.len();
    let mut finished = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut stack = vec![(root, 0)];
        while let Some((node, next)) = stack.pop() {
            match edges[node].get(next) {
                Some(&m) => {
                    stack.push((node, next + 1));
                    if !seen[m] {
                        seen[m] = true;
                        stack.push((m, 0));
                    }
                }
                None => finished.push(node),
            }
        }
    }
    let mut reverse = vec![Vec::new(); n];
    for (from, targets) in edges.iter().enumerate() {
        for &to in targets {
            reverse[to].push(from);
        }
    }
    let mut group = vec![usize::MAX; n];
    for &root in finished.iter().rev() {
        if group[root] != usize::MAX {
            continue;
        }
        group[root] = root;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            for &m in &reverse[node] {
                if group[m] == usize::MAX {
                    group[m] = root;
                    stack.push(m);
                }
            }
        }
    }
    group
}

/// A shortest cycle from `start` back to itself, staying in its group (breadth first).
fn cycle_through(start: usize, edges: &[Vec<usize>], group: &[usize]) -> Vec<usize> {
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &m in &edges[node] {
            if m == start {
                let mut cycle = vec![node];
                while let Some(&before) = cycle.last().and_then(|n| came_from.get(n)) {
                    cycle.push(before);
                }
                cycle.reverse();
                return cycle;
            }
            if group[m] == group[start] && !came_from.contains_key(&m) {
                came_from.insert(m, node);
                queue.push_back(m);
            }
        }
    }
    vec![start]
}

/// `pending`'s indices in the order ready jobs run: priority, then oldest, then name.
pub fn run_order(pending: &[Pending]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pending.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&pending[a], &pending[b]);
        b.schedule
            .priority
            .cmp(&a.schedule.priority)
            .then(a.mtime.cmp(&b.mtime))
            .then_with(|| a.name.cmp(&b.name))
    });
    order
}

#[cfg(test)]
mod tests;

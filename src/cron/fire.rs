//! Enqueueing the occurrences that came due: what every drain does first, before it takes the
//! queue's lock (so schedules fire on time even while another drain is busy with a long job).
//!
//! **Exactly once.** An occurrence's job is named after the schedule and the occurrence
//! (`backup.2026-11-24T0330+0100.json`) and placed in `pending/` under exactly that name, never a
//! numbered one; only then is the schedule's marker moved past the occurrence. A drain killed in
//! between leaves the marker behind and the job in place; the next drain finds the job under its
//! name (in `pending/`, `running/`, `completed/` or `failed/`) and only moves the marker. A drain
//! killed before the job was placed leaves neither, and the next one fires it.
//!
//! **Coalescing.** All the occurrences since the marker (the machine slept, the service was off)
//! make one run, for the latest of them, with `"coalesced": N` in its job when N > 1, as launchd
//! coalesces StartCalendarInterval events. With `catch_up = false` they make none, unless the
//! latest is on time (no more than [`ON_TIME`] old).
//!
//! **Overlap.** With `overlap = "skip"` (the default), an occurrence that comes due while the
//! schedule's previous job is still in `pending/` or `running/` is skipped and logged.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use jiff::Zoned;
use serde_json::{Value, json};
use tracing::{error, info, warn};

use super::state::{self, Cached, Index, Marker};
use super::{Definition, Found, Overlap};
use crate::clock;
use crate::fsutil;
use crate::job::sandbox::Origin;
use crate::queue::Queue;

/// How late an occurrence may be found and still count as on time with `catch_up = false`: drains
/// run every 2 s under launchd, every 30 s under the systemd timer, every minute from cron.
pub const ON_TIME: Duration = Duration::from_secs(120);

/// The most missed occurrences counted for `coalesced` (a schedule every minute, off for years).
const COUNT_MAX: u64 = 100_000;

/// Fires every schedule that is due. Cheap when none is: see `state`.
pub fn fire_due(queue: &Queue) -> Result<()> {
    let Some(entries) = super::entries(queue)? else {
        return Ok(());
    };
    let instant = clock::instant()?;
    if index_says_idle(&state::read_index(queue), &entries, instant.as_second()) {
        return Ok(());
    }
    let now = instant.to_zoned(clock::zone());
    let _lock = state::lock(queue)?;
    let index = state::read_index(queue);
    let found = super::load_all(queue)?;
    let mut fresh = Index::default();
    for schedule in &found {
        let cached = index.files.get(schedule.file.to_string_lossy().as_ref());
        let entry = handle(queue, schedule, cached, &now);
        fresh
            .files
            .insert(schedule.file.to_string_lossy().into_owned(), entry);
    }
    // An invalid file keeps its marker: once fixed, its schedule carries on from where it was,
    // and `overlap` still sees the job it enqueued before the mistake.
    let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
    state::remove_stale(queue, &names);
    if fresh != index {
        state::write_index(queue, &fresh)?;
    }
    Ok(())
}

/// Whether the cache covers exactly these files, unchanged, and none is due yet.
fn index_says_idle(index: &Index, entries: &[super::Entry], now: i64) -> bool {
    entries.len() == index.files.len()
        && entries.iter().all(|entry| {
            index
                .files
                .get(entry.file.to_string_lossy().as_ref())
                .is_some_and(|cached| {
                    cached.stamp == entry.stamp && cached.due.is_none_or(|due| due > now)
                })
        })
}

/// Handles one schedule file and returns what the cache should say about it.
fn handle(queue: &Queue, schedule: &Found, cached: Option<&Cached>, now: &Zoned) -> Cached {
    let definition = match &schedule.definition {
        Ok(definition) => definition,
        Err(why) => {
            let known =
                cached.is_some_and(|c| c.stamp == schedule.stamp && c.error.as_ref() == Some(why));
            if !known {
                error!(schedule = %schedule.name, file = ?schedule.file, error = %why, "schedule is invalid and does not fire (the others do)");
            }
            return Cached {
                stamp: schedule.stamp,
                due: None,
                error: Some(why.clone()),
            };
        }
    };
    let due = match fire_one(queue, definition, now) {
        Ok(last) => definition.next_after(&last).map(|t| clock::unix(&t)),
        Err(e) => {
            // Left due: the next drain tries again.
            error!(schedule = %definition.name, error = %format!("{e:#}"), "schedule could not fire");
            Some(clock::unix(now))
        }
    };
    Cached {
        stamp: schedule.stamp,
        due,
        error: None,
    }
}

/// Fires `definition` if an occurrence came due since its marker, and returns the last
/// occurrence handled.
fn fire_one(queue: &Queue, definition: &Definition, now: &Zoned) -> Result<Zoned> {
    let name = &definition.name;
    let marker = state::read_marker(queue, name);
    let Some((mut marker, last)) = marker.and_then(|m| m.last().map(|last| (m, last))) else {
        // First seen: occurrences from now on fire, none from before it existed.
        state::write_marker(queue, name, &Marker::at(now, None))?;
        info!(schedule = %name, cron = %definition.spec.cron, "new schedule");
        return Ok(now.clone());
    };
    let Some(latest) = definition
        .last_until(now)
        .filter(|t| t.timestamp() > last.timestamp())
    else {
        return Ok(last);
    };
    let count = count_between(definition, &last, &latest);
    let late = clock::unix(now) - clock::unix(&latest) > ON_TIME.as_secs() as i64;
    let scheduled_for = clock::rfc3339(&latest);
    let handled =
        |marker: &Marker| state::write_marker(queue, name, marker).map(|()| latest.clone());
    if !definition.spec.catch_up && (late || count > 1) {
        let missed = if late { count } else { count - 1 };
        info!(schedule = %name, missed, "occurrences missed while no drain ran are skipped (catch_up = false)");
        if late {
            return handled(&Marker::at(&latest, marker.job));
        }
    }
    let coalesced = if definition.spec.catch_up { count } else { 1 };
    if definition.spec.overlap == Overlap::Skip
        && let Some(previous) = marker.job.as_deref().filter(|j| still_queued(queue, j))
    {
        warn!(schedule = %name, %scheduled_for, previous = %previous, "occurrence skipped: the previous one is still pending or running (overlap = \"skip\")");
        return handled(&Marker::at(&latest, marker.job.clone()));
    }
    let job = enqueue(queue, definition, &latest, now, coalesced)?;
    info!(schedule = %name, %scheduled_for, job = %job, coalesced, "schedule fired");
    let group = (definition.spec.job.get("group").and_then(|g| g.as_str()))
        .unwrap_or(crate::job::schedule::DEFAULT_GROUP);
    if !crate::queue::pause::may_start(queue, group) {
        info!(schedule = %name, job = %job, "the queue (or the job's group) is paused: the job waits in pending/ until `execq resume`");
    }
    marker = Marker::at(&latest, Some(job));
    handled(&marker)
}

/// How many occurrences fall in `(after, until]` (at most [`COUNT_MAX`]).
fn count_between(definition: &Definition, after: &Zoned, until: &Zoned) -> u64 {
    let mut count = 0;
    let mut at = after.clone();
    while count < COUNT_MAX {
        match definition.next_after(&at) {
            Some(next) if next.timestamp() <= until.timestamp() => {
                count += 1;
                at = next;
            }
            _ => break,
        }
    }
    count.max(1)
}

/// Whether a job is still waiting or running.
fn still_queued(queue: &Queue, job: &str) -> bool {
    [&queue.pending, &queue.running]
        .iter()
        .any(|dir| fs::symlink_metadata(dir.join(job)).is_ok())
}

/// The job name for an occurrence: `NAME.2026-11-24T0330+0100.json` (the offset tells apart the
/// two 01:30s of a night the clocks go back).
pub fn job_name(schedule: &str, at: &Zoned) -> String {
    format!("{schedule}.{}.json", at.strftime("%Y-%m-%dT%H%M%z"))
}

/// The job name for a run by hand (`schedule run`): `NAME.run-2026-11-24T033012+0100.json`. It
/// can never be an occurrence's name, so a run by hand never takes the place of an occurrence
/// due in the same minute (which would then find "its" job in the queue and not fire).
pub fn run_name(schedule: &str, at: &Zoned) -> String {
    format!("{schedule}.run-{}.json", at.strftime("%Y-%m-%dT%H%M%S%z"))
}

/// Puts the occurrence's job into `pending/` unless it is already in the queue (placed by a drain
/// killed before it could move the marker). Returns the job's name.
fn enqueue(
    queue: &Queue,
    definition: &Definition,
    at: &Zoned,
    now: &Zoned,
    coalesced: u64,
) -> Result<String> {
    let name = job_name(&definition.name, at);
    let bytes = job_bytes(definition, &name, at, now, coalesced)?;
    queue.open()?;
    place_once(queue, &name, &bytes)?;
    Ok(name)
}

/// The job file for one occurrence: the template, plus `task_id` (the job's name without
/// `.json`), `schedule`, `origin`, `scheduled_for`, `submitted_at` and, when it stands for several,
/// `coalesced`.
fn job_bytes(
    definition: &Definition,
    name: &str,
    at: &Zoned,
    now: &Zoned,
    coalesced: u64,
) -> Result<Vec<u8>> {
    let mut job = definition.spec.job.clone();
    let stem = name.strip_suffix(".json").unwrap_or(name);
    job.insert("task_id".into(), json!(stem));
    job.insert("schedule".into(), json!(definition.name));
    // Whatever a hand-edited schedule says: its jobs come through the schedules' door, whose
    // `[sandbox] schedule` floor the drain holds them to.
    job.insert("origin".into(), json!(Origin::Schedule.as_str()));
    job.insert("scheduled_for".into(), json!(clock::rfc3339(at)));
    if coalesced > 1 {
        job.insert("coalesced".into(), json!(coalesced));
    }
    job.insert("submitted_at".into(), json!(clock::rfc3339(now)));
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(job))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Places `bytes` in `pending/` as exactly `name`, durably, unless a job of that name is already
/// in the queue. Returns whether it placed it.
fn place_once(queue: &Queue, name: &str, bytes: &[u8]) -> Result<bool> {
    for dir in [
        &queue.pending,
        &queue.running,
        &queue.completed,
        &queue.failed,
    ] {
        if fs::symlink_metadata(dir.join(name)).is_ok() {
            return Ok(false);
        }
    }
    let staged = queue.temp_path(&crate::queue::enqueue::slug(name));
    fsutil::discard(&staged);
    fsutil::write_new_synced(&staged, bytes)?;
    let dest = queue.pending.join(name);
    let placed = match fsutil::hard_link(&staged, &dest) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => fsutil::move_if_free(&staged, &dest),
    };
    fsutil::discard(&staged);
    let placed = placed.with_context(|| format!("failed to place `{}`", dest.display()))?;
    if placed {
        fsutil::sync_dir(&queue.pending)?;
    }
    Ok(placed)
}

/// `execq schedule run NAME`: enqueues a run now, whatever the expression says. It is an extra
/// run: the marker is left alone and the job is named apart from the occurrences ([`run_name`]).
/// Returns the job's path.
pub fn run_now(queue: &Queue, name: &str) -> Result<std::path::PathBuf> {
    let found = super::load_all(queue)?;
    let Some(schedule) = found.iter().find(|f| f.name == name) else {
        bail!(
            "no schedule named `{name}` in `{}`",
            super::dir(queue).display()
        );
    };
    let definition = match &schedule.definition {
        Ok(definition) => definition,
        Err(why) => bail!("schedule `{name}` is invalid: {why}"),
    };
    let now = clock::now()?;
    let job = run_name(name, &now);
    let bytes = job_bytes(definition, &job, &now, &now, 1)?;
    queue.open()?;
    crate::queue::enqueue::enqueue(queue, OsStr::new(&job), &bytes)
}

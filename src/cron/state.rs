//! What execq keeps about schedules, in `schedules/.state/`:
//!
//! - `NAME.json`, one **marker** per schedule: the last occurrence handled (fired, skipped or, for
//!   a new schedule, the moment it was first seen) and the job it enqueued last. Written durably
//!   (synced, renamed, folder synced) after the job is durably in `pending/`; see `fire` for why
//!   a drain killed in between neither skips nor duplicates the occurrence.
//! - `.index.json`, a **cache**: each schedule file's stamp and when it is next due. An idle drain
//!   reads the folder, stats each file and reads this one file; only when a file changed or an
//!   occurrence is due does it read the schedules and take `lock`. Losing it costs one full read.
//! - `lock`, a `flock` held while schedules are fired, so two drains never fire the same one.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use fs2::FileExt;
use serde::{Deserialize, Serialize};

use super::Stamp;
use crate::fsutil;
use crate::queue::Queue;

/// The state folder.
pub fn dir(queue: &Queue) -> PathBuf {
    super::dir(queue).join(".state")
}

/// A schedule's marker.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Marker {
    /// The last occurrence handled (RFC 3339): nothing at or before it fires again.
    pub last: String,
    /// The job enqueued for the last occurrence that fired (for `overlap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

fn marker_path(queue: &Queue, name: &str) -> PathBuf {
    dir(queue).join(format!("{name}.json"))
}

impl Marker {
    /// A marker whose last occurrence is `at`.
    pub fn at(at: &jiff::Zoned, job: Option<String>) -> Self {
        Self {
            last: crate::clock::rfc3339(at),
            job,
        }
    }

    /// The last occurrence handled.
    pub fn last(&self) -> Option<jiff::Zoned> {
        crate::clock::parse(&self.last).ok()
    }
}

/// The schedule's marker; `None` if it has none yet (or it does not parse, which a crash cannot
/// cause: it is replaced whole).
pub fn read_marker(queue: &Queue, name: &str) -> Option<Marker> {
    serde_json::from_slice(&fs::read(marker_path(queue, name)).ok()?).ok()
}

/// Replaces the schedule's marker durably.
pub fn write_marker(queue: &Queue, name: &str, marker: &Marker) -> Result<()> {
    let dir = dir(queue);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    fsutil::discard(&tmp);
    let bytes = serde_json::to_vec_pretty(marker).context("failed to encode a marker")?;
    fsutil::write_new_synced(&tmp, &bytes)?;
    fsutil::rename(&tmp, &marker_path(queue, name))?;
    fsutil::sync_dir(&dir)
}

/// Removes the markers of schedules whose file is gone (and temporary files left by a killed
/// drain). `keep` names every schedule file present, valid or not: a file with a mistake in it
/// keeps its marker for when it is fixed.
pub fn remove_stale(queue: &Queue, keep: &[&str]) {
    let Ok(listing) = fs::read_dir(dir(queue)) else {
        return;
    };
    for entry in listing.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let stale = match file.strip_suffix(".json") {
            Some(name) if !name.starts_with('.') => !keep.contains(&name),
            _ => file.ends_with(".tmp"),
        };
        if stale {
            fsutil::discard(&entry.path());
        }
    }
}

/// Removes one schedule's marker (when the schedule is removed).
pub fn remove_marker(queue: &Queue, name: &str) -> Result<()> {
    fsutil::remove_if_exists(&marker_path(queue, name))
}

/// The cache of when each schedule file is next due.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Index {
    pub files: BTreeMap<String, Cached>,
}

/// One schedule file in the cache.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Cached {
    pub stamp: Stamp,
    /// When it is next due (Unix seconds); `None`: never (or it is invalid).
    pub due: Option<i64>,
    /// What is wrong with it, logged once when first seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn index_path(queue: &Queue) -> PathBuf {
    // A dot-file, as no schedule's name (and so no marker's) can be: the cache was `index.json`,
    // which was also the marker of a schedule named `index`, so that schedule never fired. The
    // old file is removed as a stale marker.
    dir(queue).join(".index.json")
}

/// The cache; empty when missing or unreadable (then everything is read again).
pub fn read_index(queue: &Queue) -> Index {
    fs::read(index_path(queue))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Replaces the cache (not synced: it can always be rebuilt).
pub fn write_index(queue: &Queue, index: &Index) -> Result<()> {
    let tmp = dir(queue).join(format!(".index.{}.tmp", std::process::id()));
    fsutil::write(&tmp, &serde_json::to_vec(index)?)?;
    fsutil::rename(&tmp, &index_path(queue))
}

/// Creates the state folder if needed and takes its lock, waiting for a drain that holds it
/// (firing takes milliseconds).
pub fn lock(queue: &Queue) -> Result<File> {
    let dir = dir(queue);
    if !dir.is_dir() {
        fs::create_dir_all(super::dir(queue))
            .with_context(|| format!("failed to create `{}`", super::dir(queue).display()))?;
        match fsutil::create_private_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("failed to create `{}`", dir.display()));
            }
        }
    }
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("failed to open `{}`", path.display()))?;
    file.lock_exclusive()
        .with_context(|| format!("failed to lock `{}`", path.display()))?;
    Ok(file)
}

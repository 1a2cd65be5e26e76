//! `QUEUE/outbox/`: webhook deliveries that failed, retried by later drains with backoff (30 s,
//! doubling to at most an hour between tries) for [`GIVE_UP_AFTER`], then given up with an error
//! line in `daemon.log`. A drain with nothing due here only lists the folder.
//!
//! **One deliverer.** Drains start retrying before they take the queue's lock (a delivery is not
//! held up by a long job), so two may find the same file due: only the one holding
//! `outbox/.lock` retries (the other skips the round), and it reads each file again under the
//! lock, so a delivery another drain just made and removed is neither sent again nor written
//! back. A file is written whole in the queue's `tmp/` under this process's own name and renamed
//! into place, so no two writers share a temporary file.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::webhook::Delivery;
use crate::clock;
use crate::fsutil;
use crate::queue::Queue;

/// How long a failed delivery is retried.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The first wait before a retry; it doubles with each failure, up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: u64 = 30;
const BACKOFF_MAX: u64 = 3600;

/// A delivery waiting in the outbox.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Kept {
    pub delivery: Delivery,
    pub first_failed_at: i64,
    pub attempts: u32,
    pub next_at: i64,
    pub last_error: String,
}

/// The outbox folder.
pub fn dir(queue: &Queue) -> PathBuf {
    queue.root.join("outbox")
}

fn backoff(attempts: u32) -> i64 {
    let secs = BACKOFF_FIRST.saturating_mul(1u64 << attempts.saturating_sub(1).min(16));
    i64::try_from(secs.min(BACKOFF_MAX)).unwrap_or(i64::MAX)
}

/// Keeps a delivery that just failed, to retry. Returns where.
pub fn keep(queue: &Queue, delivery: &Delivery, error: &str) -> Result<PathBuf> {
    let now = clock::instant()?.as_second();
    let kept = Kept {
        delivery: delivery.clone(),
        first_failed_at: now,
        attempts: 1,
        next_at: now + backoff(1),
        last_error: error.to_owned(),
    };
    let dir = dir(queue);
    if !dir.is_dir() {
        fsutil::create_private_dir(&dir)
            .with_context(|| format!("failed to create `{}`", dir.display()))?;
    }
    let name = format!(
        "{}-{}-{:08x}.json",
        now,
        std::process::id(),
        crate::queue::enqueue::random_u32()
    );
    write(queue, &dir.join(name), &kept)
}

fn write(queue: &Queue, path: &Path, kept: &Kept) -> Result<PathBuf> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = queue.temp_path(&format!("outbox-{name}"));
    fsutil::discard(&tmp);
    fsutil::write_new_synced(&tmp, &serde_json::to_vec_pretty(kept)?)?;
    fsutil::rename(&tmp, path)?;
    Ok(path.to_owned())
}

/// The kept deliveries in the outbox that are due at `now`, by path.
fn due(dir: &Path, now: i64) -> Result<Vec<PathBuf>> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
    };
    let mut due: Vec<PathBuf> = listing
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| read(p).is_some_and(|kept| kept.next_at <= now))
        .collect();
    due.sort();
    Ok(due)
}

fn read(path: &Path) -> Option<Kept> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// Retries every kept delivery that is due. Cheap when the outbox is missing or nothing is due;
/// skipped when another process is retrying (see the module docs).
pub fn retry_due(queue: &Queue) -> Result<()> {
    let dir = dir(queue);
    let now = clock::instant()?.as_second();
    if due(&dir, now)?.is_empty() {
        return Ok(());
    }
    let lock_path = dir.join(".lock");
    let lock = File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .with_context(|| format!("failed to open `{}`", lock_path.display()))?;
    if fs2::FileExt::try_lock_exclusive(&lock).is_err() {
        return Ok(());
    }
    for path in due(&dir, now)? {
        // Read again, under the lock: another drain may have delivered it since it was listed.
        let Some(kept) = read(&path) else { continue };
        retry(queue, &path, kept, now)?;
    }
    Ok(())
}

fn retry(queue: &Queue, path: &Path, mut kept: Kept, now: i64) -> Result<()> {
    match kept.delivery.send() {
        Ok(status) => {
            tracing::info!(url = %kept.delivery.shown(), attempts = kept.attempts + 1, %status, "webhook delivered on retry");
            fsutil::remove_if_exists(path)
        }
        Err(e) if now - kept.first_failed_at >= GIVE_UP_AFTER.as_secs() as i64 => {
            tracing::error!(url = %kept.delivery.shown(), attempts = kept.attempts + 1, error = %e, "webhook delivery given up after 24 h");
            fsutil::remove_if_exists(path)
        }
        Err(e) => {
            kept.attempts += 1;
            kept.next_at = now + backoff(kept.attempts);
            kept.last_error = e;
            write(queue, path, &kept).map(drop)
        }
    }
}

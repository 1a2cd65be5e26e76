//! `QUEUE/outbox/`: webhook deliveries that failed, retried by later drains with backoff (30 s,
//! doubling to at most an hour between tries) for [`GIVE_UP_AFTER`], then given up with an error
//! line in `daemon.log`. A drain with nothing due here only lists the folder.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::webhook::Delivery;
use crate::cron::clock;
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
    write(&dir.join(name), &kept)
}

fn write(path: &std::path::Path, kept: &Kept) -> Result<PathBuf> {
    // Drains retry deliveries before taking the lock, so two may rewrite one file at once: each
    // writes its own temporary copy.
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    fsutil::write_new_synced(&tmp, &serde_json::to_vec_pretty(kept)?)?;
    fsutil::rename(&tmp, path)?;
    Ok(path.to_owned())
}

/// Retries every kept delivery that is due. Cheap when the outbox is missing or nothing is due.
pub fn retry_due(queue: &Queue) -> Result<()> {
    let dir = dir(queue);
    let listing = match fs::read_dir(&dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
    };
    let now = clock::instant()?.as_second();
    for entry in listing.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(mut kept) = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Kept>(&b).ok())
        else {
            continue;
        };
        if kept.next_at > now {
            continue;
        }
        match kept.delivery.send() {
            Ok(status) => {
                tracing::info!(url = %kept.delivery.url, attempts = kept.attempts + 1, %status, "webhook delivered on retry");
                fsutil::remove_if_exists(&path)?;
            }
            Err(e) if now - kept.first_failed_at >= GIVE_UP_AFTER.as_secs() as i64 => {
                tracing::error!(url = %kept.delivery.url, attempts = kept.attempts + 1, error = %e, "webhook delivery given up after 24 h");
                fsutil::remove_if_exists(&path)?;
            }
            Err(e) => {
                kept.attempts += 1;
                kept.next_at = now + backoff(kept.attempts);
                kept.last_error = e;
                write(&path, &kept)?;
            }
        }
    }
    Ok(())
}

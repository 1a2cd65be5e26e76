//! Claiming a job: the move from `pending/` into `running/` that must be durable before it starts
//! (see the `queue` module for why).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::fsutil::{self, FileId};
use crate::queue::Queue;
use crate::queue::names::{self, Slot};
use crate::queue::record::ensure_dir;

/// A job moved into `running/`.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// The name it was queued under; its record is filed under it.
    pub name: OsString,
    /// Where it is in `running/`. The name there is numbered (`same.1.json`) when `same.json` is
    /// still there (the previous job of that name, whose record is not filed yet), and shortened
    /// when execq's own `.NAME.sidecar.tmp` would not fit beside it.
    pub path: PathBuf,
    /// The claimed file's identity: only this file is ever moved or removed as this job.
    pub id: FileId,
}

/// Moves `pending/name` into `running/` under a free name (never over another file). The claim is
/// not durable, and the job must not start, until [`sync_claims`] has returned. `None` when the
/// file vanished first (its producer took it back).
pub fn claim(queue: &Queue, name: &OsStr) -> Result<Option<Claimed>> {
    let from = queue.pending.join(name);
    let mut moved = names::try_move_to_free(&from, &queue.running, name, Slot::Running);
    if matches!(&moved, Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        && !queue.running.is_dir()
    {
        ensure_dir(&queue.running)?;
        moved = names::try_move_to_free(&from, &queue.running, name, Slot::Running);
    }
    let path = match moved {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.with_context(|| format!("failed to claim `{}`", from.display()))?,
    };
    Ok(FileId::at(&path).map(|id| Claimed {
        name: name.to_owned(),
        path,
        id,
    }))
}

/// Makes the claims made so far durable: after this, a power loss leaves them in `running/`.
pub fn sync_claims(queue: &Queue) -> Result<()> {
    fsutil::sync_dir(&queue.running)
}

/// Puts a claimed job back in `pending/` (it has not started). If a producer has written a new
/// file under its name meanwhile, that one is not replaced: the job stays in `running/`, where the
/// next drain records it as interrupted.
pub fn unclaim(queue: &Queue, job: &Claimed) -> Result<()> {
    let back = queue.pending.join(&job.name);
    if !fsutil::move_if_free(&job.path, &back)? {
        anyhow::bail!(
            "`{}` was taken by a new job meanwhile; the claimed one stays in running/",
            back.display()
        );
    }
    Ok(())
}

/// Whether the claimed file is still in `running/` (a job may remove or replace its own file).
pub fn still_there(job: &Claimed) -> bool {
    FileId::at(&job.path) == Some(job.id)
}

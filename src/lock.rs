//! The queue's exclusive lock: one drain at a time. A `flock` on `drain.lock`, released by the
//! kernel when the holder exits however it exits, so there is never a stale lock to clean up.
//! std opens files close-on-exec, so jobs never inherit it.

use std::fs::File;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::queue::Queue;
use crate::signals::Shutdown;

/// Held while draining; dropping it releases the lock.
#[derive(Debug)]
pub struct DrainLock {
    _file: File,
}

impl DrainLock {
    /// The lock file's descriptor, to keep open across [`crate::sys::fork_detached`].
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self._file)
    }
}

/// Takes the lock. Without `wait`, returns `None` at once if another drain holds it; with `wait`,
/// waits for it (until a stop signal arrives).
pub fn acquire(queue: &Queue, wait: bool, shutdown: &Shutdown) -> Result<Option<DrainLock>> {
    let file = queue.open_lock_file()?;
    loop {
        // Called through the trait: std's `File::try_lock` has a different signature.
        match fs2::FileExt::try_lock_exclusive(&file) {
            Ok(()) => return Ok(Some(DrainLock { _file: file })),
            Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
                if !wait || shutdown.requested().is_some() {
                    return Ok(None);
                }
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("failed to lock `{}`", queue.lock.display()));
            }
        }
    }
}

/// Whether some drain holds the lock right now (without taking it for longer than a moment).
pub fn is_held(queue: &Queue) -> Result<bool> {
    let file = queue.open_lock_file()?;
    match fs2::FileExt::try_lock_exclusive(&file) {
        Ok(()) => Ok(false),
        Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => Ok(true),
        Err(e) => Err(e).with_context(|| format!("failed to test lock `{}`", queue.lock.display())),
    }
}

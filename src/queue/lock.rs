//! The queue's exclusive lock: one drain at a time. A `flock` on `drain.lock`, released by the
//! kernel when the holder exits however it exits, so there is never a stale lock to clean up.
//! std opens files close-on-exec, so jobs never inherit it.
//!
//! A lock on a file is only as good as agreement on which file it is: if `drain.lock` is removed
//! or replaced while a drain holds it (someone cleaning up "stale lock files", a job), the next
//! drain would lock the new file and both would run, the second recording the first one's job
//! as interrupted. So a drain holds two locks: `drain.lock`, checked once taken to still be the
//! file at that path (else taken again on the new one), and the queue folder itself, which no
//! one replaces under a running drain. Either one held means a drain is working.

use std::fs::{File, OpenOptions};
use std::io;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::fsutil::FileId;
use crate::queue::Queue;
use crate::signals::Shutdown;

/// Held while draining; dropping it releases the lock.
#[derive(Debug)]
pub struct DrainLock {
    file: File,
    id: FileId,
    folder: File,
    /// The queue folder locked: if the path names another folder later (the queue was removed
    /// and made again), this drain no longer holds that queue.
    folder_id: FileId,
}

impl DrainLock {
    /// The descriptors to keep open across [`crate::sys::fork_detached`].
    pub fn fds(&self) -> [std::os::fd::BorrowedFd<'_>; 2] {
        use std::os::fd::AsFd;
        [self.file.as_fd(), self.folder.as_fd()]
    }

    /// A second descriptor of the lock on `drain.lock`: the lock is held while either is open
    /// (see `executor::Job::lock`). Drop it before the lock itself to let go of the queue.
    pub fn share(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// The locked folder's identity. A queue removed and made again under a drain (say by
    /// `rm -rf` and a new `submit`) is a new queue whose lock is free: a drain that went on taking
    /// its jobs would run beside that queue's own drain, which records the jobs it finds in
    /// `running/` as interrupted. See [`is_folder`].
    pub fn folder_id(&self) -> FileId {
        self.folder_id
    }
}

/// Whether `queue`'s folder is `id` (following a symlink, as opening it does).
pub fn is_folder(queue: &Queue, id: FileId) -> bool {
    std::fs::metadata(&queue.root).is_ok_and(|meta| FileId::of(&meta) == id)
}

/// Takes the lock. Without `wait`, returns `None` at once if another drain holds it; with `wait`,
/// waits for it (until a stop signal arrives).
pub fn acquire(queue: &Queue, wait: bool, shutdown: &Shutdown) -> Result<Option<DrainLock>> {
    loop {
        if let Some(lock) = try_acquire(queue)? {
            return Ok(Some(lock));
        }
        if !wait || shutdown.requested().is_some() {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn try_acquire(queue: &Queue) -> Result<Option<DrainLock>> {
    let Some((file, id)) = lock_file(queue)? else {
        return Ok(None);
    };
    let folder = File::open(&queue.root)
        .with_context(|| format!("failed to open `{}` to lock it", queue.root.display()))?;
    if !try_lock(&folder).with_context(|| format!("failed to lock `{}`", queue.root.display()))? {
        return Ok(None);
    }
    let folder_id = FileId::of(
        &folder
            .metadata()
            .with_context(|| format!("failed to stat `{}`", queue.root.display()))?,
    );
    Ok(Some(DrainLock {
        file,
        id,
        folder,
        folder_id,
    }))
}

/// Locks `drain.lock`, making sure the file locked is the one at the path.
fn lock_file(queue: &Queue) -> Result<Option<(File, FileId)>> {
    loop {
        let file = queue.open_lock_file()?;
        if !try_lock(&file).with_context(|| format!("failed to lock `{}`", queue.lock.display()))? {
            return Ok(None);
        }
        let meta = file
            .metadata()
            .with_context(|| format!("failed to stat `{}`", queue.lock.display()))?;
        let id = FileId::of(&meta);
        if FileId::at(&queue.lock) == Some(id) {
            return Ok(Some((file, id)));
        }
    }
}

/// Locks `drain.lock` again if it was replaced or removed under this drain (which still holds the
/// queue folder, so it is still the only drain), so that others see the queue taken.
pub fn reassert(queue: &Queue, held: &mut DrainLock) -> Result<()> {
    if FileId::at(&queue.lock) == Some(held.id) {
        return Ok(());
    }
    tracing::warn!(file = %queue.lock.display(), "the queue's lock file was replaced or removed while a drain held it; locking the new one");
    if let Some((file, id)) = lock_file(queue)? {
        held.file = file;
        held.id = id;
    }
    Ok(())
}

/// Whether some drain holds the lock right now (without taking it for longer than a moment).
/// Opens read-only and creates nothing: no lock file and no queue folder mean no drain.
pub fn is_held(queue: &Queue) -> Result<bool> {
    for path in [&queue.lock, &queue.root] {
        let file = match OpenOptions::new().read(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("failed to open `{}`", path.display()));
            }
        };
        let taken =
            try_lock(&file).with_context(|| format!("failed to test lock `{}`", path.display()))?;
        if !taken {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `flock(LOCK_EX | LOCK_NB)`: whether it was taken (`false`: another process holds it).
fn try_lock(file: &File) -> io::Result<bool> {
    // Called through the trait: std's `File::try_lock` has a different signature.
    match fs2::FileExt::try_lock_exclusive(file) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => Ok(false),
        Err(e) => Err(e),
    }
}

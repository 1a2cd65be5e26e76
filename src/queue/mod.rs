//! The queue on disk, and the promises its layout keeps.
//!
//! ```text
//! QUEUE/
//! ├── pending/      producers put job files here; drain only ever moves entries *out*
//! ├── running/      the jobs being run (one, or up to `--jobs`), plus execq's own dot-files for them
//! ├── completed/    records of jobs that exited 0
//! ├── failed/       records of everything else (failed, timeout, interrupted, error)
//! ├── results/      where a relative `result_file` lands
//! ├── tmp/          staging for atomic submission (`execq submit` writes here, then links)
//! ├── schedules/    recurring schedules (NAME.toml), and execq's markers in .state/ (see `cron`)
//! ├── archive/      YYYY-MM.jsonl.gz: records archived by [retention] (see `retention`)
//! ├── outbox/       webhook deliveries waiting to be retried (see `notify::outbox`)
//! ├── paused/       `queue` and `group.NAME`: what `execq pause` paused (see `pause`)
//! ├── config.toml   the queue's defaults (optional; see `config`)
//! ├── daemon.log    one line per event (rotated: daemon.log.1 .. .3)
//! ├── last-drain.json   what the last drain that did something recorded
//! ├── last-retention.json   when [retention] last ran, and what it did
//! └── drain.lock    held (flock) by the one drain working on the queue, which also locks QUEUE/
//! ```
//!
//! Invariants, given a local filesystem (flock and rename are not trustworthy over NFS):
//!
//! - **At most once.** A job is claimed by `rename(pending/x, running/x)` followed by an fsync of
//!   `running/`, before it starts ([`claim`]). The claim never replaces a file: if `running/x` is
//!   still there (the previous job of that name, not yet filed), the job is claimed as
//!   `running/x.1` and so on. After a crash it is found in `running/`, never back in
//!   `pending/`, and the next drain records it as `interrupted` instead of running it again.
//! - **Nothing lost.** A job is in exactly one of `pending/`, `running/`, `completed/`, `failed/`
//!   at every instant. Its record is written to a temporary dot-file in `running/`, fsynced, renamed
//!   to `running/.x.record` (or `.x.sidecar`), and only then moved to its final folder. The fsync
//!   of a record waits for the next job's claim, so one sync makes both durable and the next job
//!   starts after it (one journal commit per job, not two). The final
//!   folders are fsynced once per batch of jobs (before the lock is released, and before drain
//!   waits), not per job: until then a power loss can only put a finished record back in
//!   `running/`, which the next drain files with its real result. This relies, as every
//!   rename-based queue does, on rename being atomic (ext4, XFS, APFS, HFS+ journaled).
//!   A drain killed at any step leaves a state the next drain finishes:
//!   a job file alone in `running/` → `interrupted`; a job file with its finished record (or with
//!   a complete `.record.tmp`) → the move is completed; a finished record alone → it is moved; any
//!   other `.tmp` file → it is deleted.
//! - **Never overwritten.** Every move execq makes is a no-replace rename to a free name
//!   ([`names`]): a name already taken gets a numbered variant (`job.1.json`). A file in
//!   `running/` is moved or removed as a job only while it is still the file claimed (device,
//!   inode): a job may remove or replace its own file, and its record is filed all the same
//!   ([`record`]). Dot-files in `running/` are execq's own.
//! - **Quiet when idle.** Nothing drain writes lives in `pending/` (a write there would re-trigger
//!   launchd's WatchPaths), and a drain that finds no work creates, writes and logs nothing.

pub mod catalog;
pub mod claim;
pub mod edit;
pub mod enqueue;
pub mod forwarded;
pub mod index;
pub mod last_drain;
pub mod lock;
pub mod names;
pub mod pause;
pub mod pending;
pub mod record;
pub mod recover;
pub mod schedule;
pub mod taken;
pub mod watch;

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use crate::fsutil;
use crate::job::result::{JobResult, Status};
use crate::sys;

/// The folders and files of one queue.
#[derive(Clone, Debug)]
pub struct Queue {
    pub root: PathBuf,
    pub pending: PathBuf,
    pub running: PathBuf,
    pub completed: PathBuf,
    pub failed: PathBuf,
    pub results: PathBuf,
    pub tmp: PathBuf,
    pub log: PathBuf,
    pub lock: PathBuf,
}

/// Where a finished job's record goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbox {
    Completed,
    Failed,
}

impl Outbox {
    /// `completed/` for status `completed`, `failed/` for everything else.
    pub fn of(result: &JobResult) -> Self {
        if result.status == Status::Completed {
            Self::Completed
        } else {
            Self::Failed
        }
    }
}

impl Queue {
    /// The layout rooted at `root` (nothing is touched on disk).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            pending: root.join("pending"),
            running: root.join("running"),
            completed: root.join("completed"),
            failed: root.join("failed"),
            results: root.join("results"),
            tmp: root.join("tmp"),
            log: root.join("daemon.log"),
            lock: root.join("drain.lock"),
            root,
        }
    }

    /// The folder for `outbox`.
    pub fn outbox(&self, outbox: Outbox) -> &Path {
        match outbox {
            Outbox::Completed => &self.completed,
            Outbox::Failed => &self.failed,
        }
    }

    /// Creates every missing folder (mode 0700), then checks that the queue is safe to run from.
    /// On a queue that already exists this only stats the folders: nothing is written.
    pub fn open(&self) -> Result<()> {
        let dirs = [
            &self.pending,
            &self.running,
            &self.completed,
            &self.failed,
            &self.results,
            &self.tmp,
        ];
        for dir in dirs {
            if !dir.is_dir() {
                fsutil::create_private_dir(dir)
                    .with_context(|| format!("failed to create `{}`", dir.display()))?;
            }
        }
        self.check_ownership()
    }

    /// Whoever can write `pending/` can run commands as this user, so refuse a queue that another
    /// user owns or that group or others may write.
    pub fn check_ownership(&self) -> Result<()> {
        for dir in [&self.root, &self.pending] {
            let meta =
                fs::metadata(dir).with_context(|| format!("failed to stat `{}`", dir.display()))?;
            if meta.uid() != sys::euid() {
                bail!(
                    "refusing to use `{}`: it is owned by uid {}, not by you (uid {})",
                    dir.display(),
                    meta.uid(),
                    sys::euid()
                );
            }
            let mode = meta.permissions().mode();
            if mode & 0o022 != 0 {
                bail!(
                    "refusing to use `{}`: its mode {:o} lets other users add jobs; run `chmod go-w {}`",
                    dir.display(),
                    mode & 0o777,
                    dir.display()
                );
            }
        }
        Ok(())
    }

    /// A temporary file in `tmp/` for this process: `STEM.N.PID.tmp`. Every writer in `tmp/` names
    /// its files this way, so a drain can tell (with [`temp_owner`]) which were left by a process
    /// that no longer exists and remove them.
    pub fn temp_path(&self, stem: &str) -> PathBuf {
        // Numbered within the process: a server's threads (MCP, the dashboard) each get their own.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.tmp
            .join(format!("{stem}.{n}.{}.tmp", std::process::id()))
    }

    /// Opens (creating if needed) the lock file. Opening an existing file writes nothing.
    pub fn open_lock_file(&self) -> Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock)
            .with_context(|| format!("failed to open lock file `{}`", self.lock.display()))
    }
}

/// Sorts `items` the way the queue orders jobs: oldest first, ties broken by name (byte order).
pub fn oldest_first<T>(items: &mut [T], key: impl Fn(&T) -> (SystemTime, &OsStr)) {
    items.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// The pid that owns a temporary file named by [`Queue::temp_path`].
pub fn temp_owner(name: &str) -> Option<u32> {
    name.strip_suffix(".tmp")?.rsplit('.').next()?.parse().ok()
}

/// The queue used when neither `--queue` nor `EXECQ_QUEUE` names one.
///
/// macOS: `~/Library/Application Support/execq/queue` (launchd jobs may not read ~/Documents or
/// ~/Desktop). Elsewhere: `$XDG_DATA_HOME/execq/queue`, else `~/.local/share/execq/queue`.
pub fn default_root() -> Result<PathBuf> {
    let home = sys::home()
        .context("no queue given: pass --queue DIR or set EXECQ_QUEUE (HOME is not set either)")?;
    let xdg_data_home = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from);
    Ok(sys::data_home(&home, xdg_data_home).join("execq/queue"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_their_owner() {
        let queue = Queue::new("/q");
        for stem in ["last-drain.json", "retry", "20261124-1.2-job"] {
            let path = queue.temp_path(stem);
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(temp_owner(name), Some(std::process::id()), "{name}");
        }
        assert_eq!(temp_owner("notes.txt"), None);
        assert_eq!(temp_owner("x.json.tmp"), None);
    }
}

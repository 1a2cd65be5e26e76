//! An index of the records in `completed/` and `failed/`, so that a queue holding a million
//! records answers a lookup, a "newest twenty" or a count as fast as an empty one, in a few
//! kilobytes of memory. It is derived from the records — rebuilt from them whenever it cannot
//! vouch for them — and never the source of truth: every line is checked against the file it
//! names before it is believed.
//!
//! ```text
//! QUEUE/index/
//!   lock            flock'd by every process that changes completed/ or failed/
//!   stamp           what the index vouches for (below), rewritten in place
//!   G/completed     one line per record filed, in filing order: TIME_NS \t INODE \t FILE
//!   G/failed
//!   G/keys/XY       256 buckets by a hash of the key: KEY \t c|f \t FILE
//! ```
//!
//! `FILE` is the file that holds the record (the merged JSON job, or the `.result.json` sidecar),
//! `TIME_NS` its modification time; the keys of a record are its task_id and its name without
//! extension or the number a namesake's record was filed under (`build.jobs.3.json` →
//! `build.jobs`), which is enough to find it by its file name, stem or task_id (`read.rs`).
//! `G` is the generation: a rebuild writes a new one beside the old and moves the stamp to it, so
//! a reader never sees one half-written.
//!
//! **What the stamp vouches for.** The identity and modification time of both folders, the
//! counts of records in each, and the boot it was written in. While both folders are as the stamp
//! says (in this boot), every record in them has its lines. Every execq process that changes
//! either folder does so holding the lock, through a [`Change`]: it notes whether the stamp
//! vouched for the folders before, makes its change, appends the lines of the records it filed,
//! and moves the stamp to the folders' new times — only if the stamp vouched before. Anything else
//! leaves the folders' times ahead of the stamp: a crash between the change and the stamp, a
//! person copying records in or deleting some, a folder removed and made again. The index is then
//! rebuilt from the records before it is next used (`build.rs`). Nothing here is synced: a power
//! loss may lose an append but keep the stamp, so a stamp from another boot vouches for nothing.
//!
//! Lines of records that left (archived, retried, removed by hand) stay until the next rebuild:
//! the check against the file skips them, and the drain rebuilds when they outnumber the records.

mod build;
mod change;
mod check;
mod lines;
mod read;

use std::fs::{self, File};
use std::io;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;

use crate::fsutil;
use crate::queue::Queue;
use crate::queue::catalog::State;

pub use build::rebuild;
pub use change::{Change, TaskId};
pub use check::check;
pub use lines::name_key;
use lines::stem;
use lines::{bucket_of, bucket_path, escape_into, hash, lines, time_ns, unescape};
pub use read::{count, lookup, newest, oldest_first};

/// How many key buckets: at a million records a lookup reads one of about 200 KB. Few enough
/// to be made all at once with the index (making a file is the dearest step of an append).
const BUCKETS: u64 = 256;
const MAGIC: &str = "execq-index 3";
/// The stamp's length, its newline aside (padded with spaces).
const STAMP_LEN: usize = 383;

/// The index's folder.
pub fn dir(queue: &Queue) -> PathBuf {
    queue.root.join("index")
}

/// A folder as the stamp knows it: identity and modification time (all zero: missing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Folder {
    dev: u64,
    ino: u64,
    sec: i64,
    nsec: i64,
}

impl Folder {
    fn now(dir: &Path) -> Self {
        match fs::metadata(dir) {
            Ok(m) => Self {
                dev: m.dev(),
                ino: m.ino(),
                sec: m.mtime(),
                nsec: m.mtime_nsec(),
            },
            Err(_) => Self::default(),
        }
    }
}

/// What the index vouches for (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    generation: u64,
    boot: String,
    folders: [Folder; 2],
    counts: [u64; 2],
    /// Lines in the time logs, live or not: when far more than the records, a rebuild is due.
    lines: u64,
}

fn slot(state: State) -> usize {
    match state {
        State::Failed => 1,
        _ => 0,
    }
}

fn folders_now(queue: &Queue) -> [Folder; 2] {
    [Folder::now(&queue.completed), Folder::now(&queue.failed)]
}

fn boot() -> &'static str {
    static BOOT: OnceLock<String> = OnceLock::new();
    BOOT.get_or_init(|| crate::sys::boot_id().unwrap_or_default())
}

impl Stamp {
    /// How many records the index counts in `state` (`completed` or `failed`).
    pub fn count(&self, state: State) -> u64 {
        self.counts[slot(state)]
    }

    /// Whether this stands for an index not made yet, of folders without records.
    fn is_empty_queue(&self) -> bool {
        self.generation == 0
    }

    fn generation_dir(&self, queue: &Queue) -> PathBuf {
        dir(queue).join(self.generation.to_string())
    }

    fn vouches_for(&self, now: &[Folder; 2]) -> bool {
        !self.boot.is_empty() && self.boot == boot() && &self.folders == now
    }

    fn format(&self) -> String {
        let folder = |f: &Folder, n: u64| format!("{},{},{},{},{}", f.dev, f.ino, f.sec, f.nsec, n);
        let body = format!(
            "{MAGIC} gen={} boot={} completed={} failed={} lines={}",
            self.generation,
            self.boot,
            folder(&self.folders[0], self.counts[0]),
            folder(&self.folders[1], self.counts[1]),
            self.lines
        );
        // Always the same length, so that it is rewritten in place (see `write`).
        let line = format!("{body} sum={:016x}", hash(body.as_bytes()));
        format!("{line:<STAMP_LEN$}\n")
    }

    fn parse(text: &str) -> Option<Self> {
        let line = text.strip_suffix('\n')?.trim_end_matches(' ');
        let (body, sum) = line.rsplit_once(" sum=")?;
        if u64::from_str_radix(sum, 16).ok()? != hash(body.as_bytes()) {
            return None;
        }
        let rest = body.strip_prefix(MAGIC)?.strip_prefix(' ')?;
        let mut stamp = Self::default();
        for field in rest.split(' ') {
            let (key, value) = field.split_once('=')?;
            match key {
                "gen" => stamp.generation = value.parse().ok()?,
                "boot" => stamp.boot = value.to_owned(),
                "lines" => stamp.lines = value.parse().ok()?,
                "completed" | "failed" => {
                    let i = usize::from(key == "failed");
                    let n: Vec<&str> = value.split(',').collect();
                    let [dev, ino, sec, nsec, count] = n[..] else {
                        return None;
                    };
                    stamp.folders[i] = Folder {
                        dev: dev.parse().ok()?,
                        ino: ino.parse().ok()?,
                        sec: sec.parse().ok()?,
                        nsec: nsec.parse().ok()?,
                    };
                    stamp.counts[i] = count.parse().ok()?;
                }
                _ => return None,
            }
        }
        Some(stamp)
    }

    fn read(queue: &Queue) -> Option<Self> {
        Self::parse(&fs::read_to_string(dir(queue).join("stamp")).ok()?)
    }

    /// Replaces the stamp (the caller holds the lock).
    /// Rewritten in place, one write of the same length, when it exists (a filing then allocates
    /// and renames nothing, which every sync would otherwise pay for); made anew and renamed
    /// into place the first time. A reader that catches a write half done finds its checksum
    /// wrong and waits for the lock.
    fn write(&self, queue: &Queue) -> io::Result<()> {
        let index = dir(queue);
        let text = self.format();
        if text.len() == STAMP_LEN + 1
            && fsutil::overwrite_same_length(&index.join("stamp"), text.as_bytes())?
        {
            return Ok(());
        }
        let tmp = index.join("stamp.tmp");
        // Made anew (never through whatever stands at that name), then renamed over the stamp.
        fsutil::discard(&tmp);
        fsutil::write_new(&tmp, text.as_bytes()).map_err(io::Error::other)?;
        fsutil::try_rename(&tmp, &index.join("stamp"))
    }
}

/// The index's lock, held: no other execq process changes `completed/` or `failed/` meanwhile.
struct Locked {
    _file: File,
}

fn lock(queue: &Queue) -> io::Result<Locked> {
    let index = dir(queue);
    fsutil::create_private_dir(&index)?;
    if !fs::symlink_metadata(&index)?.is_dir() {
        return Err(io::Error::other(format!(
            "`{}` is not a folder (execq keeps the index of records there; remove it)",
            index.display()
        )));
    }
    let path = index.join("lock");
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fsutil::append(&path, b"")?;
            File::open(&path)?
        }
        Err(e) => return Err(e),
    };
    fs2::FileExt::lock_exclusive(&file)?;
    Ok(Locked { _file: file })
}

/// Rebuilds the index now (`execq reindex`), whatever the stamp says.
pub fn rebuild_now(queue: &Queue) -> anyhow::Result<Stamp> {
    let _locked = lock(queue).context("failed to lock the index of records")?;
    rebuild(queue)
}

/// Rebuilds the index if lines of records that left (archived, retried, removed) outnumber the
/// records: for a drain that did work. Reads only the stamp otherwise.
pub fn tidy(queue: &Queue) -> anyhow::Result<()> {
    let due = |s: &Stamp| s.lines > 2 * (s.counts[0] + s.counts[1]) + 10_000;
    if !fresh(queue).is_some_and(|s| due(&s)) {
        return Ok(());
    }
    let _locked = lock(queue).context("failed to lock the index of records")?;
    if fresh(queue).is_some_and(|s| due(&s)) {
        rebuild(queue)?;
    }
    Ok(())
}

/// The stamp, if it vouches for both folders as they are now.
pub fn fresh(queue: &Queue) -> Option<Stamp> {
    let stamp = Stamp::read(queue)?;
    stamp.vouches_for(&folders_now(queue)).then_some(stamp)
}

/// The stamp, rebuilding the index first if it does not vouch for the folders; `None` when the
/// index cannot be made here (a queue this user may read but not write): the caller reads the
/// folders themselves.
pub fn usable(queue: &Queue) -> Option<Stamp> {
    if let Some(stamp) = fresh(queue) {
        return Some(stamp);
    }
    // A queue that has never had a record has nothing to index: nothing is written for it.
    if Stamp::read(queue).is_none() && now_empty(queue) {
        return Some(Stamp::default());
    }
    // A queue whose owner made it read-only is only read, whoever reads it (root included).
    if !writable(&queue.root) || !writable(&dir(queue)) {
        return None;
    }
    let _locked = lock(queue).ok()?;
    // Another process may have rebuilt it while this one waited for the lock.
    if let Some(stamp) = fresh(queue) {
        return Some(stamp);
    }
    match rebuild(queue) {
        Ok(stamp) => Some(stamp),
        Err(e) => {
            tracing::warn!("could not rebuild the index of records: {e:#}");
            None
        }
    }
}

/// Whether `dir`'s mode lets its owner write in it (a missing one: yes).
fn writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(dir).map_or(true, |m| m.permissions().mode() & 0o200 != 0)
}

/// Whether neither folder holds a record (or exists).
fn now_empty(queue: &Queue) -> bool {
    [&queue.completed, &queue.failed]
        .iter()
        .all(|dir| match fs::read_dir(dir) {
            Ok(mut listing) => {
                !listing.any(|e| e.is_ok_and(|e| !super::names::is_internal(&e.file_name())))
            }
            Err(_) => true,
        })
}

/// An empty index for a queue without records (the caller holds the lock).
fn start(queue: &Queue) -> io::Result<Stamp> {
    let stamp = Stamp {
        generation: 1,
        boot: boot().to_owned(),
        folders: folders_now(queue),
        ..Stamp::default()
    };
    make_generation(&stamp.generation_dir(queue))?;
    stamp.write(queue)?;
    Ok(stamp)
}
/// A generation's folder with every file it will append to, empty: a filing then creates none.
fn make_generation(generation: &Path) -> io::Result<()> {
    let keys = generation.join("keys");
    fsutil::create_private_dir(&keys)?;
    let mut files: Vec<PathBuf> = (0..BUCKETS).map(|b| bucket_path(generation, b)).collect();
    files.push(generation.join(State::Completed.as_str()));
    files.push(generation.join(State::Failed.as_str()));
    fsutil::create_empty_files(&keys, &files)
}

#[cfg(test)]
mod tests;

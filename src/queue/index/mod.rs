//! An index of the records in `completed/` and `failed/`, so that a queue holding a million
//! records answers a lookup, a "newest twenty" or a count as fast as an empty one, in a few
//! kilobytes of memory. It is derived from the records — rebuilt from them whenever it cannot
//! vouch for them — and never the source of truth: every line is checked against the file it
//! names before it is believed.
//!
//! ```text
//! QUEUE/index/
//!   lock            flock'd by every process that changes completed/ or failed/
//!   stamp           what the index vouches for (below), replaced by a rename
//!   G/completed     one line per record filed, in filing order: TIME_NS \t FILE
//!   G/failed
//!   G/keys/XYZ      4,096 buckets by a hash of the key: KEY \t c|f \t FILE
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
mod check;
mod read;

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;

use crate::fsutil;
use crate::queue::Queue;
use crate::queue::catalog::State;

pub use build::rebuild;
pub use check::check;
pub use read::{count, lookup, newest, oldest_first};

/// How many key buckets: at a million records a lookup reads one of about 12 KB.
const BUCKETS: u64 = 4096;
const MAGIC: &str = "execq-index 2";

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
        format!("{body} sum={:016x}\n", hash(body.as_bytes()))
    }

    fn parse(text: &str) -> Option<Self> {
        let line = text.strip_suffix('\n')?;
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
    fn write(&self, queue: &Queue) -> io::Result<()> {
        let index = dir(queue);
        let tmp = index.join("stamp.tmp");
        // Made anew (never through whatever stands at that name), then renamed over the stamp.
        fsutil::discard(&tmp);
        fsutil::write_new(&tmp, self.format().as_bytes()).map_err(io::Error::other)?;
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

/// A filed record's task_id, for its keys.
#[derive(Clone, Copy, Debug)]
pub enum TaskId<'a> {
    /// The filer knows it (`None`: the job has none).
    Known(Option<&'a str>),
    /// Read from the record (after a crash, where the job is not at hand).
    InRecord,
}

/// A change to `completed/` or `failed/` by this process: made between [`Change::begin`] and
/// [`Change::commit`], which keep the index vouching for the folders (see the module docs).
/// Dropped without a commit (an error on the way), the index stops vouching and is rebuilt when
/// next used.
pub struct Change {
    locked: Option<(Locked, Stamp)>,
    time_lines: [Vec<u8>; 2],
    key_lines: Vec<(u64, Vec<u8>)>,
    removed: [u64; 2],
    /// The queue, while the lock is held.
    queue: Option<Queue>,
    /// The folders as the last step of this change left them.
    after: Option<[Folder; 2]>,
}

impl Change {
    /// Takes the lock and notes whether the index vouches for the folders now. Never fails: an
    /// index that cannot be kept here is left to be rebuilt.
    pub fn begin(queue: &Queue) -> Self {
        let locked = lock(queue).ok().and_then(|locked| {
            let now = folders_now(queue);
            let stamp = match Stamp::read(queue) {
                Some(stamp) => stamp,
                // A queue that has never had a record starts with an empty index.
                None if now_empty(queue) => start(queue).ok()?,
                None => return None,
            };
            stamp.vouches_for(&now).then_some((locked, stamp))
        });
        let kept = locked.is_some().then(|| queue.clone());
        Self {
            locked,
            time_lines: [Vec::new(), Vec::new()],
            key_lines: Vec::new(),
            removed: [0, 0],
            queue: kept,
            after: None,
        }
    }

    /// This change filed the record `dir/file` in `state`, for the job `name` (the job file
    /// beside a sidecar record, else `file` itself), with `task_id`.
    pub fn filed(&mut self, state: State, record: &Path, name: &OsStr, task_id: TaskId<'_>) {
        self.settled();
        if self.locked.is_none() {
            return;
        }
        let Some(file) = record.file_name() else {
            return;
        };
        let read;
        let task_id = match task_id {
            TaskId::Known(known) => known,
            TaskId::InRecord => {
                read = build::task_id(record);
                read.as_deref()
            }
        };
        let Ok(meta) = fs::symlink_metadata(record) else {
            return;
        };
        let (time_lines, key_lines) = lines(state, file, name, task_id, &meta);
        self.time_lines[slot(state)].extend_from_slice(&time_lines);
        self.key_lines.extend(key_lines);
    }

    /// Notes the folders as this change left them: called right after each step of it, so that
    /// what another process does to them meanwhile is not taken for part of it.
    fn settled(&mut self) {
        if let Some(queue) = &self.queue {
            self.after = Some(folders_now(queue));
        }
    }

    /// This change did what it cannot count (finished what a killed process began): the index
    /// will be rebuilt rather than vouch for the folders after it.
    pub fn forget(&mut self) {
        if let Some((_, stamp)) = self.locked.as_mut() {
            stamp.boot.clear();
        }
    }

    /// This change took a record out of `state` (archived, retried, removed).
    pub fn removed(&mut self, state: State, n: u64) {
        self.settled();
        self.removed[slot(state)] += n;
    }

    /// Appends the lines and moves the stamp to the folders as they are now.
    pub fn commit(mut self, queue: &Queue) {
        let Some((_locked, mut stamp)) = self.locked.take() else {
            return;
        };
        if let Err(e) = self.apply(queue, &mut stamp) {
            tracing::debug!("the index of records was not updated ({e}); it will be rebuilt");
        }
    }

    fn apply(&self, queue: &Queue, stamp: &mut Stamp) -> io::Result<()> {
        let generation = stamp.generation_dir(queue);
        if !fs::symlink_metadata(&generation)?.is_dir() {
            return Err(io::Error::other("the index's generation is not a folder"));
        }
        for (state, lines) in [State::Completed, State::Failed]
            .iter()
            .zip(&self.time_lines)
        {
            if !lines.is_empty() {
                fsutil::append(&generation.join(state.as_str()), lines)?;
                stamp.lines += lines.iter().filter(|&&b| b == b'\n').count() as u64;
            }
        }
        for (bucket, line) in &self.key_lines {
            fsutil::append(&bucket_path(&generation, *bucket), line)?;
        }
        for i in 0..2 {
            let added = self.time_lines[i].iter().filter(|&&b| b == b'\n').count() as u64;
            stamp.counts[i] = (stamp.counts[i] + added).saturating_sub(self.removed[i]);
        }
        stamp.folders = self.after.unwrap_or_else(|| folders_now(queue));
        stamp.write(queue)
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
    fsutil::create_private_dir(&stamp.generation_dir(queue).join("keys"))?;
    stamp.write(queue)?;
    Ok(stamp)
}

/// The time line and key lines for one record.
fn lines(
    state: State,
    file: &OsStr,
    name: &OsStr,
    task_id: Option<&str>,
    meta: &fs::Metadata,
) -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let mut time_line = format!("{}\t{}\t", time_ns(meta), meta.ino()).into_bytes();
    escape_into(file.as_bytes(), &mut time_line);
    time_line.push(b'\n');
    let mut keys = vec![name_key(name)];
    if let Some(task_id) = task_id.filter(|t| *t != keys[0]) {
        keys.push(task_id.to_owned());
    }
    let tag = if state == State::Failed { b'f' } else { b'c' };
    let key_lines = keys
        .into_iter()
        .map(|key| {
            let mut line = Vec::new();
            escape_into(key.as_bytes(), &mut line);
            line.extend_from_slice(&[b'\t', tag, b'\t']);
            escape_into(file.as_bytes(), &mut line);
            line.push(b'\n');
            (bucket_of(&key), line)
        })
        .collect();
    (time_line, key_lines)
}

/// The key a job's file name is found by: as shown, without its extension, and without the
/// number its record was filed under if it was a namesake's (`x.2.json` → `x`).
pub fn name_key(name: &OsStr) -> String {
    let shown = super::names::display_name(name);
    let stem = stem(&shown);
    match stem.rsplit_once('.') {
        Some((base, n))
            if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base.to_owned()
        }
        _ => stem.to_owned(),
    }
}

/// `job.tar.gz` → `job.tar` (as [`super::names::split_ext`]).
fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    }
}

fn time_ns(meta: &fs::Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

fn bucket_of(key: &str) -> u64 {
    hash(key.as_bytes()) % BUCKETS
}

fn bucket_path(generation: &Path, bucket: u64) -> PathBuf {
    generation.join("keys").join(format!("{bucket:03x}"))
}

/// FNV-1a: stable across versions and platforms, which the buckets' names rely on.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes `bytes` with `%`, tab, CR and LF as `%XX`, so a line splits one way only.
fn escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            b'%' | b'\t' | b'\n' | b'\r' => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            _ => out.push(b),
        }
    }
}

fn unescape(bytes: &[u8]) -> Option<OsString> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(OsString::from_vec(out))
}

#[cfg(test)]
mod tests;

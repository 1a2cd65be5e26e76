//! Reading `pending/`: which entries are jobs, in what order, and when each is ready.
//!
//! Order: oldest modification time first, ties broken by name (byte order).
//!
//! Readiness — the rule that keeps a half-written job from running:
//! - a `.json` file that parses as a complete JSON object is ready at once (no proper prefix of a
//!   JSON object parses, so a producer still writing it is never mistaken for done);
//! - everything else (scripts, JSON that does not parse yet, unsupported names, symlinks,
//!   non-files) is acted on only once it has been *quiet* for the settle period (default 2 s):
//!   its modification time is that old, or drain has watched its size and mtime stay unchanged
//!   that long (which also covers mtimes in the future). A producer writing in place must not
//!   pause longer than that between writes; writing elsewhere and renaming in is always safe.
//! - Names starting with `.` are never touched.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::DirEntryExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::fsutil::FileId;
use crate::job::{self, Format, JobError};
use crate::queue::names::is_internal;
use crate::sys;

/// Largest job file execq reads (1 MiB); a bigger one fails without being read.
pub const MAX_JOB_BYTES: u64 = 1024 * 1024;

/// One candidate in `pending/`.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: OsString,
    pub mtime: SystemTime,
    /// Its inode (from the directory listing, no `stat`): a job rewritten in place (`execq
    /// edit`, `hold`, `release`) is a new file under the same name.
    pub ino: u64,
}

/// Lists the non-dot entries of `pending/`, oldest first. A `pending/` that is gone (a job
/// removed it) holds nothing; the next drain creates it again.
pub fn scan(pending: &Path) -> Result<Vec<Entry>> {
    scan_with_edits(pending).map(|(entries, _)| entries)
}

/// [`scan`], and the dot-names of jobs an edit has taken (see `queue::edit`).
pub fn scan_with_edits(pending: &Path) -> Result<(Vec<Entry>, Vec<OsString>)> {
    let read = || -> io::Result<(Vec<Entry>, Vec<OsString>)> {
        let mut entries = Vec::new();
        let mut edits = Vec::new();
        let dir = match fs::read_dir(pending) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((entries, edits)),
            other => other?,
        };
        for entry in dir {
            let entry = entry?;
            let name = entry.file_name();
            if is_internal(&name) {
                if crate::queue::edit::is_edit(&name) {
                    edits.push(name);
                }
                continue;
            }
            let mtime = match entry.metadata() {
                Ok(meta) => meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            entries.push(Entry {
                name,
                mtime,
                ino: entry.ino(),
            });
        }
        crate::queue::oldest_first(&mut entries, |e| (e.mtime, &e.name));
        Ok((entries, edits))
    };
    read().with_context(|| format!("failed to read `{}`", pending.display()))
}

/// Whether `pending/` holds an entry (not a dot-file) that is not in `known` (name and inode) — a
/// job that arrived, or was rewritten, since the entries in `known` were looked at.
pub fn has_new_entries(pending: &Path, known: &HashSet<(OsString, u64)>) -> Result<bool> {
    let mut dir = match fs::read_dir(pending) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        other => other.with_context(|| format!("failed to read `{}`", pending.display()))?,
    };
    Ok(dir.any(|e| {
        e.is_ok_and(|e| {
            let name = e.file_name();
            !is_internal(&name) && !known.contains(&(name, e.ino()))
        })
    }))
}

/// How many entries (not dot-files) `pending/` holds; 0 if it cannot be read.
pub fn count(pending: &Path) -> usize {
    fs::read_dir(pending).map_or(0, |dir| {
        dir.filter(|e| e.as_ref().is_ok_and(|e| !is_internal(&e.file_name())))
            .count()
    })
}

/// A job file read from `pending/` and judged ready.
#[derive(Debug)]
pub struct Loaded {
    pub name: OsString,
    pub format: Format,
    pub bytes: Vec<u8>,
    /// For a `.json` file: the parsed object, or why it is not one.
    pub json: Option<Result<Map<String, Value>, JobError>>,
    /// Why the entry cannot be a job at all (symlink, not a file, too big, unreadable, ...).
    pub refusal: Option<JobError>,
    /// The identity of what was read, to tell whether the file claimed is this one.
    pub id: FileId,
}

/// What to do with an entry now.
#[derive(Debug)]
pub enum Intake {
    Ready(Loaded),
    /// Not quiet yet; look again at this instant.
    NotYet(Instant),
    /// It disappeared before drain got to it.
    Gone,
}

/// Tracks how long each not-yet-ready entry has looked unchanged.
#[derive(Debug)]
pub struct Settle {
    period: Duration,
    seen: HashMap<OsString, (u64, SystemTime, Instant)>,
}

impl Settle {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            seen: HashMap::new(),
        }
    }

    /// `Ok` if the entry has been quiet for the settle period, else when to look again.
    fn quiet(&mut self, name: &OsStr, len: u64, mtime: SystemTime) -> Result<(), Instant> {
        let now = Instant::now();
        let age = SystemTime::now()
            .duration_since(mtime)
            .unwrap_or(Duration::ZERO);
        let first_seen = match self.seen.get(name) {
            Some(&(l, m, since)) if l == len && m == mtime => since,
            _ => {
                self.seen.insert(name.to_owned(), (len, mtime, now));
                now
            }
        };
        let watched = now.duration_since(first_seen);
        if age.max(watched) >= self.period {
            self.seen.remove(name);
            return Ok(());
        }
        Err(now + self.period - age.max(watched))
    }
}

/// Looks at `pending/name` and decides whether it is ready. The entry is `lstat`ed before it is
/// opened (so a device or FIFO is never opened), then opened without following links or blocking,
/// and checked again on the open descriptor in case it was swapped in between.
pub fn intake(pending: &Path, name: &OsStr, settle: &mut Settle) -> Result<Intake> {
    let Some((loaded, meta)) = load(&pending.join(name), name)? else {
        return Ok(Intake::Gone);
    };
    if !matches!(loaded.json, Some(Ok(_)))
        && let Err(when) = settle.quiet(name, meta.len(), modified(&meta))
    {
        return Ok(Intake::NotYet(when));
    }
    Ok(Intake::Ready(loaded))
}

/// Reads the entry at `path` with the care [`intake`] describes, without judging readiness.
/// `None` when it is gone. Also returns the metadata readiness is judged by.
pub fn load(path: &Path, name: &OsStr) -> Result<Option<(Loaded, fs::Metadata)>> {
    let display = || name.to_string_lossy().into_owned();
    let refused = |meta: fs::Metadata, why: JobError| {
        let loaded = Loaded {
            name: name.to_owned(),
            format: Format::of(name),
            bytes: Vec::new(),
            json: None,
            refusal: Some(why),
            id: FileId::of(&meta),
        };
        Ok(Some((loaded, meta)))
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to stat `{}`", path.display())),
    };
    if let Some(why) = refusal(&meta, display) {
        return refused(meta, why);
    }
    let file = match sys::open_nofollow(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if sys::is_symlink_refusal(&e) => {
            return refused(meta, JobError::Symlink(display()));
        }
        Err(e) => return refused(meta, JobError::Unreadable(display(), e.to_string())),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("failed to stat `{}`", path.display()))?;
    if let Some(why) = refusal(&meta, display) {
        return refused(meta, why);
    }
    let bytes = match read_capped(file) {
        Ok(bytes) => bytes,
        Err(e) => return refused(meta, JobError::Unreadable(display(), e.to_string())),
    };
    let format = Format::of(name);
    let json = (format == Format::Json).then(|| job::parse_object(&bytes));
    let id = FileId::of(&meta);
    Ok(Some((
        Loaded {
            name: name.to_owned(),
            format,
            bytes,
            json,
            refusal: None,
            id,
        },
        meta,
    )))
}

/// Why an entry with this metadata can never be a job, if it cannot.
fn refusal(meta: &fs::Metadata, name: impl Fn() -> String) -> Option<JobError> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        Some(JobError::Symlink(name()))
    } else if !ft.is_file() {
        Some(JobError::NotAFile(name(), kind_of(meta)))
    } else if meta.len() > MAX_JOB_BYTES {
        Some(JobError::TooLarge {
            size: meta.len(),
            limit: MAX_JOB_BYTES,
        })
    } else if meta.uid() != sys::euid() {
        Some(JobError::ForeignOwner {
            name: name(),
            uid: meta.uid(),
        })
    } else {
        None
    }
}

fn modified(meta: &fs::Metadata) -> SystemTime {
    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Reads a job file that is already claimed, with the same care as [`intake`]: a symlink, FIFO,
/// device or oversized file yields `None` instead of being followed, opened or read.
pub fn read_regular(path: &Path) -> Option<Vec<u8>> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() || meta.len() > MAX_JOB_BYTES {
        return None;
    }
    let file = sys::open_nofollow(path).ok()?;
    file.metadata().ok().filter(|m| m.is_file())?;
    read_capped(file).ok()
}

fn read_capped(file: File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(MAX_JOB_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn kind_of(meta: &fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

//! Reading a queue's contents for people and tools: every job in every state, with what it runs
//! and how it ended. Used by `status`, `list`, `show` and `retry`; never writes.
//!
//! Here: listing a state's folder and reading its entries. Finding one job by name or task_id is
//! in `find.rs`; the jobs as the scheduling rules see them in `scheduling.rs`.

mod find;
mod scheduling;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::fsutil;
use crate::job::result::JobResult;
use crate::job::schedule::Schedule;
use crate::job::{self, Format};
use crate::queue::pending::MAX_JOB_BYTES;
use crate::queue::record::read_json;
use crate::queue::{self, Queue, index};

pub use find::{find_all, one, records_named};
pub use scheduling::{known_in, known_named, waiting};

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Running,
    Completed,
    Failed,
}

impl State {
    pub const ALL: [State; 4] = [
        State::Pending,
        State::Running,
        State::Completed,
        State::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn dir(self, queue: &Queue) -> &Path {
        match self {
            Self::Pending => &queue.pending,
            Self::Running => &queue.running,
            Self::Completed => &queue.completed,
            Self::Failed => &queue.failed,
        }
    }
}

/// One job as found on disk.
#[derive(Clone, Debug)]
pub struct Entry {
    pub state: State,
    /// The file name for people: bytes that are not UTF-8 shown as `\xNN` (see
    /// [`crate::queue::names::display_name`]).
    pub name: String,
    /// The file name as it is on disk.
    pub file_name: OsString,
    /// A record kept without its job file: the job removed its own file while it ran, or it was
    /// retried (`retried_as` in the record) and the file went back to `pending/`.
    pub orphan: bool,
    /// The job file (or, for a JSON job that finished, its record).
    pub path: PathBuf,
    /// The identity of the file at `path` when it was listed: a claim's rename keeps it, so a job
    /// found pending is still known in `running/` (see `queue::watch`).
    pub id: fsutil::FileId,
    /// `<name>.result.json`, for records kept beside the job.
    pub sidecar: Option<PathBuf>,
    /// Modification time: when it was queued (pending), claimed (running) or recorded.
    pub time: SystemTime,
    /// The JSON object, when the job file is one.
    pub object: Option<Map<String, Value>>,
    pub result: Option<JobResult>,
}

impl Entry {
    pub fn task_id(&self) -> Option<&str> {
        self.object.as_ref()?.get("task_id")?.as_str()
    }

    /// What the job runs, in one line.
    pub fn command(&self) -> String {
        if self.orphan {
            return match self.retried_as() {
                Some(new) => format!("(retried as {new})"),
                None => "(its job file was removed while it ran)".into(),
            };
        }
        if let Some(object) = &self.object {
            return match job::from_json(object) {
                Ok(spec) => job::summary(&spec.program, Path::new(&self.file_name)),
                Err(_) => match object.get("command") {
                    Some(Value::String(command)) => job::shorten(command, 120),
                    Some(other) => job::shorten(&other.to_string(), 120),
                    None => "?".into(),
                },
            };
        }
        match Format::of(&self.file_name) {
            Format::Script => {
                first_line(&self.path).map_or_else(|| "(script)".into(), |l| job::shorten(&l, 120))
            }
            _ => "-".into(),
        }
    }

    /// The job's scheduling fields (the defaults for anything but a valid JSON job).
    pub fn schedule(&self) -> Schedule {
        self.object
            .as_ref()
            .and_then(|o| Schedule::of(o).ok())
            .unwrap_or_default()
    }

    /// For the old record of a retried script: the name it went back to `pending/` under.
    pub fn retried_as(&self) -> Option<String> {
        let sidecar = self.sidecar.as_ref().filter(|_| self.orphan)?;
        let object = read_object(sidecar)?;
        object.get("retried_as")?.as_str().map(str::to_owned)
    }

    /// The whole record: the merged JSON job, or the sidecar.
    pub fn record(&self) -> Result<Value> {
        match &self.sidecar {
            Some(path) => read_json(path),
            None => match &self.object {
                Some(object) => Ok(Value::Object(object.clone())),
                None => Ok(Value::Null),
            },
        }
    }
}

fn first_line(path: &Path) -> Option<String> {
    let text = crate::queue::pending::read_regular(path)?;
    let text = String::from_utf8_lossy(&text[..text.len().min(4096)]).into_owned();
    text.lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("#!"))
        .map(str::to_owned)
}

pub(crate) fn read_object(path: &Path) -> Option<Map<String, Value>> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 64 * MAX_JOB_BYTES {
        return None;
    }
    match serde_json::from_slice(&fs::read(path).ok()?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Every job in `state`, oldest first.
pub fn load(queue: &Queue, state: State) -> Result<Vec<Entry>> {
    let dir = state.dir(queue);
    let names = job_names(dir)?;
    let mut entries: Vec<Entry> = names
        .iter()
        .filter(|n| !is_sidecar_of_a_job(dir, n))
        .filter_map(|name| entry(dir, state, name))
        .collect();
    queue::oldest_first(&mut entries, |e| (e.time, &e.file_name));
    Ok(entries)
}

/// Every job in `state`, oldest first, one at a time: records come from the index of records (in
/// the order they were filed) so that memory stays small however many there are; `pending/` and
/// `running/`, which stay small, are read at once.
pub fn stream(queue: &Queue, state: State) -> Result<Box<dyn Iterator<Item = Entry>>> {
    if matches!(state, State::Completed | State::Failed)
        && let Some(files) = index::oldest_first(queue, state)
    {
        let dir = state.dir(queue).to_owned();
        return Ok(Box::new(
            files.filter_map(move |file| of_record(&dir, state, &file)),
        ));
    }
    Ok(Box::new(load(queue, state)?.into_iter()))
}

/// The newest `n` jobs in `state` (by when they were recorded), newest first, reading only those
/// `n` records: the rest are only listed and stat'ed. Also returns how many jobs there are.
pub fn newest(queue: &Queue, state: State, n: usize) -> Result<(Vec<Entry>, usize)> {
    let dir = state.dir(queue);
    if matches!(state, State::Completed | State::Failed)
        && let Some((files, total)) = index::newest(queue, state, n)
    {
        let newest = files
            .iter()
            .filter_map(|file| of_record(dir, state, file))
            .collect();
        return Ok((newest, usize::try_from(total).unwrap_or(usize::MAX)));
    }
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
    };
    let listed: Vec<fs::DirEntry> = listing
        .flatten()
        .filter(|e| !crate::queue::names::is_internal(&e.file_name()))
        .collect();
    let mut jobs: Vec<(SystemTime, OsString)> = Vec::new();
    let mut sidecars: Vec<(SystemTime, OsString)> = Vec::new();
    for (time, name) in modified_times(listed) {
        if sidecar_job(&name).is_some() {
            sidecars.push((time, name));
        } else {
            jobs.push((time, name));
        }
    }
    // A record kept beside its job file is dated by the record (the sidecar); a sidecar whose
    // job file is gone is a job of its own.
    if !sidecars.is_empty() {
        jobs.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    }
    for (time, sidecar) in sidecars {
        let job = sidecar_job(&sidecar).unwrap_or_default().to_owned();
        match jobs.binary_search_by(|(_, name)| name.as_os_str().cmp(&job)) {
            Ok(i) => jobs[i].0 = time,
            Err(_) => jobs.push((time, sidecar)),
        }
    }
    let total = jobs.len();
    let newest_first = |a: &(SystemTime, OsString), b: &(SystemTime, OsString)| b.cmp(a);
    if jobs.len() > n && n > 0 {
        jobs.select_nth_unstable_by(n - 1, newest_first);
        jobs.truncate(n);
    }
    jobs.sort_unstable_by(newest_first);
    let newest = jobs
        .iter()
        .take(n)
        .filter_map(|(_, name)| entry(dir, state, name))
        .collect();
    Ok((newest, total))
}

/// Each entry's modification time (entries that vanished meanwhile are left out). One `fstatat`
/// through the listing's own descriptor per entry, which is most of what reading a big folder
/// costs: past a few thousand entries they are split between threads, one per core (at most 4).
fn modified_times(listed: Vec<fs::DirEntry>) -> Vec<(SystemTime, OsString)> {
    const PER_THREAD: usize = 2048;
    let stat = |entries: &[fs::DirEntry]| -> Vec<(SystemTime, OsString)> {
        entries
            .iter()
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.file_name())))
            .collect()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let threads = cores.min(listed.len() / PER_THREAD).max(1);
    if threads == 1 {
        return stat(&listed);
    }
    let chunk = listed.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = listed
            .chunks(chunk)
            .map(|part| scope.spawn(move || stat(part)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

/// The names in `dir` that are not execq's dot-files (a missing folder holds none).
fn job_names(dir: &Path) -> Result<Vec<OsString>> {
    match fs::read_dir(dir) {
        Ok(read) => Ok(read
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .filter(|n| !crate::queue::names::is_internal(n))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
    }
}

/// The job name a sidecar's file name is for: `x.sh.result.json` → `x.sh`.
fn sidecar_job(name: &OsStr) -> Option<&OsStr> {
    name.as_bytes()
        .strip_suffix(crate::queue::names::SIDECAR_SUFFIX.as_bytes())
        .filter(|job| !job.is_empty())
        .map(OsStr::from_bytes)
}

/// `x.result.json` belongs to the entry for `x` when `x` is beside it; alone, it is an entry of
/// its own (see [`Entry::orphan`]).
fn is_sidecar_of_a_job(dir: &Path, name: &OsStr) -> bool {
    sidecar_job(name).is_some_and(|job| fsutil::exists(&dir.join(job)))
}

/// A sidecar alone: a record whose job file is gone.
pub(crate) fn is_orphan_sidecar(path: &Path) -> bool {
    read_object(path).is_some_and(|o| {
        o.contains_key("result") && o.contains_key("job") && !o.contains_key("command")
    })
}

/// The entry whose record is the file `file` (a record the index names): the job beside its
/// sidecar, or the file itself.
pub(crate) fn of_record(dir: &Path, state: State, file: &OsStr) -> Option<Entry> {
    match sidecar_job(file) {
        Some(job) if fsutil::exists(&dir.join(job)) => entry(dir, state, job),
        _ => entry(dir, state, file),
    }
}

fn entry(dir: &Path, state: State, name: &OsStr) -> Option<Entry> {
    let path = dir.join(name);
    let meta = fs::symlink_metadata(&path).ok()?;
    let finished = matches!(state, State::Completed | State::Failed);
    let orphan =
        finished && sidecar_job(name).is_some() && meta.is_file() && is_orphan_sidecar(&path);
    let (file_name, sidecar) = match sidecar_job(name).filter(|_| orphan) {
        Some(job) => (job.to_owned(), Some(path.clone())),
        None => {
            let sidecar = crate::queue::names::sidecar_path(&path);
            (
                name.to_owned(),
                (finished && sidecar.exists()).then_some(sidecar),
            )
        }
    };
    let object = match (orphan, Format::of(name)) {
        (false, Format::Json) => read_object(&path),
        _ => None,
    };
    let result = match &sidecar {
        Some(side) => read_object(side).and_then(|o| o.get("result").cloned()),
        None => object.as_ref().and_then(|o| o.get("result").cloned()),
    }
    .filter(|_| finished)
    .and_then(|r| serde_json::from_value(r).ok());
    // Running: when it was claimed (the rename set ctime). Finished: when its record was written
    // (a job file kept beside a sidecar still has its original mtime).
    let time = match (&sidecar, state) {
        (_, State::Running) => {
            SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(u64::try_from(meta.ctime()).unwrap_or(0))
        }
        (Some(side), _) => fs::symlink_metadata(side)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH),
        (None, _) => meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    };
    Some(Entry {
        id: fsutil::FileId::of(&meta),
        state,
        name: crate::queue::names::display_name(&file_name),
        file_name,
        orphan,
        path,
        sidecar,
        time,
        object,
        result,
    })
}

/// How many jobs are in `state`, without parsing their records.
pub fn count(queue: &Queue, state: State) -> Result<usize> {
    if matches!(state, State::Completed | State::Failed)
        && let Some(n) = index::count(queue, state)
    {
        return Ok(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let dir = state.dir(queue);
    Ok(job_names(dir)?
        .iter()
        .filter(|n| !is_sidecar_of_a_job(dir, n))
        .count())
}

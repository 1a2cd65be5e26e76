//! Rebuilding the index from the records, in bounded memory whatever their number: the folders
//! are listed as a stream, each record's task_id is read without keeping the record, key lines
//! go to their buckets in batches, and the time logs are sorted in runs of [`RUN`] lines merged
//! at the end. The new generation is complete before the stamp moves to it; the old one is then
//! removed. The caller holds the lock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Stamp, bucket_path, dir, folders_now, lines, slot, time_ns};
use crate::fsutil;
use crate::queue::Queue;
use crate::queue::catalog::{self, State};
use crate::queue::names::{SIDECAR_SUFFIX, is_internal, sidecar_path};

/// Time lines sorted in memory at once (a few MiB).
const RUN: usize = 16_384;
/// Key lines kept before they are appended to their buckets.
const KEY_BYTES: usize = 512 << 10;

/// Rebuilds the index from the records in `completed/` and `failed/` (the caller holds the lock).
pub fn rebuild(queue: &Queue) -> Result<Stamp> {
    let index = dir(queue);
    let old = Stamp::read(queue);
    // Taken before the listing: a change made while it runs leaves the stamp behind again.
    let folders = folders_now(queue);
    let generation = old.as_ref().map_or(0, |s| s.generation) + 1;
    let mut stamp = Stamp {
        generation,
        boot: super::boot().to_owned(),
        folders,
        ..Stamp::default()
    };
    let target = stamp.generation_dir(queue);
    if fsutil::exists(&target) {
        fsutil::remove_entry(&target)?;
    }
    super::make_generation(&target)
        .with_context(|| format!("failed to create `{}`", target.display()))?;
    let mut keys = KeyLines::new(&target);
    for state in [State::Completed, State::Failed] {
        let (count, lines) = index_folder(queue, state, &target, &mut keys)?;
        stamp.counts[slot(state)] = count;
        stamp.lines += lines;
    }
    keys.flush()?;
    stamp
        .write(queue)
        .context("failed to write the index's stamp")?;
    remove_other_generations(&index, generation);
    tracing::info!(
        completed = stamp.counts[0],
        failed = stamp.counts[1],
        "rebuilt the index of records"
    );
    Ok(stamp)
}

/// Indexes one folder; returns how many records and time lines it wrote. Entries are read in
/// chunks in the order of their inodes, which on a cold cache turns a million random reads into
/// mostly sequential ones, on up to four threads.
fn index_folder(
    queue: &Queue,
    state: State,
    target: &Path,
    keys: &mut KeyLines,
) -> Result<(u64, u64)> {
    let dir = state.dir(queue);
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
    };
    let mut runs = Runs::new(target, state);
    let mut count = 0;
    let mut chunk: Vec<(u64, OsString)> = Vec::with_capacity(CHUNK);
    let mut listing = listing.flatten().peekable();
    while listing.peek().is_some() {
        chunk.clear();
        chunk.extend(
            listing
                .by_ref()
                .take(CHUNK)
                .map(|e| (e.ino(), e.file_name())),
        );
        chunk.sort_unstable();
        for (time, time_line, key_lines) in read_chunk(dir, state, &chunk) {
            runs.push(time, time_line)?;
            for (bucket, line) in key_lines {
                keys.push(bucket, line)?;
            }
            count += 1;
        }
    }
    let lines = runs.merge(&target.join(state.as_str()))?;
    Ok((count, lines))
}

/// Entries read at a time, sorted by inode.
const CHUNK: usize = 4096;

type Indexed = (i128, Vec<u8>, Vec<(u64, Vec<u8>)>);

/// The lines of each record among `names`, read on up to four threads.
fn read_chunk(dir: &Path, state: State, names: &[(u64, OsString)]) -> Vec<Indexed> {
    let read = |part: &[(u64, OsString)]| -> Vec<Indexed> {
        part.iter()
            .filter_map(|(_, name)| {
                let (record, job) = record_of(dir, name)?;
                let path = dir.join(&record);
                let meta = fs::symlink_metadata(&path).ok()?;
                let (time_line, key_lines) =
                    lines(state, &record, &job, task_id(&path).as_deref(), &meta);
                Some((time_ns(&meta), time_line, key_lines))
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if threads == 1 || names.len() < 1024 {
        return read(names);
    }
    let part = names.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = names
            .chunks(part)
            .map(|p| scope.spawn(move || read(p)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

/// For a folder entry, the file holding its record and the job's name; `None` for what is not
/// an entry of its own (execq's dot-files, a job file whose sidecar carries its record).
pub(super) fn record_of(dir: &Path, name: &OsStr) -> Option<(OsString, OsString)> {
    if is_internal(name) {
        return None;
    }
    if let Some(job) = name
        .as_bytes()
        .strip_suffix(SIDECAR_SUFFIX.as_bytes())
        .filter(|j| !j.is_empty())
    {
        let job = OsStr::from_bytes(job);
        // A sidecar beside its job, or one alone whose job is gone (named after it); a JSON job
        // that merely has such a name is a record of its own (as `catalog` reads them).
        if fsutil::exists(&dir.join(job)) || catalog::is_orphan_sidecar(&dir.join(name)) {
            return Some((name.to_owned(), job.to_owned()));
        }
        return Some((name.to_owned(), name.to_owned()));
    }
    if fsutil::exists(&sidecar_path(&dir.join(name))) {
        return None;
    }
    Some((name.to_owned(), name.to_owned()))
}

/// The `task_id` of a JSON record, read as a stream (a record may hold megabytes of output).
pub(super) fn task_id(path: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        task_id: Option<serde_json::Value>,
    }
    if !path.as_os_str().as_bytes().ends_with(b".json") {
        return None;
    }
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    // Most records are small: read at once. A big one (megabytes of output) is read as a stream.
    let head: Head = if meta.len() <= 64 * 1024 {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        io::Read::read_to_end(&mut &file, &mut bytes).ok()?;
        serde_json::from_slice(&bytes).ok()?
    } else {
        serde_json::from_reader(BufReader::new(file)).ok()?
    };
    head.task_id?.as_str().map(str::to_owned)
}

/// Key lines waiting to be appended to their buckets.
struct KeyLines {
    target: PathBuf,
    pending: HashMap<u64, Vec<u8>>,
    bytes: usize,
}

impl KeyLines {
    fn new(target: &Path) -> Self {
        Self {
            target: target.to_owned(),
            pending: HashMap::new(),
            bytes: 0,
        }
    }

    fn push(&mut self, bucket: u64, line: Vec<u8>) -> Result<()> {
        self.bytes += line.len();
        self.pending
            .entry(bucket)
            .or_default()
            .extend_from_slice(&line);
        if self.bytes > KEY_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        for (bucket, lines) in self.pending.drain() {
            let path = bucket_path(&self.target, bucket);
            fsutil::append(&path, &lines)
                .with_context(|| format!("failed to write `{}`", path.display()))?;
        }
        self.bytes = 0;
        Ok(())
    }
}

/// Time lines sorted in runs, then merged into one log.
struct Runs {
    dir: PathBuf,
    state: State,
    current: Vec<(i128, Vec<u8>)>,
    files: Vec<PathBuf>,
}

impl Runs {
    fn new(target: &Path, state: State) -> Self {
        Self {
            dir: target.to_owned(),
            state,
            current: Vec::new(),
            files: Vec::new(),
        }
    }

    fn push(&mut self, time: i128, line: Vec<u8>) -> Result<()> {
        self.current.push((time, line));
        if self.current.len() >= RUN {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.current.sort_unstable();
        let path = self
            .dir
            .join(format!("{}.run{}", self.state.as_str(), self.files.len()));
        let mut bytes = Vec::new();
        for (_, line) in self.current.drain(..) {
            bytes.extend_from_slice(&line);
        }
        fsutil::append(&path, &bytes)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
        self.files.push(path);
        Ok(())
    }

    /// Merges the runs into `log`; returns how many lines it holds.
    fn merge(mut self, log: &Path) -> Result<u64> {
        if self.files.is_empty() {
            self.current.sort_unstable();
            let bytes: Vec<u8> = self
                .current
                .iter()
                .flat_map(|(_, l)| l.iter().copied())
                .collect();
            if !bytes.is_empty() {
                fsutil::append(log, &bytes)?;
            }
            return Ok(self.current.len() as u64);
        }
        if !self.current.is_empty() {
            self.spill()?;
        }
        let mut readers: Vec<_> = self
            .files
            .iter()
            .map(|p| File::open(p).map(|f| BufReader::new(f).split(b'\n')))
            .collect::<io::Result<_>>()?;
        let mut heap = BinaryHeap::new();
        for (i, reader) in readers.iter_mut().enumerate() {
            if let Some(line) = reader.next().transpose()? {
                heap.push(Reverse((line_time(&line), line, i)));
            }
        }
        fsutil::append(log, b"")?;
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(Reverse((_, line, i))) = heap.pop() {
            out.extend_from_slice(&line);
            out.push(b'\n');
            n += 1;
            if out.len() >= KEY_BYTES {
                fsutil::append(log, &out)?;
                out.clear();
            }
            if let Some(next) = readers[i].next().transpose()? {
                heap.push(Reverse((line_time(&next), next, i)));
            }
        }
        fsutil::append(log, &out)?;
        for file in &self.files {
            fsutil::discard(file);
        }
        Ok(n)
    }
}

fn line_time(line: &[u8]) -> i128 {
    let tab = line.iter().position(|&b| b == b'\t').unwrap_or(0);
    std::str::from_utf8(&line[..tab])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// Removes every generation but `keep` (and leftovers of a cut-short rebuild).
fn remove_other_generations(index: &Path, keep: u64) {
    let Ok(listing) = fs::read_dir(index) else {
        return;
    };
    for entry in listing.flatten() {
        let name = entry.file_name();
        let is_generation = name
            .to_str()
            .is_some_and(|n| n.parse::<u64>().is_ok_and(|g| g != keep));
        if is_generation && let Err(e) = fsutil::remove_entry(&entry.path()) {
            tracing::debug!("could not remove an old index generation: {e:#}");
        }
    }
}

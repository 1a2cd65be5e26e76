//! Answers from the index: the records a reference may name, the newest records, the counts, and
//! every record in filing order. Each line is checked against its file before it is believed
//! (see the module docs); `None` means the index cannot be used here and the caller reads the
//! folders.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Stamp, bucket_of, bucket_path, name_key, unescape, usable};
use crate::queue::Queue;
use crate::queue::catalog::State;

/// Record files (by folder) that may be the ones a reference names: every record it names is
/// among them, and the caller applies its own rule to each.
pub(super) type Candidates = Vec<(State, OsString)>;

/// The records `reference` may name — by task_id, file name, stem, or a namesake's numbered
/// name — by their record files; `None` if the index cannot be used here.
pub fn lookup(queue: &Queue, reference: &str) -> Option<Candidates> {
    for _ in 0..3 {
        let stamp = usable(queue)?;
        if stamp.is_empty_queue() {
            return Some(Vec::new());
        }
        match lookup_in(queue, &stamp, reference) {
            Ok(found) => return Some(found),
            // A rebuild removed this generation meanwhile: look again in the new one.
            Err(_) if !stamp.generation_dir(queue).is_dir() => continue,
            Err(_) => return None,
        }
    }
    None
}

fn lookup_in(queue: &Queue, stamp: &Stamp, reference: &str) -> io::Result<Candidates> {
    let generation = stamp.generation_dir(queue);
    let mut keys = vec![reference.to_owned(), name_key(reference.as_ref())];
    keys.dedup();
    let mut found: Candidates = Vec::new();
    let mut seen = HashSet::new();
    for key in &keys {
        let mut wanted = Vec::new();
        super::escape_into(key.as_bytes(), &mut wanted);
        let bytes = match fs::read(bucket_path(&generation, bucket_of(key))) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound && generation.is_dir() => continue,
            Err(e) => return Err(e),
        };
        for line in bytes.split(|&b| b == b'\n') {
            let mut fields = line.splitn(3, |&b| b == b'\t');
            let (Some(k), Some(tag), Some(file)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if k != wanted.as_slice() {
                continue;
            }
            let state = if tag == b"f" {
                State::Failed
            } else {
                State::Completed
            };
            let Some(file) = unescape(file) else { continue };
            let dir = state.dir(queue);
            if seen.insert((state, file.clone())) && crate::fsutil::exists(&dir.join(&file)) {
                found.push((state, file));
            }
        }
    }
    Ok(found)
}

/// How many records the index counts in `state`; `None` if it cannot be used here.
pub fn count(queue: &Queue, state: State) -> Option<u64> {
    usable(queue).map(|stamp| stamp.count(state))
}

/// Up to `n` of the newest records in `state` by their record files, newest first (the time
/// their record was written), and how many records there are; `None` if the index cannot be
/// used here. Reads the end of the log backwards, so the cost follows `n`, not the queue.
pub fn newest(queue: &Queue, state: State, n: usize) -> Option<(Vec<OsString>, u64)> {
    for _ in 0..3 {
        let stamp = usable(queue)?;
        if stamp.is_empty_queue() {
            return Some((Vec::new(), 0));
        }
        let log = stamp.generation_dir(queue).join(state.as_str());
        match newest_in(&log, state.dir(queue), n) {
            Ok(found) => return Some((found, stamp.count(state))),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound && stamp.generation_dir(queue).is_dir() =>
            {
                return Some((Vec::new(), stamp.count(state)));
            }
            Err(_) if !stamp.generation_dir(queue).is_dir() => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Lines are in filing order, which is nearly the order of their times (jobs run side by side
/// finish out of order by moments): twice `n` and some more are read, then sorted by time.
fn newest_in(log: &Path, dir: &Path, n: usize) -> io::Result<Vec<OsString>> {
    let want = n.saturating_mul(2).saturating_add(32);
    let mut found: Vec<(i128, OsString)> = Vec::new();
    let mut seen = HashSet::new();
    backwards(log, |line| {
        if let Some((time, ino, file)) = parse_time_line(line)
            && !seen.contains(&file)
            && matches(dir, &file, ino)
        {
            seen.insert(file.clone());
            found.push((time, file));
        }
        found.len() < want
    })?;
    found.sort_by(|a, b| b.cmp(a));
    found.truncate(n);
    Ok(found.into_iter().map(|(_, f)| f).collect())
}

/// Calls `each` with every line of `path` from the last to the first, until it returns false.
fn backwards(path: &Path, mut each: impl FnMut(&[u8]) -> bool) -> io::Result<()> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let mut end = file.metadata()?.len();
    let mut carry: Vec<u8> = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let mut chunk = vec![0; usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&carry);
        // The first line of the chunk may begin in the one before: keep it for then.
        let first_break = if start == 0 {
            None
        } else {
            chunk.iter().position(|&b| b == b'\n')
        };
        let (head, body) = match first_break {
            Some(i) => chunk.split_at(i + 1),
            None if start == 0 => (&[][..], &chunk[..]),
            None => (&chunk[..], &[][..]),
        };
        for line in body.rsplit(|&b| b == b'\n') {
            if !line.is_empty() && !each(line) {
                return Ok(());
            }
        }
        carry = head.to_vec();
        end = start;
    }
    if !carry.is_empty() {
        for line in carry.rsplit(|&b| b == b'\n') {
            if !line.is_empty() && !each(line) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Every record in `state` by its record file, in filing order (nearly the order of their
/// times), read as a stream; `None` if the index cannot be used here. Lines whose file is gone or
/// was written again are skipped.
pub fn oldest_first(queue: &Queue, state: State) -> Option<OldestFirst> {
    let stamp = usable(queue)?;
    let log = stamp.generation_dir(queue).join(state.as_str());
    if stamp.is_empty_queue() {
        let dir = state.dir(queue).to_owned();
        return Some(OldestFirst { lines: None, dir });
    }
    let lines = match File::open(&log) {
        Ok(file) => Some(BufReader::new(file).split(b'\n')),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(_) => return None,
    };
    Some(OldestFirst {
        lines,
        dir: state.dir(queue).to_owned(),
    })
}

/// See [`oldest_first`].
pub struct OldestFirst {
    lines: Option<io::Split<BufReader<File>>>,
    dir: std::path::PathBuf,
}

impl Iterator for OldestFirst {
    type Item = OsString;

    fn next(&mut self) -> Option<OsString> {
        let lines = self.lines.as_mut()?;
        for line in lines.by_ref() {
            let Ok(line) = line else { return None };
            if let Some((_, ino, file)) = parse_time_line(&line)
                && matches(&self.dir, &file, ino)
            {
                return Some(file);
            }
        }
        None
    }
}

fn parse_time_line(line: &[u8]) -> Option<(i128, u64, OsString)> {
    let mut fields = line.splitn(3, |&b| b == b'\t');
    let time = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let ino = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    Some((time, ino, unescape(fields.next()?)?))
}

/// Whether `dir/file` is the record the line was written for: the same file (a record touched
/// or rewritten in place is still it; one whose name was reused is not).
fn matches(dir: &Path, file: &OsString, ino: u64) -> bool {
    fs::symlink_metadata(dir.join(file)).is_ok_and(|m| m.ino() == ino)
}

#[cfg(test)]
pub(super) fn tests_backwards(path: &Path, each: impl FnMut(&[u8]) -> bool) {
    backwards(path, each).unwrap();
}

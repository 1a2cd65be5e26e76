//! Automatic archiving: config.toml's `[retention]` applied by drains that did work, at most once
//! an hour (`QUEUE/last-retention.json` says when it last ran; an idle drain never looks).
//!
//! ```toml
//! [retention]
//! completed = "30d"   # records of completed jobs older than this leave completed/
//! failed = "90d"      # ... and of the rest, failed/
//! archive = true      # into archive/YYYY-MM.jsonl.gz (the default); false: deleted, as `prune`
//! ```
//!
//! Each archived job is one line of `archive/YYYY-MM.jsonl.gz` (the month it was recorded, local
//! time): `{"file", "state", "archived_at", "record", "script"?, "result_file"?}` — `zcat FILE |
//! jq .record.result.status`. Its sidecar goes into the line with it (as `record`), a script job's
//! text as `script`, and a result file execq wrote under `results/` as `result_file.content` (when
//! it is UTF-8 text of at most 1 MiB; otherwise only its path and size are kept); then they are
//! removed. Output spools never outlive their job in `running/`.
//!
//! **Crash safety.** A month's archive is rewritten whole: the old file's bytes plus a new gzip
//! member, written to `archive/.YYYY-MM.jsonl.gz.next` and synced; then a journal,
//! `archive/.YYYY-MM.journal`, naming the files of the records it holds, is written and synced;
//! then the `.next` file is renamed over the archive, and the files the journal names are removed,
//! then the journal. A journal therefore only exists beside a whole `.next` file or once that
//! file has become the archive, and the next drain reads what a kill left behind unambiguously:
//! a `.next` file without a journal, or a journal beside its `.next` file — killed before the
//! rename: the journal goes first (durably), then the `.next` file, and the records stay to be
//! archived again; a journal without its `.next` file — killed after the rename: the records it
//! names are removed. So a record is never lost, and never archived twice.
//!
//! A result file goes with its record only while it is still that job's: written no later than
//! the record's `completed_at`. Once a later run of the job has written the same path, the file is
//! the later run's, and archiving the older record neither removes nor copies it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock;
use crate::config::Retention;
use crate::duration::Seconds;
use crate::fsutil;
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};
use crate::queue::index;

/// How often a drain applies the retention.
pub const EVERY: Duration = Duration::from_secs(3600);

/// The file that says when retention last ran.
pub const LAST: &str = "last-retention.json";

/// The archive folder.
pub fn dir(queue: &Queue) -> PathBuf {
    queue.root.join("archive")
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub archived: usize,
    pub deleted: usize,
}

/// Applies `retention` if it has not run in the last hour (by `now`). For drains that did work.
pub fn apply_hourly(queue: &Queue, retention: &Retention) -> Result<Option<Applied>> {
    let dir = dir(queue);
    if !dir.is_dir() {
        fsutil::create_private_dir(&dir)
            .with_context(|| format!("failed to create `{}`", dir.display()))?;
    }
    // One drain at a time; another one applying it now makes this one's run unnecessary.
    let lock = File::create(dir.join(".lock"))
        .with_context(|| format!("failed to open `{}`", dir.join(".lock").display()))?;
    if fs2::FileExt::try_lock_exclusive(&lock).is_err() {
        return Ok(None);
    }
    let now = clock::instant()?.as_second();
    let last = fs::read(queue.root.join(LAST))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["at_unix"].as_i64());
    if last.is_some_and(|last| (0..EVERY.as_secs() as i64).contains(&(now - last))) {
        return Ok(None);
    }
    let applied = apply(queue, retention, now)?;
    let record = json!({
        "at": clock::rfc3339(&clock::now()?),
        "at_unix": now,
        "archived": applied.archived,
        "deleted": applied.deleted,
    });
    let tmp = queue.temp_path(LAST);
    fsutil::write(&tmp, &serde_json::to_vec_pretty(&record)?)?;
    fsutil::rename(&tmp, &queue.root.join(LAST))?;
    if applied.archived + applied.deleted > 0 {
        tracing::info!(
            archived = applied.archived,
            deleted = applied.deleted,
            "retention applied"
        );
    }
    Ok(Some(applied))
}

/// Archives (or deletes) every record older than its state's age, at `now` (Unix seconds).
pub fn apply(queue: &Queue, retention: &Retention, now: i64) -> Result<Applied> {
    let mut change = index::Change::begin(queue);
    let applied = apply_changing(queue, retention, now, &mut change)?;
    change.commit(queue);
    Ok(applied)
}

fn apply_changing(
    queue: &Queue,
    retention: &Retention,
    now: i64,
    change: &mut index::Change,
) -> Result<Applied> {
    if recover(queue)? {
        // Records a killed run had archived were removed: counted by the next rebuild.
        change.forget();
    }
    let now_time = SystemTime::UNIX_EPOCH + Duration::from_secs(now.max(0) as u64);
    let mut old = Vec::new();
    for (state, age) in [
        (State::Completed, retention.completed),
        (State::Failed, retention.failed),
    ] {
        let Some(Seconds(age)) = age else { continue };
        let cutoff = now_time.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
        old.extend(
            catalog::load(queue, state)?
                .into_iter()
                .filter(|e| e.time < cutoff),
        );
    }
    let mut applied = Applied::default();
    if !retention.archive {
        for entry in &old {
            for file in files_of(queue, entry) {
                fsutil::remove_entry(&file)?;
            }
            change.removed(entry.state, 1);
            applied.deleted += 1;
        }
        sync_outboxes(queue, applied.deleted)?;
        return Ok(applied);
    }
    let mut by_month: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for entry in &old {
        let month = jiff::Timestamp::try_from(entry.time)
            .map(|t| t.to_zoned(clock::zone()).strftime("%Y-%m").to_string())
            .unwrap_or_else(|_| "1970-01".into());
        by_month.entry(month).or_default().push(entry);
    }
    for (month, entries) in by_month {
        archive_month(queue, &month, &entries, now)?;
        for entry in &entries {
            change.removed(entry.state, 1);
        }
        applied.archived += entries.len();
    }
    sync_outboxes(queue, applied.archived)?;
    Ok(applied)
}

fn sync_outboxes(queue: &Queue, changed: usize) -> Result<()> {
    if changed > 0 {
        fsutil::sync_dir(&queue.completed)?;
        fsutil::sync_dir(&queue.failed)?;
    }
    Ok(())
}

/// The most of a result file's text kept in the archive.
const RESULT_FILE_MAX: u64 = 1024 * 1024;

/// The files that belong to a finished job: its record or job file, its sidecar, and a result
/// file execq wrote for it under `results/`.
fn files_of(queue: &Queue, entry: &Entry) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::iter::once(entry.path.clone())
        .chain(entry.sidecar.clone())
        .collect();
    files.dedup();
    files.extend(result_file(queue, entry));
    files
}

/// The job's result file, if execq wrote it inside `results/` and it is still this job's: not
/// written since the job ended. A later run of the same job (yesterday's `report.txt` rewritten
/// today) owns the path from then on, and archiving the older record leaves it alone.
fn result_file(queue: &Queue, entry: &Entry) -> Option<PathBuf> {
    let record = entry.record().ok()?;
    let path = PathBuf::from(record["result"]["result_file"].as_str()?);
    let ended = chrono::DateTime::parse_from_rfc3339(record["result"]["completed_at"].as_str()?)
        .ok()
        .map(SystemTime::from)?;
    let results = fs::canonicalize(&queue.results).ok()?;
    let inside = fs::canonicalize(&path).ok()?.starts_with(&results);
    let written = fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    (inside && written <= ended + RESULT_FILE_SLACK).then_some(path)
}

/// How much later than its record's `completed_at` a job's result file may seem to be written
/// and still be its own: the record's time is cut to microseconds.
const RESULT_FILE_SLACK: Duration = Duration::from_millis(1);

/// One archive line for `entry`.
fn line(queue: &Queue, entry: &Entry, now: i64) -> Result<Value> {
    let mut line = json!({
        "file": entry.name,
        "state": entry.state.as_str(),
        "archived_at": clock::rfc3339(&jiff::Timestamp::from_second(now)?.to_zoned(clock::zone())),
        "record": entry.record()?,
    });
    if entry.sidecar.is_some()
        && entry.path != *entry.sidecar.as_ref().unwrap_or(&entry.path)
        && let Some(bytes) = crate::queue::pending::read_regular(&entry.path)
    {
        line["script"] = json!(String::from_utf8_lossy(&bytes));
    }
    if let Some(path) = result_file(queue, entry) {
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut kept = json!({ "path": path.display().to_string(), "bytes": size });
        if size <= RESULT_FILE_MAX
            && let Ok(text) = fs::read_to_string(&path)
        {
            kept["content"] = json!(text);
        }
        line["result_file"] = kept;
    }
    Ok(line)
}

/// The journal of a month's archiving: the `.next` file and the records it holds.
#[derive(Debug, Deserialize, Serialize)]
struct Journal {
    next: PathBuf,
    remove: Vec<PathBuf>,
}

fn journal_path(dir: &Path, month: &str) -> PathBuf {
    dir.join(format!(".{month}.journal"))
}

/// Adds `entries` to the month's archive, then removes them (see the module docs).
fn archive_month(queue: &Queue, month: &str, entries: &[&Entry], now: i64) -> Result<()> {
    let dir = dir(queue);
    if !dir.is_dir() {
        fsutil::create_private_dir(&dir)
            .with_context(|| format!("failed to create `{}`", dir.display()))?;
    }
    let target = dir.join(format!("{month}.jsonl.gz"));
    let next = dir.join(format!(".{month}.jsonl.gz.next"));
    let mut remove = Vec::new();
    let mut member = GzEncoder::new(Vec::new(), Compression::default());
    for entry in entries {
        let mut text = serde_json::to_vec(&line(queue, entry, now)?)?;
        text.push(b'\n');
        member.write_all(&text)?;
        remove.extend(files_of(queue, entry));
    }
    let member = member.finish()?;
    let mut bytes = match fs::read(&target) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", target.display())),
    };
    bytes.extend_from_slice(&member);
    fsutil::write_new_synced(&next, &bytes)?;
    // The journal only ever exists beside a whole `.next` file, or once that file has become the
    // archive: so a journal without its `.next` file means "renamed", never "not yet written".
    let journal = Journal {
        next: next.clone(),
        remove,
    };
    let journal_file = journal_path(&dir, month);
    fsutil::write_new_synced(&journal_file, &serde_json::to_vec(&journal)?)?;
    fsutil::sync_dir(&dir)?;
    crate::fault::point("archive:before-rename");
    fsutil::rename(&next, &target)?;
    fsutil::sync_dir(&dir)?;
    crate::fault::point("archive:after-rename");
    finish(&journal, &journal_file)
}

/// Removes the records a journal names, then the journal.
fn finish(journal: &Journal, journal_file: &Path) -> Result<()> {
    for file in &journal.remove {
        fsutil::remove_entry(file)?;
    }
    fsutil::remove_if_exists(journal_file)
}

/// Completes or undoes archiving a killed drain left half done. Returns whether it removed
/// records (those the killed run had archived).
fn recover(queue: &Queue) -> Result<bool> {
    let dir = dir(queue);
    let Ok(listing) = fs::read_dir(&dir) else {
        return Ok(false);
    };
    let mut removed = false;
    for entry in listing.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().ends_with(".journal") {
            continue;
        }
        let path = entry.path();
        let journal: Option<Journal> = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        match journal {
            // Killed after the rename: the records are in the archive; remove them.
            Some(journal) if !fsutil::exists(&journal.next) => {
                finish(&journal, &path)?;
                removed = true;
            }
            // Killed before it (or while writing the journal): the archive is as it was and the
            // records stay for next time. The journal goes first, and durably: removing the
            // `.next` file first would leave a journal that reads as "renamed".
            _ => {
                fsutil::remove_if_exists(&path)?;
                fsutil::sync_dir(&dir)?;
            }
        }
    }
    // `.next` files with no journal: killed before the journal was written.
    for entry in fs::read_dir(&dir)?.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .ends_with(".jsonl.gz.next")
        {
            fsutil::remove_if_exists(&entry.path())?;
        }
    }
    Ok(removed)
}

/// Every archived job, oldest archive first: each line of each `archive/*.jsonl.gz`.
pub fn read_all(queue: &Queue) -> Result<Vec<Value>> {
    let dir = dir(queue);
    let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(listing) => listing
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.ends_with(".jsonl.gz") && !name.starts_with('.')
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
    };
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let mut text = String::new();
        MultiGzDecoder::new(
            File::open(&file).with_context(|| format!("failed to open `{}`", file.display()))?,
        )
        .read_to_string(&mut text)
        .with_context(|| format!("failed to read `{}`", file.display()))?;
        for (n, line) in text.lines().enumerate() {
            let value = serde_json::from_str(line).with_context(|| {
                format!("`{}` line {}: not a JSON record", file.display(), n + 1)
            })?;
            lines.push(value);
        }
    }
    Ok(lines)
}

/// The archived jobs `wanted` names: a file name, its stem, or a task_id.
pub fn find(queue: &Queue, wanted: &str) -> Result<Vec<Value>> {
    Ok(read_all(queue)?
        .into_iter()
        .filter(|line| {
            let file = line["file"].as_str().unwrap_or_default();
            let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
            file == wanted || stem == wanted || line["record"]["task_id"].as_str() == Some(wanted)
        })
        .collect())
}

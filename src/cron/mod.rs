//! Recurring schedules: `QUEUE/schedules/NAME.toml` (or `NAME.json`), each a cron expression and
//! a job template. Every drain enqueues each occurrence that came due since the schedule last fired
//! ([`fire`]), exactly once: the job is named after the schedule and the occurrence, and a durable
//! marker per schedule records the last occurrence handled ([`state`]).
//!
//! ```toml
//! cron = "30 3 * * *"     # 5 fields, or @hourly, @daily, @weekly...; the local time zone
//! catch_up = true         # occurrences missed while asleep or off: one run (false: none)
//! overlap = "skip"        # the previous occurrence still pending or running: skip ("queue": run)
//!
//! [job]                   # the fields of a job file
//! command = "backup"
//! args = ["--quick"]
//! timeout = 3600
//! ```
//!
//! A schedule that does not parse is reported (by `config --check`, `status` and once in
//! `daemon.log`) and left alone, its marker kept for when it is fixed; the others keep working.

pub mod fire;
pub mod state;
pub mod ticker;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::Zoned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::queue::Queue;

/// The folder of schedule files, in the queue folder.
pub const DIR: &str = "schedules";

/// The longest schedule name: room for the occurrence in its jobs' names.
pub const NAME_MAX: usize = 64;

/// What to do when an occurrence comes due while the previous one is still pending or running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Skip it (logged in `daemon.log`).
    #[default]
    Skip,
    /// Queue it anyway.
    Queue,
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Queue => "queue",
        }
    }
}

/// A schedule file as written.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub cron: String,
    #[serde(default = "catch_up_default")]
    pub catch_up: bool,
    #[serde(default)]
    pub overlap: Overlap,
    pub job: Map<String, Value>,
}

fn catch_up_default() -> bool {
    true
}

/// A valid schedule.
#[derive(Clone, Debug)]
pub struct Definition {
    pub name: String,
    pub spec: Spec,
    pub cron: Cron,
}

impl Definition {
    /// The first occurrence strictly after `after`, if the expression has one.
    pub fn next_after(&self, after: &Zoned) -> Option<Zoned> {
        self.cron.find_next_occurrence(after, false).ok()
    }

    /// The last occurrence at or before `at`, if there is one.
    pub fn last_until(&self, at: &Zoned) -> Option<Zoned> {
        self.cron.find_previous_occurrence(at, true).ok()
    }
}

/// Parses a cron expression: 5 fields (minute hour day-of-month month day-of-week) or a nickname
/// (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if !expr.trim_start().starts_with('@') && fields != 5 {
        return Err(format!(
            "invalid cron expression `{expr}`: it has {fields} fields; use 5 (minute hour \
             day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly"
        ));
    }
    let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
    let cron = parser
        .parse(expr)
        .map_err(|e| format!("invalid cron expression `{expr}`: {e}"))?;
    // An expression no date can match (such as `0 0 31 2 *`) parses, but never fires.
    let now = Zoned::now();
    if cron.find_next_occurrence(&now, false).is_err() {
        return Err(format!(
            "invalid cron expression `{expr}`: it never matches a date"
        ));
    }
    Ok(cron)
}

/// Checks a schedule's name: letters, digits, `-`, `_` and `.`, not starting with `.`, up to
/// [`NAME_MAX`] bytes.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= NAME_MAX
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid schedule name `{name}`: use up to {NAME_MAX} letters, digits, `-`, `_` or \
             `.`, not starting with `.`"
        ))
    }
}

/// Checks a job template: a valid job, without the fields each occurrence sets itself.
pub fn check_template(job: &Map<String, Value>) -> Result<(), String> {
    for field in ["task_id", "not_before", "schedule", "scheduled_for"] {
        if job.contains_key(field) {
            return Err(format!(
                "job: `{field}` cannot be set in a schedule (each occurrence gets its own)"
            ));
        }
    }
    crate::job::from_json(job)
        .map(drop)
        .map_err(|e| format!("job: {e}"))
}

/// Validates a schedule: its expression and its job template.
pub fn validate(name: &str, spec: Spec) -> Result<Definition, String> {
    check_name(name)?;
    let cron = parse_cron(&spec.cron)?;
    check_template(&spec.job)?;
    Ok(Definition {
        name: name.to_owned(),
        spec,
        cron,
    })
}

/// Parses a schedule file's bytes (`toml` tells the format).
pub fn parse(name: &str, bytes: &[u8], toml: bool) -> Result<Definition, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?;
    let spec: Spec = if toml {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?
    } else {
        serde_json::from_str(text).map_err(|e| e.to_string())?
    };
    validate(name, spec)
}

/// A file's identity and version: any edit, replacement or touch changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Stamp(pub u64, pub u64, pub i64, pub i64);

impl Stamp {
    pub fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self(meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec())
    }
}

/// One entry of `schedules/`: its file name and stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub file: OsString,
    pub stamp: Stamp,
}

/// The schedule files in `schedules/` (dot-files are execq's own or an editor's, and are
/// skipped), by name; `None` when there is no `schedules/` folder. Reads only the folder and
/// each file's metadata: this is what an idle drain pays.
pub fn entries(queue: &Queue) -> io::Result<Option<Vec<Entry>>> {
    let dir = dir(queue);
    let listing = match fs::read_dir(&dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    for entry in listing {
        let entry = entry?;
        let file = entry.file_name();
        if file.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        match entry.metadata() {
            Ok(meta) => entries.push(Entry {
                file,
                stamp: Stamp::of(&meta),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    entries.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(Some(entries))
}

/// The `schedules/` folder.
pub fn dir(queue: &Queue) -> PathBuf {
    queue.root.join(DIR)
}

/// A schedule file, read: its name and what it holds (or what is wrong with it).
#[derive(Debug)]
pub struct Found {
    pub file: OsString,
    pub stamp: Stamp,
    /// The schedule's name (the file's stem).
    pub name: String,
    pub definition: Result<Definition, String>,
}

impl Found {
    pub fn path(&self, queue: &Queue) -> PathBuf {
        dir(queue).join(&self.file)
    }
}

/// Reads every schedule file. A name defined twice (`x.toml` and `x.json`) is an error in both.
pub fn load_all(queue: &Queue) -> io::Result<Vec<Found>> {
    let Some(entries) = entries(queue)? else {
        return Ok(Vec::new());
    };
    let dir = dir(queue);
    let mut found: Vec<Found> = entries
        .into_iter()
        .map(|entry| {
            let (name, definition) = read_one(&dir.join(&entry.file), &entry.file);
            Found {
                file: entry.file,
                stamp: entry.stamp,
                name,
                definition,
            }
        })
        .collect();
    for i in 0..found.len() {
        let twice = found
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other.name == found[i].name);
        if twice && found[i].definition.is_ok() {
            found[i].definition = Err(format!(
                "schedule `{}` is defined twice (as .toml and .json); remove one",
                found[i].name
            ));
        }
    }
    Ok(found)
}

/// What is wrong with each invalid schedule, one line each (for `status` and `config --check`).
pub fn problems(queue: &Queue) -> Vec<String> {
    match load_all(queue) {
        Ok(found) => found
            .iter()
            .filter_map(|f| {
                let why = f.definition.as_ref().err()?;
                Some(format!(
                    "schedule `{}` is invalid and does not fire: {}: {}",
                    f.name,
                    f.path(queue).display(),
                    why.replace('\n', " ")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            })
            .collect(),
        Err(e) => vec![format!("cannot read `{}`: {e}", dir(queue).display())],
    }
}

fn read_one(path: &Path, file: &OsStr) -> (String, Result<Definition, String>) {
    let text = file.to_string_lossy();
    let (name, toml) = match (text.strip_suffix(".toml"), text.strip_suffix(".json")) {
        (Some(stem), _) => (stem.to_owned(), true),
        (_, Some(stem)) => (stem.to_owned(), false),
        _ => {
            return (
                text.into_owned(),
                Err("not a schedule file: name it NAME.toml or NAME.json".into()),
            );
        }
    };
    // Whoever can write a schedule can run commands as this user, as with pending/.
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = fs::symlink_metadata(path)
        && meta.uid() != crate::sys::euid()
    {
        let why = format!(
            "it is owned by uid {}, not by you; it does not fire",
            meta.uid()
        );
        return (name, Err(why));
    }
    let definition = match crate::queue::pending::read_regular(path) {
        Some(bytes) => parse(&name, &bytes, toml),
        None => Err("cannot read it: not a regular file, a symbolic link, or too large".into()),
    };
    (name, definition)
}

#[cfg(test)]
mod tests;

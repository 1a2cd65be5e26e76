//! Paused queues and groups (`execq pause`, `execq resume`): one marker file each in `paused/` —
//! `paused/queue` for the whole queue, `paused/group.NAME` for a group — holding when and through
//! which door it was paused. Pausing writes the marker whole (a temporary file renamed into
//! place), resuming removes it: each is one step a crash cannot half-do, and two processes
//! pausing and resuming at once leave the state the last one asked for. A drain reads the markers
//! (a `stat` each) before it claims a job, so a pause holds from the next claim on, across drains
//! and reboots; reading them writes nothing.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::fsutil;
use crate::queue::Queue;

/// What is paused: the whole queue, or one group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Queue,
    Group(String),
}

impl Scope {
    fn file(&self, queue: &Queue) -> PathBuf {
        let dir = queue.root.join("paused");
        match self {
            Self::Queue => dir.join("queue"),
            Self::Group(name) => dir.join(format!("group.{name}")),
        }
    }

    /// For people: "the queue", "group `gpu`".
    pub fn describe(&self) -> String {
        match self {
            Self::Queue => "the queue".to_owned(),
            Self::Group(name) => format!("group `{name}`"),
        }
    }
}

/// Whether a job of `group` may be started now: neither the queue nor its group is paused.
pub fn may_start(queue: &Queue, group: &str) -> bool {
    !fsutil::exists(&Scope::Queue.file(queue))
        && !fsutil::exists(&Scope::Group(group.to_owned()).file(queue))
}

/// Pauses `scope` (`by`: the door, `since`: now). `false`: it was paused already (unchanged).
pub fn pause(queue: &Queue, scope: &Scope, by: &str, since: &str) -> Result<bool> {
    let file = scope.file(queue);
    if fsutil::exists(&file) {
        return Ok(false);
    }
    let dir = queue.root.join("paused");
    match fsutil::create_private_dir(&dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("cannot make `{}`", dir.display()));
        }
        _ => {}
    }
    let tmp = queue.temp_path("pause");
    let marker = json!({"paused_at": since, "by": by}).to_string();
    fsutil::write_new_synced(&tmp, marker.as_bytes())?;
    fsutil::rename(&tmp, &file)?;
    fsutil::sync_dir(&dir)?;
    Ok(true)
}

/// Resumes `scope`. `false`: it was not paused.
pub fn resume(queue: &Queue, scope: &Scope) -> Result<bool> {
    let file = scope.file(queue);
    if !fsutil::exists(&file) {
        return Ok(false);
    }
    fsutil::remove_entry(&file)?;
    fsutil::sync_dir(&queue.root.join("paused"))?;
    Ok(true)
}

/// Everything paused now, with its marker (`paused_at`, `by`).
pub fn paused(queue: &Queue) -> Result<BTreeMap<Scope, Value>> {
    let dir = queue.root.join("paused");
    let mut found = BTreeMap::new();
    let entries = match fs::read_dir(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        other => other.with_context(|| format!("cannot read `{}`", dir.display()))?,
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let scope = match name.strip_prefix("group.") {
            _ if name == "queue" => Scope::Queue,
            Some(group) if crate::job::schedule::valid_group(group) => {
                Scope::Group(group.to_owned())
            }
            _ => continue,
        };
        let marker = fs::read(entry.path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        found.insert(scope, marker);
    }
    Ok(found)
}

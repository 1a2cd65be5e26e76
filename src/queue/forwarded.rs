//! A job handed to another scheduler (see `executor`): it stays in `running/`, and its note
//! `running/.NAME.forwarded` says where it went. The note is written, synced, before the job is
//! handed over (with the identity the job carries there, so a drain killed mid-hand-over finds it
//! by that identity instead of handing it over again) and again once the scheduler's id is known.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::fsutil::{self, FileId};
use crate::job::executor::Kind;
use crate::queue::Queue;
use crate::queue::claim::Claimed;
use crate::queue::record::internal;

/// The note's suffix: `running/.NAME.forwarded`.
pub const SUFFIX: &str = ".forwarded";

/// Where a forwarded job went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forwarded {
    pub kind: Kind,
    /// The name it was queued under (its record is filed under it).
    pub name: String,
    /// Its file's name in `running/`.
    pub running: String,
    /// The name it carries there, unique to this hand-over.
    pub identity: String,
    /// The folder holding its script, its output and the status its script records.
    pub dir: PathBuf,
    /// The scheduler's id for it, once known.
    pub job_id: Option<u64>,
    /// Its state there as last seen (`PENDING`, `RUNNING`, ...).
    #[serde(default)]
    pub state: Option<String>,
    /// The node it runs on, once it runs.
    #[serde(default)]
    pub node: Option<String>,
    /// Why it waits there, as the scheduler says.
    #[serde(default)]
    pub reason: Option<String>,
    pub submitted_at: String,
    /// Its timeout in seconds (for the record's message).
    pub timeout_secs: f64,
    /// Its `cwd`, if it has one (for the record's message when it does not exist there).
    #[serde(default)]
    pub cwd: Option<String>,
}

impl Forwarded {
    /// Its file in `running/`.
    pub fn path(&self, queue: &Queue) -> PathBuf {
        queue.running.join(&self.running)
    }

    /// The job as the drain that claimed it knew it, for filing its record.
    pub fn claimed(&self, queue: &Queue) -> Option<Claimed> {
        let path = self.path(queue);
        Some(Claimed {
            name: OsString::from(&self.name),
            id: FileId::at(&path)?,
            path,
        })
    }

    /// The job as `show`, `list` and the MCP tools describe it while it runs there.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.as_str(),
            "job_id": self.job_id,
            "state": self.state,
            "node": self.node,
            "reason": self.reason,
        })
    }

    /// In a few words: `slurm job 12 (RUNNING on node1)`.
    pub fn summary(&self) -> String {
        let id = self
            .job_id
            .map_or_else(|| "(being submitted)".into(), |id| format!("job {id}"));
        let state = self.state.as_deref().unwrap_or("SUBMITTED");
        let place = self
            .node
            .as_deref()
            .map(|n| format!(" on {n}"))
            .unwrap_or_default();
        let why = self
            .reason
            .as_deref()
            .filter(|_| state == "PENDING")
            .map(|r| format!(", {r}"))
            .unwrap_or_default();
        format!("{} {id} ({state}{place}{why})", self.kind.as_str())
    }

    /// Its output as it grows: `stdout` and `stderr` in its folder.
    pub fn output_paths(&self) -> [PathBuf; 2] {
        [self.dir.join("stdout"), self.dir.join("stderr")]
    }

    /// `executor` as the record carries it.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.as_str(),
            "job_id": self.job_id,
            "node": self.node,
        })
    }
}

/// The note of the job at `running/NAME`.
pub fn note_path(job: &Path) -> PathBuf {
    internal(job, SUFFIX)
}

/// Writes the note of a forwarded job and makes it durable (written beside, synced, renamed,
/// `running/` synced).
pub fn save(queue: &Queue, job: &Path, note: &Forwarded) -> Result<()> {
    let path = note_path(job);
    let tmp = internal(job, ".forwarded.tmp");
    let bytes = serde_json::to_vec_pretty(note).expect("a note always serializes");
    fsutil::remove_if_exists(&tmp)?;
    fsutil::write_new_synced(&tmp, &bytes)?;
    fsutil::rename(&tmp, &path)?;
    fsutil::sync_dir(&queue.running)
}

/// The note of the job at `running/NAME`, if it was forwarded.
pub fn read(job: &Path) -> Option<Forwarded> {
    read_note(&note_path(job)).ok()
}

fn read_note(path: &Path) -> Result<Forwarded> {
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("`{}` is not a note execq wrote", path.display()))
}

/// Whether `name` (in `running/`) is a forwarded job's note.
pub fn is_note(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.starts_with(b".") && name.ends_with(SUFFIX.as_bytes())
}

/// Whether any job in `running/` was forwarded.
pub fn any(queue: &Queue) -> bool {
    std::fs::read_dir(&queue.running)
        .map(|dir| dir.flatten().any(|e| is_note(&e.file_name())))
        .unwrap_or(false)
}

/// Every forwarded job's note in `running/`, from the names listed there. A note whose job has
/// gone (its record was filed by a drain killed before it removed the note) is removed.
pub fn all(queue: &Queue, names: &[OsString]) -> Result<Vec<Forwarded>> {
    let mut found = Vec::new();
    for name in names.iter().filter(|n| is_note(n)) {
        let path = queue.running.join(name);
        let note = match read_note(&path) {
            Ok(note) => note,
            Err(e) => {
                tracing::error!("{e:#}; it is left for you to look at");
                continue;
            }
        };
        if !fsutil::exists(&note.path(queue)) || note_path(&note.path(queue)) != path {
            // Its job was filed (or went back to `pending/`) by a drain killed before it
            // tidied up: its folder goes, then the note.
            fsutil::discard_dir(&note.dir);
            fsutil::remove_if_exists(&path)?;
            continue;
        }
        found.push(note);
    }
    Ok(found)
}

/// Removes the note of a job whose record is filed (or that went back to `pending/`).
pub fn remove(queue: &Queue, note: &Forwarded) -> Result<()> {
    fsutil::remove_if_exists(&note_path(&note.path(queue)))
}

/// Why jobs could not be handed over or looked at lately: `QUEUE/forwarding-fault.json`, written
/// when a reason first appears or changes, removed once the executor answers again.
pub fn fault_path(queue: &Queue) -> PathBuf {
    queue.root.join("forwarding-fault.json")
}

/// The fault as `status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub executor: Kind,
    pub error: String,
    pub since: String,
}

/// Records `why` (once: a drain meeting the same fault again writes nothing). Returns whether it
/// was news.
pub fn note_fault(queue: &Queue, executor: Kind, why: &str) -> Result<bool> {
    let known = read_fault(queue);
    if (known.as_ref()).is_some_and(|f| f.error == why && f.executor == executor) {
        return Ok(false);
    }
    let fault = Fault {
        executor,
        error: why.to_owned(),
        since: known.map_or_else(
            || crate::job::result::timestamp(chrono::Local::now()),
            |f| f.since,
        ),
    };
    let tmp = queue.temp_path("forwarding-fault.json");
    fsutil::write(&tmp, &serde_json::to_vec_pretty(&fault)?)?;
    fsutil::rename(&tmp, &fault_path(queue))?;
    Ok(true)
}

/// Forgets the fault: the executor answered. Returns whether there was one.
pub fn clear_fault(queue: &Queue) -> Result<bool> {
    let path = fault_path(queue);
    if !fsutil::exists(&path) {
        return Ok(false);
    }
    fsutil::remove_if_exists(&path)?;
    Ok(true)
}

pub fn read_fault(queue: &Queue) -> Option<Fault> {
    serde_json::from_slice(&std::fs::read(fault_path(queue)).ok()?).ok()
}

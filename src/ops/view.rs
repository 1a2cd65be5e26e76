//! The one view of a job that every machine-readable answer gives: `show --json`, `list --json`,
//! the MCP tools' structured content and the served dashboard's `/api/jobs/REF`. A list leaves out
//! what costs a read per job (the output's tails, the whole record); a single job has them.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::time::SystemTime;

use anyhow::Result;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::job::result::{JobResult, timestamp};
use crate::queue::catalog::{Entry, State};
use crate::queue::names::display_path;
use crate::queue::record::spool_paths;
use crate::queue::schedule::Wait;

/// Output kept at the end of each stream in a job's view.
pub const TAIL_BYTES: usize = 4 * 1024;

/// How much of a job a view holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// A row of a list: no output, no record.
    Row,
    /// One job: the last [`TAIL_BYTES`] of each stream.
    Tails,
    /// One job, with its whole record (`show --json`, `/api/jobs/REF`).
    Record,
}

/// One job.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct JobView {
    /// The job's file name: the surest reference to pass to every verb and tool.
    pub job: String,
    /// Where it is now, inside the queue (none once archived).
    pub path: Option<String>,
    pub task_id: Option<String>,
    /// pending, running, completed, failed, or archived.
    pub state: String,
    /// How it ended: completed, failed, timeout, error, interrupted, cancelled,
    /// dependency_failed. Null until it has.
    pub status: Option<String>,
    /// It has a result and will not change (unless retried).
    pub done: bool,
    /// What it runs, in one line.
    pub command: String,
    /// When it was queued (pending), claimed (running) or recorded (finished).
    pub time: Option<String>,
    /// Higher runs first.
    pub priority: i64,
    /// Jobs that must complete before it runs.
    pub after: Vec<String>,
    /// Not to start before this time.
    pub not_before: Option<String>,
    /// Why a pending job is not running yet (a time, a dependency), if it waits for something.
    pub waiting: Option<String>,
    pub returncode: Option<i32>,
    pub duration_ms: Option<u64>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// How long a running job has been running.
    pub running_seconds: Option<f64>,
    pub error: Option<String>,
    /// The last 4 KiB of its output so far (empty in lists; `job_output` pages through it all).
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// Bytes written to each stream so far.
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// Archived jobs: the state it had, and when it was archived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<String>,
    /// The job's whole record (`show --json`, `/api/jobs/REF`), as in its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Value>,
    /// How many earlier runs it has (`retry`): its `history`, and any dropped from it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: usize,
    /// Its group (`group`), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// When it was submitted (jobs `execq submit`, MCP and schedules queue say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// Where it runs or ran, when not here: `{"kind": "slurm", "job_id": 12, "node": ...}` (and
    /// while it runs, Slurm's `state` and `reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Value>,
    /// Submitted through MCP as a task (`tasks/list` lists these).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mcp_task: bool,
}

impl JobView {
    /// The view of a job in the queue; `waiting` says why a pending one waits.
    pub fn of(entry: &Entry, waiting: Option<&Wait>, detail: Detail) -> Result<Self> {
        let schedule = entry.schedule();
        let mut view = Self {
            job: entry.name.clone(),
            path: Some(display_path(&entry.path)),
            task_id: entry.task_id().map(str::to_owned),
            state: entry.state.as_str().to_owned(),
            command: entry.command(),
            time: Some(timestamp(entry.time.into())),
            priority: schedule.priority,
            after: schedule.after,
            not_before: schedule.not_before.map(|t| t.to_rfc3339()),
            waiting: waiting
                .filter(|_| entry.state == State::Pending)
                .map(ToString::to_string),
            mcp_task: entry
                .object
                .as_ref()
                .is_some_and(|o| o.get("mcp_task") == Some(&Value::Bool(true))),
            group: entry.schedule().group,
            retries: entry.object.as_ref().map_or(0, runs_before),
            submitted_at: (entry.object.as_ref())
                .and_then(|o| o.get("submitted_at")?.as_str())
                .map(str::to_owned),
            ..Self::default()
        };
        match (entry.state, &entry.result) {
            (State::Running, _) => {
                view.running_seconds = SystemTime::now()
                    .duration_since(entry.time)
                    .ok()
                    .map(|d| d.as_secs_f64());
                let note = crate::queue::forwarded::read(&entry.path);
                view.executor = note.as_ref().map(|n| n.view());
                if detail != Detail::Row {
                    let [out, err] = match &note {
                        Some(note) => note.output_paths(),
                        None => spool_paths(&entry.path),
                    };
                    (view.stdout_tail, view.stdout_bytes) = live_tail(&out);
                    (view.stderr_tail, view.stderr_bytes) = live_tail(&err);
                }
            }
            (State::Completed | State::Failed, Some(result)) => {
                view.add_result(result, detail);
                view.executor = (entry.object.as_ref())
                    .and_then(|o| o.get("executor"))
                    .filter(|e| e.is_object())
                    .cloned();
            }
            _ => {}
        }
        if detail == Detail::Record {
            view.record = Some(entry.record()?);
        }
        Ok(view)
    }

    /// The view of a job found only in the archive: one line of `archive/*.jsonl.gz`.
    pub fn archived(line: &Value, detail: Detail) -> Self {
        let record = &line["record"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let mut view = Self {
            job: line["file"].as_str().unwrap_or_default().to_owned(),
            task_id: text(&record["task_id"]),
            state: "archived".to_owned(),
            command: record["command"].as_str().unwrap_or("?").to_owned(),
            archived_from: text(&line["state"]),
            archived_at: text(&line["archived_at"]),
            mcp_task: record["mcp_task"] == true,
            group: text(&record["group"]),
            retries: record.as_object().map_or(0, runs_before),
            submitted_at: text(&record["submitted_at"]),
            ..Self::default()
        };
        if let Ok(result) = serde_json::from_value::<JobResult>(record["result"].clone()) {
            view.add_result(&result, detail);
        }
        if detail == Detail::Record {
            view.record = Some(record.clone());
        }
        view
    }

    /// This view as of an earlier run `k` (0: the first) of a retried job, from its record's
    /// `history`; `Err` says why there is no such run to show.
    pub fn at_run(mut self, record: &Value, k: usize) -> Result<Self, String> {
        if k >= self.retries {
            return if k == self.retries {
                Ok(self)
            } else {
                Err(format!("`{}` has had no run {k}", self.job))
            };
        }
        let dropped = record["history_dropped"].as_u64().unwrap_or(0) as usize;
        let Some(earlier) = k
            .checked_sub(dropped)
            .and_then(|i| record["history"].get(i))
        else {
            return Err(format!(
                "the result of `{}`'s run {k} was dropped from its history",
                self.job
            ));
        };
        let result: JobResult = serde_json::from_value(earlier.clone())
            .map_err(|e| format!("`{}`'s run {k} has no readable result: {e}", self.job))?;
        self.state = if result.status == crate::job::result::Status::Completed {
            "completed"
        } else {
            "failed"
        }
        .to_owned();
        self.waiting = None;
        self.running_seconds = None;
        self.add_result(&result, Detail::Tails);
        Ok(self)
    }

    fn add_result(&mut self, r: &JobResult, detail: Detail) {
        self.status = Some(r.status.as_str().to_owned());
        self.done = true;
        self.returncode = r.returncode;
        self.duration_ms = Some(r.duration_ms);
        self.started_at.clone_from(&r.started_at);
        self.completed_at = Some(r.completed_at.clone());
        self.error.clone_from(&r.error);
        self.stdout_bytes = r.stdout_bytes;
        self.stderr_bytes = r.stderr_bytes;
        if detail != Detail::Row {
            self.stdout_tail = tail(&r.stdout, TAIL_BYTES);
            self.stderr_tail = tail(&r.stderr, TAIL_BYTES);
        }
    }
}

/// The last `max` bytes of `text`, from a character boundary.
fn tail(text: &str, max: usize) -> String {
    text[crate::output::tail_start(text, max)..].to_owned()
}

/// The end of a running job's live output, and its size so far.
fn live_tail(path: &std::path::Path) -> (String, u64) {
    let Ok(mut file) = File::open(path) else {
        return (String::new(), 0);
    };
    let size = file.metadata().map_or(0, |m| m.len());
    let start = size.saturating_sub(TAIL_BYTES as u64);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return (String::new(), size);
    }
    (String::from_utf8_lossy(&bytes).into_owned(), size)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Earlier runs in a job's record: its `history`, and those dropped from it.
pub fn runs_before(job: &serde_json::Map<String, Value>) -> usize {
    let kept = job
        .get("history")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let dropped = job
        .get("history_dropped")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    kept + usize::try_from(dropped).unwrap_or(0)
}

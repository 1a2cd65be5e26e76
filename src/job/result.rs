//! The `result` object execq adds to a job (the seed's format, extended).

use chrono::{DateTime, Local, SecondsFormat};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Exited 0.
    Completed,
    /// Non-zero exit, or killed by a signal execq did not send.
    Failed,
    /// Ran past its timeout and was ended.
    Timeout,
    /// Drain was stopped, or died, while it ran.
    Interrupted,
    /// Could not run at all.
    Error,
    /// Not run: a job it had to wait for (`after`) did not complete.
    #[serde(rename = "dependency_failed")]
    DependencyFailed,
    /// Stopped (or never started) by `execq cancel`.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Interrupted => "interrupted",
            Self::Error => "error",
            Self::DependencyFailed => "dependency_failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The `result` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub status: Status,
    /// Exit code; `-N` when killed by signal N (as Python's subprocess reports); null if never run.
    pub returncode: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub started_at: Option<String>,
    pub completed_at: String,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub timed_out: bool,
    /// The signal that ended the job's main process.
    pub signal: Option<i32>,
    /// The resource limit that ended the job (`cpu`, `memory`, `open_files`, `processes`,
    /// `file_size`), when one did (see `job::limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The sandbox it ran in (see `exec::sandbox`), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<serde_json::Value>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// Total bytes the job wrote to each stream (the record may keep fewer).
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_file_truncated: Option<bool>,
    /// Things worth knowing that are not errors (leftover processes ended, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// An error and its causes, as one line for a record: `outer: cause: root cause`.
pub fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// RFC 3339 with microseconds and the local offset.
pub fn timestamp(at: DateTime<Local>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, false)
}

impl JobResult {
    /// A job that could not run.
    pub fn error(message: impl Into<String>) -> Self {
        Self::not_run(Status::Error, message.into(), None)
    }

    /// A job found in `running/` by a later drain.
    pub fn interrupted_by_crash(claimed_at: Option<DateTime<Local>>) -> Self {
        let message = "drain stopped (killed, crashed, lost power or could not save the result) after \
                       claiming this job: while it ran, just before it started, or before its result was \
                       saved; it was found in running/ by a later drain and was not run again (`execq \
                       retry` runs it again)";
        Self::not_run(
            Status::Interrupted,
            message.into(),
            claimed_at.map(timestamp),
        )
    }

    /// A job filed without running: `dependency_failed` or `cancelled` while pending.
    pub fn skipped(status: Status, message: impl Into<String>) -> Self {
        Self::not_run(status, message.into(), None)
    }

    fn not_run(status: Status, error: String, started_at: Option<String>) -> Self {
        Self {
            status,
            returncode: None,
            stdout: String::new(),
            stderr: String::new(),
            started_at,
            completed_at: timestamp(Local::now()),
            duration_ms: 0,
            error: Some(error),
            timed_out: false,
            signal: None,
            limit: None,
            sandbox: None,
            stdout_truncated: false,
            stderr_truncated: false,
            stdout_bytes: 0,
            stderr_bytes: 0,
            result_file: None,
            result_file_truncated: None,
            notes: Vec::new(),
        }
    }
}

/// Moves a job object's `result`, if it has one, to the end of its `history` list, so a job
/// re-queued from a record (by `retry`, or by hand) keeps every earlier result.
pub fn archive_result(job: &mut Map<String, Value>) {
    if let Some(previous) = job.shift_remove("result") {
        match job
            .entry("history")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(history) => history.push(previous),
            other => *other = Value::Array(vec![other.take(), previous]),
        }
    }
}

/// Makes a job object re-queued with its `history` fit in `limit` bytes (as pretty JSON plus a
/// newline, the way it is written), so it can always run again: the output kept in earlier results
/// is cut to its last 64 KiB, then 4 KiB, then nothing, and if that is still too much the oldest
/// results are dropped. Each cut is marked in the result it touched (`trimmed_for_retry`), and
/// dropped results are counted in `history_dropped`. Returns the bytes to write, or `None` if the
/// job is over `limit` even without any history.
pub fn fit_history(job: &mut Map<String, Value>, limit: usize) -> Option<Vec<u8>> {
    let encode = |job: &Map<String, Value>| {
        let mut bytes = serde_json::to_vec_pretty(job).expect("a JSON object always serializes");
        bytes.push(b'\n');
        bytes
    };
    for keep in [None, Some(64 * 1024), Some(4096), Some(0)] {
        if let (Some(keep), Some(Value::Array(history))) = (keep, job.get_mut("history")) {
            history
                .iter_mut()
                .for_each(|entry| trim_output(entry, keep));
        }
        let bytes = encode(job);
        if bytes.len() <= limit {
            return Some(bytes);
        }
    }
    while let Some(Value::Array(history)) = job.get_mut("history") {
        if history.is_empty() {
            break;
        }
        history.remove(0);
        let dropped = job
            .get("history_dropped")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        job.insert(
            "history_dropped".into(),
            Value::from(dropped.saturating_add(1)),
        );
        let bytes = encode(job);
        if bytes.len() <= limit {
            return Some(bytes);
        }
    }
    None
}

/// Cuts an archived result's `stdout` and `stderr` to their last `keep` bytes.
fn trim_output(entry: &mut Value, keep: usize) {
    let Value::Object(result) = entry else { return };
    let mut trimmed = false;
    for stream in ["stdout", "stderr"] {
        if let Some(Value::String(text)) = result.get_mut(stream)
            && text.len() > keep
        {
            let cut = crate::output::tail_start(text, keep);
            text.drain(..cut);
            result.insert(format!("{stream}_truncated"), Value::Bool(true));
            trimmed = true;
        }
    }
    if trimmed {
        result.insert("trimmed_for_retry".into(), Value::Bool(true));
    }
}

/// Adds `result` to a job object, archiving any earlier one (see [`archive_result`]).
pub fn merge(job: &mut Map<String, Value>, result: &JobResult) {
    archive_result(job);
    job.insert(
        "result".into(),
        serde_json::to_value(result).expect("a JobResult always serializes"),
    );
}

/// A job object with `result` added, as [`merge`] makes it, for serializing without making it:
/// the result's output is written as it is serialized, not first copied into a JSON tree.
#[derive(Clone, Copy, Debug)]
pub struct Merged<'a> {
    job: &'a Map<String, Value>,
    result: &'a JobResult,
}

impl<'a> Merged<'a> {
    /// `job` with `result` added, archiving any earlier one (see [`archive_result`]).
    pub fn new(job: &'a mut Map<String, Value>, result: &'a JobResult) -> Self {
        archive_result(job);
        Self { job, result }
    }
}

impl Serialize for Merged<'_> {
    /// The same fields in the same order as the object [`merge`] makes: the job's, then `result`
    /// (archiving took out any earlier one).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.job.len() + 1))?;
        for (key, value) in self.job {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("result", self.result)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> JobResult {
        JobResult {
            status: Status::Failed,
            returncode: Some(-9),
            stdout: "out\0\u{1}\u{1b}[0m\r\n\t\u{7f}é\n".into(),
            stderr: "\"quoted\" \\ err".into(),
            started_at: Some("2026-12-01T10:00:00.000001+01:00".into()),
            completed_at: "2026-12-01T10:00:01.000001+01:00".into(),
            duration_ms: 1000,
            error: Some("killed by signal 9".into()),
            timed_out: false,
            signal: Some(9),
            limit: Some("memory".into()),
            sandbox: Some(serde_json::json!({"mode": "workspace", "writable": ["/w \"q\""]})),
            stdout_truncated: true,
            stderr_truncated: false,
            stdout_bytes: u64::MAX,
            stderr_bytes: 15,
            result_file: Some("/q/results/x".into()),
            result_file_truncated: Some(false),
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn a_merged_record_serializes_as_the_merged_object_does() {
        let job = serde_json::json!({
            "command": "echo",
            "big": 123456789012345678901234567890u128,
            "exact": serde_json::from_str::<Value>("1.50").unwrap(),
            "nested": {"b": [1, null, "x"], "a": {}},
            "result": {"status": "completed", "stdout": "earlier"},
            "task_id": "t1",
        });
        for mut job in [job.as_object().unwrap().clone(), Map::new()] {
            let result = result();
            let mut merged = job.clone();
            merge(&mut merged, &result);
            let expected = serde_json::to_string_pretty(&merged).unwrap();
            let got = serde_json::to_string_pretty(&Merged::new(&mut job, &result)).unwrap();
            assert_eq!(got, expected);
        }
    }
}

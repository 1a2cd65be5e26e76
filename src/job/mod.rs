//! What a job file asks for, and every way it can be wrong.
//!
//! Formats (the seed's): a JSON object with `command` and `args` (run directly, no shell); a JSON
//! object whose `command` is a string and has no `args` (run with `/bin/sh -c`); a `.sh` or `.txt`
//! script (run by `/bin/sh`, or by the interpreter its `#!` line names).

pub mod executor;
pub mod limits;
pub mod notify;
pub mod result;
pub mod sandbox;
pub mod schedule;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

/// How a job's process is started.
#[derive(Clone, Debug, PartialEq)]
pub enum Program {
    /// `command` + `args`: exec'd directly.
    Argv { program: String, args: Vec<String> },
    /// `command` alone: `/bin/sh -c command`.
    Shell(String),
    /// A script file: `interpreter... script_path`.
    Script { interpreter: Vec<String> },
}

/// A validated job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    pub program: Program,
    pub task_id: Option<String>,
    pub result_file: Option<String>,
    /// Per-job timeout (`timeout`, seconds), overriding drain's `--timeout`.
    pub timeout: Option<Duration>,
    /// Working directory (`cwd`); drain's own when absent.
    pub cwd: Option<PathBuf>,
    /// Variables added to the job's environment (`env`).
    pub env: Vec<(String, String)>,
    /// When it may run, and in what order (`priority`, `after`, `not_before`).
    pub schedule: schedule::Schedule,
    /// Resource limits for its processes (`limits`); the drain's defaults fill the rest.
    pub limits: limits::ResourceLimits,
    /// Its own notification settings (`notify`).
    pub notify: Option<notify::Notify>,
    /// The sandbox it asks for (`sandbox`); `None`: the queue's `[sandbox] default`.
    pub sandbox: Option<sandbox::Sandbox>,
    /// The door it came through (`origin`, written by execq's doors), whose floor applies.
    pub origin: Option<sandbox::Origin>,
    /// Where it runs (`executor`); `None`: the queue's `[executor] default`.
    pub executor: Option<executor::Kind>,
}

/// The kinds of job file, told apart by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Script,
    Unsupported,
}

impl Format {
    /// `.json` → JSON; `.sh` / `.txt` → script; anything else is unsupported.
    pub fn of(name: &OsStr) -> Self {
        let name = name.as_encoded_bytes();
        if name.ends_with(b".json") {
            Self::Json
        } else if name.ends_with(b".sh") || name.ends_with(b".txt") {
            Self::Script
        } else {
            Self::Unsupported
        }
    }
}

/// Why a job cannot run. Each message names the field and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JobError {
    #[error("the job file is empty")]
    Empty,
    #[error("the job file is {size} bytes, over the {limit}-byte limit for job files")]
    TooLarge { size: u64, limit: u64 },
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("the job is a JSON {0}, not an object with a `command`")]
    NotAnObject(&'static str),
    #[error("`command` is missing")]
    MissingCommand,
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("`{0}` is empty")]
    EmptyField(String),
    #[error("`{0}` contains a NUL byte")]
    NulByte(String),
    #[error(
        "`timeout` must be a positive number of seconds up to 3155760000 (100 years), found {0}"
    )]
    BadTimeout(String),
    #[error("the script contains NUL bytes; it looks like a binary file, not a shell script")]
    BinaryScript,
    #[error("the script's `#!` line names no interpreter")]
    EmptyShebang,
    #[error("unsupported job format: `{0}` (use .json, .sh or .txt)")]
    Unsupported(String),
    #[error("`{0}` is a {1}, not a regular file")]
    NotAFile(String, &'static str),
    #[error("`{0}` is a symbolic link; execq never follows links in pending/")]
    Symlink(String),
    #[error("`{name}` is owned by uid {uid}, not by the user running execq; it was not run")]
    ForeignOwner { name: String, uid: u32 },
    #[error("cannot read `{0}`: {1}")]
    Unreadable(String, String),
    #[error("`priority` must be a whole number (64-bit), found {0}")]
    BadPriority(String),
    #[error("`not_before` must be an RFC 3339 time such as 2026-11-24T14:00:00+01:00, found `{0}`")]
    BadTime(String),
    #[error("`env` name `{0}` must not be empty or contain `=` or a NUL byte")]
    BadEnvName(String),
    #[error("`limits`: {0}")]
    BadLimits(String),
    #[error("`notify`: {0}")]
    BadNotify(String),
    #[error("`sandbox`: {0}")]
    BadSandbox(String),
    #[error(
        "`group` must be 1 to 64 letters, digits, `_`, `-` or `.`, not starting with `.`, found `{0}`"
    )]
    BadGroup(String),
    #[error("`origin`: {0}")]
    BadOrigin(String),
    #[error("`executor` {0}")]
    BadExecutor(String),
}

/// The name of a JSON value's type, for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Parses a JSON job file's bytes into its object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JobError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(JobError::Empty);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(JobError::NotAnObject(
            type_name(&other)
                .trim_start_matches("a ")
                .trim_start_matches("an "),
        )),
        Err(e) => Err(JobError::InvalidJson(e.to_string())),
    }
}

pub(crate) fn text(field: &str, value: &Value) -> Result<String, JobError> {
    match value {
        Value::String(s) if s.contains('\0') => Err(JobError::NulByte(field.to_owned())),
        Value::String(s) => Ok(s.clone()),
        other => Err(JobError::WrongType {
            field: field.to_owned(),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

/// An optional string field: absent and `null` both mean "not given".
fn optional_text(job: &Map<String, Value>, field: &str) -> Result<Option<String>, JobError> {
    match job.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => text(field, value).map(Some),
    }
}

fn command(job: &Map<String, Value>) -> Result<String, JobError> {
    let value = job.get("command").ok_or(JobError::MissingCommand)?;
    let command = text("command", value)?;
    if command.trim().is_empty() {
        return Err(JobError::EmptyField("command".into()));
    }
    Ok(command)
}

fn args(job: &Map<String, Value>) -> Result<Option<Vec<String>>, JobError> {
    match job.get("args") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| text(&format!("args[{i}]"), v))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(other) => Err(JobError::WrongType {
            field: "args".into(),
            expected: "a list of strings",
            found: type_name(other),
        }),
    }
}

fn timeout(job: &Map<String, Value>) -> Result<Option<Duration>, JobError> {
    match job.get("timeout") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|secs| crate::duration::from_secs_f64(secs, "").ok())
            .filter(|d| !d.is_zero())
            .map(Some)
            .ok_or_else(|| JobError::BadTimeout(n.to_string())),
        Some(other) => Err(JobError::BadTimeout(type_name(other).into())),
    }
}

/// Checks one `env` entry. A process's environment is a list of `NAME=VALUE` strings, split at
/// the first `=`: a name holding `=` would set another variable than the one named (`PATH=/x:`
/// set to `y` is `PATH` set to `/x:=y`), and a NUL would end the string early. Every way in (job
/// files, `submit --env`, MCP) ends here, so what was checked is what the job gets.
pub fn check_env(name: &str, value: &str) -> Result<(), JobError> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err(JobError::BadEnvName(name.to_owned()));
    }
    if value.contains('\0') {
        return Err(JobError::NulByte(format!("env.{name}")));
    }
    Ok(())
}

/// Validates a JSON job object.
pub fn from_json(job: &Map<String, Value>) -> Result<JobSpec, JobError> {
    let command = command(job)?;
    let program = match args(job)? {
        Some(args) => Program::Argv {
            program: command,
            args,
        },
        None => Program::Shell(command),
    };
    for field in ["description", "purpose"] {
        optional_text(job, field)?;
    }
    let result_file = optional_text(job, "result_file")?;
    if result_file.as_deref().is_some_and(|f| f.trim().is_empty()) {
        return Err(JobError::EmptyField("result_file".into()));
    }
    Ok(JobSpec {
        program,
        task_id: optional_text(job, "task_id")?,
        result_file,
        timeout: timeout(job)?,
        cwd: optional_text(job, "cwd")?.map(PathBuf::from),
        env: schedule::env(job)?,
        schedule: schedule::Schedule::of(job)?,
        limits: limits::ResourceLimits::of_job(job).map_err(JobError::BadLimits)?,
        notify: notify::Notify::of_job(job.get("notify")).map_err(JobError::BadNotify)?,
        sandbox: sandbox::Sandbox::of_job(job).map_err(JobError::BadSandbox)?,
        origin: optional_text(job, "origin")?
            .map(|o| sandbox::Origin::parse(&o))
            .transpose()
            .map_err(JobError::BadOrigin)?,
        executor: executor::Kind::of_job(job).map_err(JobError::BadExecutor)?,
    })
}

/// Validates a script job: `/bin/sh` runs it unless its first line is a `#!` line.
pub fn from_script(bytes: &[u8]) -> Result<JobSpec, JobError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(JobError::Empty);
    }
    if bytes.contains(&0) {
        return Err(JobError::BinaryScript);
    }
    let interpreter = match bytes.strip_prefix(b"#!") {
        Some(rest) => {
            let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
            let words: Vec<String> = String::from_utf8_lossy(line)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if words.is_empty() {
                return Err(JobError::EmptyShebang);
            }
            words
        }
        None => vec!["/bin/sh".to_owned()],
    };
    Ok(JobSpec {
        program: Program::Script { interpreter },
        task_id: None,
        result_file: None,
        timeout: None,
        cwd: None,
        env: Vec::new(),
        schedule: schedule::Schedule::default(),
        limits: limits::ResourceLimits::default(),
        notify: None,
        sandbox: None,
        origin: None,
        executor: None,
    })
}

/// A one-line description of what a job runs, for logs and listings.
pub fn summary(program: &Program, script: &Path) -> String {
    let line = match program {
        Program::Argv { program, args } => std::iter::once(program.as_str())
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        Program::Shell(command) => command.clone(),
        Program::Script { interpreter } => {
            format!("{} {}", interpreter.join(" "), script.display())
        }
    };
    shorten(&line.replace('\n', "⏎"), 120)
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;

//! `execq submit`: write a JSON job into `pending/` atomically and durably (see
//! `queue::enqueue`), print where it went, and with `--start` make sure a drain will run it.

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, Local};
use serde_json::{Map, Value, json};

use crate::commands::drain as drain_command;
use crate::commands::wait;
use crate::config::{DrainOptions, Flags};
use crate::drain::SUBMIT_LINGER;
use crate::drain::background::{self, Start};
use crate::exit_code::ExitCode;
use crate::fsutil::FileId;
use crate::job;
use crate::job::limits::ResourceLimits;
use crate::job::result::Status;
use crate::output;
use crate::queue::Queue;
use crate::queue::enqueue::{enqueue_identified, slug};
use crate::queue::names::display_path;
use crate::queue::watch::{self, Records, Tracked};

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub enum SubmitCommand {
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// A command line for `/bin/sh -c`.
    Shell(String),
}

/// One variable for a submitted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvVar {
    /// Copied from the submitter's environment (`--env NAME`).
    Copy(String),
    /// A name and its value, kept apart from here on: joining them would let a name holding `=`
    /// set another variable (see [`job::check_env`]).
    Set(String, String),
}

impl EnvVar {
    /// `--env`'s argument: `NAME=VALUE` (split at the first `=`), or `NAME` alone.
    pub fn parse(given: &str) -> Self {
        match given.split_once('=') {
            Some((name, value)) => Self::Set(name.to_owned(), value.to_owned()),
            None => Self::Copy(given.to_owned()),
        }
    }
}

/// A job to submit.
#[derive(Clone, Debug, PartialEq)]
pub struct SubmitOptions {
    pub command: SubmitCommand,
    pub task_id: Option<String>,
    pub description: Option<String>,
    pub result_file: Option<String>,
    pub timeout: Option<f64>,
    pub cwd: Option<PathBuf>,
    /// Higher runs first.
    pub priority: Option<i64>,
    /// Jobs that must complete first.
    pub after: Vec<String>,
    /// Not to start before (from `--at` or `--delay`).
    pub not_before: Option<DateTime<FixedOffset>>,
    /// Variables for the job, on top of the submitter's `PATH`.
    pub env: Vec<EnvVar>,
    /// Resource limits (`limits`), checked as a job file's are.
    pub limits: ResourceLimits,
}

/// `submit --wait`: the job's output on this process's stdout and stderr, its exit code as this
/// process's (see [`ExitCode::of_job`]).
fn wait_for(queue: &Queue, submitted: &Submitted, earlier: Records) -> Result<ExitCode> {
    let name = submitted.path.file_name().unwrap_or_default().to_owned();
    let job = Tracked::pending(submitted.task_id.clone(), name, submitted.id, earlier);
    let entry = wait::until_finished(queue, &job)?;
    let Some(result) = entry.result else {
        anyhow::bail!("`{}` finished without a readable result", entry.name);
    };
    output::print(&result.stdout)?;
    eprint!("{}", result.stderr);
    if let Some(error) = result
        .error
        .as_deref()
        .filter(|_| result.status != Status::Completed)
    {
        eprintln!("execq: {} {}: {error}", entry.name, result.status.as_str());
    }
    Ok(ExitCode::of_job(&result))
}

/// Where a submitted job went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub task_id: String,
    pub path: PathBuf,
    /// The job file's identity, which it keeps through the claim (see `queue::watch`).
    pub id: Option<FileId>,
}

/// `execq submit`'s options.
#[derive(Clone, Debug, PartialEq)]
pub struct Opts {
    pub job: SubmitOptions,
    /// Print `{"task_id", "path"}` as JSON.
    pub json: bool,
    /// Start a drain in the background unless one holds the queue.
    pub start: bool,
    /// Wait for the job's record, print its output and exit with its exit code (starts a drain
    /// as `start` does).
    pub wait: bool,
}

/// Runs `execq submit`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    // A task_id given by hand may be an earlier job's: its records are not this job's.
    let earlier = match opts.job.task_id {
        Some(_) if opts.wait => watch::records(queue),
        _ => Records::new(),
    };
    let submitted = submit(queue, &opts.job)?;
    if opts.start || opts.wait {
        let started = background::start_drain(queue).unwrap_or_else(|e| {
            // The job is queued either way; failing here would invite a second submission.
            tracing::warn!("the job is queued, but no drain could be started: {e:#}");
            Start::AlreadyDraining
        });
        if let Start::Drain(lock) = started {
            // The forked drain: its stdout is /dev/null and nobody waits for its exit code.
            let flags = Flags {
                linger: Some(SUBMIT_LINGER),
                ..Flags::default()
            };
            let options = drain_command::settings(queue, &flags, DrainOptions::default())?;
            return drain_command::drain_with(queue, &options, false, Some(lock));
        }
    }
    if opts.wait {
        return wait_for(queue, &submitted, earlier);
    }
    let line = if opts.json {
        json!({ "task_id": submitted.task_id, "path": display_path(&submitted.path) }).to_string()
    } else {
        submitted.path.display().to_string()
    };
    output::print_line(&line)?;
    Ok(ExitCode::Success)
}

/// Writes the job into `queue`'s `pending/`.
pub fn submit(queue: &Queue, opts: &SubmitOptions) -> Result<Submitted> {
    queue.open()?;
    let stamp = Local::now().format("%Y%m%d-%H%M%S%.6f").to_string();
    let random = format!(
        "{:06x}",
        RandomState::new().build_hasher().finish() & 0xff_ffff
    );
    let task_id = opts
        .task_id
        .clone()
        .unwrap_or_else(|| format!("{stamp}-{random}"));
    let object = job_object(opts, &task_id)?;
    let mut bytes =
        serde_json::to_vec_pretty(&Value::Object(object)).context("failed to serialize the job")?;
    bytes.push(b'\n');
    let name = format!(
        "{stamp}-{}.json",
        slug(opts.task_id.as_deref().unwrap_or(&random))
    );
    let (path, id) = enqueue_identified(queue, OsStr::new(&name), &bytes)?;
    Ok(Submitted { task_id, path, id })
}

fn job_object(opts: &SubmitOptions, task_id: &str) -> Result<Map<String, Value>> {
    let mut object = Map::new();
    object.insert("task_id".into(), json!(task_id));
    object.extend(template(opts)?);
    object.insert(
        "submitted_at".into(),
        json!(crate::job::result::timestamp(Local::now())),
    );
    job::from_json(&object).map_err(|e| anyhow::anyhow!("invalid job: {e}"))?;
    Ok(object)
}

/// The job `opts` describe, without `task_id` and `submitted_at` (which `schedule add` leaves to
/// each occurrence); not yet validated.
pub fn template(opts: &SubmitOptions) -> Result<Map<String, Value>> {
    let mut object = Map::new();
    match &opts.command {
        SubmitCommand::Argv(argv) => {
            let Some((program, args)) = argv.split_first() else {
                bail!("no program given to run")
            };
            object.insert("command".into(), json!(program));
            object.insert("args".into(), json!(args));
        }
        SubmitCommand::Shell(line) => {
            object.insert("command".into(), json!(line));
        }
    }
    let optional = [
        ("description", opts.description.as_ref().map(|d| json!(d))),
        ("result_file", opts.result_file.as_ref().map(|f| json!(f))),
        ("timeout", opts.timeout.map(|t| json!(t))),
        ("cwd", Some(json!(cwd(opts)?.to_string_lossy()))),
        ("env", Some(Value::Object(env(opts)?))),
        ("priority", opts.priority.map(|p| json!(p))),
        ("after", (!opts.after.is_empty()).then(|| json!(opts.after))),
        ("not_before", opts.not_before.map(|t| json!(t.to_rfc3339()))),
        (
            "limits",
            (!opts.limits.is_empty()).then(|| json!(opts.limits)),
        ),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            object.insert(key.into(), value);
        }
    }
    Ok(object)
}

/// The folder the job runs in: `--cwd` made absolute, else the submitter's own (the drain runs
/// elsewhere: its own folder, or the service's).
fn cwd(opts: &SubmitOptions) -> Result<PathBuf> {
    let dir = match &opts.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot tell the current folder; pass --cwd")?,
    };
    std::path::absolute(&dir)
        .with_context(|| format!("cannot make `--cwd {}` absolute", dir.display()))
}

/// The job's `env`: the submitter's `PATH` (under launchd a job would otherwise get launchd's),
/// then each `--env NAME` (copied) or `--env NAME=VALUE`. Nothing else of the environment is
/// kept: it may hold secrets.
fn env(opts: &SubmitOptions) -> Result<Map<String, Value>> {
    let mut vars = Map::new();
    if let Some(path) = std::env::var_os("PATH") {
        vars.insert("PATH".into(), json!(path.to_string_lossy()));
    }
    for given in &opts.env {
        let (name, value) = match given {
            EnvVar::Set(name, value) => (name.clone(), value.clone()),
            EnvVar::Copy(name) => {
                let value = std::env::var(name).with_context(|| {
                    format!("--env {name}: `{name}` is not set in this environment (give --env {name}=VALUE)")
                })?;
                (name.clone(), value)
            }
        };
        if name.is_empty() {
            bail!("--env `={value}`: the variable needs a name");
        }
        job::check_env(&name, &value).map_err(|e| anyhow::anyhow!("invalid job: {e}"))?;
        vars.insert(name, json!(value));
    }
    Ok(vars)
}

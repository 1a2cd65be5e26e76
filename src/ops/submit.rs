//! Submit a job: a JSON job written into `pending/` atomically and durably (see
//! `queue::enqueue`), with the submitter's folder and `PATH`. `execq submit`, MCP `submit_job`
//! and `schedule add` (its template) build the job here.

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, Local};
use serde_json::{Map, Value, json};

use crate::fsutil::{self, FileId};
use crate::job;
use crate::job::limits::ResourceLimits;
use crate::job::sandbox::{Origin, Sandbox};
use crate::queue::Queue;
use crate::queue::enqueue::{enqueue_unsynced, slug};

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
    /// The sandbox asked for (`sandbox`); `None`: the queue's default, raised to the door's floor.
    pub sandbox: Option<Sandbox>,
    /// The door it comes through, whose `[sandbox]` floor applies (`origin` in the job).
    pub origin: Origin,
    /// Submitted through MCP as a task (`mcp_task` in the job).
    pub mcp_task: bool,
    /// Held until released (`hold` in the job).
    pub hold: bool,
    /// The group whose slots it takes (`group` in the job); `None`: `default`.
    pub group: Option<String>,
    /// Where it runs (`executor` in the job); `None`: the queue's `[executor] default`.
    pub executor: Option<crate::executor::Kind>,
}

/// Where a submitted job went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub task_id: String,
    pub path: PathBuf,
    /// The job file's identity, which it keeps through the claim (see `queue::watch`).
    pub id: Option<FileId>,
}

/// A job put in `pending/` whose name there is not durable yet: see [`submit_unsynced`].
#[must_use = "a job is not durably queued until `pending/` is synced"]
pub struct Unsynced(Submitted);

impl Unsynced {
    /// Syncs `pending/`: from here on the job survives a power loss.
    pub fn sync(self, queue: &Queue) -> Result<Submitted> {
        fsutil::sync_dir(&queue.pending)?;
        Ok(self.0)
    }
}

/// Writes the job into `queue`'s `pending/`, but for the sync of `pending/`, which the caller
/// takes with [`Unsynced::sync`] before it says the job is queued: a door starts a drain in
/// between (see `queue::enqueue::enqueue_unsynced`).
pub fn submit_unsynced(queue: &Queue, opts: &SubmitOptions) -> Result<Unsynced> {
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
    let cwd = object
        .get("cwd")
        .and_then(Value::as_str)
        .map(std::path::Path::new);
    check_sandbox(queue, opts.sandbox.as_ref(), opts.origin, cwd).map_err(anyhow::Error::msg)?;
    check_executor(queue, &object).map_err(anyhow::Error::msg)?;
    let mut bytes =
        serde_json::to_vec_pretty(&Value::Object(object)).context("failed to serialize the job")?;
    bytes.push(b'\n');
    let name = format!(
        "{stamp}-{}.json",
        slug(opts.task_id.as_deref().unwrap_or(&random))
    );
    let (path, id) = enqueue_unsynced(queue, OsStr::new(&name), &bytes)?;
    Ok(Unsynced(Submitted { task_id, path, id }))
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
    // JSON has no infinity: one would be written as null, the queue's default, silently.
    if let Some(t) = opts.timeout.filter(|t| !t.is_finite()) {
        bail!("`timeout` must be a finite number of seconds (got {t})");
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
        ("sandbox", opts.sandbox.as_ref().map(Sandbox::to_json)),
        ("origin", Some(json!(opts.origin.as_str()))),
        ("mcp_task", opts.mcp_task.then(|| json!(true))),
        ("hold", opts.hold.then(|| json!(true))),
        ("group", opts.group.as_ref().map(|g| json!(g))),
        ("executor", opts.executor.map(|k| json!(k.as_str()))),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            object.insert(key.into(), value);
        }
    }
    Ok(object)
}

/// Refuses a job its executor cannot run as asked: a Slurm job with a sandbox (from the job, the
/// queue's default or the door's floor) or a `result_file`. The drain checks the same again when
/// it hands the job over.
pub fn check_executor(queue: &Queue, job: &Map<String, Value>) -> Result<(), String> {
    use crate::executor::Kind;
    let config = crate::config::load(queue)
        .ok()
        .flatten()
        .unwrap_or_default();
    let default = config.executor.and_then(|e| e.default).unwrap_or_default();
    let kind = Kind::of_job(job)
        .map_err(|e| format!("`executor` {e}"))?
        .unwrap_or(default);
    if kind != Kind::Slurm {
        return Ok(());
    }
    let spec = crate::job::from_json(job).map_err(|e| e.to_string())?;
    let policies = config.sandbox.unwrap_or_default();
    let applied = policies.resolve(spec.sandbox.as_ref(), spec.origin)?;
    if applied.policy.mode != crate::job::sandbox::Mode::None {
        return Err(format!(
            "the sandbox `{}` cannot be enforced on Slurm: run the job with executor `local`, or without a sandbox",
            applied.policy.mode
        ));
    }
    if spec.result_file.is_some() {
        return Err(
            "`result_file` is not supported for jobs run on Slurm (their output is in the record)"
                .into(),
        );
    }
    Ok(())
}

/// Refuses a sandbox looser than the floor of the door it comes through (`[sandbox]` in
/// `config.toml`), naming the floor, or a working folder outside the floor's `workspaces`. The
/// drain checks the same again when the job starts (the config may have changed meanwhile); a
/// config that does not parse is left to it, as drains refuse to run anything until it is fixed.
pub fn check_sandbox(
    queue: &Queue,
    sandbox: Option<&Sandbox>,
    origin: Origin,
    cwd: Option<&std::path::Path>,
) -> Result<(), String> {
    let policies = match crate::config::load(queue) {
        Ok(Some(config)) => config.sandbox.unwrap_or_default(),
        Ok(None) => Default::default(),
        Err(_) => return Ok(()),
    };
    let applied = policies.resolve(sandbox, Some(origin))?;
    let Some(cwd) = cwd else { return Ok(()) };
    // With links followed, as the drain will check it.
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    applied.check_cwd(&cwd)?;
    if applied.policy.mode == crate::job::sandbox::Mode::Workspace
        && let Ok(root) = std::fs::canonicalize(&queue.root)
        && root.starts_with(&cwd)
    {
        return Err(crate::exec::sandbox::holds_the_queue(&cwd, &root));
    }
    Ok(())
}

/// Why a job that cannot say where it came from (a script: it has no `origin`, so drains hold it
/// to `[sandbox] default` only) may not be sent again through `origin`'s door: that door's floor
/// is stricter than the default. `None`: it may.
pub fn floor_unkept(queue: &Queue, origin: Origin) -> Option<String> {
    let Ok(Some(config)) = crate::config::load(queue) else {
        return None;
    };
    let policies = config.sandbox.unwrap_or_default();
    let floor = policies.floor(origin)?;
    let applied = policies.resolve(None, Some(origin)).ok()?;
    (applied.source == crate::job::sandbox::Source::Floor(origin)).then(|| {
        format!(
            "a script job carries no origin, so it would run under [sandbox] default, looser than the floor for jobs from {} ([sandbox] {} = {}); run it again from the command line",
            origin.door(),
            origin.as_str(),
            floor.to_json()
        )
    })
}

/// The folder the job runs in: `--cwd` made absolute, else the submitter's own (the drain runs
/// elsewhere: its own folder, or the service's).
fn cwd(opts: &SubmitOptions) -> Result<PathBuf> {
    let dir = match &opts.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .context("cannot tell the current folder; give the job a working folder (`cwd`)")?,
    };
    std::path::absolute(&dir).with_context(|| {
        format!(
            "cannot make the working folder `{}` absolute",
            dir.display()
        )
    })
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

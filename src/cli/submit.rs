//! `execq submit`: what a job runs and how (`JobArgs`, shared with `schedule add`), its resource
//! limits (`LimitArgs`), and the flags only a submission takes (`SubmitArgs`).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use clap::Args;

use execq::duration;
use execq::options::{
    self, EnvVar, JobLimits, Origin, Sandbox, SandboxMode, SubmitCommand, SubmitOptions,
};

use super::values::{job_seconds, rfc3339};

/// What a job runs and how: shared by `submit` and `schedule add`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["shell", "argv"]))]
pub(super) struct JobArgs {
    /// What the job is for, kept in its record
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,

    /// Also write the job's full stdout here (relative paths land in QUEUE/results/)
    #[arg(long, value_name = "PATH")]
    result_file: Option<String>,

    /// This job's timeout in seconds
    #[arg(long, value_name = "SECONDS", value_parser = job_seconds)]
    timeout: Option<f64>,

    /// Directory to run the job in [default: this one]
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,

    /// Run before jobs of lower priority (default 0; higher runs first)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    priority: Option<i64>,

    /// Take one of this group's slots (`[groups.NAME] jobs = N` in config.toml) [default: default]
    #[arg(long, value_name = "NAME", value_parser = group_name)]
    group: Option<String>,

    /// Where to run it: local (a process here) or slurm (a Slurm batch job; see
    /// `[executor.slurm]` in config.toml) [default: config.toml's `[executor] default`, else local]
    #[arg(long, value_name = "KIND", value_parser = executor_kind)]
    executor: Option<options::Executor>,

    /// Also pass NAME from this environment, or set NAME=VALUE (PATH is always passed); repeatable
    #[arg(long, value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    #[command(flatten)]
    limits: LimitArgs,

    #[command(flatten)]
    sandbox: SandboxArgs,

    /// Run COMMAND with /bin/sh -c
    #[arg(long, value_name = "COMMAND", conflicts_with = "argv")]
    shell: Option<String>,

    /// The program and its arguments, after `--`
    #[arg(last = true, value_name = "PROGRAM [ARGS]...")]
    argv: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct SubmitArgs {
    /// Task id to record (default: a time-based id)
    #[arg(long = "id", value_name = "ID")]
    task_id: Option<String>,

    /// Run only once this job (a task_id, file name or stem) has completed; repeatable
    #[arg(long, value_name = "REF")]
    after: Vec<String>,

    /// Not before this time (RFC 3339, such as 2026-11-24T14:00:00+01:00)
    #[arg(long, value_name = "TIME", value_parser = rfc3339, conflicts_with = "delay")]
    at: Option<DateTime<FixedOffset>>,

    /// Not before this long from now (such as 90s, 10m, 2h, 1d)
    #[arg(long, value_name = "AGE", value_parser = duration::parse_age)]
    delay: Option<Duration>,

    /// Print {"task_id", "path"} as JSON
    #[arg(long)]
    json: bool,

    /// Start a drain in the background unless one is running (for machines without the service)
    #[arg(long)]
    start: bool,

    /// Wait for the job (starting a drain as --start does), print its stdout and stderr, and
    /// exit with its exit code: 124 timeout, 125 could not run, 121 cancelled, 122 interrupted,
    /// 123 dependency failed
    #[arg(long, conflicts_with = "json")]
    wait: bool,

    /// Queue it held: it waits, untouched by drains, until `execq release`
    #[arg(long, conflicts_with = "wait")]
    hold: bool,

    #[command(flatten)]
    job: JobArgs,
}

/// A job's resource limits (see the README's "Resource limits"); config.toml's [limits] fills in
/// the ones not given.
#[derive(Debug, Args)]
#[command(
    next_help_heading = "Resource limits (per process; config.toml's [limits] are the defaults)"
)]
struct LimitArgs {
    /// CPU time: SIGXCPU after N seconds of CPU, SIGKILL a second later
    #[arg(long, value_name = "N")]
    cpu_seconds: Option<u64>,
    /// Address space in MiB (Linux; refused on macOS, which does not enforce it)
    #[arg(long, value_name = "MIB")]
    memory_mb: Option<u64>,
    /// Open file descriptors
    #[arg(long, value_name = "N")]
    open_files: Option<u64>,
    /// Processes of the user (all of them, not only the job's; not enforced for root)
    #[arg(long, value_name = "N")]
    processes: Option<u64>,
    /// Largest file the job may write, in MiB (SIGXFSZ past it)
    #[arg(long, value_name = "MIB")]
    file_size_mb: Option<u64>,
    /// Niceness, 0 (normal) to 19 (gentlest)
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(0..=19))]
    nice: Option<i64>,
}

/// A job's sandbox (see the README's "Sandbox"); config.toml's [sandbox] gives the default and
/// each door's floor.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sandbox (config.toml's [sandbox] has the default and floors)")]
struct SandboxArgs {
    /// none, workspace (writes only in its cwd, a private temporary folder and --writable
    /// folders) or read-only (writes only in a private temporary folder)
    #[arg(long, value_name = "MODE", value_enum)]
    sandbox: Option<ModeArg>,
    /// Another folder a workspace job may write beneath; repeatable
    #[arg(long, value_name = "DIR", requires = "sandbox")]
    writable: Vec<PathBuf>,
    /// Read only beneath these folders (plus what programs need to run); repeatable
    #[arg(long, value_name = "DIR", requires = "sandbox")]
    readable: Vec<PathBuf>,
    /// Let the sandboxed job use the network (off by default)
    #[arg(long, requires = "sandbox")]
    network: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ModeArg {
    None,
    Workspace,
    ReadOnly,
}

impl SandboxArgs {
    fn into_policy(self) -> Option<Sandbox> {
        let mode = match self.sandbox? {
            ModeArg::None => SandboxMode::None,
            ModeArg::Workspace => SandboxMode::Workspace,
            ModeArg::ReadOnly => SandboxMode::ReadOnly,
        };
        // Relative to this folder, as --cwd is.
        let folders = |list: Vec<PathBuf>| -> Vec<String> {
            list.into_iter()
                .map(|p| {
                    std::path::absolute(&p)
                        .unwrap_or(p)
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        };
        let mut policy = Sandbox::of_mode(mode);
        policy.writable = folders(self.writable);
        policy.readable = (!self.readable.is_empty()).then(|| folders(self.readable));
        policy.network |= self.network;
        Some(policy)
    }
}

impl From<LimitArgs> for JobLimits {
    fn from(args: LimitArgs) -> Self {
        Self {
            cpu_seconds: args.cpu_seconds,
            memory_mb: args.memory_mb,
            open_files: args.open_files,
            processes: args.processes,
            file_size_mb: args.file_size_mb,
            nice: args.nice.and_then(|n| u64::try_from(n).ok()),
        }
    }
}

impl From<JobArgs> for SubmitOptions {
    fn from(args: JobArgs) -> Self {
        Self {
            command: match args.shell {
                Some(line) => SubmitCommand::Shell(line),
                None => SubmitCommand::Argv(args.argv),
            },
            task_id: None,
            description: args.description,
            result_file: args.result_file,
            timeout: args.timeout,
            cwd: args.cwd,
            priority: args.priority,
            after: Vec::new(),
            not_before: None,
            env: args.env.iter().map(|e| EnvVar::parse(e)).collect(),
            limits: args.limits.into(),
            sandbox: args.sandbox.into_policy(),
            origin: Origin::Cli,
            mcp_task: false,
            hold: false,
            group: args.group,
            executor: args.executor,
        }
    }
}

impl From<SubmitArgs> for options::Submit {
    fn from(args: SubmitArgs) -> Self {
        Self {
            job: SubmitOptions {
                task_id: args.task_id,
                after: args.after,
                not_before: args.at.or_else(|| args.delay.map(from_now)),
                hold: args.hold,
                ..args.job.into()
            },
            json: args.json,
            start: args.start,
            wait: args.wait,
        }
    }
}

/// `--executor`'s value.
fn executor_kind(name: &str) -> Result<options::Executor, String> {
    options::Executor::parse(name)
}

/// A group's name, as a job's `group` may be.
fn group_name(name: &str) -> Result<String, String> {
    if options::valid_group(name) {
        Ok(name.to_owned())
    } else {
        Err("1 to 64 letters, digits, `_`, `-` or `.`, not starting with `.`".into())
    }
}

/// The local time `delay` from now (a delay is at most 100 years: see `duration`).
fn from_now(delay: Duration) -> DateTime<FixedOffset> {
    (chrono::Local::now() + delay).fixed_offset()
}

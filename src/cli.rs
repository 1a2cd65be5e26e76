//! The command line. Parsed here, then turned into plain option structs; nothing else sees clap.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use execq::duration;
use execq::options::{
    self, DEFAULT_LABEL, DrainFlags, EnvVar, JobLimits, Platform, PruneOptions, ServiceAction,
    ServiceRequest, State, SubmitCommand, SubmitOptions, Verbosity,
};
use execq::{Invocation, Verb};

/// A local command queue: programs drop job files into QUEUE/pending/, `execq drain` runs them
/// (highest priority, then oldest first; one at a time unless --jobs) and files each result in
/// completed/ or failed/.
#[derive(Debug, Parser)]
#[command(
    name = "execq",
    version = concat!(env!("CARGO_PKG_VERSION"), env!("EXECQ_VERSION_SUFFIX")),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    globals: Globals,

    #[command(subcommand)]
    command: Command,
}

/// The options every command takes.
#[derive(Debug, Args)]
struct Globals {
    /// The queue folder [env: EXECQ_QUEUE, when set and not empty] [default: ~/Library/Application
    /// Support/execq/queue on macOS, $XDG_DATA_HOME/execq/queue elsewhere]
    #[arg(long, global = true, value_name = "DIR")]
    queue: Option<PathBuf>,

    /// Say more on stderr (-vv for everything)
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,

    /// Print only errors on stderr
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every ready job (by priority, then oldest first), then exit. Exits 0 at once if another
    /// drain holds the queue.
    #[command(
        after_help = "Exit status: 0 done (or nothing to do, or another drain holds the queue); \
                            1 execq could not work (unsafe or unusable queue, I/O error); 2 usage; \
                            3 with --strict, a job did not complete; 129/130/143 stopped by \
                            SIGHUP/SIGINT/SIGTERM (the running job is recorded as interrupted)."
    )]
    Drain(DrainArgs),
    /// Add a job to the queue atomically and print where it went.
    Submit(Box<SubmitArgs>),
    /// Is the queue healthy? Counts, the running drain, the last drain, the service, recent errors.
    /// Exits 4 when there are problems.
    Status {
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
        /// The service label to ask about
        #[arg(long, default_value = DEFAULT_LABEL)]
        label: String,
    },
    /// List jobs, oldest first.
    List {
        /// Only jobs in this state
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// Only the newest N jobs
        #[arg(long, short = 'n', value_name = "N")]
        limit: Option<usize>,
        /// Print a JSON array
        #[arg(long)]
        json: bool,
        /// List the jobs archived by [retention] (QUEUE/archive/*.jsonl.gz) instead
        #[arg(long)]
        archived: bool,
    },
    /// Show one job's whole record, stdout and stderr included.
    Show {
        /// A file name, its stem, or a task_id
        job: String,
        /// Print the record as JSON
        #[arg(long)]
        json: bool,
    },
    /// Cancel jobs: a pending one is filed as cancelled without running; a running one is ended
    /// (its whole process group) and recorded as cancelled with the output it had produced.
    Cancel {
        /// File names, stems or task_ids
        #[arg(required = true, value_name = "JOB")]
        jobs: Vec<String>,
    },
    /// Print a job's output as it runs (then its final status); a finished job's recorded output.
    #[command(
        after_help = "Exit status: the job's own, as `submit --wait` (0 completed; its exit code; \
                      124 timeout, 125 could not run, 121 cancelled, 122 interrupted, 123 \
                      dependency failed)."
    )]
    Follow {
        /// A file name, its stem, or a task_id
        job: String,
    },
    /// Wait until every job named has a record; print one line per job as it finishes.
    #[command(
        after_help = "Exit status: 0 every job completed; 1 some job did not complete (or execq \
                      could not look); 124 the timeout ran out first."
    )]
    Wait {
        /// File names, stems or task_ids
        #[arg(required = true, value_name = "JOB")]
        jobs: Vec<String>,
        /// Give up after this many seconds (exit 124)
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        timeout: Option<Duration>,
    },
    /// Send a failed job back to pending/ to run again; its earlier result is kept.
    Retry {
        /// A file name, its stem, or a task_id
        job: String,
    },
    /// Print the end of daemon.log.
    Logs {
        /// How many lines
        #[arg(short = 'n', long, default_value = "20")]
        lines: usize,
        /// Keep printing lines as they are written
        #[arg(short, long)]
        follow: bool,
    },
    /// Delete finished jobs' records older than an age (completed/ and failed/ grow otherwise).
    Prune {
        /// Age such as 30d, 12h, 90m or a number of seconds
        #[arg(long, value_name = "AGE", value_parser = duration::parse_age)]
        older_than: Duration,
        /// Only completed or only failed jobs
        #[arg(long, value_enum)]
        state: Option<StateArg>,
        /// List what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the queue's settings and where each comes from (default, QUEUE/config.toml); with
    /// --check, only validate config.toml and exit 1 naming the line and key of a mistake.
    Config {
        /// Validate only
        #[arg(long)]
        check: bool,
        /// Print the settings as JSON
        #[arg(long)]
        json: bool,
    },
    /// Recurring schedules: jobs enqueued by every drain when their cron expression comes due.
    Schedule {
        #[command(subcommand)]
        verb: ScheduleVerb,
    },
    /// Write the queue's dashboard: one self-contained HTML page (counts, running and pending
    /// jobs, recent records, charts) that reloads itself every 10 s; or serve it live.
    Dashboard {
        /// Where to write it [default: QUEUE/dashboard.html]
        #[arg(long, value_name = "FILE", conflicts_with = "serve")]
        out: Option<PathBuf>,
        /// Open it in the browser (open on macOS, xdg-open elsewhere)
        #[arg(long)]
        open: bool,
        /// Serve the page live on 127.0.0.1 instead, with /api/status, /api/jobs/REF and retry
        /// and cancel buttons (they need the token in the printed URL); Ctrl-C stops
        #[arg(long)]
        serve: bool,
        /// The port to serve on (0: any free port)
        #[arg(long, value_name = "N", requires = "serve", default_value_t = options::DASHBOARD_PORT)]
        port: u16,
    },
    /// Serve the queue to AI agents over the Model Context Protocol (stdio): tools to submit,
    /// watch, page through the output of, cancel and retry jobs. Without --allow or
    /// --allow-shell (or [mcp] in config.toml) the agent can run anything you can.
    Mcp {
        /// Let agents run this program (repeatable); with any --allow, nothing else runs
        #[arg(long, value_name = "PROGRAM")]
        allow: Vec<String>,
        /// Let agents run shell command lines too (/bin/sh -c: any program)
        #[arg(long)]
        allow_shell: bool,
        /// Inspection only: no submitting, cancelling or retrying
        #[arg(long)]
        read_only: bool,
    },
    /// Print a shell completion script: `source <(execq completions bash)`, or see the README.
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `execq man | man -l -`.
    Man,
    /// Notifications when jobs finish ([notify] in QUEUE/config.toml).
    Notify {
        #[command(subcommand)]
        verb: NotifyVerb,
    },
    /// Install, remove or inspect the background service (launchd on macOS, systemd elsewhere).
    Service(ServiceArgs),
}

#[derive(Debug, Subcommand)]
enum NotifyVerb {
    /// Send a sample notification through every configured channel and report each (exit 1 if
    /// one failed)
    Test {
        /// Print the results as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum StateArg {
    Pending,
    Running,
    Completed,
    Failed,
}

impl From<StateArg> for State {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Pending => State::Pending,
            StateArg::Running => State::Running,
            StateArg::Completed => State::Completed,
            StateArg::Failed => State::Failed,
        }
    }
}

#[derive(Debug, Args)]
struct ServiceArgs {
    #[command(subcommand)]
    action: ServiceVerb,
    /// The launchd label / systemd unit name
    #[arg(long, global = true, default_value = DEFAULT_LABEL)]
    label: String,
    /// The execq binary the service runs [default: this one]
    #[arg(long, global = true, value_name = "PATH")]
    bin: Option<PathBuf>,
    /// Which service manager to target [default: launchd on macOS, systemd elsewhere]
    #[arg(long, global = true, value_enum)]
    platform: Option<PlatformArg>,
    /// Print the commands instead of running them
    #[arg(long, global = true)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
enum ServiceVerb {
    /// Print the LaunchAgent plist (or systemd units) for this machine
    Print,
    /// Write the service's files and load it (again, if it was installed)
    Install,
    /// Unload the service and remove its files (the queue is kept)
    Uninstall,
    /// Whether the service is installed and loaded, as JSON (exits 4 if not both)
    Status,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PlatformArg {
    Launchd,
    Systemd,
}

#[derive(Debug, Args)]
struct DrainArgs {
    /// Per-job timeout in seconds (a job's own `timeout` field wins) [default: 300, or
    /// QUEUE/config.toml's]
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    timeout: Option<Duration>,

    /// Seconds between SIGTERM and SIGKILL when ending a job's processes [default: 5]
    #[arg(long, value_name = "SECONDS", value_parser = seconds_or_zero)]
    grace: Option<Duration>,

    /// Seconds a file that is not yet a complete JSON object must stay unchanged before it is run
    /// or failed (protects jobs written in place) [default: 2]
    #[arg(long, value_name = "SECONDS", value_parser = seconds_or_zero)]
    settle: Option<Duration>,

    /// If another drain holds the queue, wait for it instead of exiting
    #[arg(long)]
    wait: bool,

    /// Once pending/ is empty, keep the queue this many seconds for jobs that arrive meanwhile
    /// (a burst of submissions then shares one drain) [default: 0]
    #[arg(long, value_name = "SECONDS", value_parser = seconds_or_zero)]
    linger: Option<Duration>,

    /// Exit with status 3 if any job in this drain did not complete (for CI)
    #[arg(long)]
    strict: bool,

    /// Run up to N jobs at once (each with its own timeout, process group and record) [default: 1]
    #[arg(long, short = 'j', value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: Option<u16>,
}

/// What a job runs and how: shared by `submit` and `schedule add`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["shell", "argv"]))]
struct JobArgs {
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

    /// Also pass NAME from this environment, or set NAME=VALUE (PATH is always passed); repeatable
    #[arg(long, value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    #[command(flatten)]
    limits: LimitArgs,

    /// Run COMMAND with /bin/sh -c
    #[arg(long, value_name = "COMMAND", conflicts_with = "argv")]
    shell: Option<String>,

    /// The program and its arguments, after `--`
    #[arg(last = true, value_name = "PROGRAM [ARGS]...")]
    argv: Vec<String>,
}

#[derive(Debug, Args)]
struct SubmitArgs {
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

    #[command(flatten)]
    job: JobArgs,
}

#[derive(Debug, Subcommand)]
enum ScheduleVerb {
    /// Add a recurring schedule: QUEUE/schedules/NAME.toml, a cron expression and a job
    #[command(
        after_help = "EXPR: 5 fields (minute hour day-of-month month day-of-week, in the \
                            local time zone), or @hourly, @daily, @weekly, @monthly, @yearly. \
                            Example: execq schedule add backup --cron '30 3 * * *' -- \
                            /usr/local/bin/backup --quick"
    )]
    Add(Box<ScheduleAddArgs>),
    /// List the schedules with their next run, last occurrence and any problem
    List {
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
    /// Remove a schedule (its queued or finished jobs are kept)
    Remove {
        /// The schedule's name
        name: String,
    },
    /// Enqueue a schedule's job now, whatever its expression says
    Run {
        /// The schedule's name
        name: String,
    },
}

#[derive(Debug, Args)]
struct ScheduleAddArgs {
    /// The schedule's name (letters, digits, -, _ and .); its jobs are named NAME.TIME.json
    name: String,

    /// When to run: a cron expression (see below)
    #[arg(long, value_name = "EXPR")]
    cron: String,

    /// Occurrences missed while the machine slept or the service was off do not run (by default
    /// they make one run)
    #[arg(long)]
    no_catch_up: bool,

    /// When the previous occurrence is still pending or running: skip this one, or queue it
    #[arg(long, value_enum, default_value = "skip")]
    overlap: OverlapArg,

    #[command(flatten)]
    job: JobArgs,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum OverlapArg {
    Skip,
    Queue,
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

fn seconds_or_zero(text: &str) -> Result<Duration, String> {
    duration::parse_secs(text).map_err(|e| e.to_string())
}

fn seconds(text: &str) -> Result<Duration, String> {
    duration::parse_positive_secs(text).map_err(|e| e.to_string())
}

fn rfc3339(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as 2026-11-24T14:00:00+01:00"))
}

/// The local time `delay` from now (a delay is at most 100 years: see `duration`).
fn from_now(delay: Duration) -> DateTime<FixedOffset> {
    (chrono::Local::now() + delay).fixed_offset()
}

/// A job's timeout as the job file will hold it: a positive, finite number of seconds.
fn job_seconds(text: &str) -> Result<f64, String> {
    seconds(text).map(|d| d.as_secs_f64())
}

/// What a command line asks for.
pub enum Action {
    Run(Invocation),
    /// Text generated from this definition (completions, the manual page), to print.
    Print(Vec<u8>),
}

impl Cli {
    /// What this command line asks for.
    /// Parses this process's command line.
    ///
    /// `submit` and `drain` run by the thousand (tools submit in bursts; launchd starts a drain
    /// every 2 s), and building clap's whole command tree is a quarter of what a submission
    /// costs. So a command line naming one of them is first offered to a parser holding only that
    /// command, built from the same definitions. It accepts a subset of what the whole parser
    /// accepts, with the same meaning; anything else (help, a mistake, another command, `submit`
    /// as the value of an option) goes to the whole parser, so what users see is the same.
    pub fn parse_args() -> Result<Self, clap::Error> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        match Self::parse_hot(&args) {
            Some(cli) => Ok(cli),
            None => Self::try_parse_from(args),
        }
    }

    /// [`Cli::parse_args`]'s parser for one hot verb, if `args` names one and it accepts them.
    fn parse_hot(args: &[std::ffi::OsString]) -> Option<Self> {
        let verb = args.iter().skip(1).find_map(|a| match a.to_str() {
            Some("submit") => Some("submit"),
            Some("drain") => Some("drain"),
            _ => None,
        })?;
        let only = match verb {
            "submit" => SubmitArgs::augment_args(clap::Command::new(verb)),
            _ => DrainArgs::augment_args(clap::Command::new(verb)),
        };
        let parser = Globals::augment_args(clap::Command::new("execq"))
            .subcommand_required(true)
            .subcommand(only);
        let matches = parser.try_get_matches_from(args).ok()?;
        let (name, sub) = matches.subcommand()?;
        let command = match name {
            "submit" => Command::Submit(Box::new(SubmitArgs::from_arg_matches(sub).ok()?)),
            _ => Command::Drain(DrainArgs::from_arg_matches(sub).ok()?),
        };
        Some(Self {
            globals: Globals::from_arg_matches(&matches).ok()?,
            command,
        })
    }

    pub fn into_action(self) -> Action {
        let mut out = Vec::new();
        match self.command {
            Command::Completions { shell } => {
                clap_complete::generate(shell, &mut Cli::command(), "execq", &mut out);
            }
            Command::Man => {
                if let Err(e) = crate::man::render(Cli::command(), &mut out) {
                    out = format!("execq: cannot render the manual page: {e}\n").into_bytes();
                }
            }
            _ => return Action::Run(self.into_invocation()),
        }
        Action::Print(out)
    }

    /// The invocation this command line asks for.
    fn into_invocation(self) -> Invocation {
        let Globals {
            queue,
            verbose,
            quiet,
        } = self.globals;
        let verbosity = Verbosity(if quiet {
            -1
        } else {
            i8::try_from(verbose).unwrap_or(i8::MAX)
        });
        // Read here rather than by clap, which calls an empty variable a missing `--queue` value.
        let from_env = std::env::var_os("EXECQ_QUEUE").filter(|v| !v.is_empty());
        Invocation {
            queue: queue.or(from_env.map(PathBuf::from)),
            verbosity,
            verb: self.command.into(),
        }
    }
}

impl From<Command> for Verb {
    fn from(command: Command) -> Self {
        match command {
            Command::Drain(args) => Verb::Drain(args.into()),
            Command::Submit(args) => Verb::Submit(Box::new((*args).into())),
            Command::Status { json, label } => Verb::Status(options::Status { json, label }),
            Command::List {
                state,
                limit,
                json,
                archived,
            } => Verb::List(options::List {
                state: state.map(State::from),
                limit,
                json,
                archived,
            }),
            Command::Prune {
                older_than,
                state,
                dry_run,
                json,
            } => Verb::Prune(options::Prune {
                prune: PruneOptions {
                    older_than,
                    state: state.map(State::from),
                    dry_run,
                },
                json,
            }),
            Command::Show { job, json } => Verb::Show(options::Show { job, json }),
            Command::Retry { job } => Verb::Retry { job },
            Command::Logs { lines, follow } => Verb::Logs(options::Logs { lines, follow }),
            Command::Service(args) => Verb::Service(args.into()),
            Command::Schedule { verb } => Verb::Schedule(verb.into()),
            Command::Dashboard {
                out,
                open,
                serve,
                port,
            } => Verb::Dashboard(options::Dashboard {
                out,
                open,
                serve: serve.then_some(port),
            }),
            Command::Notify {
                verb: NotifyVerb::Test { json },
            } => Verb::NotifyTest { json },
            Command::Cancel { jobs } => Verb::Cancel { jobs },
            Command::Completions { .. } | Command::Man => {
                unreachable!("printed by Cli::into_action, never run as a verb")
            }
            Command::Mcp {
                allow,
                allow_shell,
                read_only,
            } => Verb::Mcp(options::Mcp {
                allow,
                allow_shell,
                read_only,
            }),
            Command::Config { check, json } => Verb::Config { check, json },
            Command::Follow { job } => Verb::Follow { job },
            Command::Wait { jobs, timeout } => Verb::Wait(options::Wait { jobs, timeout }),
        }
    }
}

impl From<DrainArgs> for options::Drain {
    fn from(args: DrainArgs) -> Self {
        Self {
            flags: DrainFlags {
                timeout: args.timeout,
                grace: args.grace,
                settle: args.settle,
                linger: args.linger,
                jobs: args.jobs.map(usize::from),
            },
            wait: args.wait,
            strict: args.strict,
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
                ..args.job.into()
            },
            json: args.json,
            start: args.start,
            wait: args.wait,
        }
    }
}

impl From<ScheduleVerb> for options::Schedule {
    fn from(verb: ScheduleVerb) -> Self {
        match verb {
            ScheduleVerb::Add(args) => Self::Add(Box::new(options::ScheduleAdd {
                name: args.name,
                cron: args.cron,
                catch_up: !args.no_catch_up,
                overlap_queue: matches!(args.overlap, OverlapArg::Queue),
                job: args.job.into(),
            })),
            ScheduleVerb::List { json } => Self::List { json },
            ScheduleVerb::Remove { name } => Self::Remove { name },
            ScheduleVerb::Run { name } => Self::Run { name },
        }
    }
}

impl From<ServiceArgs> for ServiceRequest {
    fn from(args: ServiceArgs) -> Self {
        Self {
            action: match args.action {
                ServiceVerb::Print => ServiceAction::Print,
                ServiceVerb::Install => ServiceAction::Install,
                ServiceVerb::Uninstall => ServiceAction::Uninstall,
                ServiceVerb::Status => ServiceAction::Status,
            },
            label: args.label,
            bin: args.bin,
            platform: args.platform.map(|p| match p {
                PlatformArg::Launchd => Platform::Launchd,
                PlatformArg::Systemd => Platform::Systemd,
            }),
            dry_run: args.dry_run,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<std::ffi::OsString> {
        std::iter::once("execq")
            .chain(line.iter().copied())
            .map(Into::into)
            .collect()
    }

    #[test]
    fn the_hot_verbs_parser_means_what_the_whole_one_means() {
        let accepted: &[&[&str]] = &[
            &["submit", "--", "echo", "hi"],
            &["--queue", "/q", "submit", "--shell", "make -j4"],
            &[
                "submit", "--queue", "/q", "-v", "--id", "build", "--", "make",
            ],
            &[
                "-q",
                "submit",
                "--start",
                "--priority",
                "-3",
                "--after",
                "a",
                "--",
                "x",
            ],
            &[
                "submit",
                "--wait",
                "--env",
                "A=1",
                "--cpu-seconds",
                "10",
                "--",
                "x",
                "--",
                "y",
            ],
            &["submit", "--json", "--delay", "90", "--", "drain"],
            &["--queue", "drain", "drain"],
            &["drain"],
            &[
                "-vv",
                "drain",
                "--jobs",
                "3",
                "--timeout",
                "5",
                "--linger",
                "0.2",
                "--strict",
            ],
            &["drain", "--wait", "--queue", "/elsewhere"],
        ];
        for line in accepted {
            let fast = Cli::parse_hot(&args(line)).unwrap_or_else(|| panic!("refused {line:?}"));
            let whole = Cli::try_parse_from(args(line)).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{whole:?}"), "{line:?}");
        }
    }

    #[test]
    fn everything_else_goes_to_the_whole_parser() {
        let refused: &[&[&str]] = &[
            &["--queue", "submit", "status"],
            &["status", "--label", "drain"],
            &["submit", "--help"],
            &["submit", "--version"],
            &["drain", "-h"],
            &["submit"],
            &["submit", "--priority", "high", "--", "x"],
            &["drain", "--jobs", "0x"],
            &["-v", "-q", "drain"],
            &["help", "submit"],
            &["list", "submit"],
        ];
        for line in refused {
            assert!(Cli::parse_hot(&args(line)).is_none(), "{line:?}");
        }
        let whole = Cli::try_parse_from(args(&["status", "--label", "drain"])).unwrap();
        assert!(matches!(whole.command, Command::Status { .. }));
    }
}

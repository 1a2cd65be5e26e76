//! The command line. Parsed here, then turned into plain option structs; nothing else sees clap.
//!
//! This file holds the parser itself (`Cli`, the global options, the `Command` enum and its
//! conversion into an `execq::Verb`) and the fast path that parses `submit` and `drain` alone.
//! Each verb whose arguments take more than a few lines has its own file beside it, with the
//! conversion of those arguments into their option struct; `values` holds the shared value
//! parsers.

mod dashboard;
mod drain;
mod list;
mod schedule;
mod service;
mod submit;
mod values;
mod verbs;

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use execq::options::{self, DEFAULT_LABEL, Verbosity};
use execq::{Invocation, Verb};

use dashboard::DashboardArgs;
use drain::DrainArgs;
use list::{ListArgs, PruneArgs};
use schedule::ScheduleVerb;
use service::ServiceArgs;
use submit::SubmitArgs;
use values::seconds;
use verbs::{GroupVerb, NotifyVerb};

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
    List(ListArgs),
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
    /// Hold waiting jobs: each stays in pending/, untouched by drains, until released.
    Hold {
        /// File names, stems or task_ids
        #[arg(required = true, value_name = "JOB")]
        jobs: Vec<String>,
    },
    /// Release held jobs: they may run again.
    Release {
        /// File names, stems or task_ids
        #[arg(required = true, value_name = "JOB")]
        jobs: Vec<String>,
    },
    /// Change a waiting job: in $VISUAL or $EDITOR, or field by field with --set. It is replaced
    /// whole, only if no drain claimed it meanwhile.
    Edit {
        /// A file name, its stem, or a task_id
        job: String,
        /// FIELD=VALUE: VALUE as JSON (timeout=30, after=["build"]) or else a string
        /// (command=make test); FIELD= removes the field. Repeatable
        #[arg(long, value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Pause the queue (or one group): drains start none of its jobs until `execq resume`.
    /// Running jobs go on (`execq cancel` stops them); schedules still fire, their jobs wait.
    Pause {
        /// Only this group's jobs
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// Then wait until none of its jobs is running
        #[arg(long)]
        wait: bool,
    },
    /// Resume a paused queue (or group).
    Resume {
        /// Only this group
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
    },
    /// Groups of jobs, each with its own slots ([groups.NAME] jobs = N in config.toml).
    Group {
        #[command(subcommand)]
        verb: GroupVerb,
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
    /// Queue a fresh copy of a finished job (completed, failed or cancelled) under a new name;
    /// its `rerun_of` names the original, whose record stays.
    Rerun {
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
    Prune(PruneArgs),
    /// Rebuild the index of records (QUEUE/index/) from completed/ and failed/. Never needed in
    /// normal use: execq rebuilds it by itself whenever it cannot vouch for the records.
    Reindex {
        /// Check instead that the index finds every record by its file name, stem and task_id,
        /// lists it and counts them right (reads every record; an index that is behind is rebuilt
        /// first, as any verb would); exit 1 naming each difference
        #[arg(long)]
        check: bool,
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
    Dashboard(DashboardArgs),
    /// Serve the queue to AI agents over the Model Context Protocol (stdio): tools to submit,
    /// watch, page through the output of, cancel and retry jobs. Without --allow or
    /// --allow-shell (or [mcp] in config.toml) the agent can run anything you can.
    Mcp {
        /// Let agents run this program (repeatable); with any --allow, nothing else runs
        #[arg(long, value_name = "PROGRAM")]
        allow: Vec<String>,
        /// With an allowlist, let agents set this variable in a job's env (repeatable; NAME
        /// exactly, or PREFIX* such as LC_*); no other may be set, and never one that loads code
        #[arg(long, value_name = "NAME")]
        allow_env: Vec<String>,
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
            Command::List(args) => Verb::List(args.into()),
            Command::Prune(args) => Verb::Prune(args.into()),
            Command::Reindex { check } => Verb::Reindex { check },
            Command::Show { job, json } => Verb::Show(options::Show { job, json }),
            Command::Retry { job } => Verb::Retry { job },
            Command::Rerun { job } => Verb::Rerun { job },
            Command::Logs { lines, follow } => Verb::Logs(options::Logs { lines, follow }),
            Command::Service(args) => Verb::Service(args.into()),
            Command::Schedule { verb } => Verb::Schedule(verb.into()),
            Command::Dashboard(args) => Verb::Dashboard(args.into()),
            Command::Notify {
                verb: NotifyVerb::Test { json },
            } => Verb::NotifyTest { json },
            Command::Cancel { jobs } => Verb::Cancel { jobs },
            Command::Hold { jobs } => Verb::Hold { jobs },
            Command::Pause { group, wait } => Verb::Pause(options::Pause { group, wait }),
            Command::Resume { group } => Verb::Resume(options::Pause { group, wait: false }),
            Command::Group {
                verb: GroupVerb::List { json },
            } => Verb::Groups { json },
            Command::Release { jobs } => Verb::Release { jobs },
            Command::Edit { job, set } => Verb::Edit(options::Edit { job, set }),
            Command::Completions { .. } | Command::Man => {
                unreachable!("printed by Cli::into_action, never run as a verb")
            }
            Command::Mcp {
                allow,
                allow_env,
                allow_shell,
                read_only,
            } => Verb::Mcp(options::Mcp {
                allow,
                allow_env,
                allow_shell,
                read_only,
            }),
            Command::Config { check, json } => Verb::Config { check, json },
            Command::Follow { job } => Verb::Follow { job },
            Command::Wait { jobs, timeout } => Verb::Wait(options::Wait { jobs, timeout }),
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

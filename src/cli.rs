//! The command line. Parsed here, then turned into plain option structs; nothing else sees clap.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use execq::app::{Invocation, Verb};
use execq::drain::DrainOptions;
use execq::logging::Verbosity;
use execq::submit::{SubmitCommand, SubmitOptions};

/// A local command queue: programs drop job files into QUEUE/pending/, `execq drain` runs them one
/// at a time, oldest first, and files each result in completed/ or failed/.
#[derive(Debug, Parser)]
#[command(
    name = "execq",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The queue folder [default: ~/Library/Application Support/execq/queue on macOS,
    /// $XDG_DATA_HOME/execq/queue elsewhere]
    #[arg(long, global = true, env = "EXECQ_QUEUE", value_name = "DIR")]
    queue: Option<PathBuf>,

    /// Say more on stderr (-vv for everything)
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,

    /// Print only errors on stderr
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every pending job, oldest first, then exit. Exits 0 at once if another drain holds the queue.
    Drain(DrainArgs),
    /// Add a job to the queue atomically and print where it went.
    Submit(SubmitArgs),
}

#[derive(Debug, Args)]
struct DrainArgs {
    /// Per-job timeout in seconds (a job's own `timeout` field wins)
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = seconds)]
    timeout: Duration,

    /// Seconds between SIGTERM and SIGKILL when ending a job's processes
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds_or_zero)]
    grace: Duration,

    /// Seconds a file that is not yet a complete JSON object must stay unchanged before it is run
    /// or failed (protects jobs written in place)
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = seconds_or_zero)]
    settle: Duration,

    /// If another drain holds the queue, wait for it instead of exiting
    #[arg(long)]
    wait: bool,

    /// Exit with status 3 if any job in this drain did not complete (for CI)
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["shell", "argv"]))]
struct SubmitArgs {
    /// Task id to record (default: a time-based id)
    #[arg(long = "id", value_name = "ID")]
    task_id: Option<String>,

    /// What the job is for, kept in its record
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,

    /// Also write the job's full stdout here (relative paths land in QUEUE/results/)
    #[arg(long, value_name = "PATH")]
    result_file: Option<String>,

    /// This job's timeout in seconds
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,

    /// Directory to run the job in
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,

    /// Print {"task_id", "path"} as JSON
    #[arg(long)]
    json: bool,

    /// Run COMMAND with /bin/sh -c
    #[arg(long, value_name = "COMMAND", conflicts_with = "argv")]
    shell: Option<String>,

    /// The program and its arguments, after `--`
    #[arg(last = true, value_name = "PROGRAM [ARGS]...")]
    argv: Vec<String>,
}

fn seconds_or_zero(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{text}` is not a valid number of seconds"))
}

fn seconds(text: &str) -> Result<Duration, String> {
    seconds_or_zero(text).and_then(|d| {
        if d.is_zero() {
            Err("must be more than 0".into())
        } else {
            Ok(d)
        }
    })
}

impl Cli {
    /// The invocation this command line asks for.
    pub fn into_invocation(self) -> Invocation {
        let verbosity = Verbosity(if self.quiet {
            -1
        } else {
            i8::try_from(self.verbose).unwrap_or(i8::MAX)
        });
        let verb = match self.command {
            Command::Drain(args) => Verb::Drain {
                options: DrainOptions {
                    timeout: args.timeout,
                    grace: args.grace,
                    settle: args.settle,
                    wait_for_lock: args.wait,
                    ..DrainOptions::default()
                },
                strict: args.strict,
            },
            Command::Submit(args) => Verb::Submit {
                options: SubmitOptions {
                    command: match args.shell {
                        Some(line) => SubmitCommand::Shell(line),
                        None => SubmitCommand::Argv(args.argv),
                    },
                    task_id: args.task_id,
                    description: args.description,
                    result_file: args.result_file,
                    timeout: args.timeout,
                    cwd: args.cwd,
                },
                json: args.json,
            },
        };
        Invocation {
            queue: self.queue,
            verbosity,
            verb,
        }
    }
}

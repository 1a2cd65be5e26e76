//! `execq schedule`: its subcommands, and what `schedule add` takes besides the job itself.

use clap::{Args, Subcommand};

use execq::options;

use super::submit::JobArgs;

#[derive(Debug, Subcommand)]
pub(super) enum ScheduleVerb {
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
pub(super) struct ScheduleAddArgs {
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

//! `execq drain`: the flags that tune one run of the queue.

use std::time::Duration;

use clap::Args;

use execq::options::{self, DrainFlags};

use super::values::{seconds, seconds_or_zero};

#[derive(Debug, Args)]
pub(super) struct DrainArgs {
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

//! `execq list` and `execq prune`: both pick jobs by state.

use std::time::Duration;

use clap::Args;

use execq::duration;
use execq::options::{self, PruneOptions, State};

#[derive(Debug, Args)]
pub(super) struct ListArgs {
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
}

#[derive(Debug, Args)]
pub(super) struct PruneArgs {
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

impl From<ListArgs> for options::List {
    fn from(args: ListArgs) -> Self {
        Self {
            state: args.state.map(State::from),
            limit: args.limit,
            json: args.json,
            archived: args.archived,
        }
    }
}

impl From<PruneArgs> for options::Prune {
    fn from(args: PruneArgs) -> Self {
        Self {
            prune: PruneOptions {
                older_than: args.older_than,
                state: args.state.map(State::from),
                dry_run: args.dry_run,
            },
            json: args.json,
        }
    }
}

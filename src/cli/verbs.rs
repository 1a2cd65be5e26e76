//! The verbs of `execq group` and `execq notify`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(super) enum GroupVerb {
    /// Each group: its slots, pending and running jobs, and whether it is paused
    List {
        /// Print the groups as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum NotifyVerb {
    /// Send a sample notification through every configured channel and report each (exit 1 if
    /// one failed)
    Test {
        /// Print the results as JSON
        #[arg(long)]
        json: bool,
    },
}

//! execq: a local, file-based command queue.
//!
//! Producers drop job files into `QUEUE/pending/`; `execq drain` takes the queue's lock, runs every
//! ready job oldest first with a timeout, records each result in `completed/` or `failed/`, logs
//! to `daemon.log`, and exits. See the `queue` module for the layout and its guarantees, and the
//! README's "Where things are" for a map of the modules.
//!
//! The library exists for the `execq` binary and its tests: it exports the entry point, the
//! options each verb takes, and job parsing; everything else is private.

mod app;
mod clock;
mod commands;
mod config;
mod cron;
mod dashboard;
mod drain;
pub mod duration;
mod exec;
mod executor;
mod exit_code;
mod fault;
mod fsutil;
mod job;
mod logging;
mod mcp;
mod notify;
mod ops;
mod output;
mod queue;
mod retention;
mod service;
mod signals;
mod sys;
mod web;

pub use app::{Invocation, Verb, run};
pub use exit_code::ExitCode;
pub use sys::reset_sigchld;

/// The options of each verb, as the command-line parser fills them in.
pub mod options {
    pub use crate::commands::dashboard::Opts as Dashboard;
    pub use crate::commands::drain::Opts as Drain;
    pub use crate::commands::edit::Opts as Edit;
    pub use crate::commands::list::ListOptions as List;
    pub use crate::commands::logs::Opts as Logs;
    pub use crate::commands::pause::Opts as Pause;
    pub use crate::commands::prune::{Opts as Prune, PruneOptions};
    pub use crate::commands::schedule::{Add as ScheduleAdd, Opts as Schedule};
    pub use crate::commands::service::{ServiceAction, ServiceRequest};
    pub use crate::commands::show::Opts as Show;
    pub use crate::commands::status::Opts as Status;
    pub use crate::commands::submit::Opts as Submit;
    pub use crate::commands::wait::Opts as Wait;
    pub use crate::config::Flags as DrainFlags;
    pub use crate::executor::Kind as Executor;
    pub use crate::job::limits::ResourceLimits as JobLimits;
    pub use crate::job::sandbox::{Mode as SandboxMode, Origin, Sandbox};
    pub use crate::job::schedule::valid_group;
    pub use crate::logging::Verbosity;
    pub use crate::mcp::Opts as Mcp;
    pub use crate::ops::submit::{EnvVar, SubmitCommand, SubmitOptions};
    pub use crate::queue::catalog::State;
    pub use crate::service::{DEFAULT_LABEL, Platform};
    pub use crate::web::DEFAULT_PORT as DASHBOARD_PORT;
}

/// Job parsing: any bytes give a job or an error naming what is wrong (the property tests).
pub mod parse {
    pub use crate::job::{JobError, JobSpec, Program, from_json, from_script, parse_object};
}

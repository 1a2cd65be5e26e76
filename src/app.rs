//! Runs one invocation: resolves the queue, sets up logging, hands the verb to its command, and
//! turns the outcome into an exit code. Knows nothing of the command-line parser.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::commands::{self, list::ListOptions, service::ServiceRequest};
use crate::exit_code::ExitCode;
use crate::logging::{self, Verbosity};
use crate::output;
use crate::queue::{self, Queue};

/// A parsed command line.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// `--queue` or `EXECQ_QUEUE`; the per-user default when `None`.
    pub queue: Option<PathBuf>,
    pub verbosity: Verbosity,
    pub verb: Verb,
}

/// What to do.
#[derive(Clone, Debug)]
pub enum Verb {
    Drain(commands::drain::Opts),
    Submit(Box<commands::submit::Opts>),
    Status(commands::status::Opts),
    List(ListOptions),
    Show(commands::show::Opts),
    Retry { job: String },
    Rerun { job: String },
    Logs(commands::logs::Opts),
    Prune(commands::prune::Opts),
    Reindex { check: bool },
    Service(ServiceRequest),
    Cancel { jobs: Vec<String> },
    Hold { jobs: Vec<String> },
    Release { jobs: Vec<String> },
    Edit(commands::edit::Opts),
    Pause(commands::pause::Opts),
    Resume(commands::pause::Opts),
    Groups { json: bool },
    Config { check: bool, json: bool },
    Follow { job: String },
    Wait(commands::wait::Opts),
    Schedule(commands::schedule::Opts),
    NotifyTest { json: bool },
    Dashboard(commands::dashboard::Opts),
    Mcp(crate::mcp::Opts),
}

impl Verb {
    /// Whether this verb's events belong in `daemon.log`. `submit --start` may become a drain
    /// (see `drain::background`); the log opens lazily, so the submission itself writes nothing
    /// there.
    fn logs_to_queue(&self) -> bool {
        match self {
            Self::Drain(_)
            | Self::Retry { .. }
            | Self::Rerun { .. }
            | Self::Prune(_)
            | Self::Reindex { .. }
            | Self::Cancel { .. }
            | Self::Hold { .. }
            | Self::Release { .. }
            | Self::Edit(_)
            | Self::Pause(_)
            | Self::Resume(_)
            | Self::Schedule(_) => true,
            // Retry and cancel from the served page, and requests refused.
            Self::Dashboard(opts) => opts.serve.is_some(),
            // Submissions, cancels and retries by agents, and refusals.
            Self::Mcp(_) => true,
            Self::Submit(opts) => opts.start || opts.wait,
            _ => false,
        }
    }
}

/// Runs `invocation` and returns the process exit code. Errors are printed once, with their chain.
pub fn run(invocation: Invocation) -> ExitCode {
    let queue = match resolve_queue(invocation.queue.as_deref()) {
        Ok(queue) => queue,
        Err(e) => return report(&e),
    };
    let _log = logging::init(
        invocation.verbosity,
        invocation
            .verb
            .logs_to_queue()
            .then_some(queue.log.as_path()),
    );
    dispatch(&queue, invocation.verb).unwrap_or_else(|e| {
        if output::reader_went_away(&e) {
            return ExitCode::Success;
        }
        if !e.is::<output::AlreadyLogged>() {
            tracing::error!(target: logging::DAEMON_LOG_ONLY, "{e:#}");
        }
        report(&e)
    })
}

fn dispatch(queue: &Queue, verb: Verb) -> Result<ExitCode> {
    match verb {
        Verb::Drain(opts) => commands::drain::run(queue, &opts),
        Verb::Submit(opts) => commands::submit::run(queue, &opts),
        Verb::Status(opts) => commands::status::run(queue, &opts),
        Verb::List(opts) => commands::list::run(queue, &opts),
        Verb::Show(opts) => commands::show::run(queue, &opts),
        Verb::Retry { job } => commands::retry::run(queue, &job),
        Verb::Rerun { job } => commands::retry::rerun(queue, &job),
        Verb::Logs(opts) => commands::logs::run(queue, opts),
        Verb::Prune(opts) => commands::prune::run(queue, &opts),
        Verb::Reindex { check } => commands::reindex::run(queue, check),
        Verb::Service(request) => commands::service::run(queue, &request),
        Verb::Cancel { jobs } => commands::cancel::run(queue, &jobs),
        Verb::Hold { jobs } => commands::edit::hold(queue, &jobs, true),
        Verb::Release { jobs } => commands::edit::hold(queue, &jobs, false),
        Verb::Edit(opts) => commands::edit::run(queue, &opts),
        Verb::Pause(opts) => commands::pause::pause(queue, &opts),
        Verb::Resume(opts) => commands::pause::resume(queue, &opts),
        Verb::Groups { json } => commands::pause::list(queue, json),
        Verb::Config { check, json } => commands::config::run(queue, check, json),
        Verb::Follow { job } => commands::follow::run(queue, &job),
        Verb::Wait(opts) => commands::wait::run(queue, &opts),
        Verb::Schedule(opts) => commands::schedule::run(queue, opts),
        Verb::NotifyTest { json } => commands::notify::test(queue, json),
        Verb::Dashboard(opts) => match opts.serve {
            Some(port) => crate::web::serve(queue, port, opts.open),
            None => commands::dashboard::run(queue, &opts),
        },
        Verb::Mcp(opts) => crate::mcp::run(queue, &opts),
    }
}

fn report(err: &anyhow::Error) -> ExitCode {
    let _ = writeln!(io::stderr(), "execq: error: {err:#}");
    ExitCode::Error
}

fn resolve_queue(given: Option<&Path>) -> Result<Queue> {
    let root = match given {
        Some(path) => std::path::absolute(path)
            .with_context(|| format!("invalid queue path `{}`", path.display()))?,
        None => queue::default_root()?,
    };
    Ok(Queue::new(root))
}

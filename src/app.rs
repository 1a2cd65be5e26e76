//! Runs one invocation: resolves the queue, sets up logging, calls the verb, and turns the outcome
//! into an exit code. Knows nothing of the command-line parser.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::drain::{self, DrainOptions};
use crate::exit_code::ExitCode;
use crate::logging::{self, Verbosity};
use crate::queue::{self, Queue};
use crate::signals::Shutdown;
use crate::submit::{self, SubmitOptions};

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
    Drain { options: DrainOptions, strict: bool },
    Submit { options: SubmitOptions, json: bool },
}

/// Runs `invocation` and returns the process exit code. Errors are printed once, with their chain.
pub fn run(invocation: Invocation) -> ExitCode {
    let queue = match resolve_queue(invocation.queue.as_deref()) {
        Ok(queue) => queue,
        Err(e) => return report(&e),
    };
    let daemon_log = matches!(invocation.verb, Verb::Drain { .. }).then_some(queue.log.as_path());
    let _log = logging::init(invocation.verbosity, daemon_log);
    let outcome = match invocation.verb {
        Verb::Drain { options, strict } => run_drain(&queue, &options, strict),
        Verb::Submit { options, json } => run_submit(&queue, &options, json),
    };
    outcome.unwrap_or_else(|e| {
        tracing::error!("{e:#}");
        report(&e)
    })
}

fn report(err: &anyhow::Error) -> ExitCode {
    let _ = writeln!(io::stderr(), "execq: error: {err:#}");
    ExitCode::Error
}

fn resolve_queue(given: Option<&std::path::Path>) -> Result<Queue> {
    let root = match given {
        Some(path) => queue::absolute(path)
            .with_context(|| format!("invalid queue path `{}`", path.display()))?,
        None => queue::default_root()?,
    };
    Ok(Queue::new(root))
}

fn run_drain(queue: &Queue, options: &DrainOptions, strict: bool) -> Result<ExitCode> {
    let shutdown = Shutdown::install().context("failed to install signal handlers")?;
    let summary = drain::drain(queue, options, &shutdown)?;
    Ok(match summary.stopped_by {
        Some(signal) => ExitCode::Signal(signal),
        None if strict && summary.failed > 0 => ExitCode::JobFailed,
        None => ExitCode::Success,
    })
}

fn run_submit(queue: &Queue, options: &SubmitOptions, json: bool) -> Result<ExitCode> {
    let submitted = submit::submit(queue, options)?;
    let line = if json {
        serde_json::json!({ "task_id": submitted.task_id, "path": submitted.path }).to_string()
    } else {
        submitted.path.display().to_string()
    };
    print_line(&line)?;
    Ok(ExitCode::Success)
}

/// Prints a line on stdout; a reader that went away (`| head`) is not an error.
pub fn print_line(line: &str) -> Result<()> {
    match writeln!(io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("failed to write to stdout"),
    }
}

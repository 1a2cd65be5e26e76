//! `execq drain`: run every ready job, then exit (see the `drain` module).

use anyhow::{Context, Result};

use crate::drain::{self, DrainOptions};
use crate::exit_code::ExitCode;
use crate::queue::Queue;
use crate::queue::lock::DrainLock;
use crate::signals::Shutdown;
use crate::sys;

/// `execq drain`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    pub options: DrainOptions,
    /// Exit 3 if a job in this drain did not complete.
    pub strict: bool,
}

/// Runs `execq drain`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    drain_with(queue, &opts.options, opts.strict, None)
}

/// A drain with the stop signals handled, starting with `held` if a lock was already taken (the
/// drain `submit --start` forks).
pub fn drain_with(
    queue: &Queue,
    options: &DrainOptions,
    strict: bool,
    held: Option<DrainLock>,
) -> Result<ExitCode> {
    let shutdown = Shutdown::install().context("failed to install signal handlers")?;
    sys::survive_file_size_limit().context("failed to install signal handlers")?;
    let summary = drain::drain(queue, options, &shutdown, held)?;
    Ok(match summary.stopped_by {
        Some(signal) => ExitCode::Signal(signal),
        None if strict && summary.failed > 0 => ExitCode::JobFailed,
        None => ExitCode::Success,
    })
}

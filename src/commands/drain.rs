//! `execq drain`: run every ready job, then exit (see the `drain` module).

use anyhow::{Context, Result};

use crate::config::{self, DrainOptions, Flags};
use crate::drain;
use crate::exit_code::ExitCode;
use crate::output::AlreadyLogged;
use crate::queue::Queue;
use crate::queue::last_drain;
use crate::queue::lock::DrainLock;
use crate::signals::Shutdown;
use crate::sys;

/// `execq drain`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    /// The settings given as flags; the rest come from `config.toml` or the defaults.
    pub flags: Flags,
    /// Wait for another drain to finish instead of leaving at once.
    pub wait: bool,
    /// Exit 3 if a job in this drain did not complete.
    pub strict: bool,
}

/// Runs `execq drain`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let base = DrainOptions {
        wait_for_lock: opts.wait,
        ..DrainOptions::default()
    };
    let options = settings(queue, &opts.flags, base)?;
    drain_with(queue, &options, opts.strict, None)
}

/// A drain's settings: `flags`, then `config.toml`, then `base`. An invalid config is an error
/// (no job runs until it is fixed); it is logged to `daemon.log` once, not by every drain that
/// meets it (under launchd, one every 2 s).
pub fn settings(queue: &Queue, flags: &Flags, base: DrainOptions) -> Result<DrainOptions> {
    match config::load(queue) {
        Ok(file) => Ok(config::effective(file.as_ref(), flags, base).0),
        Err(e) => {
            let message =
                format!("{e}; no job runs until it is fixed (see `execq config --check`)");
            let known = last_drain::read(queue)
                .is_some_and(|last| last["error"].as_str() == Some(message.as_str()));
            if known {
                return Err(anyhow::Error::new(AlreadyLogged(message)));
            }
            let _ = queue.open();
            let _ = last_drain::write(
                queue,
                &serde_json::json!({
                    "finished_at": crate::job::result::timestamp(chrono::Local::now()),
                    "outcome": "error",
                    "completed": 0,
                    "failed": 0,
                    "error": message,
                    "pid": std::process::id(),
                }),
            );
            anyhow::bail!(message)
        }
    }
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

//! Runs one invocation: resolves the queue, sets up logging, calls the verb, and turns the outcome
//! into an exit code. Knows nothing of the command-line parser.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::drain::{self, DrainOptions};
use crate::exit_code::ExitCode;
use crate::list::{self, ListOptions};
use crate::lock::DrainLock;
use crate::logging::{self, Verbosity};
use crate::prune::{self, PruneOptions};
use crate::queue::{self, Queue};
use crate::service::{self, Platform, ServiceSpec};
use crate::signals::Shutdown;
use crate::submit::{self, Start, SubmitOptions};
use crate::{logs, retry, show, status, sys};

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
    Drain {
        options: DrainOptions,
        strict: bool,
    },
    Submit {
        options: SubmitOptions,
        json: bool,
        start: bool,
    },
    Status {
        json: bool,
        label: String,
    },
    List(ListOptions),
    Show {
        job: String,
        json: bool,
    },
    Retry {
        job: String,
    },
    Logs {
        lines: usize,
        follow: bool,
    },
    Prune {
        options: PruneOptions,
        json: bool,
    },
    Service(ServiceRequest),
}

/// `execq service ...`
#[derive(Clone, Debug)]
pub struct ServiceRequest {
    pub action: ServiceAction,
    pub label: String,
    /// The execq binary the service runs (default: this one).
    pub bin: Option<PathBuf>,
    /// launchd or systemd (default: this machine's).
    pub platform: Option<Platform>,
    pub dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceAction {
    Print,
    Install,
    Uninstall,
    Status,
}

/// Runs `invocation` and returns the process exit code. Errors are printed once, with their chain.
pub fn run(invocation: Invocation) -> ExitCode {
    let queue = match resolve_queue(invocation.queue.as_deref()) {
        Ok(queue) => queue,
        Err(e) => return report(&e),
    };
    // `submit --start` may become a drain (see `submit::start_drain`); the log opens lazily, so
    // the submission itself writes nothing there.
    let logs_to_queue = matches!(
        invocation.verb,
        Verb::Drain { .. }
            | Verb::Retry { .. }
            | Verb::Prune { .. }
            | Verb::Submit { start: true, .. }
    );
    let _log = logging::init(
        invocation.verbosity,
        logs_to_queue.then_some(queue.log.as_path()),
    );
    let outcome = match invocation.verb {
        Verb::Drain { options, strict } => run_drain(&queue, &options, strict, None),
        Verb::Submit {
            options,
            json,
            start,
        } => run_submit(&queue, &options, json, start),
        Verb::Status { json, label } => {
            let spec = service_spec(&queue, &label, None, None);
            let healthy = status::status(&queue, spec.as_ref().ok(), json);
            healthy.map(|ok| {
                if ok {
                    ExitCode::Success
                } else {
                    ExitCode::Unhealthy
                }
            })
        }
        Verb::List(options) => list::list(&queue, &options).map(|()| ExitCode::Success),
        Verb::Show { job, json } => show::show(&queue, &job, json).map(|()| ExitCode::Success),
        Verb::Retry { job } => retry::retry(&queue, &job)
            .and_then(|path| print_line(&path.display().to_string()))
            .map(|()| ExitCode::Success),
        Verb::Logs { lines, follow } => {
            logs::logs(&queue, lines, follow).map(|()| ExitCode::Success)
        }
        Verb::Prune { options, json } => run_prune(&queue, &options, json),
        Verb::Service(request) => run_service(&queue, &request),
    };
    outcome.unwrap_or_else(|e| {
        if reader_went_away(&e) {
            return ExitCode::Success;
        }
        tracing::error!(target: logging::DAEMON_LOG_ONLY, "{e:#}");
        report(&e)
    })
}

/// `execq list | head`: the reader closing the pipe is the reader's choice, not a failure.
fn reader_went_away(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
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

fn run_drain(
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

fn run_prune(queue: &Queue, options: &PruneOptions, json: bool) -> Result<ExitCode> {
    let pruned = prune::prune(queue, options)?;
    if json {
        crate::table::print_json(&pruned)?;
    } else {
        let verb = if pruned.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let mut out = format!(
            "{verb} {} jobs ({} files)\n",
            pruned.jobs,
            pruned.files.len()
        );
        if pruned.dry_run {
            pruned
                .files
                .iter()
                .for_each(|f| out.push_str(&format!("  {}\n", f.display())));
        }
        crate::table::print(&out)?;
    }
    Ok(ExitCode::Success)
}

fn run_submit(queue: &Queue, options: &SubmitOptions, json: bool, start: bool) -> Result<ExitCode> {
    let submitted = submit::submit(queue, options)?;
    if start {
        let started = submit::start_drain(queue).unwrap_or_else(|e| {
            // The job is queued either way; failing here would invite a second submission.
            tracing::warn!("the job is queued, but no drain could be started: {e:#}");
            Start::AlreadyDraining
        });
        if let Start::Drain(lock) = started {
            // The forked drain: its stdout is /dev/null and nobody waits for its exit code.
            let options = DrainOptions {
                linger: drain::SUBMIT_LINGER,
                ..DrainOptions::default()
            };
            return run_drain(queue, &options, false, Some(lock));
        }
    }
    let line = if json {
        serde_json::json!({
            "task_id": submitted.task_id,
            "path": crate::fsutil::display_path(&submitted.path),
        })
        .to_string()
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

fn service_spec(
    queue: &Queue,
    label: &str,
    bin: Option<&std::path::Path>,
    platform: Option<Platform>,
) -> Result<ServiceSpec> {
    service::check_label(label)?;
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("HOME is not set")?;
    let bin = match bin {
        Some(bin) => queue::absolute(bin)?,
        // Absolute (macOS may report `./target/release/execq`), but not canonical, so a Homebrew
        // symlink keeps pointing at the current version.
        None => std::env::current_exe()
            .and_then(std::path::absolute)
            .context("cannot tell where this execq binary is; pass --bin")?,
    };
    Ok(ServiceSpec {
        platform: platform.unwrap_or_else(Platform::native),
        label: label.to_owned(),
        queue: queue.root.clone(),
        bin,
        home,
        uid: sys::euid(),
    })
}

fn run_service(queue: &Queue, request: &ServiceRequest) -> Result<ExitCode> {
    let spec = service_spec(
        queue,
        &request.label,
        request.bin.as_deref(),
        request.platform,
    )?;
    let mut stdout = io::stdout().lock();
    match request.action {
        ServiceAction::Print => {
            for unit in service::render(&spec) {
                if spec.platform == Platform::Systemd {
                    writeln!(stdout, "# {}", unit.path.display())?;
                }
                write!(stdout, "{}", unit.content)?;
            }
        }
        ServiceAction::Install => {
            service::execute(&service::install_plan(&spec), request.dry_run, &mut stdout)?;
            if !request.dry_run {
                writeln!(
                    stdout,
                    "installed `{}`: drains of `{}` now start when jobs arrive",
                    spec.label,
                    queue.root.display()
                )?;
            }
        }
        ServiceAction::Uninstall => {
            service::execute(
                &service::uninstall_plan(&spec),
                request.dry_run,
                &mut stdout,
            )?;
            if !request.dry_run {
                writeln!(
                    stdout,
                    "uninstalled `{}`; the queue `{}` was left as it is",
                    spec.label,
                    queue.root.display()
                )?;
            }
        }
        ServiceAction::Status => {
            let state = service::state(&spec);
            crate::table::print_json(&state)?;
            return Ok(if state.installed && state.loaded == Some(true) {
                ExitCode::Success
            } else {
                ExitCode::Unhealthy
            });
        }
    }
    Ok(ExitCode::Success)
}

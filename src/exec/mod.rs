//! Running one job's process: built from the job ([`command`]), started in its own process group
//! with stdin from /dev/null, and watched to the end ([`supervisor`]: output, deadline, leftovers).
//! Its stdout may also be copied to a `result_file` ([`result_file`]).

pub mod capture;
pub mod command;
pub mod result_file;
pub mod sandbox;
pub mod spool;
mod supervisor;

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};

use crate::exec::capture::Captured;
use crate::exec::result_file::{ResultFileError, Sink};
use crate::job::result::{JobResult, Status, timestamp};
use crate::signals::Shutdown;
use crate::sys;

/// Limits applied to one run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL when ending a job's group.
    pub grace: Duration,
    /// Bytes kept at each end of each stream.
    pub keep: usize,
}

/// How the job's main process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Exited(ExitStatus),
    TimedOut(ExitStatus),
    /// Drain was asked to stop (by `signal`) while the job ran.
    Interrupted {
        signal: i32,
        status: ExitStatus,
    },
    /// `execq cancel` asked for it while it ran.
    Cancelled(ExitStatus),
}

/// What came of a run.
#[derive(Debug)]
pub struct Execution {
    pub end: End,
    pub stdout: Captured,
    pub stderr: Captured,
    pub started_at: DateTime<Local>,
    pub finished_at: DateTime<Local>,
    pub duration: Duration,
    /// Things the user should know that are not errors of the job (e.g. an escaped process).
    pub notes: Vec<String>,
}

impl Execution {
    /// The job's `result` for this run (`timeout_secs`: the timeout it had, for the message).
    pub fn into_result(self, timeout_secs: f64) -> JobResult {
        let (status, exit, error) = match self.end {
            End::Exited(st) if st.success() => (Status::Completed, st, None),
            End::Exited(st) => (
                Status::Failed,
                st,
                signal_of(st).map(|s| format!("killed by signal {s}")),
            ),
            End::TimedOut(st) => (
                Status::Timeout,
                st,
                Some(format!("timed out after {timeout_secs} s")),
            ),
            End::Cancelled(st) => (
                Status::Cancelled,
                st,
                Some("cancelled by `execq cancel` while it ran".to_owned()),
            ),
            End::Interrupted { signal, status } => (
                Status::Interrupted,
                status,
                Some(format!(
                    "drain was stopped by signal {signal} while the job ran"
                )),
            ),
        };
        let signal = signal_of(exit);
        JobResult {
            status,
            returncode: exit.code().or(signal.map(|s| -s)),
            started_at: Some(timestamp(self.started_at)),
            completed_at: timestamp(self.finished_at),
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            error,
            timed_out: status == Status::Timeout,
            signal,
            limit: None,
            sandbox: None,
            stdout_truncated: self.stdout.truncated,
            stderr_truncated: self.stderr.truncated,
            stdout_bytes: self.stdout.bytes,
            stderr_bytes: self.stderr.bytes,
            stdout: self.stdout.text,
            stderr: self.stderr.text,
            result_file: None,
            result_file_truncated: None,
            notes: self.notes,
        }
    }
}

/// Why a job could not be run, or not watched to its end. Recorded as the job's `error`.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("working directory `{}` does not exist", .0.display())]
    NoWorkingDir(PathBuf),
    #[error(transparent)]
    ResultFile(#[from] ResultFileError),
    #[error("program `{0}` not found")]
    NotFound(String),
    #[error("program `{program}` not found in PATH (`{path}`)")]
    NotInPath { program: String, path: String },
    #[error("program `{0}` is not executable (permission denied)")]
    NotExecutable(String),
    /// Its `limits` cannot be applied here.
    #[error("{0}")]
    Limits(String),
    /// Its sandbox cannot be enforced here, or is refused.
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("failed to start `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// Supervising it failed (an I/O error from poll or wait); its process group was killed.
    #[error("lost track of the job, so its processes were killed")]
    Supervise(#[source] io::Error),
}

impl StartError {
    /// The error for `program` failing to start with `err`.
    pub fn spawn(program: &str, err: io::Error) -> Self {
        let program = program.to_owned();
        match err.kind() {
            io::ErrorKind::NotFound if program.contains('/') => Self::NotFound(program),
            io::ErrorKind::NotFound => Self::NotInPath {
                program,
                path: std::env::var("PATH").unwrap_or_default(),
            },
            io::ErrorKind::PermissionDenied => Self::NotExecutable(program),
            _ => Self::Spawn {
                program,
                source: err,
            },
        }
    }
}

/// What a running job watches for besides its own end and deadline.
#[derive(Clone, Debug)]
pub struct Watch<'a> {
    /// Stop signals to drain.
    pub shutdown: &'a Shutdown,
    /// The file whose appearance cancels the job (written by `execq cancel`).
    pub cancel: Option<&'a Path>,
    /// Where the live copies of stdout and stderr go (read by `execq follow`).
    pub spool: Option<[PathBuf; 2]>,
}

/// Starts `command` as `program` and supervises it to the end, copying stdout to `sink` if given.
pub fn run(
    mut command: Command,
    program: &str,
    limits: &Limits,
    watch: Watch<'_>,
    sink: Option<&mut Sink>,
) -> Result<Execution, StartError> {
    command.stdin(Stdio::null());
    supervise(command, program, limits, watch, sink)
}

/// [`run`], with `stdin` as the process's standard input (a notification command's record).
pub fn run_with_stdin(
    mut command: Command,
    program: &str,
    limits: &Limits,
    watch: Watch<'_>,
    stdin: std::fs::File,
) -> Result<Execution, StartError> {
    command.stdin(stdin);
    supervise(command, program, limits, watch, None)
}

fn supervise(
    mut command: Command,
    program: &str,
    limits: &Limits,
    watch: Watch<'_>,
    sink: Option<&mut Sink>,
) -> Result<Execution, StartError> {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started_at = Local::now();
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| StartError::spawn(program, e))?;
    let pgid = child.id();
    let supervised = supervisor::supervise_child(
        &mut child,
        limits,
        watch.shutdown,
        sink,
        watch.cancel,
        watch.spool,
        started,
    );
    let (end, [out, err], notes) = supervised.map_err(|e| {
        let _ = sys::signal_group(pgid, libc::SIGKILL);
        let _ = child.wait();
        StartError::Supervise(e)
    })?;
    Ok(Execution {
        end,
        stdout: out.capture.finish(),
        stderr: err.capture.finish(),
        started_at,
        finished_at: Local::now(),
        duration: started.elapsed(),
        notes,
    })
}

/// The signal that ended a process, if one did.
pub fn signal_of(status: ExitStatus) -> Option<i32> {
    status.signal()
}

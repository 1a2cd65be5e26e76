//! The process exit codes execq documents (see the README's "Exit status").

use crate::job::result::{JobResult, Status};

/// How an `execq` invocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything asked for was done (or there was nothing to do, or another drain holds the queue).
    Success,
    /// execq itself could not do its work: unusable queue, I/O error, refused permissions.
    Error,
    /// The command line was invalid (clap's own code).
    Usage,
    /// `drain --strict`: at least one job in this drain did not complete successfully.
    JobFailed,
    /// `status`: the queue has problems (listed in its output).
    Unhealthy,
    /// Stopped by a signal (128 + its number: 129 SIGHUP, 130 SIGINT, 143 SIGTERM).
    Signal(i32),
    /// `wait`, `submit --wait`: the time given ran out first.
    TimedOut,
    /// `submit --wait`: the job's own outcome (see [`ExitCode::of_job`]).
    Job(u8),
}

impl ExitCode {
    /// The numeric status handed to the operating system.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Error => 1,
            Self::Usage => 2,
            Self::JobFailed => 3,
            Self::Unhealthy => 4,
            Self::Signal(n) => u8::try_from(128 + n).unwrap_or(255),
            Self::TimedOut => 124,
            Self::Job(code) => code,
        }
    }

    /// How `submit --wait` exits for a finished job: its own exit code when it ran to its end
    /// (128 + N when a signal N ended it); 124 when it timed out; 125 when it could not run
    /// (`error`); 121 `cancelled`; 122 `interrupted`; 123 `dependency_failed`.
    pub fn of_job(result: &JobResult) -> Self {
        Self::Job(match result.status {
            Status::Completed => 0,
            Status::Failed => match (result.returncode, result.signal) {
                (_, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
                (Some(code), None) => u8::try_from(code).unwrap_or(1).max(1),
                (None, None) => 1,
            },
            Status::Timeout => 124,
            Status::Error => 125,
            Status::Cancelled => 121,
            Status::Interrupted => 122,
            Status::DependencyFailed => 123,
        })
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

//! The process exit codes execq documents (see the README's "Exit status").

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
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

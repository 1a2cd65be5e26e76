//! Logging: every event of a drain goes to `QUEUE/daemon.log` (local timestamps, one line each),
//! and a readable account goes to stderr.
//!
//! `daemon.log` is opened on the first line written to it, so a drain that finds nothing to do
//! leaves it untouched. Lines go through tracing-appender's file appender synchronously: each is
//! one `O_APPEND` write, so nothing sits in a buffer to be lost when drain exits or is killed, and
//! lines from concurrent processes never interleave. (The non-blocking writer cost a thread wake-up
//! per line and lost its buffer to SIGKILL.) When the file passes [`ROTATE_BYTES`] it is rotated
//! to `daemon.log.1` (keeping [`KEEP_ROTATED`] old files) as it is opened.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tracing::level_filters::LevelFilter;
use tracing_appender::rolling::{RollingFileAppender, RollingWriter, Rotation};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::writer::{EitherWriter, MakeWriter};
use tracing_subscriber::prelude::*;

/// Size at which `daemon.log` is rotated (5 MiB).
pub const ROTATE_BYTES: u64 = 5 * 1024 * 1024;
/// Rotated files kept: `daemon.log.1` .. `daemon.log.3`.
pub const KEEP_ROTATED: u32 = 3;

/// How chatty stderr is: `-q` = -1, default 0, `-v` = 1, `-vv` = 2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verbosity(pub i8);

/// Keeps the log writer alive until the end of `main`.
#[must_use = "keep the guard until the end of main"]
pub struct LogGuard {
    _daemon: Option<Arc<DaemonLog>>,
}

/// Installs the global subscriber: stderr always, `daemon_log` when given.
pub fn init(verbosity: Verbosity, daemon_log: Option<&Path>) -> LogGuard {
    let terminal = io::stderr().is_terminal();
    let stderr_level = match verbosity.0 {
        i8::MIN..=-1 => LevelFilter::ERROR,
        0 if terminal => LevelFilter::INFO,
        0 => LevelFilter::WARN,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .with_filter(stderr_level);
    let daemon = daemon_log.map(|path| Arc::new(DaemonLog::new(path)));
    let file = daemon.clone().map(|log| {
        tracing_subscriber::fmt::layer()
            .with_writer(DaemonLogWriter(log))
            .with_ansi(false)
            .with_target(false)
            .with_timer(LocalTime)
            .with_filter(LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    LogGuard { _daemon: daemon }
}

struct LocalTime;

impl FormatTime for LocalTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write!(
            w,
            "{}",
            chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        )
    }
}

struct DaemonLog {
    path: PathBuf,
    appender: OnceLock<Option<RollingFileAppender>>,
}

impl DaemonLog {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            appender: OnceLock::new(),
        }
    }

    fn appender(&self) -> Option<&RollingFileAppender> {
        self.appender
            .get_or_init(|| match self.open() {
                Ok(appender) => Some(appender),
                Err(e) => {
                    eprintln!(
                        "execq: warning: cannot write `{}`: {e}",
                        self.path.display()
                    );
                    None
                }
            })
            .as_ref()
    }

    fn open(&self) -> io::Result<RollingFileAppender> {
        rotate_if_large(&self.path)?;
        let (dir, name) = match (self.path.parent(), self.path.file_name()) {
            (Some(dir), Some(name)) => (dir, name.to_string_lossy()),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a file path",
                ));
            }
        };
        // Created 0600 here first: the appender would create it with the umask's mode.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        RollingFileAppender::builder()
            .rotation(Rotation::NEVER)
            .filename_prefix(name)
            .build(dir)
            .map_err(io::Error::other)
    }
}

fn rotate_if_large(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(meta) if meta.len() >= ROTATE_BYTES => {}
        _ => return Ok(()),
    }
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    for n in (1..KEEP_ROTATED).rev() {
        if numbered(n).exists() {
            fs::rename(numbered(n), numbered(n + 1))?;
        }
    }
    fs::rename(path, numbered(1))
}

#[derive(Clone)]
struct DaemonLogWriter(Arc<DaemonLog>);

impl<'a> MakeWriter<'a> for DaemonLogWriter {
    type Writer = EitherWriter<RollingWriter<'a>, io::Sink>;

    fn make_writer(&'a self) -> Self::Writer {
        match self.0.appender() {
            Some(appender) => EitherWriter::A(appender.make_writer()),
            None => EitherWriter::B(io::sink()),
        }
    }
}

//! Logging: every event of a drain goes to `QUEUE/daemon.log` (local timestamps, one line each),
//! and a readable account goes to stderr.
//!
//! `daemon.log` is opened on the first line written to it, so a drain that finds nothing to do
//! leaves it untouched. It is written through tracing-appender's non-blocking writer in lossless
//! mode and flushed when the [`LogGuard`] drops. When it passes [`ROTATE_BYTES`] it is rotated to
//! `daemon.log.1` (keeping [`KEEP_ROTATED`] old files) as it is opened.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
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

/// Keeps the log writer alive; dropping it flushes every line to `daemon.log`.
#[must_use = "dropping the guard flushes the log; keep it until the end of main"]
pub struct LogGuard {
    daemon: Option<Arc<DaemonLog>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(log) = &self.daemon {
            drop(log.guard.lock().map(|mut g| g.take()));
        }
    }
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
    LogGuard { daemon }
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
    writer: OnceLock<Option<NonBlocking>>,
    guard: Mutex<Option<WorkerGuard>>,
}

impl DaemonLog {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            writer: OnceLock::new(),
            guard: Mutex::new(None),
        }
    }

    fn writer(&self) -> Option<&NonBlocking> {
        self.writer
            .get_or_init(|| match self.open() {
                Ok((writer, guard)) => {
                    *self.guard.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);
                    Some(writer)
                }
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

    fn open(&self) -> io::Result<(NonBlocking, WorkerGuard)> {
        rotate_if_large(&self.path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        Ok(NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("execq-log")
            .finish(file))
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
    type Writer = EitherWriter<NonBlocking, io::Sink>;

    fn make_writer(&'a self) -> Self::Writer {
        match self.0.writer() {
            Some(writer) => EitherWriter::A(writer.clone()),
            None => EitherWriter::B(io::sink()),
        }
    }
}

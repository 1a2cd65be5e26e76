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

/// The target of events meant for `daemon.log` alone: an error the caller also prints on stderr
/// in its own words, once.
pub const DAEMON_LOG_ONLY: &str = "execq::daemon_log_only";

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
    let color = terminal && crate::output::color_allowed();
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(Stderr { escape: !color })
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .with_filter(tracing_subscriber::filter::filter_fn(move |meta| {
            ours(meta.target()) && meta.target() != DAEMON_LOG_ONLY && *meta.level() <= stderr_level
        }));
    let daemon = daemon_log.map(|path| Arc::new(DaemonLog::new(path)));
    let file = daemon.clone().map(|log| {
        tracing_subscriber::fmt::layer()
            .with_writer(DaemonLogWriter(log))
            .with_ansi(false)
            .with_target(false)
            .with_timer(LocalTime)
            .with_filter(LevelFilter::INFO)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                ours(meta.target())
            }))
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    LogGuard { _daemon: daemon }
}

/// Events of execq itself: the libraries' own (the MCP SDK's session events, say) stay out of
/// `daemon.log` and the terminal.
fn ours(target: &str) -> bool {
    target.starts_with("execq")
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

/// Rotates the log once it is large. Every execq process writing the log may find it so: the one
/// that locks the file rotates it (after checking again that it is still the large file at the
/// path); the others leave it, so no rotated log replaces another.
fn rotate_if_large(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(meta) if meta.len() >= ROTATE_BYTES => {}
        _ => return Ok(()),
    }
    let Ok(file) = fs::File::open(path) else {
        return Ok(());
    };
    if fs2::FileExt::try_lock_exclusive(&file).is_err() {
        return Ok(());
    }
    let still = match (file.metadata(), fs::metadata(path)) {
        (Ok(held), Ok(now)) => {
            crate::fsutil::FileId::of(&held) == crate::fsutil::FileId::of(&now)
                && held.len() >= ROTATE_BYTES
        }
        _ => false,
    };
    if !still {
        return Ok(());
    }
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    for n in (1..KEEP_ROTATED).rev() {
        if numbered(n).exists() {
            crate::fsutil::try_rename(&numbered(n), &numbered(n + 1))?;
        }
    }
    crate::fsutil::try_rename(path, &numbered(1))
}

#[derive(Clone)]
struct DaemonLogWriter(Arc<DaemonLog>);

impl<'a> MakeWriter<'a> for DaemonLogWriter {
    type Writer = OneLine<EitherWriter<RollingWriter<'a>, io::Sink>>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLine(match self.0.appender() {
            Some(appender) => EitherWriter::A(appender.make_writer()),
            None => EitherWriter::B(io::sink()),
        })
    }
}

/// Writes each event as exactly one line: a newline, carriage return, escape or other control
/// character inside it (from a file name, a task_id, an error message) is written escaped
/// (`\n`, `\x1b`), so no value can forge a line of its own. The formatter hands over each event
/// whole, ending in its one newline.
struct OneLine<W>(W);

impl<W: io::Write> io::Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, "\n"),
            None => (buf, ""),
        };
        let mut line = crate::output::escape_controls(&String::from_utf8_lossy(body));
        line.push_str(end);
        self.0.write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// stderr; without colors (a log file under launchd or systemd) it gets the one-line treatment.
#[derive(Clone, Copy)]
struct Stderr {
    escape: bool,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = EitherWriter<io::Stderr, OneLine<io::Stderr>>;

    fn make_writer(&'a self) -> Self::Writer {
        if self.escape {
            EitherWriter::B(OneLine(io::stderr()))
        } else {
            EitherWriter::A(io::stderr())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn one_event_is_one_line_whatever_its_values_hold() {
        let mut out = OneLine(Vec::new());
        out.write_all(
            "INFO job moved file=new\nline.json task_id=a\rb\x1b[31m\u{2028}x\n".as_bytes(),
        )
        .unwrap();
        let text = String::from_utf8(out.0).unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(text.ends_with('\n'));
        assert_eq!(
            text,
            "INFO job moved file=new\\nline.json task_id=a\\rb\\u{1b}[31m\\u{2028}x\n"
        );
    }
}

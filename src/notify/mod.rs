//! Notifications when a job is filed: `[notify]` in config.toml and a job's own `notify` field
//! (its keys beat the file's one by one).
//!
//! ```toml
//! [notify]
//! on = ["failed", "timeout"]     # statuses that notify (default: every status but completed)
//! command = "~/bin/on-job.sh"    # /bin/sh -c, the record on stdin, EXECQ_* in its environment
//! webhook = "https://example.com/hooks/execq"   # POST of the record, signed with `secret`
//! secret = "s3cret"
//! desktop = true                 # osascript on macOS, notify-send on Linux
//! timeout = 10                   # for the command and each delivery
//! ```
//!
//! The settings themselves, and which statuses they cover, are `job::notify`'s [`Notify`].
//!
//! A channel that fails is logged and never changes the job's record. A webhook delivery that
//! fails is kept in `QUEUE/outbox/` and retried by later drains (see [`outbox`]).

pub mod outbox;
pub mod webhook;

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use crate::exec::{self, Limits, Watch};
use crate::job::notify::Notify;
use crate::job::result::Status;
use crate::queue::Queue;
use crate::signals::Shutdown;

/// A filed job, as notifications describe it.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// The job's file name.
    pub job: &'a str,
    /// The file holding its JSON record.
    pub record: &'a Path,
    pub status: Status,
    pub returncode: Option<i32>,
    pub task_id: Option<String>,
}

/// What one channel did.
#[derive(Clone, Debug, Serialize)]
pub struct Sent {
    pub channel: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Sends `event` through every channel `notify` configures (the caller checked [`Notify::wants`]);
/// a failed webhook delivery is kept to retry.
pub fn send(queue: &Queue, notify: &Notify, event: &Event<'_>, shutdown: &Shutdown) -> Vec<Sent> {
    send_through(Some(queue), notify, event, shutdown)
}

/// [`send`]; without a queue, a failed delivery is only reported (`execq notify test`).
pub fn send_through(
    queue: Option<&Queue>,
    notify: &Notify,
    event: &Event<'_>,
    shutdown: &Shutdown,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    if let Some(command) = &notify.command {
        sent.push(outcome(
            "command",
            run_command(command, notify.timeout(), event, shutdown),
        ));
    }
    if let Some(url) = &notify.webhook {
        let body = std::fs::read(event.record).unwrap_or_else(|_| b"{}".to_vec());
        let delivery =
            webhook::Delivery::new(url, notify.secret.as_deref(), body, notify.timeout());
        let result = match delivery.send() {
            Ok(status) => Ok(format!("HTTP {status}")),
            Err(e) => Err(match queue.map(|q| outbox::keep(q, &delivery, &e)) {
                None => e,
                Some(Ok(path)) => format!("{e}; kept in {} to retry", path.display()),
                Some(Err(keep)) => format!("{e}; and it could not be kept to retry: {keep:#}"),
            }),
        };
        sent.push(outcome("webhook", result));
    }
    if notify.desktop == Some(true) {
        sent.push(outcome("desktop", desktop(event)));
    }
    for s in &sent {
        if s.ok {
            tracing::info!(job = %event.job, channel = s.channel, detail = %s.detail, "notified");
        } else {
            tracing::warn!(job = %event.job, channel = s.channel, error = %s.detail, "notification failed");
        }
    }
    sent
}

fn outcome(channel: &'static str, result: Result<String, String>) -> Sent {
    match result {
        Ok(detail) => Sent {
            channel,
            ok: true,
            detail,
        },
        Err(detail) => Sent {
            channel,
            ok: false,
            detail,
        },
    }
}

/// Runs the command with `/bin/sh -c`, the record on stdin, like a job: its own process group,
/// timeout and bounded output.
fn run_command(
    command: &str,
    timeout: Duration,
    event: &Event<'_>,
    shutdown: &Shutdown,
) -> Result<String, String> {
    let stdin = File::open(event.record)
        .map_err(|e| format!("cannot open the record `{}`: {e}", event.record.display()))?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd.env("EXECQ_JOB", event.job)
        .env("EXECQ_TASK_ID", event.task_id.as_deref().unwrap_or(""))
        .env("EXECQ_STATUS", event.status.as_str())
        .env(
            "EXECQ_RETURNCODE",
            event.returncode.map_or_else(String::new, |c| c.to_string()),
        )
        .env("EXECQ_RECORD", event.record);
    let limits = Limits {
        timeout,
        grace: Duration::from_secs(1),
        keep: 4096,
    };
    let watch = Watch {
        shutdown,
        cancel: None,
        spool: None,
    };
    let run = exec::run_with_stdin(cmd, "/bin/sh", &limits, watch, stdin)
        .map_err(|e| crate::job::result::describe(&e))?;
    match run.end {
        exec::End::Exited(status) if status.success() => Ok("exit 0".into()),
        exec::End::Exited(status) => Err(format!(
            "exited {}{}",
            status.code().map_or_else(
                || format!("by signal {:?}", exec::signal_of(status)),
                |c| c.to_string()
            ),
            tail(&run.stderr.text)
        )),
        exec::End::TimedOut(_) => Err(format!("timed out after {} s", timeout.as_secs_f64())),
        _ => Err("stopped: drain was asked to stop".into()),
    }
}

fn tail(stderr: &str) -> String {
    let last = stderr.trim().lines().last().unwrap_or("");
    if last.is_empty() {
        String::new()
    } else {
        format!(": {}", crate::job::shorten(last, 200))
    }
}

/// A native notification: `osascript` on macOS, `notify-send` elsewhere (when installed).
fn desktop(event: &Event<'_>) -> Result<String, String> {
    let title = format!("execq: {} {}", event.job, event.status.as_str());
    let body = match event.returncode {
        Some(code) => format!("exit code {code}"),
        None => event.status.as_str().to_owned(),
    };
    let mut cmd = if cfg!(target_os = "macos") {
        let mut c = Command::new("osascript");
        // The texts go in as arguments, never into the script's source.
        c.args([
            "-e",
            "on run argv",
            "-e",
            "display notification (item 2 of argv) with title (item 1 of argv)",
            "-e",
            "end run",
            &title,
            &body,
        ]);
        c
    } else {
        let mut c = Command::new("notify-send");
        c.args(["--app-name=execq", &title, &body]);
        c
    };
    let program = if cfg!(target_os = "macos") {
        "osascript"
    } else {
        "notify-send"
    };
    match cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(format!("shown with {program}")),
        Ok(status) => Err(format!("{program} {status}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{program} is not installed"))
        }
        Err(e) => Err(format!("{program} failed to start: {e}")),
    }
}

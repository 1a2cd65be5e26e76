//! `execq dashboard`: the queue at a glance, as one HTML page.
//!
//! - As a file ([`write`]): self-contained — no script, no external asset, works from `file://`,
//!   reloads itself. Drains that did work rewrite it when `dashboard = PATH` is configured.
//! - Served (`web`, its own door): the same page from a small HTTP server on 127.0.0.1, updated in place by
//!   the page's own script, with JSON under `/api/` and retry/cancel buttons guarded by a per-run
//!   token and an `Origin` check.
//!
//! Everything taken from a job (names, commands, output) is escaped, so nothing a job prints can
//! run in the page; the served page also forbids inline script through its CSP. Jobs' `env`
//! values and webhook secrets are never shown ([`redacted`]), and the file is written mode 0600.

mod charts;
pub mod page;

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::queue::Queue;

pub use page::{Mode, esc, render};

/// Seconds between the file page's reloads of itself (a drain may have rewritten it meanwhile).
pub const REFRESH_SECS: u32 = 10;

/// Writes the file page to `out` atomically (a temporary file beside it, renamed over it).
pub fn write(queue: &Queue, out: &Path, refresh: Option<u32>) -> Result<()> {
    let html = render(queue, Mode::File { refresh })?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        out.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    // Private like the queue's own files: the page holds commands and their output.
    crate::fsutil::remove_if_exists(&tmp)?;
    crate::fsutil::write_new(&tmp, html.as_bytes())?;
    crate::fsutil::rename(&tmp, out)
}

/// A job's record as the dashboard shows it, its secrets left out: the page and its API are
/// readable without the token. `env` keeps only the variables' names (any other shape of `env`,
/// which a job that failed validation may have, is hidden whole); a `notify` table keeps neither
/// its webhook `secret` nor the webhook's path and query (a Slack or Discord hook URL is itself a
/// secret), only its scheme and host.
pub fn redacted(mut record: Value) -> Value {
    if let Some(env) = record.get_mut("env") {
        *env = match env {
            Value::Object(vars) => Value::Array(vars.keys().cloned().map(Value::String).collect()),
            _ => Value::String(HIDDEN.into()),
        };
    }
    if let Some(notify) = record.get_mut("notify") {
        match notify {
            Value::Object(table) => {
                if let Some(secret) = table.get_mut("secret") {
                    *secret = Value::String(HIDDEN.into());
                }
                if let Some(Value::String(url)) = table.get_mut("webhook") {
                    *url = crate::notify::webhook::shown_url(url);
                }
            }
            _ => *notify = Value::String(HIDDEN.into()),
        }
    }
    record
}

/// What stands for a value the dashboard does not show.
const HIDDEN: &str = "(hidden)";

//! `execq dashboard`: the queue at a glance, as one HTML page.
//!
//! - As a file ([`write`]): self-contained — no script, no external asset, works from `file://`,
//!   reloads itself. Drains that did work rewrite it when `dashboard = PATH` is configured.
//! - Served ([`serve`]): the same page from a small HTTP server on 127.0.0.1, updated in place by
//!   the page's own script, with JSON under `/api/` and retry/cancel buttons guarded by a per-run
//!   token and an `Origin` check.
//!
//! Everything taken from a job (names, commands, output) is escaped, so nothing a job prints can
//! run in the page; the served page also forbids inline script through its CSP.

mod charts;
mod page;
pub mod serve;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::queue::Queue;

pub use page::{Mode, esc, render};

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
    fs::write(&tmp, html).with_context(|| format!("failed to write `{}`", tmp.display()))?;
    crate::fsutil::rename(&tmp, out)
}

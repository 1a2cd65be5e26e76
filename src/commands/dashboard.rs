//! `execq dashboard [--out FILE] [--open]`: writes the queue's dashboard page (see `dashboard`).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::dashboard;
use crate::exit_code::ExitCode;
use crate::output;
use crate::queue::Queue;

/// Seconds between the page's reloads of itself (a drain may have rewritten it meanwhile).
pub const REFRESH_SECS: u32 = 10;

/// Runs `execq dashboard`.
pub fn run(queue: &Queue, out: Option<PathBuf>, open: bool) -> Result<ExitCode> {
    let out = match out {
        Some(path) => std::path::absolute(&path)
            .with_context(|| format!("invalid path `{}`", path.display()))?,
        None => queue.root.join("dashboard.html"),
    };
    dashboard::write(queue, &out, Some(REFRESH_SECS))?;
    output::print_line(&out.display().to_string())?;
    if open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        let status = std::process::Command::new(opener)
            .arg(&out)
            .status()
            .with_context(|| {
                format!("failed to run `{opener}`; open {} yourself", out.display())
            })?;
        if !status.success() {
            anyhow::bail!("`{opener} {}` failed: {status}", out.display());
        }
    }
    Ok(ExitCode::Success)
}

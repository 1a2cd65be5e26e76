//! `execq dashboard [--out FILE] [--open] [--serve [--port N]]`: writes the queue's dashboard
//! page, or serves it live (see `dashboard`).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::dashboard::{self, REFRESH_SECS};
use crate::exit_code::ExitCode;
use crate::output;
use crate::queue::Queue;

/// `execq dashboard`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Where to write the page (not with `serve`).
    pub out: Option<PathBuf>,
    /// Open the page (or the served URL) in the browser.
    pub open: bool,
    /// Serve the page live instead of writing it, on this port of 127.0.0.1.
    pub serve: Option<u16>,
}

/// Runs `execq dashboard`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    if let Some(port) = opts.serve {
        return dashboard::serve::serve(queue, port, opts.open);
    }
    let out = match &opts.out {
        Some(path) => std::path::absolute(path)
            .with_context(|| format!("invalid path `{}`", path.display()))?,
        None => queue.root.join("dashboard.html"),
    };
    dashboard::write(queue, &out, Some(REFRESH_SECS))?;
    output::print_line(&out.display().to_string())?;
    if opts.open {
        open_in_browser(&out.display().to_string())?;
    }
    Ok(ExitCode::Success)
}

/// Opens a file or URL with the desktop's default program (`open` on macOS, `xdg-open` elsewhere).
pub fn open_in_browser(target: &str) -> Result<()> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let status = std::process::Command::new(opener)
        .arg(target)
        .status()
        .with_context(|| format!("failed to run `{opener}`; open {target} yourself"))?;
    if !status.success() {
        anyhow::bail!("`{opener} {target}` failed: {status}");
    }
    Ok(())
}

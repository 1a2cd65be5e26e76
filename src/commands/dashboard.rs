//! `execq dashboard [--out FILE] [--open]`: writes the queue's dashboard page (see `dashboard`);
//! `--serve` is the served dashboard's own door (`web`).

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
    let out = match &opts.out {
        Some(path) => std::path::absolute(path)
            .with_context(|| format!("invalid path `{}`", path.display()))?,
        None => queue.root.join("dashboard.html"),
    };
    dashboard::write(queue, &out, Some(REFRESH_SECS))?;
    output::print_line(&out.display().to_string())?;
    if opts.open {
        crate::sys::open_in_browser(&out.display().to_string())?;
    }
    Ok(ExitCode::Success)
}

//! `execq logs`: the end of `daemon.log`, optionally followed as it grows (and across rotation).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::exit_code::ExitCode;
use crate::output;
use crate::queue::Queue;

/// `execq logs`'s options.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    /// How many of the last lines to print.
    pub lines: usize,
    /// Keep printing new lines until interrupted.
    pub follow: bool,
}

/// Runs `execq logs`.
pub fn run(queue: &Queue, opts: Opts) -> Result<ExitCode> {
    logs(queue, opts.lines, opts.follow)?;
    Ok(ExitCode::Success)
}

/// Prints the last `lines` lines; with `follow`, keeps printing new ones until interrupted.
fn logs(queue: &Queue, lines: usize, follow: bool) -> Result<()> {
    let path = &queue.log;
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && follow => Vec::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "no log yet at `{}`: no drain has run jobs in this queue",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", path.display())),
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    if !tail.is_empty() {
        output::print(&(tail + "\n"))?;
    }
    if follow {
        follow_from(path, bytes.len() as u64)
    } else {
        Ok(())
    }
}

fn follow_from(path: &std::path::Path, mut pos: u64) -> Result<()> {
    let mut inode = fs::metadata(path).map(|m| m.ino()).ok();
    loop {
        thread::sleep(Duration::from_millis(250));
        let Ok(meta) = fs::metadata(path) else {
            continue;
        };
        if Some(meta.ino()) != inode || meta.len() < pos {
            inode = Some(meta.ino());
            pos = 0;
        }
        if meta.len() == pos {
            continue;
        }
        let mut file =
            File::open(path).with_context(|| format!("failed to open `{}`", path.display()))?;
        file.seek(SeekFrom::Start(pos))?;
        let mut new = Vec::new();
        file.read_to_end(&mut new)?;
        pos += new.len() as u64;
        output::print(&String::from_utf8_lossy(&new))?;
        if std::io::Write::flush(&mut std::io::stdout()).is_err() {
            return Ok(());
        }
    }
}

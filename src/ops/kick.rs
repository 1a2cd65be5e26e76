//! The one rule for getting a drain to run work a door has just queued: **if no drain holds the
//! queue, start one; otherwise the drain holding it sees the job** (at the latest when it looks at
//! `pending/` once more before letting go of the lock). Every door follows it after queueing:
//! `execq submit --start` and `--wait`, MCP `submit_job` and `retry_job`, and the served
//! dashboard's retry. An installed service does not change it: the drain started here runs the
//! job at once, where the service's next trigger may come seconds later (launchd throttles
//! restarts), and the queue's lock keeps the two from both running it.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::drain::background::{self, Start};
use crate::queue::Queue;
use crate::queue::lock::{self, DrainLock};

/// How a door starts a drain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// Fork this process, which then drains (for single-threaded callers: the command line). The
    /// fork returns [`Kicked::ThisProcessDrains`] in the copy.
    Fork,
    /// Start `execq drain --linger 0.2` as a new process in its own group, reaped by a thread:
    /// for servers, whose threads make a fork unsafe.
    Process,
}

/// What [`kick`] did.
#[derive(Debug)]
pub enum Kicked {
    /// A drain holds the queue: it will run the job.
    AlreadyDraining,
    /// A drain was started in the background.
    Started,
    /// This process is the forked copy, holding the queue's lock: drain, then exit.
    ThisProcessDrains(DrainLock),
}

/// Makes sure a drain will run what is in `pending/` (see the module docs).
pub fn kick(queue: &Queue, launch: Launch) -> Result<Kicked> {
    match launch {
        Launch::Fork => Ok(match background::start_drain(queue)? {
            Start::AlreadyDraining => Kicked::AlreadyDraining,
            Start::Started => Kicked::Started,
            Start::Drain(lock) => Kicked::ThisProcessDrains(lock),
        }),
        Launch::Process if lock::is_held(queue)? => Ok(Kicked::AlreadyDraining),
        Launch::Process => spawn(queue).map(|()| Kicked::Started),
    }
}

fn spawn(queue: &Queue) -> Result<()> {
    let exe = std::env::current_exe().context("cannot tell where this execq binary is")?;
    let mut child = Command::new(exe)
        .arg("--queue")
        .arg(&queue.root)
        .args(["drain", "--linger", "0.2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a client that ends the server's group leaves the drain be.
        .process_group(0)
        .spawn()
        .context("failed to start a drain")?;
    // Reaped when it ends, so no zombie waits for a long-lived server to exit.
    std::thread::spawn(move || child.wait());
    Ok(())
}

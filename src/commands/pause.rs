//! `execq pause [--group G] [--wait]`, `execq resume [--group G]` and `execq group list [--json]`
//! (see `ops::pause`). A pause stops drains from starting jobs; jobs already running go on (to
//! stop them too, `execq cancel` them); `--wait` returns once none of the paused ones runs.

use std::time::Duration;

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::job::sandbox::Origin;
use crate::ops::pause::{self, Changed, Groups};
use crate::output;
use crate::queue::Queue;

/// `execq pause`'s and `execq resume`'s options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opts {
    /// `None`: the whole queue.
    pub group: Option<String>,
    /// `pause --wait`: until none of its jobs runs.
    pub wait: bool,
}

fn print(changed: &Changed) -> Result<()> {
    let state = if changed.paused { "paused" } else { "resumed" };
    let already = if changed.unchanged { " (already)" } else { "" };
    output::print_line(&format!("{}\t{state}{already}", changed.scope))
}

pub fn pause(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let changed = pause::pause(queue, opts.group.as_deref(), Origin::Cli)?;
    print(&changed)?;
    if opts.wait {
        loop {
            let groups = pause::groups(queue)?;
            let scope = (groups.groups.iter())
                .filter(|g| opts.group.as_ref().is_none_or(|name| *name == g.name));
            let forwarded: usize = scope.clone().map(|g| g.forwarded).sum();
            let running: usize = scope.map(|g| g.running).sum::<usize>() - forwarded;
            if running == 0 {
                if forwarded > 0 {
                    eprintln!(
                        "execq: {forwarded} job(s) handed to Slurm go on there (a pause starts nothing new; `execq cancel` stops one)"
                    );
                }
                break;
            }
            // Left in running/ by a drain that died: nothing runs them; the next drain files them.
            if !crate::queue::lock::is_held(queue)? {
                eprintln!(
                    "execq: {running} job(s) left in running/ by a drain that died; none is running now"
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(ExitCode::Success)
}

pub fn resume(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let changed = pause::resume(queue, opts.group.as_deref(), Origin::Cli)?;
    print(&changed)?;
    if !changed.unchanged {
        // Its jobs waited in pending/, which no trigger watches for a resume: start a drain.
        if let Err(e) = crate::ops::kick::kick(queue, crate::ops::kick::Launch::Process) {
            tracing::warn!("resumed, but no drain could be started: {e:#}");
        }
    }
    Ok(ExitCode::Success)
}

/// `execq group list`: one line per group (`NAME SLOTS PENDING RUNNING STATE`).
pub fn list(queue: &Queue, json: bool) -> Result<ExitCode> {
    let groups: Groups = pause::groups(queue)?;
    if json {
        output::print_json(&groups)?;
        return Ok(ExitCode::Success);
    }
    let mut out = String::new();
    if groups.paused {
        out.push_str("the whole queue is paused (`execq resume` starts it again)\n");
    }
    out.push_str(&format!(
        "{:<20} {:>5} {:>7} {:>7}  STATE\n",
        "GROUP", "SLOTS", "PENDING", "RUNNING"
    ));
    for g in &groups.groups {
        let state = match (g.paused, g.configured) {
            (true, _) => "paused",
            (false, true) => "running",
            (false, false) => "running (not configured: shares default's slots)",
        };
        out.push_str(&format!(
            "{:<20} {:>5} {:>7} {:>7}  {state}\n",
            g.name, g.slots, g.pending, g.running
        ));
    }
    output::print(&out)?;
    Ok(ExitCode::Success)
}

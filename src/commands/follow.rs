//! `execq follow REF`: a running job's output as it is produced (from its live copy, see
//! `exec::spool`), then its final status; for a job that has finished, its recorded output. A
//! pending job is waited for. Exits as `submit --wait` does, with the job's own code.

use std::fs::File;
use std::io::{self, Read, Write};

use anyhow::Result;

use crate::exec::spool::SPOOL_LIMIT;
use crate::exit_code::ExitCode;
use crate::ops::wait::{POLL, Pause};
use crate::queue::Queue;
use crate::queue::catalog::Entry;
use crate::queue::record::spool_paths;
use crate::queue::watch::{Phase, Tracked};

/// One stream being followed: its live copy, once it exists, and how much of it was printed.
#[derive(Default)]
struct Follower {
    file: Option<File>,
    printed: u64,
}

impl Follower {
    /// Prints what the live copy holds beyond what was printed.
    fn pump(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let mut chunk = Vec::new();
        file.read_to_end(&mut chunk)?;
        self.printed += chunk.len() as u64;
        out.write_all(&chunk)?;
        out.flush()
    }
}

/// Runs `execq follow`.
pub fn run(queue: &Queue, reference: &str) -> Result<ExitCode> {
    let job = Tracked::find(queue, reference)?;
    let mut followers = [Follower::default(), Follower::default()];
    let mut pause = Pause::new(queue);
    loop {
        pause.looking();
        match job.phase(queue)? {
            Phase::Pending => {}
            Phase::Running => open_spools(queue, &job, &mut followers),
            Phase::Finished(entry) => return finish(&entry, &mut followers),
        }
        pump(&mut followers)?;
        pause.looked();
        // A forwarded job ends only when a drain asks its executor: have one ask.
        pause.nudge_forwarded();
        // Output written to a live copy changes no folder: it is read every POLL, while a claim
        // or the record wakes the loop at once.
        pause.wait(POLL, None);
    }
}

/// Opens the live copies that exist and are not open yet. An open copy stays readable after the
/// drain removes it, so nothing between the last look and the record is missed.
fn open_spools(queue: &Queue, job: &Tracked, followers: &mut [Follower; 2]) {
    let Some(path) = job.running_path(queue) else {
        return;
    };
    // A forwarded job's output is where its executor writes it, as it grows.
    let spools = match crate::queue::forwarded::read(&path) {
        Some(note) => note.output_paths(),
        None => spool_paths(&path),
    };
    for (follower, spool) in followers.iter_mut().zip(spools) {
        if follower.file.is_none() {
            follower.file = File::open(spool).ok();
        }
    }
}

fn pump(followers: &mut [Follower; 2]) -> Result<()> {
    followers[0].pump(&mut io::stdout().lock())?;
    followers[1].pump(&mut io::stderr().lock())?;
    Ok(())
}

/// Prints the rest: what the live copies still hold, or (if they were never seen, or were cut
/// at their limit) the record's output, then the final status.
fn finish(entry: &Entry, followers: &mut [Follower; 2]) -> Result<ExitCode> {
    pump(followers)?;
    let Some(result) = &entry.result else {
        anyhow::bail!("`{}` finished without a readable result", entry.name);
    };
    let recorded = [
        (&result.stdout, result.stdout_bytes),
        (&result.stderr, result.stderr_bytes),
    ];
    for (i, (follower, (text, total))) in followers.iter().zip(recorded).enumerate() {
        let mut out: Box<dyn Write> = if i == 0 {
            Box::new(io::stdout().lock())
        } else {
            Box::new(io::stderr().lock())
        };
        if follower.file.is_none() {
            out.write_all(text.as_bytes())?;
        } else if follower.printed < total && follower.printed >= SPOOL_LIMIT {
            writeln!(
                out,
                "\n[execq: live output stopped at {SPOOL_LIMIT} bytes of {total}; `execq show` has the end]"
            )?;
        }
        out.flush()?;
    }
    let code = result
        .returncode
        .map_or_else(|| "-".into(), |c| c.to_string());
    eprintln!(
        "execq: {} {} (returncode {code})",
        entry.name,
        result.status.as_str()
    );
    Ok(ExitCode::of_job(result))
}

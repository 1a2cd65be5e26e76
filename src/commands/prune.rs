//! `execq prune`: delete finished jobs' records older than an age, so `completed/` and `failed/`
//! do not grow forever. A job file and its sidecar go together; nothing in `pending/` or
//! `running/` is touched, and neither are the files jobs wrote to `results/`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};

use crate::exit_code::ExitCode;
use crate::fsutil;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::{self, State};
use crate::queue::index;
use crate::queue::names::display_path;

/// What to prune.
#[derive(Clone, Debug)]
pub struct PruneOptions {
    pub older_than: Duration,
    /// Only this state (`completed` or `failed`); both when `None`.
    pub state: Option<State>,
    pub dry_run: bool,
}

/// The files removed (or, with `dry_run`, that would be).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Pruned {
    pub jobs: usize,
    #[serde(serialize_with = "display_paths")]
    pub files: Vec<PathBuf>,
    pub dry_run: bool,
}

fn display_paths<S: serde::Serializer>(paths: &[PathBuf], to: S) -> Result<S::Ok, S::Error> {
    to.collect_seq(paths.iter().map(|p| display_path(p)))
}

/// `execq prune`'s options.
#[derive(Clone, Debug)]
pub struct Opts {
    pub prune: PruneOptions,
    /// Print the result as JSON.
    pub json: bool,
}

/// Runs `execq prune`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let pruned = prune(queue, &opts.prune)?;
    if opts.json {
        output::print_json(&pruned)?;
        return Ok(ExitCode::Success);
    }
    let verb = if pruned.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut out = format!(
        "{verb} {} jobs ({} files)\n",
        pruned.jobs,
        pruned.files.len()
    );
    if pruned.dry_run {
        for file in &pruned.files {
            out.push_str(&format!("  {}\n", display_path(file)));
        }
    }
    output::print(&out)?;
    Ok(ExitCode::Success)
}

/// Removes every finished job recorded before `now - older_than`.
pub fn prune(queue: &Queue, opts: &PruneOptions) -> Result<Pruned> {
    let states = match opts.state {
        None => vec![State::Completed, State::Failed],
        Some(state @ (State::Completed | State::Failed)) => vec![state],
        Some(other) => bail!(
            "only completed and failed jobs are pruned, not {}",
            other.as_str()
        ),
    };
    let cutoff = SystemTime::now()
        .checked_sub(opts.older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut pruned = Pruned {
        dry_run: opts.dry_run,
        ..Pruned::default()
    };
    let mut change = index::Change::begin(queue);
    for state in states {
        for entry in catalog::load(queue, state)?
            .into_iter()
            .filter(|e| e.time < cutoff)
        {
            let mut files: Vec<PathBuf> =
                std::iter::once(entry.path).chain(entry.sidecar).collect();
            files.dedup();
            if !opts.dry_run {
                files.iter().try_for_each(|f| fsutil::remove_entry(f))?;
                change.removed(state, 1);
            }
            pruned.jobs += 1;
            pruned.files.extend(files);
        }
    }
    change.commit(queue);
    if !opts.dry_run && pruned.jobs > 0 {
        tracing::info!(
            jobs = pruned.jobs,
            older_than_s = opts.older_than.as_secs(),
            "pruned old records"
        );
    }
    Ok(pruned)
}

//! `execq prune`: delete finished jobs' records older than an age, so `completed/` and `failed/`
//! do not grow forever. A job file and its sidecar go together; nothing in `pending/` or
//! `running/` is touched, and neither are the files jobs wrote to `results/`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};

use crate::catalog::{self, State};
use crate::duration;
use crate::fsutil;
use crate::queue::Queue;

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
    to.collect_seq(paths.iter().map(|p| fsutil::display_path(p)))
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
    for state in states {
        for entry in catalog::load(queue, state)?
            .into_iter()
            .filter(|e| e.time < cutoff)
        {
            let mut files: Vec<PathBuf> =
                std::iter::once(entry.path).chain(entry.sidecar).collect();
            files.dedup();
            if !opts.dry_run {
                files.iter().try_for_each(|f| remove(f))?;
            }
            pruned.jobs += 1;
            pruned.files.extend(files);
        }
    }
    if !opts.dry_run && pruned.jobs > 0 {
        tracing::info!(
            jobs = pruned.jobs,
            older_than_s = opts.older_than.as_secs(),
            "pruned old records"
        );
    }
    Ok(pruned)
}

/// Removes a record; a directory (a non-file entry drain moved to `failed/`) goes whole.
fn remove(path: &std::path::Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path)
            .map_err(|e| anyhow::anyhow!("failed to remove `{}`: {e}", path.display())),
        _ => fsutil::remove_if_exists(path),
    }
}

/// Parses "30d", "12h", "90m", "45s" or a plain number of seconds (see [`duration::parse_age`]).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    duration::parse_age(text)
}

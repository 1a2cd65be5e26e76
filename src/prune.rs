//! `execq prune`: delete finished jobs' records older than an age, so `completed/` and `failed/`
//! do not grow forever. A job file and its sidecar go together; nothing in `pending/` or
//! `running/` is touched, and neither are the files jobs wrote to `results/`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};

use crate::catalog::{self, State};
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
    pub files: Vec<PathBuf>,
    pub dry_run: bool,
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

/// Parses "30d", "12h", "90m", "45s" or a plain number of seconds.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "`{text}`: use a number with s, m, h, d or w (for example 30d)"
            ));
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age like 30d or 12h"))?;
    Ok(Duration::from_secs(number * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_people_write_them() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert!(parse_age("3 weeks").is_err());
        assert!(parse_age("d").is_err());
    }
}

//! A job's `result_file`: its full stdout, copied as it is produced, up to [`RESULT_FILE_LIMIT`].
//!
//! A relative path lands inside `QUEUE/results/` and may not leave it: `..` is refused, and so is
//! any symlink on the way down. An absolute path may not land among the queue's own files. The
//! file is written under a temporary name beside its target and renamed into place when the job
//! ends, so a reader never sees a half-written result; that rename replaces an earlier result at
//! the path, which is what the job asked for. The temporary name is the writer's own (see
//! [`temp_path`]): two jobs writing one path at once each write their own copy, and the one that
//! ends last replaces the other's, as a later run would.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::fsutil;
use crate::queue::names::fit_name;

/// The most of a job's stdout copied to its `result_file` (100 MiB); the rest is dropped and the
/// record says `result_file_truncated: true`.
pub const RESULT_FILE_LIMIT: u64 = 100 * 1024 * 1024;

/// Why a `result_file` cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    #[error("`result_file` `{0}` names no file")]
    NoName(String),
    #[error("`result_file` `{0}` must stay inside results/ (no `..`)")]
    Escapes(String),
    #[error("`result_file` `{0}` goes through a symlink inside results/")]
    Symlink(String),
    #[error(
        "`result_file` `{requested}` is inside the queue `{}`; only its results/ folder may hold result files",
        .root.display()
    )]
    InsideQueue { requested: String, root: PathBuf },
    #[error("cannot create `{}`", .path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create `result_file` `{}`", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not write `result_file` `{}`", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Where a job's full stdout is copied, up to `limit` bytes.
#[derive(Debug)]
pub struct Sink {
    file: File,
    limit: u64,
    written: u64,
    truncated: bool,
    error: Option<io::Error>,
}

impl Sink {
    fn new(file: File, limit: u64) -> Self {
        Self {
            file,
            limit,
            written: 0,
            truncated: false,
            error: None,
        }
    }

    /// Copies `chunk`, up to the limit; the first write error is kept and stops further writes.
    pub fn write(&mut self, chunk: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let room = usize::try_from(self.limit - self.written).unwrap_or(usize::MAX);
        let part = &chunk[..chunk.len().min(room)];
        self.truncated |= part.len() < chunk.len();
        match self.file.write_all(part) {
            Ok(()) => self.written += part.len() as u64,
            Err(e) => self.error = Some(e),
        }
    }
}

/// An open result file being written.
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    tmp: PathBuf,
}

/// Resolves and opens `requested` for writing, in the queue whose `results/` folder is `results`,
/// for the job at `job` (its path in `running/`, which names the temporary copy).
pub fn open(
    results: &Path,
    requested: &str,
    job: &Path,
) -> Result<(Target, Sink), ResultFileError> {
    let path = resolve(results, requested)?;
    let tmp = temp_path(&path, job).ok_or_else(|| ResultFileError::NoName(requested.to_owned()))?;
    fsutil::discard(&tmp);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|source| ResultFileError::Create {
            path: path.clone(),
            source,
        })?;
    Ok((Target { path, tmp }, Sink::new(file, RESULT_FILE_LIMIT)))
}

/// The temporary copy of the result file at `path` written for the job at `job`:
/// `.NAME.HASH.execq-tmp` beside it, `HASH` standing for the job's path in `running/`. Jobs that
/// run at once never share a path in `running/` (a claim never replaces a file), nor do two
/// queues, so no writer removes or renames another's copy; and recovery, knowing only the job,
/// finds the copy a killed drain left.
fn temp_path(path: &Path, job: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let suffix = format!(".{:016x}.execq-tmp", fnv1a(job.as_os_str().as_bytes()));
    Some(path.with_file_name(fit_name(".", name, &suffix)))
}

/// FNV-1a: a hash that stays the same from one build to the next, so a newer drain still finds
/// the copies an older one left.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Removes the temporary copy a killed drain may have left for `requested`, written for the job
/// at `job` in `running/`.
pub fn discard_temp(results: &Path, requested: &str, job: &Path) {
    let requested_path = Path::new(requested);
    let path = if requested_path.is_absolute() {
        requested_path.to_owned()
    } else if requested_path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        results.join(requested_path)
    } else {
        return;
    };
    if let Some(tmp) = temp_path(&path, job) {
        fsutil::discard(&tmp);
    }
}

fn resolve(results: &Path, requested: &str) -> Result<PathBuf, ResultFileError> {
    let requested_path = Path::new(requested);
    if requested_path.is_absolute() {
        refuse_inside_queue(results, requested_path, requested)?;
        return Ok(requested_path.to_owned());
    }
    let mut path = results.to_owned();
    let parts: Vec<_> = requested_path.components().collect();
    for (i, part) in parts.iter().enumerate() {
        match part {
            Component::Normal(name) => path.push(name),
            Component::CurDir => continue,
            _ => return Err(ResultFileError::Escapes(requested.to_owned())),
        }
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(ResultFileError::Symlink(requested.to_owned()));
            }
            Err(_) if i + 1 < parts.len() => {
                fsutil::create_private_dir(&path).map_err(|source| ResultFileError::CreateDir {
                    path: path.clone(),
                    source,
                })?;
            }
            _ => {}
        }
    }
    Ok(path)
}

/// An absolute `result_file` may not land among the queue's own files (`drain.lock`,
/// `daemon.log`, a job in `pending/`...): inside the queue, only `results/` holds result files.
/// Folders are compared after resolving symlinks, so no spelling of the path gets around it.
fn refuse_inside_queue(
    results: &Path,
    path: &Path,
    requested: &str,
) -> Result<(), ResultFileError> {
    let (Some(root), Some(dir)) = (results.parent(), path.parent()) else {
        return Ok(());
    };
    // A folder that does not exist cannot hold the file either; creating it fails later, naming it.
    let (Ok(root), Ok(dir)) = (fs::canonicalize(root), fs::canonicalize(dir)) else {
        return Ok(());
    };
    if dir.starts_with(&root) && !dir.starts_with(root.join("results")) {
        return Err(ResultFileError::InsideQueue {
            requested: requested.to_owned(),
            root,
        });
    }
    Ok(())
}

impl Target {
    /// Syncs the copy and renames it into place. Returns whether it was cut at the limit.
    pub fn commit(self, sink: Sink) -> Result<bool, ResultFileError> {
        let written = match sink.error {
            Some(e) => Err(e),
            None => fsutil::try_sync(&sink.file, &self.tmp)
                .and_then(|()| fsutil::try_rename(&self.tmp, &self.path)),
        };
        written.map(|()| sink.truncated).map_err(|source| {
            fsutil::discard(&self.tmp);
            ResultFileError::Write {
                path: self.path,
                source,
            }
        })
    }

    /// Removes the temporary file of a job that never started.
    pub fn discard(self) {
        fsutil::discard(&self.tmp);
    }
}

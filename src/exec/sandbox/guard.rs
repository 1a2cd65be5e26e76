//! What a sandboxed job may not be given: a writable folder that holds the queue, lies inside it,
//! holds a home folder or is one of the kernel's own; anything past its origin's floor once links
//! are followed; a result file the drain would write where the job itself could not.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::job::sandbox;
use crate::sys::sandbox::{self as sys, Folder};

/// A sandboxed job's `result_file` is written by the drain, outside the sandbox, so it may go
/// only where the job could write itself — beneath one of its writable folders — or, given as a
/// relative path, into `QUEUE/results/` (see `exec::result_file`).
pub(super) fn result_file_within(requested: &str, writable: &[Folder]) -> Result<(), String> {
    let path = Path::new(requested);
    if !path.is_absolute() {
        return Ok(());
    }
    let parent = path
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .ok_or_else(|| format!("the result file's folder (`{requested}`) does not exist"))?;
    if writable.iter().any(|f| parent.starts_with(&f.path)) {
        return Ok(());
    }
    Err(format!(
        "the result file `{requested}` is outside the job's writable folders: the drain writes it for the job, outside its sandbox, so a sandboxed job's result file goes in results/ (a relative path) or beneath a folder it may write"
    ))
}

/// The queue's folder, and the home folders, as the folders a job may write are checked against:
/// by device and inode, up each folder's ancestors, so neither a path spelled another way nor a
/// bind mount of the queue gets past it.
pub(super) struct Guarded {
    pub(super) path: PathBuf,
    /// The queue's folder.
    id: (u64, u64),
    /// The queue's folder and each folder above it.
    above_queue: Vec<(u64, u64)>,
    /// Each home folder (`HOME`, and the user database's) and each folder above them.
    above_home: Vec<(u64, u64)>,
}

impl Guarded {
    /// [`Guarded::new`], made once per drain (a drain serves one queue; a home folder does not
    /// move while it runs).
    pub(super) fn cached(root: &Path, home: Option<&Path>) -> Result<std::sync::Arc<Self>, String> {
        static MADE: std::sync::Mutex<Option<(PathBuf, std::sync::Arc<Guarded>)>> =
            std::sync::Mutex::new(None);
        let mut made = MADE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((made_for, guarded)) = made.as_ref()
            && made_for == root
        {
            return Ok(std::sync::Arc::clone(guarded));
        }
        let guarded = std::sync::Arc::new(Self::new(root, home)?);
        *made = Some((root.to_owned(), std::sync::Arc::clone(&guarded)));
        Ok(guarded)
    }

    fn new(root: &Path, home: Option<&Path>) -> Result<Self, String> {
        let queue = Folder::open(root)
            .map_err(|e| format!("cannot open the queue folder `{}`: {e}", root.display()))?;
        let mut above_home = Vec::new();
        for home in home
            .map(Path::to_owned)
            .into_iter()
            .chain(sys::account_home())
        {
            if let Ok(home) = std::fs::canonicalize(home) {
                above_home.extend(ids_up(&home));
            }
        }
        Ok(Self {
            above_queue: ids_up(&queue.path),
            path: queue.path,
            id: queue.id,
            above_home,
        })
    }

    /// Refuses a writable folder that would let a job write the queue or a home folder.
    pub(super) fn check(&self, folder: &Folder) -> Result<(), String> {
        let system = ["/proc", "/sys", "/dev"];
        if folder.kernel || system.iter().any(|s| folder.path.starts_with(s)) {
            return Err(format!(
                "the writable folder `{}` is one of the kernel's own (processes, devices, system settings): writing there changes the machine, not files",
                folder.path.display()
            ));
        }
        if self.above_queue.contains(&folder.id) {
            return Err(holds_the_queue(&folder.path, &self.path));
        }
        if ids_up(&folder.path).contains(&self.id) {
            return Err(format!(
                "the writable folder `{}` is inside the queue (`{}`), which a sandboxed job may never write",
                folder.path.display(),
                self.path.display()
            ));
        }
        if self.above_home.contains(&folder.id) {
            return Err(format!(
                "the writable folder `{}` is the home folder or holds it: shell startup files and login items there would run what a job leaves in them outside any sandbox",
                folder.path.display()
            ));
        }
        Ok(())
    }
}

/// Why a writable `folder` that holds the `queue` is refused.
pub fn holds_the_queue(folder: &Path, queue: &Path) -> String {
    format!(
        "the writable folder `{}` holds the queue (`{}`): a job that can write the queue can queue a job outside its sandbox. Give the job a working folder that does not hold the queue, or keep the queue elsewhere (EXECQ_QUEUE)",
        folder.display(),
        queue.display()
    )
}

/// The device and inode of `path` and of each folder above it.
fn ids_up(path: &Path) -> Vec<(u64, u64)> {
    path.ancestors()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// What a job's folders resolve to, held to its origin's floor once symbolic links are followed:
/// the floor was checked by name at the door, and a link beneath an allowed folder may point
/// anywhere.
pub(super) struct Held<'a> {
    /// The working folder of a `workspace` job.
    pub(super) cwd: Option<&'a Path>,
    pub(super) writable: &'a [PathBuf],
    pub(super) readable: Option<&'a [PathBuf]>,
}

impl Held<'_> {
    pub(super) fn within(
        &self,
        floor: &sandbox::Sandbox,
        home: Option<&Path>,
    ) -> Result<(), String> {
        let resolved = |list: &[String]| -> Vec<PathBuf> {
            list.iter()
                .filter_map(|f| sandbox::expand(f, home))
                .filter_map(|f| std::fs::canonicalize(f).ok())
                .collect()
        };
        let beneath =
            |path: &Path, folders: &[PathBuf]| folders.iter().any(|f| path.starts_with(f));
        if let (Some(cwd), Some(workspaces)) = (self.cwd, &floor.workspaces)
            && !beneath(cwd, &resolved(workspaces))
        {
            return Err(format!(
                "the working folder resolves to `{}`, not beneath the floor's workspaces",
                cwd.display()
            ));
        }
        let allowed = resolved(&floor.writable);
        if let Some(folder) = self.writable.iter().find(|w| !beneath(w, &allowed)) {
            return Err(format!(
                "a writable folder resolves to `{}`, not beneath the floor's writable folders",
                folder.display()
            ));
        }
        if let (Some(readable), Some(floor_readable)) = (self.readable, &floor.readable) {
            let allowed = resolved(floor_readable);
            if let Some(folder) = readable.iter().find(|r| !beneath(r, &allowed)) {
                return Err(format!(
                    "a readable folder resolves to `{}`, not beneath the floor's readable folders",
                    folder.display()
                ));
            }
        }
        Ok(())
    }
}

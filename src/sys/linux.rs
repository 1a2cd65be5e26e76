//! Linux's side of the calls that differ (macOS's are in `macos.rs`, with the same names).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::c_path;

/// `rename(2)` that fails with `EEXIST` instead of replacing: `renameat2(RENAME_NOREPLACE)`.
/// Filesystems without it answer `EINVAL`; the caller falls back to a link.
pub fn rename_exclusive(from: &Path, to: &Path) -> io::Result<()> {
    let (from, to) = (c_path(from)?, c_path(to)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes processes orphaned by a job re-parent to this process instead of PID 1, so drain can reap
/// them the moment they die and tell at once that a job's group is empty.
pub fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a plain integer argument.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Where per-user data lives: `$XDG_DATA_HOME` when it is absolute, else `~/.local/share`.
pub fn data_home(home: &Path, xdg_data_home: Option<PathBuf>) -> PathBuf {
    xdg_data_home
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".local/share"))
}

/// A strong reference to glibc's `posix_spawn_file_actions_addchdir_np`, so that a statically
/// linked build has it. std spawns a process with a working folder through `posix_spawn` (a
/// vfork) when that function exists, else by `fork`, and looks for it through a weak reference,
/// which alone does not take it out of `libc.a`: the static build forked the whole drain for every
/// job with a `cwd` (every job `execq submit` makes), about 0.15 ms a job more.
#[cfg(target_env = "gnu")]
#[used]
static KEEP_SPAWN_CHDIR: unsafe extern "C" fn(
    *mut libc::posix_spawn_file_actions_t,
    *const libc::c_char,
) -> libc::c_int = libc::posix_spawn_file_actions_addchdir_np;

/// `timeout` as poll(2)'s milliseconds: rounded up, so that a wait for less than a millisecond
/// is not a busy loop, and capped at the largest it takes.
fn poll_millis(timeout: Duration) -> i32 {
    let millis = timeout.as_nanos().div_ceil(1_000_000);
    i32::try_from(millis).unwrap_or(i32::MAX)
}

/// Folders watched with inotify: one descriptor that becomes readable when an entry is created,
/// renamed in or out, deleted, or closed after writing in any of them.
pub struct FolderWatch {
    inotify: File,
    /// The watch descriptors, removed one by one before the descriptor is closed (see `Drop`).
    watches: Vec<libc::c_int>,
}

/// The changes that can move a job: every way a name appears in or leaves a folder, and a file
/// written in place. Reads and metadata changes are left out, so a waiter's own looks (which
/// read records) never wake it.
const CHANGES: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE
    | libc::IN_CLOSE_WRITE;

impl FolderWatch {
    pub fn new(folders: &[&Path]) -> io::Result<Self> {
        // SAFETY: inotify_init1 takes only flags and touches no memory.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by inotify_init1, is open, and nothing else owns it.
        let inotify = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut watch = Self {
            inotify,
            watches: Vec::with_capacity(folders.len()),
        };
        for folder in folders {
            let path = c_path(folder)?;
            // SAFETY: `inotify` is open for the call and `path` is a valid NUL-terminated path
            // that outlives it.
            let wd = unsafe {
                libc::inotify_add_watch(
                    watch.inotify.as_raw_fd(),
                    path.as_ptr(),
                    CHANGES | libc::IN_ONLYDIR,
                )
            };
            if wd < 0 {
                return Err(io::Error::last_os_error());
            }
            watch.watches.push(wd);
        }
        Ok(watch)
    }

    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let ready = super::poll_readable(&[self.inotify.as_fd()], poll_millis(timeout))?;
        if !ready.first().copied().unwrap_or(false) {
            return Ok(false);
        }
        self.drain()?;
        Ok(true)
    }

    /// Reads and forgets every event queued so far: which folder changed, and how, does not
    /// matter, only that one did.
    pub fn drain(&self) -> io::Result<()> {
        let mut buffer = [0u8; 4096];
        loop {
            match (&self.inotify).read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Closing an inotify descriptor that still has watches waits for the kernel to free them (a
/// grace period: 5 to 25 ms measured on Linux 6.18), which would hold up a waiter in a process
/// that carries on, such as `execq mcp` answering a call. Watches removed first are freed by the
/// kernel in the background, and the close returns at once (0.04 ms). A process's exit still
/// waits for that freeing, which is why a wait makes its watch only when it has to wait.
impl Drop for FolderWatch {
    fn drop(&mut self) {
        for &wd in &self.watches {
            // SAFETY: inotify_rm_watch takes two integers and touches no memory; the descriptor
            // is open until `self.inotify` is dropped after this.
            unsafe { libc::inotify_rm_watch(self.inotify.as_raw_fd(), wd) };
        }
    }
}

/// This boot's identity: it changes at every start of the system, so a file written without a
/// sync can be told to date from before a crash of the whole machine.
pub fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned()).filter(|id| !id.is_empty())
}

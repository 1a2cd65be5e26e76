//! Linux's side of the calls that differ (macOS's are in `macos.rs`, with the same names).

use std::io;
use std::path::{Path, PathBuf};

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

//! macOS's side of the calls that differ (Linux's are in `linux.rs`, with the same names).

use std::io;
use std::path::{Path, PathBuf};

use super::c_path;

/// `rename(2)` that fails with `EEXIST` instead of replacing: `renamex_np(RENAME_EXCL)`.
/// Volumes without it answer `ENOTSUP`; the caller falls back to a link.
pub fn rename_exclusive(from: &Path, to: &Path) -> io::Result<()> {
    let (from, to) = (c_path(from)?, c_path(to)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe { libc::renamex_np(from.as_ptr(), to.as_ptr(), libc::RENAME_EXCL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// macOS has no subreaper: orphans re-parent to launchd, which reaps them at once (and a group
/// of zombies answers `EPERM`, which `signal_group` reads as empty).
pub fn become_subreaper() {}

/// Where per-user data lives: `~/Library/Application Support` (launchd jobs may not read
/// ~/Documents or ~/Desktop). `XDG_DATA_HOME` is not a macOS convention and is ignored.
pub fn data_home(home: &Path, _xdg_data_home: Option<PathBuf>) -> PathBuf {
    home.join("Library/Application Support")
}

//! The kernel's side of a sandboxed job: what this system can enforce, and a command whose process
//! is confined before it runs the job's program.
//!
//! - **Linux**: Landlock for the filesystem (ABI 3 or later: Linux 6.2), and a seccomp filter that
//!   refuses every socket but Unix-domain ones (and `io_uring`, which could open sockets past it).
//!   Both are built before the fork; the child only makes the system calls that apply them.
//!   Landlock's own TCP rules (ABI 4) are not used: they cover TCP `bind`/`connect` only, and
//!   would leave UDP (DNS, QUIC) open.
//! - **macOS**: a Seatbelt profile ([`super::seatbelt`]) run through `/usr/bin/sandbox-exec`.
//!
//! Either way nothing fails open: a ruleset the kernel does not fully enforce stops the child
//! before it execs, and the job is recorded as an error.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder opened once, and what it is: the sandbox is granted this very folder (on Linux, by
/// its descriptor), and checked by where it really is and by its device and inode — not by a
/// path that a job already running could point elsewhere between the check and the grant.
#[derive(Debug)]
pub struct Folder {
    /// On Linux the grant; on macOS, where Seatbelt grants by path, only what was checked.
    #[cfg_attr(target_os = "macos", allow(dead_code))]
    pub file: File,
    /// Where it is now, as the kernel names the opened folder.
    pub path: PathBuf,
    /// Its device and inode (the same through a bind mount).
    pub id: (u64, u64),
    /// Whether it is on one of the kernel's own filesystems (proc, sysfs, devices, cgroups...),
    /// where writing a file changes the system rather than storing data.
    pub kernel: bool,
}

impl Folder {
    /// Opens the folder at `path` (following links) and asks the kernel where it is.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = platform::open_folder(path)?;
        let meta = file.metadata()?;
        if !meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        let path = platform::path_of(&file)?;
        let kernel = platform::kernel_filesystem(&file)?;
        Ok(Self {
            file,
            path,
            id: (meta.dev(), meta.ino()),
            kernel,
        })
    }
}

/// The home folder of the user running this process, from the user database (not `HOME`, which
/// whoever starts a drain may leave unset or point elsewhere).
pub fn account_home() -> Option<PathBuf> {
    // SAFETY: getpwuid_r writes the entry into `entry` and its strings into `buf`, both ours and
    // of the sizes given; `found` is set to `entry` or to null. The strings are copied out before
    // `buf` goes.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        );
        if rc != 0 || found.is_null() || entry.pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr(entry.pw_dir);
        Some(PathBuf::from(
            std::ffi::OsStr::from_encoded_bytes_unchecked(dir.to_bytes()),
        ))
    }
}

/// Removes a job's private temporary folder, however deep the job made it; a note for the record
/// when it could not. (`remove_dir_all` holds a descriptor per level, so a tree deeper than the
/// open-file limit stops it; `rm -rf` walks any depth, and neither follows links.)
pub fn remove_temp(temp: tempfile::TempDir) -> Option<String> {
    let path = temp.keep();
    if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
        return None;
    }
    let _ = std::process::Command::new("rm")
        .args(["-rf", "--"])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    path.exists().then(|| {
        tracing::warn!(folder = %path.display(), "could not remove a job's temporary folder");
        format!(
            "its temporary folder `{}` could not be removed",
            path.display()
        )
    })
}

/// What a sandboxed job may do. Paths are absolute and canonical.
#[derive(Debug)]
pub struct Rules {
    /// Folders it may write beneath (its temporary folder among them).
    pub writable: Vec<Folder>,
    /// `None`: it may read anything; else only beneath these.
    pub readable: Option<Vec<PathBuf>>,
    /// IP networking.
    pub network: bool,
    /// Folders never writable (the queue), even where a writable folder holds them: denied by the
    /// Seatbelt profile; Landlock cannot deny beneath a grant, so on Linux `exec::sandbox` refuses
    /// such a grant instead.
    #[cfg_attr(not(target_os = "macos"), allow(dead_code))]
    pub denied: Vec<PathBuf>,
}

/// The variable that lowers the Landlock ABI this process believes the kernel has (a number, 0
/// for none): how tests see what a drain does on an older kernel. Jobs do not inherit it.
pub const ABI_ENV: &str = "EXECQ_SANDBOX_ABI";

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod seccomp;
#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as platform;

pub use platform::{Prepared, availability, prepare};

/// A command for `program` that runs sandboxed by `prepared`, or as it is without one.
pub fn command(program: &OsStr, prepared: Option<Prepared>) -> Command {
    match prepared {
        None => Command::new(program),
        Some(prepared) => platform::command(program, prepared),
    }
}

//! macOS: the job runs through `sandbox-exec` with a Seatbelt profile made from its rules
//! ([`crate::sys::seatbelt`]).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::super::seatbelt::{self, SANDBOX_EXEC};
use super::Rules;

/// What this system enforces, in words; `Err`: why sandboxed jobs cannot run here.
pub fn availability() -> Result<String, String> {
    if Path::new(SANDBOX_EXEC).is_file() {
        Ok("Seatbelt (sandbox-exec)".into())
    } else {
        Err(format!(
            "`{SANDBOX_EXEC}` is missing: this macOS no longer ships the Seatbelt tool execq uses"
        ))
    }
}

/// The profile and its parameters, as `sandbox-exec` takes them.
pub struct Prepared(Vec<String>);

pub fn prepare(rules: &Rules) -> Result<Prepared, String> {
    availability()?;
    let writable: Vec<PathBuf> = rules.writable.iter().map(|f| f.path.clone()).collect();
    let profile = seatbelt::profile(&seatbelt::Rules {
        writable: &writable,
        readable: rules.readable.as_deref(),
        network: rules.network,
        denied: &rules.denied,
    })?;
    Ok(Prepared(seatbelt::arguments(&profile)))
}

/// Opens a folder (its path goes into the profile; Seatbelt checks the queue's denial after
/// every grant, at each access, so a later link cannot open the queue).
pub fn open_folder(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

/// Where an opened file is now, as the kernel names it (`F_GETPATH`).
pub fn path_of(file: &File) -> io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: F_GETPATH writes at most MAXPATHLEN (PATH_MAX) bytes, NUL included, into the
    // buffer, which is that long.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETPATH, buf.as_mut_ptr()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf.truncate(len);
    Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

/// Whether `file` is on a filesystem of the kernel's own (`devfs`).
pub fn kernel_filesystem(file: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: fstatfs writes one statfs into the zeroed value passed; the descriptor is open.
    let stat = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        if libc::fstatfs(file.as_raw_fd(), &mut stat) != 0 {
            return Err(io::Error::last_os_error());
        }
        stat
    };
    let name: Vec<u8> = stat
        .f_fstypename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(name == b"devfs")
}

/// `sandbox-exec -p PROFILE -D ... -- program`.
pub fn command(program: &OsStr, prepared: Prepared) -> Command {
    let mut command = Command::new(SANDBOX_EXEC);
    command.args(prepared.0).arg(program);
    command
}

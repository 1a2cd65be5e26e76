//! The few POSIX calls execq makes directly. Everything in this file exists with the same meaning
//! on macOS and Linux; what differs lives in `linux.rs` and `macos.rs`, which provide the same
//! functions. Any other system is a compile error, not a silent fallback.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as platform;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!("execq runs on macOS and Linux: give src/sys/ a module for this system");

pub mod limits;
pub mod sandbox;
pub mod seatbelt;

use platform::rename_exclusive;
pub use platform::{become_subreaper, boot_id, data_home};

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Wakes a waiter when something changes in a few folders: an entry added, removed or renamed
/// (and, on Linux, a file in one of them closed after writing). Linux's inotify or macOS's kqueue;
/// making one opens a descriptor or two and writes nothing anywhere.
///
/// Events are a hint, not a ledger: which folder changed is not kept, and a filesystem that sends
/// none (some network shares) leaves [`FolderWatch::wait`] to time out. A waiter looks at the
/// folders itself after each wait, and never waits without a timeout.
pub struct FolderWatch(platform::FolderWatch);

impl FolderWatch {
    /// Watches `folders`, each of which must exist.
    pub fn new<P: AsRef<Path>>(folders: &[P]) -> io::Result<Self> {
        let folders: Vec<&Path> = folders.iter().map(AsRef::as_ref).collect();
        platform::FolderWatch::new(&folders).map(Self)
    }

    /// Waits until something changes in the folders, or `timeout` passes. `Ok(true)`: something
    /// changed since the watch was made or last waited on or drained (the events are taken);
    /// `Ok(false)`: nothing did, or a signal interrupted the wait.
    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        self.0.wait(timeout)
    }

    /// Forgets the changes seen so far, without waiting: call it right before looking at the
    /// folders, so that a change made after the look still wakes the next [`FolderWatch::wait`].
    pub fn drain(&self) -> io::Result<()> {
        self.0.drain()
    }
}

/// Sends `signal` to every process in the group `pgid`. `Ok(false)` means the group is empty.
pub fn signal_group(pgid: u32, signal: i32) -> io::Result<bool> {
    let pgid =
        libc::pid_t::try_from(pgid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: killpg has no memory-safety preconditions.
    if unsafe { libc::killpg(pgid, signal) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(false),
        // macOS answers EPERM for a group whose only members are zombies, for every signal: a
        // group with no process left to signal is empty, not an error.
        Some(libc::EPERM) if signal == 0 => Ok(false),
        Some(libc::EPERM) if !group_alive(pgid as u32) => Ok(false),
        _ => Err(err),
    }
}

/// Renames `from` to `to` only if nothing is at `to`: fails with `AlreadyExists` otherwise, and
/// never replaces anything. One atomic call where the kernel and filesystem offer it
/// (`renameat2(RENAME_NOREPLACE)` on Linux, `renamex_np(RENAME_EXCL)` on macOS); elsewhere a hard
/// link and an unlink, or for a directory or a filesystem without links, a check and a rename.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    match rename_exclusive(from, to) {
        Err(e) if is_unsupported(&e) => {}
        other => return other,
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) if std::fs::symlink_metadata(to).is_ok() => {
            Err(io::Error::from(io::ErrorKind::AlreadyExists))
        }
        Err(_) => std::fs::rename(from, to),
    }
}

fn is_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP | libc::ENOTTY)
    ) || err.kind() == io::ErrorKind::Unsupported
}

/// `path` as a C string, for the calls std does not wrap.
pub(crate) fn c_path(path: &Path) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Flushes a file (or folder) to stable storage. On macOS std asks for `F_FULLFSYNC`, which
/// flushes the drive's own cache too; filesystems that do not support it (SMB, some FUSE and
/// external volumes) answer ENOTSUP, EOPNOTSUPP, ENOTTY or EINVAL, and then plain `fsync(2)` is
/// the most they offer, so that is used. Elsewhere this is `fsync(2)`.
pub fn full_sync(file: &File) -> io::Result<()> {
    match file.sync_all() {
        Err(e) if cfg!(target_os = "macos") && is_sync_unsupported(&e) => fsync(file),
        other => other,
    }
}

/// The errors that mean "this kind of sync is not supported here" rather than "the write failed".
pub fn is_sync_unsupported(err: &io::Error) -> bool {
    // ENOTSUP and EOPNOTSUPP are one number on Linux and two on macOS.
    err.raw_os_error().is_some_and(|code| {
        [libc::EINVAL, libc::ENOTSUP, libc::EOPNOTSUPP, libc::ENOTTY].contains(&code)
    })
}

fn fsync(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fsync on a descriptor `file` owns for the duration of the call.
    if unsafe { libc::fsync(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether any process is left in the group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, 0).unwrap_or(false)
}

/// The user's home folder: `HOME`, when it is set and not empty.
pub fn home() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Opens `path` for reading without following a symlink in its last component and without
/// blocking on a FIFO or device, so a hostile entry in `pending/` cannot hang or redirect drain.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Whether an open error came from `O_NOFOLLOW` meeting a symlink (`ELOOP`; FreeBSD-style
/// kernels, macOS included, may answer `EMLINK`).
pub fn is_symlink_refusal(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::EMLINK))
}

/// Puts a file descriptor in non-blocking mode.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor that is open for the borrow; F_GETFL/F_SETFL take integers.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Restores the default SIGCHLD disposition. A parent that started execq with SIGCHLD ignored
/// would otherwise make every wait fail with ECHILD (and crash `wait-timeout`).
pub fn reset_sigchld() {
    // SAFETY: installing SIG_DFL is async-signal-safe and has no preconditions.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    }
}

/// Waits until one of `fds` is readable or hung up, or `timeout_ms` passes. Returns which
/// descriptors are ready. An interrupting signal returns an empty set so the caller re-checks.
pub fn poll_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: pfds is a valid, correctly sized array for the duration of the call.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(err);
    }
    Ok(pfds.iter().map(|p| p.revents != 0).collect())
}

/// This process's peak resident set size in bytes.
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let maxrss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    if cfg!(target_os = "macos") {
        maxrss
    } else {
        maxrss * 1024
    }
}

/// Reaps every child in the process group `pgid` that has exited: the orphans a job left, which
/// re-parent to drain (the subreaper). Only call once the job's own main process has been waited
/// for, so this cannot take its status away from `std::process::Child`; other jobs' processes
/// (other groups) are never touched.
pub fn reap_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    loop {
        // SAFETY: waitpid with a null status pointer is allowed and touches no memory.
        let pid = unsafe { libc::waitpid(-pgid, std::ptr::null_mut(), libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
    }
}

/// Makes `command`'s process inherit `fd` (which execq opens close-on-exec, like every descriptor
/// of its own): a lock it holds stays held until that process has ended too, even if this one is
/// killed first.
pub fn lend_fd(command: &mut std::process::Command, fd: BorrowedFd<'_>) {
    use std::os::unix::process::CommandExt;
    let fd = fd.as_raw_fd();
    // SAFETY: between fork and exec the closure makes only async-signal-safe calls (fcntl).
    unsafe {
        command.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Forks a detached copy of this process to carry on in the background, as `nq` does: the copy
/// gets a new session (no controlling terminal, its own process group), stdin, stdout and stderr
/// on `/dev/null`, and none of the descriptors this process inherited (but those in `keep`), so
/// nothing waiting on the caller's pipes waits on it. Returns `Ok(true)` in the copy and `Ok(false)` in the caller.
///
/// Call only while the process has a single thread (execq never starts one outside tests).
pub fn fork_detached(keep: &[BorrowedFd<'_>]) -> io::Result<bool> {
    let keep: Vec<RawFd> = keep.iter().map(AsRawFd::as_raw_fd).collect();
    // Listed before forking: in the copy, reading `/dev/fd` would itself open a descriptor.
    let inherited: Vec<RawFd> = std::fs::read_dir("/dev/fd")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // SAFETY: the process has one thread (see above), so the copy cannot inherit a lock held by
    // another thread; it runs ordinary Rust code afterwards, as after any single-threaded fork.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: plain calls on descriptor numbers; failures leave the descriptor as it was.
            unsafe {
                libc::setsid();
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    for fd in 0..=2 {
                        libc::dup2(null, fd);
                    }
                    if null > 2 {
                        libc::close(null);
                    }
                }
                // Only descriptors this process was handed: execq's own are all close-on-exec
                // (std opens them so) and stay usable.
                for fd in inherited {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0 && !keep.contains(&fd)
                    {
                        libc::close(fd);
                    }
                }
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Whether a process with this pid exists (it may belong to another user).
pub fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Adds one to `count` each time `signal` arrives.
pub fn count_signal(signal: i32, count: Arc<AtomicUsize>) -> io::Result<()> {
    let action = move || {
        count.fetch_add(1, Ordering::SeqCst);
    };
    // SAFETY: the action only does an atomic add, which is async-signal-safe; it allocates,
    // locks and blocks on nothing.
    unsafe { signal_hook::low_level::register(signal, action) }.map(drop)
}

/// Makes a write past RLIMIT_FSIZE fail with EFBIG instead of killing drain with SIGXFSZ, so a
/// full disk quota is an error drain can report. A handler (unlike SIG_IGN) is reset by exec, so
/// jobs still get the default behaviour.
pub fn survive_file_size_limit() -> io::Result<()> {
    signal_hook::flag::register(
        libc::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .map(drop)
}

/// Ends this process at once with SIGKILL, as `kill -9` would: no destructor, buffer flush or
/// exit handler runs. For the crash points of [`crate::fault`].
pub fn kill_self() -> ! {
    // SAFETY: kill has no memory-safety preconditions; SIGKILL cannot be caught, so it does not
    // return once delivered to this process.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    std::process::abort()
}

/// Opens a file or URL with the desktop's default program (`open` on macOS, `xdg-open` elsewhere).
pub fn open_in_browser(target: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let status = std::process::Command::new(opener)
        .arg(target)
        .status()
        .with_context(|| format!("failed to run `{opener}`; open {target} yourself"))?;
    if !status.success() {
        anyhow::bail!("`{opener} {target}` failed: {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::time::Instant;

    #[test]
    fn a_watch_wakes_when_a_file_is_renamed_into_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let (outside, watched) = (dir.path().join("outside"), dir.path().join("watched"));
        std::fs::create_dir(&watched).unwrap();
        std::fs::write(&outside, "{}").unwrap();
        let watch = FolderWatch::new(&[&watched]).unwrap();
        let started = Instant::now();
        let waiter = std::thread::spawn(move || watch.wait(Duration::from_secs(30)).unwrap());
        std::thread::sleep(Duration::from_millis(50));
        std::fs::rename(&outside, watched.join("job.json")).unwrap();
        assert!(
            waiter.join().unwrap(),
            "the wait timed out instead of waking"
        );
        // Far below the 30 s timeout, however slow the machine: woken by the rename.
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_watch_sees_a_change_made_before_the_wait_began() {
        let dir = tempfile::tempdir().unwrap();
        let watch = FolderWatch::new(&[dir.path()]).unwrap();
        std::fs::write(dir.path().join("record.json"), "{}").unwrap();
        assert!(watch.wait(Duration::from_secs(30)).unwrap());
        // Taken by that wait: nothing is left to report.
        assert!(!watch.wait(Duration::from_millis(20)).unwrap());
    }

    #[test]
    fn a_wait_with_no_change_ends_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let watch = FolderWatch::new(&[dir.path()]).unwrap();
        // Reading and listing are not changes: a waiter's own looks do not wake it.
        std::fs::read_dir(dir.path()).unwrap().for_each(drop);
        assert!(!watch.wait(Duration::from_millis(50)).unwrap());
    }

    #[test]
    fn drain_forgets_the_changes_seen_so_far() {
        let dir = tempfile::tempdir().unwrap();
        let watch = FolderWatch::new(&[dir.path()]).unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::remove_dir(dir.path().join("a")).unwrap();
        watch.drain().unwrap();
        assert!(!watch.wait(Duration::from_millis(20)).unwrap());
    }

    #[test]
    fn a_watch_keeps_none_of_the_processes_other_descriptors_open() {
        // A pipe a caller reads to its end (`$(execq wait ...)`) ends when this process closes
        // its side, not when whatever keeps the watch alive (Linux: a holder process) does.
        let dir = tempfile::tempdir().unwrap();
        let (mut reader, writer) = io::pipe().unwrap();
        let watch = FolderWatch::new(&[dir.path()]).unwrap();
        drop(writer);
        let ready = poll_readable(&[reader.as_fd()], 30_000).unwrap();
        assert_eq!(
            ready,
            [true],
            "the pipe's write end is still open somewhere"
        );
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut rest).unwrap();
        assert!(rest.is_empty());
        drop(watch);
    }

    #[test]
    fn a_missing_folder_cannot_be_watched() {
        let dir = tempfile::tempdir().unwrap();
        assert!(FolderWatch::new(&[dir.path().join("missing")]).is_err());
    }
}

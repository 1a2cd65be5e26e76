//! macOS's side of the calls that differ (Linux's are in `linux.rs`, with the same names).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// Folders watched with kqueue: each folder open for events only (`O_EVTONLY`, which does not
/// keep its volume from being unmounted) and registered for `NOTE_WRITE`, which a folder gets when
/// an entry is added to, removed from or renamed in it.
pub struct FolderWatch {
    kqueue: OwnedFd,
    /// Held open for as long as they are watched: kqueue drops a closed descriptor's filter.
    _folders: Vec<OwnedFd>,
}

impl FolderWatch {
    pub fn new(folders: &[&Path]) -> io::Result<Self> {
        // SAFETY: kqueue takes no arguments and touches no memory.
        let kq = unsafe { libc::kqueue() };
        if kq < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `kq` was just returned by kqueue, is open, and nothing else owns it.
        let kqueue = unsafe { OwnedFd::from_raw_fd(kq) };
        set_cloexec(kqueue.as_raw_fd())?;
        let mut opened = Vec::with_capacity(folders.len());
        let mut changes = Vec::with_capacity(folders.len());
        for folder in folders {
            let path = c_path(folder)?;
            // SAFETY: `path` is a valid NUL-terminated path that outlives the call.
            let fd = unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_EVTONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just returned by open, is open, and nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            changes.push(libc::kevent {
                ident: fd.as_raw_fd() as libc::uintptr_t,
                filter: libc::EVFILT_VNODE,
                flags: libc::EV_ADD | libc::EV_CLEAR,
                fflags: libc::NOTE_WRITE,
                data: 0,
                udata: std::ptr::null_mut(),
            });
            opened.push(fd);
        }
        let count = libc::c_int::try_from(changes.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `changes` holds `count` initialised entries and outlives the call; no event
        // list is passed (null, 0), so nothing is written.
        let rc = unsafe {
            libc::kevent(
                kqueue.as_raw_fd(),
                changes.as_ptr(),
                count,
                std::ptr::null_mut(),
                0,
                std::ptr::null(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            kqueue,
            _folders: opened,
        })
    }

    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let timeout = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        self.take(&timeout)
    }

    /// Takes every event queued so far. With `EV_CLEAR` a folder has at most one pending event,
    /// however many changes it saw, so one call with room for them all empties the queue.
    pub fn drain(&self) -> io::Result<()> {
        self.take(&libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        })
        .map(drop)
    }

    fn take(&self, timeout: &libc::timespec) -> io::Result<bool> {
        let empty = libc::kevent {
            ident: 0,
            filter: 0,
            flags: 0,
            fflags: 0,
            data: 0,
            udata: std::ptr::null_mut(),
        };
        let mut events = [empty; 8];
        // SAFETY: `events` has room for the count given and outlives the call, as does
        // `timeout`; no change list is passed (null, 0).
        let n = unsafe {
            libc::kevent(
                self.kqueue.as_raw_fd(),
                std::ptr::null(),
                0,
                events.as_mut_ptr(),
                events.len() as libc::c_int,
                timeout,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            // An interrupting signal: the caller looks again, as after a timeout.
            return if err.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(err)
            };
        }
        Ok(n > 0)
    }
}

/// Marks a descriptor close-on-exec (kqueue has no flag for it at creation).
fn set_cloexec(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller holds open; F_GETFD/F_SETFD take integers.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// This boot's identity (`kern.bootsessionuuid`): it changes at every start of the system, so a
/// file written without a sync can be told to date from before a crash of the whole machine.
pub fn boot_id() -> Option<String> {
    let name = c"kern.bootsessionuuid";
    let mut buf = [0u8; 64];
    let mut len = buf.len();
    // SAFETY: `name` is NUL-terminated; `buf` and `len` describe a writable buffer of that size.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let id = std::str::from_utf8(&buf[..len.min(buf.len())]).ok()?;
    Some(id.trim_end_matches('\0').trim().to_owned()).filter(|id| !id.is_empty())
}

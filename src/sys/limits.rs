//! A process's resource limits and niceness: `getrlimit`/`setrlimit` and
//! `getpriority`/`setpriority`, the same calls on macOS and Linux (only the type naming a
//! resource differs). The setters run in a job's child between fork and exec, so they make one
//! async-signal-safe system call each and allocate nothing.

use std::io;

/// A resource `setrlimit` limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Cpu,
    AddressSpace,
    OpenFiles,
    Processes,
    FileSize,
}

/// A soft and a hard limit.
pub type Limit = libc::rlimit;

/// A limit's value.
pub type Value = libc::rlim_t;

/// No limit.
pub const INFINITY: Value = libc::RLIM_INFINITY;

#[cfg(target_os = "linux")]
type ResourceId = libc::__rlimit_resource_t;
#[cfg(target_os = "macos")]
type ResourceId = libc::c_int;

fn id(resource: Resource) -> ResourceId {
    match resource {
        Resource::Cpu => libc::RLIMIT_CPU,
        Resource::AddressSpace => libc::RLIMIT_AS,
        Resource::OpenFiles => libc::RLIMIT_NOFILE,
        Resource::Processes => libc::RLIMIT_NPROC,
        Resource::FileSize => libc::RLIMIT_FSIZE,
    }
}

/// This process's hard limit on `resource`.
pub fn hard(resource: Resource) -> io::Result<Value> {
    let mut limit = Limit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the value passed.
    let rc = unsafe { libc::getrlimit(id(resource), &mut limit) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(limit.rlim_max)
}

/// Sets this process's limits on `resource`. Async-signal-safe.
pub fn set(resource: Resource, limit: &Limit) -> io::Result<()> {
    // SAFETY: setrlimit reads the one rlimit passed by reference; it is async-signal-safe.
    if unsafe { libc::setrlimit(id(resource), limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// This process's niceness (-20 to 19, higher is gentler).
pub fn niceness() -> i32 {
    // getpriority for the calling process cannot fail (its errors are for a `which` or `who`
    // that names nothing), so -1 is a niceness here, not an error.
    // SAFETY: getpriority on this process (who 0) takes plain integers.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

/// Sets this process's niceness. Async-signal-safe.
pub fn set_niceness(nice: i32) -> io::Result<()> {
    // SAFETY: setpriority on this process (who 0) takes plain integers.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

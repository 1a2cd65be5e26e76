//! A process's resource limits and niceness: `getrlimit`/`setrlimit` and
//! `getpriority`/`setpriority`, the same calls on macOS and Linux (only the type naming a
//! resource differs). The setters run in a job's child between fork and exec (set up by
//! [`apply_before_exec`]), so they make one async-signal-safe system call each and allocate
//! nothing.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

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

/// Limits and a niceness for a child process to set on itself between fork and exec: prepared
/// before the fork, so the child only makes system calls.
#[derive(Clone, Debug, Default)]
pub struct ChildLimits {
    pub rlimits: Vec<(Resource, Limit)>,
    pub nice: Option<i32>,
}

impl ChildLimits {
    pub fn is_empty(&self) -> bool {
        self.rlimits.is_empty() && self.nice.is_none()
    }

    /// Applies the limits to the calling process. Runs in the child between fork and exec, so it
    /// only makes async-signal-safe system calls (no allocation, no locks).
    fn apply(&self) -> io::Result<()> {
        for (resource, limit) in &self.rlimits {
            set(*resource, limit)?;
        }
        if let Some(nice) = self.nice {
            set_niceness(nice)?;
        }
        Ok(())
    }
}

/// Has `command`'s process set `limits` on itself after the fork, before it execs.
pub fn apply_before_exec(command: &mut Command, limits: ChildLimits) {
    // SAFETY: the closure runs in the child between fork and exec; `ChildLimits::apply` only makes
    // async-signal-safe system calls (setrlimit, setpriority) on data prepared before the fork.
    unsafe { command.pre_exec(move || limits.apply()) };
}

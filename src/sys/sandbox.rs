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
use std::path::PathBuf;
use std::process::Command;

/// What a sandboxed job may do. Paths are absolute and canonical.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Folders it may write beneath (its temporary folder among them).
    pub writable: Vec<PathBuf>,
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

pub use platform::{Prepared, availability, prepare};

/// A command for `program` that runs sandboxed by `prepared`, or as it is without one.
pub fn command(program: &OsStr, prepared: Option<Prepared>) -> Command {
    match prepared {
        None => Command::new(program),
        Some(prepared) => platform::command(program, prepared),
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use std::ffi::OsStr;
    use std::io;
    use std::os::unix::process::CommandExt;
    use std::path::PathBuf;
    use std::process::Command;

    use landlock::{
        ABI, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
        RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus,
    };
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use super::{ABI_ENV, Rules};

    /// What programs need to read to run at all, readable whatever `readable` says: the system's
    /// programs, libraries and settings, the kernel's views of processes and devices, and the
    /// resolver's files (where `/etc/resolv.conf` points under systemd-resolved).
    const SYSTEM: [&str; 13] = [
        "/bin",
        "/sbin",
        "/usr",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/etc",
        "/opt",
        "/proc",
        "/sys",
        "/nix/store",
        "/run/systemd/resolve",
    ];

    /// The oldest Landlock ABI execq uses: 3 (Linux 6.2), the first that can refuse truncating a
    /// file outside the sandbox (before it, `truncate` was never restricted).
    const MIN_ABI: i32 = 3;

    /// The Landlock ABI of the running kernel (0: none), lowered by [`ABI_ENV`] if set.
    fn kernel_abi() -> i32 {
        // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only returns
        // the ABI version (or -1 with errno); it reads and writes no memory.
        let abi = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                1u32,
            )
        };
        let abi = i32::try_from(abi.max(0)).unwrap_or(0);
        match std::env::var(ABI_ENV)
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
        {
            Some(lowered) => abi.min(lowered.max(0)),
            None => abi,
        }
    }

    /// What this system enforces, in words; `Err`: why sandboxed jobs cannot run here.
    pub fn availability() -> Result<String, String> {
        match kernel_abi() {
            0 => Err("Landlock is not available in this kernel (it needs Linux 6.2 or later with Landlock enabled, e.g. `lsm=landlock,...`)".into()),
            abi if abi < MIN_ABI => Err(format!(
                "this kernel's Landlock ABI {abi} is too old: execq needs ABI {MIN_ABI} (Linux 6.2), the first that can stop a job truncating files outside its sandbox"
            )),
            abi => Ok(format!("Landlock ABI {abi} and seccomp")),
        }
    }

    /// Built before the fork: a Landlock ruleset and, without network, a seccomp filter.
    pub struct Prepared {
        ruleset: Option<RulesetCreated>,
        filter: Option<BpfProgram>,
    }

    pub fn prepare(rules: &Rules) -> Result<Prepared, String> {
        let how = availability()?;
        let abi = if kernel_abi() >= 5 { ABI::V5 } else { ABI::V3 };
        // Only the rights of ABI 5 at most: ABI 9's `ResolveUnix` would refuse connecting to Unix
        // sockets, which sandboxed jobs may use.
        let write = AccessFs::from_write(abi);
        let read = AccessFs::from_read(abi);
        let handled = match rules.readable {
            Some(_) => write | read,
            None => write,
        };
        let fail =
            |e: &dyn std::fmt::Display| format!("cannot build the Landlock rules ({how}): {e}");
        let mut grants: Vec<(&std::path::Path, BitFlags<AccessFs>)> = Vec::new();
        for folder in &rules.writable {
            grants.push((folder, handled));
        }
        // Devices: writing to /dev/null, a terminal and the like (`> /dev/null` truncates, so
        // that too), never making or removing entries.
        let devices = (AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev) & write;
        grants.push((std::path::Path::new("/dev"), devices | read));
        if let Some(readable) = &rules.readable {
            let system = SYSTEM
                .iter()
                .map(std::path::Path::new)
                .filter(|p| p.exists());
            for folder in readable.iter().map(PathBuf::as_path).chain(system) {
                grants.push((folder, read));
            }
        }
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(handled)
            .and_then(Ruleset::create)
            .map_err(|e| fail(&e))?;
        for (path, mut access) in grants {
            if !path.is_dir() {
                access &= AccessFs::from_file(abi);
            }
            let fd = PathFd::new(path)
                .map_err(|e| format!("cannot open `{}` for the sandbox: {e}", path.display()))?;
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, access & handled))
                .map_err(|e| fail(&e))?;
        }
        let filter = (!rules.network).then(network_filter).transpose()?;
        Ok(Prepared {
            ruleset: Some(ruleset),
            filter,
        })
    }

    /// Refuses `socket` for every family but `AF_UNIX` (EACCES), and `io_uring_setup` (ENOSYS).
    fn network_filter() -> Result<BpfProgram, String> {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| format!("no seccomp filter for this architecture: {e}"))?;
        let not_unix = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )
        .and_then(|c| SeccompRule::new(vec![c]))
        .map_err(|e| format!("cannot build the network filter: {e}"))?;
        let rules = [
            (libc::SYS_socket, vec![not_unix]),
            (libc::SYS_io_uring_setup, vec![]),
        ];
        let filter = SeccompFilter::new(
            rules.into_iter().collect(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EACCES as u32),
            arch,
        )
        .map_err(|e| format!("cannot build the network filter: {e}"))?;
        filter.try_into().map_err(|e: seccompiler::BackendError| {
            format!("cannot compile the network filter: {e}")
        })
    }

    /// Runs `program` with the ruleset and filter applied between fork and exec.
    pub fn command(program: &OsStr, mut prepared: Prepared) -> Command {
        let mut command = Command::new(program);
        let apply = move || -> io::Result<()> {
            if let Some(ruleset) = prepared.ruleset.take() {
                let status = ruleset.restrict_self().map_err(io::Error::other)?;
                if status.ruleset != RulesetStatus::FullyEnforced {
                    return Err(io::Error::from_raw_os_error(libc::ENOSYS));
                }
            }
            if let Some(filter) = &prepared.filter {
                seccompiler::apply_filter(filter).map_err(io::Error::other)?;
            }
            Ok(())
        };
        // SAFETY: the closure runs in the child between fork and exec. It makes system calls on
        // what was built before the fork: prctl(NO_NEW_PRIVS), landlock_restrict_self, close of
        // the ruleset's descriptor and seccomp(SET_MODE_FILTER). Only its error paths allocate,
        // and an error ends the child before exec.
        unsafe { command.pre_exec(apply) };
        command
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use std::ffi::OsStr;
    use std::path::Path;
    use std::process::Command;

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
        let profile = seatbelt::profile(&seatbelt::Rules {
            writable: &rules.writable,
            readable: rules.readable.as_deref(),
            network: rules.network,
            denied: &rules.denied,
        })?;
        Ok(Prepared(seatbelt::arguments(&profile)))
    }

    /// `sandbox-exec -p PROFILE -D ... -- program`.
    pub fn command(program: &OsStr, prepared: Prepared) -> Command {
        let mut command = Command::new(SANDBOX_EXEC);
        command.args(prepared.0).arg(program);
        command
    }
}

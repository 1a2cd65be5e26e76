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

    use std::fs::File;
    use std::path::Path;

    use landlock::{
        ABI, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
        RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
    };
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use super::{ABI_ENV, Rules};

    /// What programs need to read to run at all, readable whatever `readable` says: the system's
    /// programs, libraries and settings, the kernel's views of processes and devices, and the
    /// resolver's files (where `/etc/resolv.conf` points under systemd-resolved).
    const SYSTEM: [&str; 14] = [
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
        "/dev",
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

    /// Built before the fork: a Landlock ruleset and a seccomp filter.
    pub struct Prepared {
        ruleset: Option<RulesetCreated>,
        filters: Option<[BpfProgram; 2]>,
    }

    /// The only devices a sandboxed job may write: what programs write to when they mean
    /// nowhere. Not terminals (a terminal's input can be faked with TIOCSTI), not disks.
    const DEVICES: [&str; 3] = ["/dev/null", "/dev/zero", "/dev/full"];

    pub fn prepare(rules: &Rules) -> Result<Prepared, String> {
        let how = availability()?;
        let kernel = kernel_abi();
        let abi = if kernel >= 5 { ABI::V5 } else { ABI::V3 };
        // Only the rights of ABI 5 at most: ABI 9's `ResolveUnix` would refuse connecting to Unix
        // sockets, which sandboxed jobs may use.
        let write = AccessFs::from_write(abi);
        let read = AccessFs::from_read(abi);
        let handled = match rules.readable {
            Some(_) => write | read,
            None => write,
        };
        // Beneath a writable folder everything but making device files (as root, a block device
        // made there writes the disk it names) and ioctls on devices (never granted).
        let in_writable =
            handled & !(AccessFs::MakeChar | AccessFs::MakeBlock | AccessFs::IoctlDev);
        let fail =
            |e: &dyn std::fmt::Display| format!("cannot build the Landlock rules ({how}): {e}");
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(handled)
            .map_err(|e| fail(&e))?;
        if kernel >= 6 {
            // Signals only to its own processes: a job cannot kill its drain or anything else.
            ruleset = ruleset.scope(Scope::Signal).map_err(|e| fail(&e))?;
        }
        let mut ruleset = ruleset.create().map_err(|e| fail(&e))?;
        for folder in &rules.writable {
            ruleset = ruleset
                .add_rule(PathBeneath::new(&folder.file, in_writable))
                .map_err(|e| fail(&e))?;
        }
        let mut grants: Vec<(&Path, BitFlags<AccessFs>)> = Vec::new();
        let devices = (AccessFs::WriteFile | AccessFs::Truncate) & write;
        for device in DEVICES {
            grants.push((Path::new(device), devices | read));
        }
        if let Some(readable) = &rules.readable {
            let system = SYSTEM.iter().map(Path::new).filter(|p| p.exists());
            for folder in readable.iter().map(PathBuf::as_path).chain(system) {
                grants.push((folder, read));
            }
        }
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
        Ok(Prepared {
            ruleset: Some(ruleset),
            filters: Some(compiled_filter(rules.network)?),
        })
    }

    /// [`filter`], compiled once per process for each of its two forms, and [`no_clone3`].
    fn compiled_filter(network: bool) -> Result<[BpfProgram; 2], String> {
        static FILTERS: std::sync::OnceLock<[Result<[BpfProgram; 2], String>; 2]> =
            std::sync::OnceLock::new();
        let both = |network| Ok([filter(network)?, no_clone3()?]);
        FILTERS.get_or_init(|| [both(false), both(true)])[usize::from(network)].clone()
    }

    /// `clone3`, whose flags are in a structure a filter cannot read, refused with ENOSYS (as
    /// Docker's default profile does): the C library then uses `clone`, whose flags it can.
    fn no_clone3() -> Result<BpfProgram, String> {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| format!("no seccomp filter for this architecture: {e}"))?;
        let filter = SeccompFilter::new(
            [(libc::SYS_clone3, vec![])].into_iter().collect(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
            arch,
        )
        .map_err(|e| format!("cannot build the seccomp filter: {e}"))?;
        filter.try_into().map_err(|e: seccompiler::BackendError| {
            format!("cannot compile the seccomp filter: {e}")
        })
    }

    /// The system calls a sandboxed job is refused (EPERM), for what Landlock does not cover:
    /// without network, `socket` for every family but `AF_UNIX`, and `io_uring` (which could open
    /// sockets around it); always, changing a file's owner, setting set-user-ID or set-group-ID
    /// bits, setting or removing extended attributes (file capabilities among them), the
    /// immutable and append-only flags (FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR), and faking a
    /// terminal's input (TIOCSTI) — none of which needs write access to the file.
    fn filter(network: bool) -> Result<BpfProgram, String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot build the seccomp filter: {e}");
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| format!("no seccomp filter for this architecture: {e}"))?;
        let when = |arg: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64| {
            SeccompCondition::new(arg, len, op, value).and_then(|c| SeccompRule::new(vec![c]))
        };
        use SeccompCmpArgLen::Dword;
        let setid = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
            let bit = |b: u64| when(arg, Dword, SeccompCmpOp::MaskedEq(b), b);
            Ok(vec![
                bit(u64::from(libc::S_ISUID))?,
                bit(u64::from(libc::S_ISGID))?,
            ])
        };
        // FS_IOC_SETFLAGS (64- and 32-bit), FS_IOC_FSSETXATTR, TIOCSTI: the same on x86-64 and arm64.
        let not_self = |arg: u8| when(arg, Dword, SeccompCmpOp::Ne, 0);
        let ioctls = [0x4008_6602_u64, 0x4004_6602, 0x401c_5820, 0x5412]
            .into_iter()
            .map(|request| when(1, Dword, SeccompCmpOp::Eq, request & 0xffff_ffff))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(&e))?;
        // Numbers shared by every architecture since Linux 5.1: fchmodat2, setxattrat,
        // removexattrat (newer than the C library's headers).
        const FCHMODAT2: i64 = 452;
        const SETXATTRAT: i64 = 463;
        const REMOVEXATTRAT: i64 = 466;
        const FILE_SETATTR: i64 = 469;
        let mut rules: Vec<(i64, Vec<SeccompRule>)> = vec![
            (libc::SYS_chmod, setid(1).map_err(|e| fail(&e))?),
            (libc::SYS_fchmod, setid(1).map_err(|e| fail(&e))?),
            (libc::SYS_fchmodat, setid(2).map_err(|e| fail(&e))?),
            (FCHMODAT2, setid(2).map_err(|e| fail(&e))?),
            // Files made with set-ID bits in their mode from the start.
            (libc::SYS_open, setid(2).map_err(|e| fail(&e))?),
            (libc::SYS_openat, setid(3).map_err(|e| fail(&e))?),
            (libc::SYS_creat, setid(1).map_err(|e| fail(&e))?),
            (libc::SYS_mknod, setid(1).map_err(|e| fail(&e))?),
            (libc::SYS_mknodat, setid(2).map_err(|e| fail(&e))?),
            (libc::SYS_ioctl, ioctls),
            // Limits and priorities of other processes (its drain's among them): only its own.
            (
                libc::SYS_prlimit64,
                vec![not_self(0).map_err(|e| fail(&e))?],
            ),
            (
                libc::SYS_setpriority,
                vec![not_self(1).map_err(|e| fail(&e))?],
            ),
        ];
        for always in [
            // Its mode is in a structure a filter cannot read.
            libc::SYS_openat2,
            libc::SYS_chown,
            libc::SYS_fchown,
            libc::SYS_lchown,
            libc::SYS_fchownat,
            libc::SYS_setxattr,
            libc::SYS_lsetxattr,
            libc::SYS_fsetxattr,
            libc::SYS_removexattr,
            libc::SYS_lremovexattr,
            libc::SYS_fremovexattr,
            SETXATTRAT,
            REMOVEXATTRAT,
            FILE_SETATTR,
            // System V IPC: shared with every process of the machine, not the job's own.
            libc::SYS_shmget,
            libc::SYS_shmat,
            libc::SYS_shmctl,
            libc::SYS_msgget,
            libc::SYS_msgsnd,
            libc::SYS_msgrcv,
            libc::SYS_msgctl,
            libc::SYS_semget,
            libc::SYS_semop,
            libc::SYS_semtimedop,
            libc::SYS_semctl,
            // Kernel keyrings: the user's secrets, shared with their other processes.
            libc::SYS_add_key,
            libc::SYS_keyctl,
            libc::SYS_request_key,
        ] {
            rules.push((always, vec![]));
        }
        // New user namespaces, in which a job would hold capabilities again (clone3 is refused
        // apart, with ENOSYS, so that the C library falls back to clone).
        let new_user = |arg: u8| {
            let flag = libc::CLONE_NEWUSER as u64;
            when(arg, Dword, SeccompCmpOp::MaskedEq(flag), flag)
        };
        rules.push((libc::SYS_unshare, vec![new_user(0).map_err(|e| fail(&e))?]));
        rules.push((libc::SYS_clone, vec![new_user(0).map_err(|e| fail(&e))?]));
        if !network {
            let not_unix =
                when(0, Dword, SeccompCmpOp::Ne, libc::AF_UNIX as u64).map_err(|e| fail(&e))?;
            rules.push((libc::SYS_socket, vec![not_unix]));
            rules.push((libc::SYS_io_uring_setup, vec![]));
        }
        let filter = SeccompFilter::new(
            rules.into_iter().collect(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(|e| fail(&e))?;
        filter.try_into().map_err(|e: seccompiler::BackendError| {
            format!("cannot compile the seccomp filter: {e}")
        })
    }

    /// Opens a folder to grant by its descriptor (`O_PATH`: no read access needed).
    pub fn open_folder(path: &Path) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)
    }

    /// Where an opened file is now, as the kernel names it.
    pub fn path_of(file: &File) -> io::Result<PathBuf> {
        use std::os::fd::AsRawFd;
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
    }

    /// Whether `file` is on a filesystem of the kernel's own (by `fstatfs`'s magic number).
    pub fn kernel_filesystem(file: &File) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        // proc, sysfs, devtmpfs, devpts, cgroup, cgroup2, debugfs, tracefs, securityfs, bpf,
        // configfs, efivarfs, pstore, fusectl, binfmt_misc, mqueue.
        const KERNEL: [i64; 16] = [
            0x9fa0,
            0x6265_6572,
            0x1373,
            0x1cd1,
            0x0027_e0eb,
            0x6367_7270,
            0x6462_6720,
            0x7472_6163,
            0x7363_6673,
            0xcafe_4a11,
            0x6265_6570,
            0xde5e_81e4,
            0x6165_676c,
            0x6573_5543,
            0x4249_4e4d,
            0x1980_0202,
        ];
        // SAFETY: fstatfs writes one statfs into the zeroed value passed; the descriptor is open.
        let kind = unsafe {
            let mut stat: libc::statfs = std::mem::zeroed();
            if libc::fstatfs(file.as_raw_fd(), &mut stat) != 0 {
                return Err(io::Error::last_os_error());
            }
            stat.f_type
        };
        #[allow(
            clippy::unnecessary_cast,
            reason = "f_type's type differs between libcs"
        )]
        Ok(KERNEL.contains(&(kind as i64)))
    }

    /// Runs `program` with the ruleset and filter applied between fork and exec.
    pub fn command(program: &OsStr, mut prepared: Prepared) -> Command {
        let mut command = Command::new(program);
        let apply = move || -> io::Result<()> {
            drop_capabilities()?;
            if let Some(ruleset) = prepared.ruleset.take() {
                let status = ruleset.restrict_self().map_err(io::Error::other)?;
                if status.ruleset != RulesetStatus::FullyEnforced {
                    return Err(io::Error::from_raw_os_error(libc::ENOSYS));
                }
            }
            for filter in prepared.filters.iter().flatten() {
                seccompiler::apply_filter(filter).map_err(io::Error::other)?;
            }
            Ok(())
        };
        // SAFETY: the closure runs in the child between fork and exec. It makes system calls on
        // what was built before the fork: prctl and capset (drop_capabilities), prctl
        // (NO_NEW_PRIVS), landlock_restrict_self, close of the ruleset's descriptor and
        // seccomp(SET_MODE_FILTER). Only its error paths allocate, and an error ends the child
        // before exec.
        unsafe { command.pre_exec(apply) };
        command
    }

    /// Gives up every capability, for good: a job run by root keeps uid 0 but none of root's
    /// powers (freezing filesystems, loading BPF, changing the clock, overriding permissions...),
    /// and with `no_new_privs` cannot get them back through a set-user-ID program. For any other
    /// user there is nothing to give up. Async-signal-safe: prctl and capset only.
    fn drop_capabilities() -> io::Result<()> {
        // The bounding set first (which needs CAP_SETPCAP, so only root can and needs to).
        for cap in 0..64 {
            // SAFETY: prctl(PR_CAPBSET_DROP, cap) takes plain integers.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
            if rc != 0 {
                match io::Error::last_os_error().raw_os_error() {
                    // Past the last capability this kernel has; or not root, holding none.
                    Some(libc::EINVAL) | Some(libc::EPERM) => break,
                    _ => return Err(io::Error::last_os_error()),
                }
            }
        }
        // SAFETY: prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) takes plain integers.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let mut header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3: two Data, 64 capabilities
            pid: 0,
        };
        let data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        // SAFETY: capset reads the header and two data structures, laid out as the kernel's
        // (struct __user_cap_header_struct, __user_cap_data_struct[2] for version 3).
        let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(target_os = "macos")]
mod platform {
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
}

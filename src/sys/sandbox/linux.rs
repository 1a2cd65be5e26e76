//! Linux: Landlock for the filesystem (and, from ABI 6, signals), every capability dropped, and
//! the seccomp filters of [`super::seccomp`]; all built before the fork, applied in the child
//! between fork and exec.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use std::fs::File;
use std::path::Path;

use landlock::{
    ABI, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
};
use seccompiler::BpfProgram;

use super::seccomp::compiled_filter;
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
    let in_writable = handled & !(AccessFs::MakeChar | AccessFs::MakeBlock | AccessFs::IoctlDev);
    let fail = |e: &dyn std::fmt::Display| format!("cannot build the Landlock rules ({how}): {e}");
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

//! The seccomp filters of a sandboxed job on Linux: what Landlock does not cover (see the
//! README's Sandbox section for the list and why), refused with EPERM; and `clone3` with ENOSYS.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// [`filter`], compiled once per process for each of its two forms, and [`no_clone3`].
pub(super) fn compiled_filter(network: bool) -> Result<[BpfProgram; 2], String> {
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
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("cannot compile the seccomp filter: {e}"))
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
    let mut rules = conditional().map_err(|e| fail(&e))?;
    rules.extend(ALWAYS.iter().map(|&call| (call, Vec::new())));
    if !network {
        let not_unix = when(0, SeccompCmpOp::Ne, libc::AF_UNIX as u64).map_err(|e| fail(&e))?;
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
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("cannot compile the seccomp filter: {e}"))
}

// Numbers shared by every architecture since Linux 5.1 (newer than the C library's headers).
const FCHMODAT2: i64 = 452;
const SETXATTRAT: i64 = 463;
const REMOVEXATTRAT: i64 = 466;
const FILE_SETATTR: i64 = 469;

/// Refused whatever their arguments.
const ALWAYS: [i64; 28] = [
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
    // Inode flags by path (FS_IOC_SETFLAGS by descriptor is among the ioctls).
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
];

/// A rule on one argument (its low 32 bits).
fn when(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
        .and_then(|c| SeccompRule::new(vec![c]))
}

/// Refused when argument `arg`, a mode, has a set-ID bit.
fn set_id(arg: u8) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let bit = |b: u64| when(arg, SeccompCmpOp::MaskedEq(b), b);
    Ok(vec![
        bit(u64::from(libc::S_ISUID))?,
        bit(u64::from(libc::S_ISGID))?,
    ])
}

/// Refused for some arguments: set-ID modes, some ioctls, other processes, new user namespaces.
fn conditional() -> Result<Vec<(i64, Vec<SeccompRule>)>, seccompiler::BackendError> {
    // FS_IOC_SETFLAGS (64- and 32-bit), FS_IOC_FSSETXATTR, TIOCSTI: the same on x86-64 and arm64.
    let ioctls = [0x4008_6602_u64, 0x4004_6602, 0x401c_5820, 0x5412]
        .into_iter()
        .map(|request| when(1, SeccompCmpOp::Eq, request & 0xffff_ffff))
        .collect::<Result<Vec<_>, _>>()?;
    let not_self = |arg: u8| when(arg, SeccompCmpOp::Ne, 0).map(|rule| vec![rule]);
    // New user namespaces, in which a job would hold capabilities again (clone3 is refused
    // apart, with ENOSYS, so that the C library falls back to clone).
    let flag = libc::CLONE_NEWUSER as u64;
    let new_user = || when(0, SeccompCmpOp::MaskedEq(flag), flag).map(|rule| vec![rule]);
    Ok(vec![
        (libc::SYS_chmod, set_id(1)?),
        (libc::SYS_fchmod, set_id(1)?),
        (libc::SYS_fchmodat, set_id(2)?),
        (FCHMODAT2, set_id(2)?),
        // Files made with set-ID bits in their mode from the start.
        (libc::SYS_open, set_id(2)?),
        (libc::SYS_openat, set_id(3)?),
        (libc::SYS_creat, set_id(1)?),
        (libc::SYS_mknod, set_id(1)?),
        (libc::SYS_mknodat, set_id(2)?),
        (libc::SYS_ioctl, ioctls),
        // Limits and priorities of other processes (its drain's among them): only its own.
        (libc::SYS_prlimit64, not_self(0)?),
        (libc::SYS_setpriority, not_self(1)?),
        (libc::SYS_unshare, new_user()?),
        (libc::SYS_clone, new_user()?),
    ])
}

//! The Seatbelt profile a sandboxed job runs under on macOS: `/usr/bin/sandbox-exec -p PROFILE
//! -D NAME=VALUE ... -- program args...`. Pure string generation, compiled on every platform so
//! these tests run on Linux; only macOS runs jobs through it.
//!
//! **Paths are parameters, never text.** Each folder is passed as `-D W0=/path` and named in the
//! profile as `(subpath (param "W0"))`, so a path holding quotes, parentheses, newlines or `#`
//! cannot change the profile: the text depends only on how many folders of each kind there are
//! (`W0..` writable, `R0..` readable, `D0..` denied). A path that is not UTF-8 or not absolute
//! is an error naming it, not a lossy guess.
//!
//! **Where the rules come from.** SBPL has no official documentation. The base (processes,
//! sysctls, mach services, terminals, devices) follows OpenAI Codex CLI's Seatbelt policies in
//! github.com/openai/codex, `codex-rs/sandboxing/src/`: `seatbelt_base_policy.sbpl` (itself
//! derived from Chromium's `sandbox/policy/mac/common.sb`), `seatbelt_network_policy.sbpl` (from
//! Chromium's `network.sb`), `restricted_read_only_platform_defaults.sbpl`, and the Unix-socket
//! forms of `seatbelt.rs` (openai/codex#12702). `com.apple.dnssd.service` and the
//! `/private/var/run/mDNSResponder` socket are from Apple's own `system-network` rules
//! (`/System/Library/Sandbox/Profiles/appsandbox-common.sb`).
//!
//! **Rule order matters: the last matching rule wins** (among rules with a filter, as all of
//! ours on files are). This is measured, not documented by Apple: nolabs-ai/nono#970 reproduced
//! on macOS 26.4 that `(deny file-write* (subpath X))` placed *before* a broader write allow is
//! ignored, and fixed it by emitting the deny after (nolabs-ai/nono#971); microsoft/mxc's
//! `docs/seatbelt/seatbelt-backend.md` reports the same from end-to-end runs, and that an
//! unfiltered allow never overrides a path-filtered deny in either order. So the denied folders
//! come last, after every allow.
//!
//! **Reads when `readable` is given.** The job reads beneath its readable and writable folders,
//! plus what running programs needs, all of it software or configuration every user may read:
//! - metadata (`stat`, `readlink`, existence) of every path: path lookups, `realpath`, `getcwd`,
//!   `PATH` searches, and tools that look for a file in every parent folder (git's `.git`,
//!   Node's `node_modules`) need it. It shows that a file exists, its size and dates; never its
//!   contents nor a folder's listing.
//! - `/` itself (listing the root, `getcwd`), `/bin`, `/sbin` and `/usr` (shells, utilities,
//!   libraries, `/usr/share`; `/usr/local` is Homebrew on Intel);
//! - `/System/Library` and the cryptexes (`/System/Cryptexes`,
//!   `/System/Volumes/Preboot/Cryptexes`): frameworks and the dyld cache. Not all of `/System`:
//!   `/System/Volumes/Data` is the data volume, home folders included.
//! - `/Library`: system-wide software (frameworks, Java, the Command Line Tools, the site
//!   libraries of the system's Ruby, Python and Perl, fonts, preferences). Users' own data is
//!   under `/Users`.
//! - `/private/etc` (`/etc`: passwd, hosts, TLS roots, shell profiles), `/private/var/db/timezone`
//!   (`/etc/localtime`'s target), `/private/var/db/dyld` (the dyld cache before macOS 11),
//!   `/private/var/db/DarwinDirectory/local/recordStore.data` (user records, read for `getpwuid`
//!   on recent macOS, per Codex), `/private/var/select` and `/private/var/db/xcode_select_link`
//!   (what `/bin/sh` and the `xcode-select` shims such as `/usr/bin/git` run), and
//!   `/private/var/run/resolv.conf`;
//! - `/dev` (devices only a user's permissions already allow);
//! - package managers' software: `/opt/homebrew`, MacPorts' `/opt/local`, `/nix/store`;
//! - compilers: `/Applications/Xcode*.app` (the Command Line Tools are under `/Library`).
//!
//! Not readable then: home folders (dotfiles, keys, caches) and the per-user temp and cache
//! folders under `/private/var/folders`, unless the job's rules name them; nor, through
//! `cfprefsd`, other programs' preferences, so preference reads are allowed only when
//! everything is readable.

#![cfg_attr(
    not(target_os = "macos"),
    allow(
        dead_code,
        reason = "only macOS runs jobs through sandbox-exec; compiled everywhere so the tests run on Linux"
    )
)]

use std::path::{Path, PathBuf};

/// The program that applies a profile, by its full path: one found through `PATH` could be
/// anything.
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// What a sandboxed job may do (all paths absolute and already canonical, symlinks resolved).
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// Folders the job may write beneath (full write access: create, delete, rename, truncate).
    /// Includes its private temp folder.
    pub writable: &'a [PathBuf],
    /// None: the job may read everything. Some: it may read only beneath these folders, plus
    /// what running programs needs (see the module docs).
    pub readable: Option<&'a [PathBuf]>,
    /// Whether it may use IP networking (outbound and inbound, DNS). Unix-domain sockets are
    /// allowed either way.
    pub network: bool,
    /// Folders never writable, even beneath a writable folder (the queue's folder): denied after
    /// the allows.
    pub denied: &'a [PathBuf],
}

/// The profile's text and the `-D` parameters it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub text: String,
    pub params: Vec<(String, String)>,
}

/// The profile for `rules`. Fails, naming the path, when a path is not valid UTF-8 (parameters
/// are strings) or not absolute.
pub fn profile(rules: &Rules) -> Result<Profile, String> {
    let mut params = Vec::new();
    let writable = parameters("W", rules.writable, &mut params)?;
    let readable = match rules.readable {
        Some(folders) => Some(parameters("R", folders, &mut params)?),
        None => None,
    };
    let denied = parameters("D", rules.denied, &mut params)?;

    let mut text = String::from(BASE);
    match readable {
        None => text.push_str(READ_EVERYTHING),
        Some(readable) => {
            text.push_str(READ_SYSTEM);
            let folders: Vec<String> = writable.iter().chain(&readable).cloned().collect();
            push_rule(
                &mut text,
                "; The job's folders, writable ones included.",
                "allow file-read*",
                &folders,
            );
        }
    }
    push_rule(
        &mut text,
        "; Writes: beneath the job's writable folders, its private temp folder among them.",
        "allow file-write*",
        &writable,
    );
    text.push_str(if rules.network { NETWORK } else { NO_NETWORK });
    push_rule(
        &mut text,
        "; Never writable, even beneath a writable folder (binding a socket there included).\n\
         ; Last: the last matching rule wins.",
        "deny file-write* network-bind",
        &denied,
    );
    Ok(Profile { text, params })
}

/// The arguments to put before the job's program: `-p TEXT`, `-D NAME=VALUE` for each parameter,
/// and `--`. The program is [`SANDBOX_EXEC`].
pub fn arguments(profile: &Profile) -> Vec<String> {
    let mut arguments = vec!["-p".to_owned(), profile.text.clone()];
    for (name, value) in &profile.params {
        arguments.push("-D".to_owned());
        arguments.push(format!("{name}={value}"));
    }
    arguments.push("--".to_owned());
    arguments
}

/// Names `folders` `PREFIX0`, `PREFIX1`, ..., adds them to `params`, and returns the filters
/// that refer to them.
fn parameters(
    prefix: &str,
    folders: &[PathBuf],
    params: &mut Vec<(String, String)>,
) -> Result<Vec<String>, String> {
    let mut filters = Vec::with_capacity(folders.len());
    for (index, folder) in folders.iter().enumerate() {
        let name = format!("{prefix}{index}");
        params.push((name.clone(), value(folder)?.to_owned()));
        filters.push(format!("(subpath (param \"{name}\"))"));
    }
    Ok(filters)
}

fn value(path: &Path) -> Result<&str, String> {
    let Some(text) = path.to_str() else {
        return Err(format!("sandbox folder {path:?} is not valid UTF-8"));
    };
    if !path.is_absolute() {
        return Err(format!("sandbox folder {path:?} is not an absolute path"));
    }
    Ok(text)
}

/// Appends `(ACTION FILTER...)`, one filter a line, after `comment`; nothing at all when there
/// are no filters, since a rule without one would apply to every path.
fn push_rule(text: &mut String, comment: &str, action: &str, filters: &[String]) {
    if filters.is_empty() {
        return;
    }
    text.push('\n');
    text.push_str(comment);
    text.push_str("\n(");
    text.push_str(action);
    for filter in filters {
        text.push_str("\n  ");
        text.push_str(filter);
    }
    text.push_str(")\n");
}

/// Everything but files, the network and the job's folders (Codex's base policy, which follows
/// Chromium's common.sb), and the devices every program uses.
const BASE: &str = r##"(version 1)
(deny default)

; Processes: the job runs programs, which inherit this profile, and signals and inspects only
; processes in the same sandbox.
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))

; System facts runtimes ask for: CPUs and their features, memory and page sizes, OS version,
; load. Java's kern.grade_cputype passes a buffer, so it counts as a write.
(allow sysctl-read
  (sysctl-name "hw.activecpu")
  (sysctl-name "hw.busfrequency_compat")
  (sysctl-name "hw.byteorder")
  (sysctl-name "hw.cacheconfig")
  (sysctl-name "hw.cachelinesize_compat")
  (sysctl-name "hw.cpufamily")
  (sysctl-name "hw.cpufrequency")
  (sysctl-name "hw.cpufrequency_compat")
  (sysctl-name "hw.cputype")
  (sysctl-name "hw.l1dcachesize_compat")
  (sysctl-name "hw.l1icachesize_compat")
  (sysctl-name "hw.l2cachesize_compat")
  (sysctl-name "hw.l3cachesize_compat")
  (sysctl-name "hw.logicalcpu")
  (sysctl-name "hw.logicalcpu_max")
  (sysctl-name "hw.machine")
  (sysctl-name "hw.memsize")
  (sysctl-name "hw.model")
  (sysctl-name "hw.ncpu")
  (sysctl-name "hw.nperflevels")
  (sysctl-name "hw.packages")
  (sysctl-name "hw.pagesize")
  (sysctl-name "hw.pagesize_compat")
  (sysctl-name "hw.physicalcpu")
  (sysctl-name "hw.physicalcpu_max")
  (sysctl-name "hw.tbfrequency_compat")
  (sysctl-name "hw.vectorunit")
  (sysctl-name "kern.argmax")
  (sysctl-name "kern.hostname")
  (sysctl-name "kern.maxfilesperproc")
  (sysctl-name "kern.maxproc")
  (sysctl-name "kern.osproductversion")
  (sysctl-name "kern.osrelease")
  (sysctl-name "kern.ostype")
  (sysctl-name "kern.osvariant_status")
  (sysctl-name "kern.osversion")
  (sysctl-name "kern.secure_kernel")
  (sysctl-name "kern.usrstack64")
  (sysctl-name "kern.version")
  (sysctl-name "machdep.cpu.brand_string")
  (sysctl-name "sysctl.proc_cputype")
  (sysctl-name "vm.loadavg")
  (sysctl-name-prefix "hw.optional.arm.")
  (sysctl-name-prefix "hw.optional.armv8_")
  (sysctl-name-prefix "hw.perflevel")
  (sysctl-name-prefix "kern.proc.pgrp.")
  (sysctl-name-prefix "kern.proc.pid.")
  (sysctl-name-prefix "net.routetable."))
(allow sysctl-write (sysctl-name "kern.grade_cputype"))
; host_processor_info(), for Node's os.cpus().
(allow mach-host*)

; The services ordinary programs use: user and group lookups (getpwuid, id), the per-user temp
; folder (confstr), logging, notify(3), power assertions.
(allow mach-lookup
  (global-name "com.apple.bsd.dirhelper")
  (global-name "com.apple.logd")
  (global-name "com.apple.PowerManagement.control")
  (global-name "com.apple.system.logger")
  (global-name "com.apple.system.notification_center")
  (global-name "com.apple.system.opendirectoryd.libinfo")
  (global-name "com.apple.system.opendirectoryd.membership"))
(allow iokit-open (iokit-registry-entry-class "RootDomainUserClient"))
; POSIX semaphores and shared memory: Python's multiprocessing, OpenMP.
(allow ipc-posix-sem)
(allow ipc-posix-shm)

; Devices: the null and zero devices, randomness, the controlling terminal, stdio through
; /dev/fd, dtrace's helper.
(allow file-read* file-write-data file-ioctl
  (literal "/dev/null")
  (literal "/dev/zero")
  (literal "/dev/random")
  (literal "/dev/urandom")
  (literal "/dev/tty")
  (literal "/dev/dtracehelper"))
(allow file-read-data file-write-data (subpath "/dev/fd"))
; Terminals: openpty(), the terminals the job opened itself, and ioctls (window size, raw mode)
; on the one it was given.
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl (literal "/dev/ptmx"))
(allow file-read* file-write*
  (require-all
    (regex #"^/dev/ttys[0-9]+$")
    (extension "com.apple.sandbox.pty")))
(allow file-ioctl (regex #"^/dev/ttys[0-9]+$"))
"##;

/// Reads when the rules ask for no narrower: every file, and preferences through `cfprefsd`.
const READ_EVERYTHING: &str = r##"
; Reads: everything, preferences through cfprefsd included.
(allow file-read*)
(allow user-preference-read)
(allow mach-lookup
  (global-name "com.apple.cfprefsd.agent")
  (global-name "com.apple.cfprefsd.daemon")
  (local-name "com.apple.cfprefsd.agent"))
"##;

/// Reads when the rules name the readable folders: what running programs needs (module docs).
const READ_SYSTEM: &str = r##"
; Reads: metadata everywhere (path lookups), the system's software and configuration, and the
; job's folders below. No preferences through cfprefsd, which reads any program's for its client.
(allow file-read-metadata file-test-existence)
(allow file-read*
  (literal "/")
  (subpath "/bin")
  (subpath "/sbin")
  (subpath "/usr")
  (subpath "/System/Library")
  (subpath "/System/Cryptexes")
  (subpath "/System/Volumes/Preboot/Cryptexes")
  (subpath "/Library")
  (subpath "/private/etc")
  (subpath "/private/var/db/timezone")
  (subpath "/private/var/db/dyld")
  (subpath "/private/var/db/DarwinDirectory/local/recordStore.data")
  (subpath "/private/var/select")
  (literal "/private/var/db/xcode_select_link")
  (literal "/private/var/run/resolv.conf")
  (subpath "/dev")
  (subpath "/opt/homebrew")
  (subpath "/opt/local")
  (subpath "/nix/store")
  (regex #"^/Applications/Xcode[^/]*\.app(/|$)"))
"##;

/// IP networking (Codex's network policy, after Chromium's network.sb), with the services name
/// resolution and TLS verification use.
const NETWORK: &str = r##"
; Network: IP in and out, Unix-domain sockets, and the services that resolve names, read the
; network configuration and verify TLS certificates.
(allow network*)
(allow system-socket)
(allow mach-lookup
  (global-name "com.apple.dnssd.service")
  (global-name "com.apple.networkd")
  (global-name "com.apple.ocspd")
  (global-name "com.apple.SecurityServer")
  (global-name "com.apple.SystemConfiguration.configd")
  (global-name "com.apple.SystemConfiguration.DNSConfiguration")
  (global-name "com.apple.trustd")
  (global-name "com.apple.trustd.agent"))
"##;

/// No IP networking: Unix-domain sockets only (Codex's forms), and not mDNSResponder's.
const NO_NETWORK: &str = r##"
; No IP network. Unix-domain sockets only: socketpair(), and bind, listen and connect on socket
; files; but not mDNSResponder's socket, which would resolve names (a way out) for the job.
(allow system-socket (socket-domain AF_UNIX))
(allow network-bind network-inbound (local unix-socket))
(allow network-outbound (remote unix-socket))
(deny network-outbound (literal "/private/var/run/mDNSResponder"))
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    const TEMP: &str = "/private/var/folders/x1/abc/T/execq-job-7";
    const QUEUE: &str = "/Users/me/.local/share/execq";

    // The snapshots: what the profiles must say, kept apart from the code that says it. The
    // three profiles share their first part, and the first two their reads.
    const SNAPSHOT_BASE: &str = r##"(version 1)
(deny default)

; Processes: the job runs programs, which inherit this profile, and signals and inspects only
; processes in the same sandbox.
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))

; System facts runtimes ask for: CPUs and their features, memory and page sizes, OS version,
; load. Java's kern.grade_cputype passes a buffer, so it counts as a write.
(allow sysctl-read
  (sysctl-name "hw.activecpu")
  (sysctl-name "hw.busfrequency_compat")
  (sysctl-name "hw.byteorder")
  (sysctl-name "hw.cacheconfig")
  (sysctl-name "hw.cachelinesize_compat")
  (sysctl-name "hw.cpufamily")
  (sysctl-name "hw.cpufrequency")
  (sysctl-name "hw.cpufrequency_compat")
  (sysctl-name "hw.cputype")
  (sysctl-name "hw.l1dcachesize_compat")
  (sysctl-name "hw.l1icachesize_compat")
  (sysctl-name "hw.l2cachesize_compat")
  (sysctl-name "hw.l3cachesize_compat")
  (sysctl-name "hw.logicalcpu")
  (sysctl-name "hw.logicalcpu_max")
  (sysctl-name "hw.machine")
  (sysctl-name "hw.memsize")
  (sysctl-name "hw.model")
  (sysctl-name "hw.ncpu")
  (sysctl-name "hw.nperflevels")
  (sysctl-name "hw.packages")
  (sysctl-name "hw.pagesize")
  (sysctl-name "hw.pagesize_compat")
  (sysctl-name "hw.physicalcpu")
  (sysctl-name "hw.physicalcpu_max")
  (sysctl-name "hw.tbfrequency_compat")
  (sysctl-name "hw.vectorunit")
  (sysctl-name "kern.argmax")
  (sysctl-name "kern.hostname")
  (sysctl-name "kern.maxfilesperproc")
  (sysctl-name "kern.maxproc")
  (sysctl-name "kern.osproductversion")
  (sysctl-name "kern.osrelease")
  (sysctl-name "kern.ostype")
  (sysctl-name "kern.osvariant_status")
  (sysctl-name "kern.osversion")
  (sysctl-name "kern.secure_kernel")
  (sysctl-name "kern.usrstack64")
  (sysctl-name "kern.version")
  (sysctl-name "machdep.cpu.brand_string")
  (sysctl-name "sysctl.proc_cputype")
  (sysctl-name "vm.loadavg")
  (sysctl-name-prefix "hw.optional.arm.")
  (sysctl-name-prefix "hw.optional.armv8_")
  (sysctl-name-prefix "hw.perflevel")
  (sysctl-name-prefix "kern.proc.pgrp.")
  (sysctl-name-prefix "kern.proc.pid.")
  (sysctl-name-prefix "net.routetable."))
(allow sysctl-write (sysctl-name "kern.grade_cputype"))
; host_processor_info(), for Node's os.cpus().
(allow mach-host*)

; The services ordinary programs use: user and group lookups (getpwuid, id), the per-user temp
; folder (confstr), logging, notify(3), power assertions.
(allow mach-lookup
  (global-name "com.apple.bsd.dirhelper")
  (global-name "com.apple.logd")
  (global-name "com.apple.PowerManagement.control")
  (global-name "com.apple.system.logger")
  (global-name "com.apple.system.notification_center")
  (global-name "com.apple.system.opendirectoryd.libinfo")
  (global-name "com.apple.system.opendirectoryd.membership"))
(allow iokit-open (iokit-registry-entry-class "RootDomainUserClient"))
; POSIX semaphores and shared memory: Python's multiprocessing, OpenMP.
(allow ipc-posix-sem)
(allow ipc-posix-shm)

; Devices: the null and zero devices, randomness, the controlling terminal, stdio through
; /dev/fd, dtrace's helper.
(allow file-read* file-write-data file-ioctl
  (literal "/dev/null")
  (literal "/dev/zero")
  (literal "/dev/random")
  (literal "/dev/urandom")
  (literal "/dev/tty")
  (literal "/dev/dtracehelper"))
(allow file-read-data file-write-data (subpath "/dev/fd"))
; Terminals: openpty(), the terminals the job opened itself, and ioctls (window size, raw mode)
; on the one it was given.
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl (literal "/dev/ptmx"))
(allow file-read* file-write*
  (require-all
    (regex #"^/dev/ttys[0-9]+$")
    (extension "com.apple.sandbox.pty")))
(allow file-ioctl (regex #"^/dev/ttys[0-9]+$"))
"##;

    const SNAPSHOT_READ_EVERYTHING: &str = r##"
; Reads: everything, preferences through cfprefsd included.
(allow file-read*)
(allow user-preference-read)
(allow mach-lookup
  (global-name "com.apple.cfprefsd.agent")
  (global-name "com.apple.cfprefsd.daemon")
  (local-name "com.apple.cfprefsd.agent"))
"##;

    const SNAPSHOT_READ_SYSTEM: &str = r##"
; Reads: metadata everywhere (path lookups), the system's software and configuration, and the
; job's folders below. No preferences through cfprefsd, which reads any program's for its client.
(allow file-read-metadata file-test-existence)
(allow file-read*
  (literal "/")
  (subpath "/bin")
  (subpath "/sbin")
  (subpath "/usr")
  (subpath "/System/Library")
  (subpath "/System/Cryptexes")
  (subpath "/System/Volumes/Preboot/Cryptexes")
  (subpath "/Library")
  (subpath "/private/etc")
  (subpath "/private/var/db/timezone")
  (subpath "/private/var/db/dyld")
  (subpath "/private/var/db/DarwinDirectory/local/recordStore.data")
  (subpath "/private/var/select")
  (literal "/private/var/db/xcode_select_link")
  (literal "/private/var/run/resolv.conf")
  (subpath "/dev")
  (subpath "/opt/homebrew")
  (subpath "/opt/local")
  (subpath "/nix/store")
  (regex #"^/Applications/Xcode[^/]*\.app(/|$)"))
"##;

    /// (a): reads everything, writes only its temp folder, no network.
    const READ_ONLY_TAIL: &str = r##"
; Writes: beneath the job's writable folders, its private temp folder among them.
(allow file-write*
  (subpath (param "W0")))

; No IP network. Unix-domain sockets only: socketpair(), and bind, listen and connect on socket
; files; but not mDNSResponder's socket, which would resolve names (a way out) for the job.
(allow system-socket (socket-domain AF_UNIX))
(allow network-bind network-inbound (local unix-socket))
(allow network-outbound (remote unix-socket))
(deny network-outbound (literal "/private/var/run/mDNSResponder"))
"##;

    #[test]
    fn a_read_only_job_with_a_temp_folder_and_no_network() {
        let writable = paths(&[TEMP]);
        let rules = Rules {
            writable: &writable,
            readable: None,
            network: false,
            denied: &[],
        };
        let profile = profile(&rules).unwrap();
        assert_eq!(
            profile.text,
            [SNAPSHOT_BASE, SNAPSHOT_READ_EVERYTHING, READ_ONLY_TAIL].concat()
        );
        assert_eq!(profile.params, params(&[("W0", TEMP)]));
    }

    /// (b): a workspace and its temp folder writable, the queue's folder denied, network on.
    const WORKSPACE_TAIL: &str = r##"
; Writes: beneath the job's writable folders, its private temp folder among them.
(allow file-write*
  (subpath (param "W0"))
  (subpath (param "W1")))

; Network: IP in and out, Unix-domain sockets, and the services that resolve names, read the
; network configuration and verify TLS certificates.
(allow network*)
(allow system-socket)
(allow mach-lookup
  (global-name "com.apple.dnssd.service")
  (global-name "com.apple.networkd")
  (global-name "com.apple.ocspd")
  (global-name "com.apple.SecurityServer")
  (global-name "com.apple.SystemConfiguration.configd")
  (global-name "com.apple.SystemConfiguration.DNSConfiguration")
  (global-name "com.apple.trustd")
  (global-name "com.apple.trustd.agent"))

; Never writable, even beneath a writable folder (binding a socket there included).
; Last: the last matching rule wins.
(deny file-write* network-bind
  (subpath (param "D0")))
"##;

    #[test]
    fn a_workspace_job_with_a_denied_queue_folder_and_network() {
        let writable = paths(&["/Users/me", TEMP]);
        let denied = paths(&[QUEUE]);
        let rules = Rules {
            writable: &writable,
            readable: None,
            network: true,
            denied: &denied,
        };
        let profile = profile(&rules).unwrap();
        assert_eq!(
            profile.text,
            [SNAPSHOT_BASE, SNAPSHOT_READ_EVERYTHING, WORKSPACE_TAIL].concat()
        );
        assert_eq!(
            profile.params,
            params(&[("W0", "/Users/me"), ("W1", TEMP), ("D0", QUEUE)])
        );
    }

    /// (c): reads only its folders and the system's, writes its project and temp folder.
    const READABLE_TAIL: &str = r##"
; The job's folders, writable ones included.
(allow file-read*
  (subpath (param "W0"))
  (subpath (param "W1"))
  (subpath (param "R0"))
  (subpath (param "R1")))

; Writes: beneath the job's writable folders, its private temp folder among them.
(allow file-write*
  (subpath (param "W0"))
  (subpath (param "W1")))

; No IP network. Unix-domain sockets only: socketpair(), and bind, listen and connect on socket
; files; but not mDNSResponder's socket, which would resolve names (a way out) for the job.
(allow system-socket (socket-domain AF_UNIX))
(allow network-bind network-inbound (local unix-socket))
(allow network-outbound (remote unix-socket))
(deny network-outbound (literal "/private/var/run/mDNSResponder"))

; Never writable, even beneath a writable folder (binding a socket there included).
; Last: the last matching rule wins.
(deny file-write* network-bind
  (subpath (param "D0")))
"##;

    #[test]
    fn a_job_that_reads_only_the_folders_it_is_given() {
        let writable = paths(&["/Users/me/project", TEMP]);
        let readable = paths(&["/Users/me/.cargo", "/Users/me/.rustup"]);
        let denied = paths(&[QUEUE]);
        let rules = Rules {
            writable: &writable,
            readable: Some(&readable),
            network: false,
            denied: &denied,
        };
        let profile = profile(&rules).unwrap();
        assert_eq!(
            profile.text,
            [SNAPSHOT_BASE, SNAPSHOT_READ_SYSTEM, READABLE_TAIL].concat()
        );
        assert_eq!(
            profile.params,
            params(&[
                ("W0", "/Users/me/project"),
                ("W1", TEMP),
                ("R0", "/Users/me/.cargo"),
                ("R1", "/Users/me/.rustup"),
                ("D0", QUEUE),
            ])
        );
    }

    /// Every profile above parses as far as parentheses go: balanced, outside strings and
    /// comments, and never closing more than it opened.
    #[test]
    fn the_profiles_parentheses_balance() {
        let folders = paths(&["/a", "/b"]);
        for readable in [None, Some(&folders[..])] {
            for network in [false, true] {
                let rules = Rules {
                    writable: &folders,
                    readable,
                    network,
                    denied: &folders,
                };
                let text = profile(&rules).unwrap().text;
                let (mut depth, mut in_string, mut in_comment) = (0i32, false, false);
                for c in text.chars() {
                    match c {
                        '\n' => in_comment = false,
                        _ if in_comment => {}
                        '"' => in_string = !in_string,
                        _ if in_string => {}
                        ';' => in_comment = true,
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    assert!(depth >= 0, "a parenthesis closes nothing in:\n{text}");
                }
                assert_eq!((depth, in_string), (0, false), "unbalanced:\n{text}");
            }
        }
    }

    #[test]
    fn a_hostile_path_appears_only_in_the_parameters() {
        let hostile = "/tmp/a\"b)c\n(allow default) #\"x\" ; (deny default)";
        let writable = paths(&[hostile]);
        let plain = paths(&["/tmp/plain"]);
        let with = |writable: &[PathBuf]| {
            profile(&Rules {
                writable,
                readable: Some(writable),
                network: false,
                denied: writable,
            })
            .unwrap()
        };
        let profile = with(&writable);
        assert!(!profile.text.contains("/tmp/a"));
        assert!(!profile.text.contains("(allow default)"));
        // The text depends only on how many folders there are, not on what they are.
        assert_eq!(profile.text, with(&plain).text);
        assert_eq!(
            profile.params,
            params(&[("W0", hostile), ("R0", hostile), ("D0", hostile)])
        );
    }

    #[test]
    fn a_path_that_is_not_utf8_is_an_error_naming_it() {
        use std::os::unix::ffi::OsStringExt;
        let bad = PathBuf::from(std::ffi::OsString::from_vec(b"/tmp/caf\xe9".to_vec()));
        let writable = [PathBuf::from("/tmp/fine")];
        let denied = [bad];
        let error = profile(&Rules {
            writable: &writable,
            readable: None,
            network: false,
            denied: &denied,
        })
        .unwrap_err();
        assert!(error.contains("/tmp/caf\\xE9"), "{error}");
        assert!(error.contains("UTF-8"), "{error}");
    }

    #[test]
    fn a_relative_path_is_an_error_naming_it() {
        let readable = paths(&["project"]);
        let error = profile(&Rules {
            writable: &[],
            readable: Some(&readable),
            network: false,
            denied: &[],
        })
        .unwrap_err();
        assert!(
            error.contains("\"project\"") && error.contains("absolute"),
            "{error}"
        );
    }

    #[test]
    fn no_folders_means_no_rule_rather_than_a_rule_for_every_path() {
        let profile = profile(&Rules {
            writable: &[],
            readable: Some(&[]),
            network: false,
            denied: &[],
        })
        .unwrap();
        assert!(
            !profile.text.contains("(allow file-write*"),
            "{}",
            profile.text
        );
        assert!(
            !profile.text.contains("(deny file-write*"),
            "{}",
            profile.text
        );
        assert!(
            !profile.text.contains("(allow file-read*)"),
            "{}",
            profile.text
        );
        assert_eq!(profile.text, [BASE, READ_SYSTEM, NO_NETWORK].concat());
        assert!(profile.params.is_empty());
    }

    #[test]
    fn the_denials_come_after_every_allow() {
        let folders = paths(&["/w"]);
        for network in [false, true] {
            let text = profile(&Rules {
                writable: &folders,
                readable: None,
                network,
                denied: &folders,
            })
            .unwrap()
            .text;
            let deny = text.rfind("(deny file-write* network-bind").unwrap();
            assert!(text.rfind("(allow ").unwrap() < deny);
        }
    }

    #[test]
    fn the_arguments_pair_every_parameter_with_d_and_end_with_the_separator() {
        let writable = paths(&["/w0", "/w1"]);
        let denied = paths(&["/w0/queue"]);
        let profile = profile(&Rules {
            writable: &writable,
            readable: None,
            network: false,
            denied: &denied,
        })
        .unwrap();
        let arguments = arguments(&profile);
        assert_eq!(arguments[..2], ["-p".to_owned(), profile.text.clone()]);
        assert_eq!(arguments.last().map(String::as_str), Some("--"));
        let pairs = &arguments[2..arguments.len() - 1];
        assert_eq!(pairs.len(), 2 * profile.params.len());
        for (pair, (name, value)) in pairs.chunks(2).zip(&profile.params) {
            assert_eq!(pair, ["-D".to_owned(), format!("{name}={value}")]);
        }
        assert_eq!(pairs[1], "W0=/w0");
        assert_eq!(pairs[5], "D0=/w0/queue");
        assert_eq!(SANDBOX_EXEC, "/usr/bin/sandbox-exec");
    }
}

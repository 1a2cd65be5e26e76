//! Crash points and other faults for tests; nothing sets them in normal use.
//!
//! - `EXECQ_FAULT=NAME` stops the process at the named point (as a kill would), or, for the few
//!   names that are not crash points ([`active`]), makes it misbehave there as a broken system
//!   would.
//! - Every durable step the process takes — each create, write, sync, link, rename and unlink of
//!   the queue's files, all of which go through [`crate::fsutil`] — is numbered from 1.
//!   `EXECQ_CRASH_TRACE=FILE` appends a line `N KIND PATH` to FILE for each; `EXECQ_CRASH_AT=N`
//!   kills the process with SIGKILL just *before* step N. Together they let a test run an
//!   operation once to count its steps, then crash it before each of them in turn and check what
//!   the next process makes of the remains (`tests/integration/crash.rs`).
//!
//! - `EXECQ_WAIT_FALLBACK=SECONDS` sets how long a waiter with a watch waits for a change before
//!   looking anyway ([`wait_fallback`]), so that a test can tell a wait woken by the record from
//!   one that ended at its fallback.
//!
//! The crash variables are read once, at the first durable step, so a process that takes none (an
//! idle drain) never looks. Jobs do not inherit any of them ([`VARS`]).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The variable naming the point to crash at.
pub const ENV: &str = "EXECQ_FAULT";

/// The variable giving the number of the durable step to crash before.
pub const CRASH_AT: &str = "EXECQ_CRASH_AT";

/// The variable naming the file each durable step is listed in.
pub const CRASH_TRACE: &str = "EXECQ_CRASH_TRACE";

/// The variable replacing a waiter's fallback (`ops::wait::FALLBACK`), in seconds.
pub const WAIT_FALLBACK: &str = "EXECQ_WAIT_FALLBACK";

/// Every variable of this module: removed from the environment of the jobs a process starts, so
/// that only the process under test counts and crashes.
pub const VARS: [&str; 4] = [ENV, CRASH_AT, CRASH_TRACE, WAIT_FALLBACK];

/// Aborts the process if `EXECQ_FAULT` names this point.
pub fn point(name: &str) {
    if active(name) {
        std::process::abort();
    }
}

/// Kills the process with SIGKILL, as `kill -9` would, if `EXECQ_FAULT` names this point.
pub fn kill_point(name: &str) {
    if active(name) {
        crate::sys::kill_self();
    }
}

/// Whether `EXECQ_FAULT` names `name`: for a fault that is not a crash, such as `deaf-watch` (a
/// waiter's watch that is told of no change, as when the kernel drops events; see `ops::wait`).
pub fn active(name: &str) -> bool {
    std::env::var_os(ENV).is_some_and(|v| v == name)
}

/// `EXECQ_WAIT_FALLBACK`, when it is a number of seconds.
pub fn wait_fallback() -> Option<Duration> {
    static FALLBACK: OnceLock<Option<Duration>> = OnceLock::new();
    *FALLBACK.get_or_init(|| {
        let seconds: f64 = std::env::var(WAIT_FALLBACK).ok()?.parse().ok()?;
        Duration::try_from_secs_f64(seconds).ok()
    })
}

struct Plan {
    crash_at: Option<u64>,
    trace: Option<Mutex<File>>,
}

static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
static STEPS: AtomicU64 = AtomicU64::new(0);

fn plan() -> Option<&'static Plan> {
    PLAN.get_or_init(|| {
        let crash_at = std::env::var(CRASH_AT).ok().and_then(|n| n.parse().ok());
        let trace = std::env::var_os(CRASH_TRACE).and_then(|path| {
            File::options()
                .create(true)
                .append(true)
                .open(path)
                .ok()
                .map(Mutex::new)
        });
        (crash_at.is_some() || trace.is_some()).then_some(Plan { crash_at, trace })
    })
    .as_ref()
}

/// Marks one durable step (`kind` of `path`) about to be taken: listed in the trace, and the
/// process killed here if it is the step `EXECQ_CRASH_AT` names.
pub fn step(kind: &str, path: &Path) {
    let Some(plan) = plan() else { return };
    let n = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(trace) = &plan.trace {
        let mut file = trace.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{n} {kind} {}", path.display());
    }
    if plan.crash_at == Some(n) {
        crate::sys::kill_self();
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The calls that change files on disk, which only `fsutil` (numbering each step) and `sys`
    /// (below it) may make: anywhere else, a durable step would escape the crash-point harness.
    const DURABLE: [&str; 10] = [
        "fs::rename(",
        "fs::hard_link(",
        "fs::remove_file(",
        "fs::write(",
        "fs::copy(",
        "remove_dir_all(",
        ".sync_all(",
        ".sync_data(",
        "sys::rename_noreplace(",
        "sys::full_sync(",
    ];

    fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn every_durable_step_goes_through_fsutil() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut escaped = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).unwrap();
            if rel == Path::new("fsutil.rs") || rel.starts_with("sys") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            // Unit tests (at the end of a file) make their fixtures as they like.
            let code = text.split("#[cfg(test)]").next().unwrap();
            for (n, line) in code.lines().enumerate() {
                if DURABLE.iter().any(|call| line.contains(call)) && !line.trim().starts_with("//")
                {
                    escaped.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            escaped.is_empty(),
            "durable steps outside fsutil:\n{}",
            escaped.join("\n")
        );
    }
}

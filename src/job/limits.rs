//! A job's resource limits (`limits` in a job file, `[limits]` in `config.toml` for defaults):
//! applied to the job's process between fork and exec with `setrlimit`/`setpriority`, so they hold
//! for everything it starts too, and never for drain itself.
//!
//! | key            | applied as                      | when the job goes over it                     |
//! |----------------|---------------------------------|-----------------------------------------------|
//! | `cpu_seconds`  | RLIMIT_CPU (soft N, hard N+1)   | SIGXCPU, then SIGKILL a second later          |
//! | `memory_mb`    | RLIMIT_AS (Linux only)          | allocations fail (the job decides what next)  |
//! | `open_files`   | RLIMIT_NOFILE                   | `open` fails with EMFILE                      |
//! | `processes`    | RLIMIT_NPROC                    | `fork` fails with EAGAIN                      |
//! | `file_size_mb` | RLIMIT_FSIZE                    | SIGXFSZ (a write that would go past it)       |
//! | `nice`         | setpriority, at least drain's   | — (a gentler share of the CPU)                |
//!
//! RLIMIT_CPU, RLIMIT_NOFILE and RLIMIT_FSIZE are per process; RLIMIT_NPROC counts every process
//! of the user (all of them, not only the job's), and is not enforced for root. macOS keeps
//! RLIMIT_AS and RLIMIT_DATA but does not enforce them, so there `memory_mb` is refused rather
//! than silently not applied (see [`unsupported`]).

use std::io;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::job::result::JobResult;
use crate::sys::limits::{self as sys, Resource};

/// The largest value accepted for a count or size (and the largest `cpu_seconds`: 100 years).
pub const MAX: u64 = 3_155_760_000;

/// The limits asked for; `None`: not limited (the drain's own limit applies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "Value")]
pub struct ResourceLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size_mb: Option<u64>,
    /// From 0 (normal) to 19 (gentlest). Lower values would raise the job above the user's other
    /// work, which only root may do; execq does not offer it. A drain that is itself gentler runs
    /// the job at its own niceness instead (see [`Plan::new`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nice: Option<u64>,
}

/// The keys of a `limits` object.
pub const KEYS: [&str; 6] = [
    "cpu_seconds",
    "memory_mb",
    "open_files",
    "processes",
    "file_size_mb",
    "nice",
];

impl TryFrom<Value> for ResourceLimits {
    type Error = String;

    /// Reads a `limits` object, naming the key of each mistake.
    fn try_from(value: Value) -> Result<Self, String> {
        let Value::Object(object) = value else {
            return Err(format!(
                "must be a table or object such as {{\"cpu_seconds\": 60}}, found {}",
                crate::job::type_name(&value)
            ));
        };
        let mut limits = Self::default();
        for (key, value) in &object {
            let (slot, range) = match key.as_str() {
                "cpu_seconds" => (&mut limits.cpu_seconds, 1..=MAX),
                "memory_mb" => (&mut limits.memory_mb, 1..=MAX),
                "open_files" => (&mut limits.open_files, 1..=MAX),
                "processes" => (&mut limits.processes, 1..=MAX),
                "file_size_mb" => (&mut limits.file_size_mb, 1..=MAX),
                "nice" => (&mut limits.nice, 0..=19),
                _ => {
                    return Err(format!(
                        "unknown limit `{key}` (known: {})",
                        KEYS.join(", ")
                    ));
                }
            };
            if value.is_null() {
                continue;
            }
            let n = value
                .as_u64()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    format!(
                        "`{key}` must be a whole number from {} to {}, found {value}",
                        range.start(),
                        range.end()
                    )
                })?;
            *slot = Some(n);
        }
        Ok(limits)
    }
}

impl ResourceLimits {
    /// Reads a job's `limits` object (absent or `null`: none).
    pub fn of_job(job: &serde_json::Map<String, Value>) -> Result<Self, String> {
        match job.get("limits") {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(value) => Self::try_from(value.clone()),
        }
    }

    /// These limits, with `defaults` for each one not given.
    pub fn or(self, defaults: Self) -> Self {
        Self {
            cpu_seconds: self.cpu_seconds.or(defaults.cpu_seconds),
            memory_mb: self.memory_mb.or(defaults.memory_mb),
            open_files: self.open_files.or(defaults.open_files),
            processes: self.processes.or(defaults.processes),
            file_size_mb: self.file_size_mb.or(defaults.file_size_mb),
            nice: self.nice.or(defaults.nice),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Each limit by its key in config.toml (`limits.cpu_seconds`...), with its value.
    pub fn entries(&self) -> [(&'static str, Option<u64>); 6] {
        [
            ("limits.cpu_seconds", self.cpu_seconds),
            ("limits.memory_mb", self.memory_mb),
            ("limits.open_files", self.open_files),
            ("limits.processes", self.processes),
            ("limits.file_size_mb", self.file_size_mb),
            ("limits.nice", self.nice),
        ]
    }
}

/// Why these limits cannot be applied on this platform, if they cannot.
pub fn unsupported(limits: &ResourceLimits) -> Option<String> {
    if cfg!(target_os = "macos") && limits.memory_mb.is_some() {
        return Some(
            "`memory_mb` cannot be enforced on macOS (the kernel does not enforce RLIMIT_AS or \
             RLIMIT_DATA); remove it from the job (or from config.toml's [limits]), or use \
             `timeout` and `cpu_seconds`"
                .into(),
        );
    }
    None
}

/// What the child does between fork and exec: computed in drain, so the child only makes
/// system calls.
#[derive(Clone, Debug, Default)]
pub struct Plan(sys::ChildLimits);

const MIB: u64 = 1024 * 1024;

impl Plan {
    /// The calls that apply `limits`. A hard limit is never raised above drain's own (which only
    /// root could do); a job asking for more than drain has gets drain's. Likewise `nice` never
    /// goes below drain's own niceness: a job asking for less than drain has gets drain's, so a
    /// drain started gentle (`nice -n 10 execq drain`, a service's `Nice=`) never runs a job
    /// above itself, even as root.
    pub fn new(limits: &ResourceLimits) -> io::Result<Self> {
        let mut rlimits = Vec::new();
        let mut add = |resource, soft: u64, hard: u64| -> io::Result<()> {
            let current = sys::hard(resource)?;
            let cap = |v: u64| {
                let v = sys::Value::try_from(v).unwrap_or(sys::INFINITY);
                if current == sys::INFINITY {
                    v
                } else {
                    v.min(current)
                }
            };
            rlimits.push((
                resource,
                sys::Limit {
                    rlim_cur: cap(soft),
                    rlim_max: cap(hard),
                },
            ));
            Ok(())
        };
        if let Some(secs) = limits.cpu_seconds {
            // SIGXCPU at the soft limit (a job may catch it to clean up), SIGKILL a second later.
            add(Resource::Cpu, secs, secs + 1)?;
        }
        if let Some(mb) = limits.memory_mb {
            add(Resource::AddressSpace, mb * MIB, mb * MIB)?;
        }
        if let Some(n) = limits.open_files {
            add(Resource::OpenFiles, n, n)?;
        }
        if let Some(n) = limits.processes {
            add(Resource::Processes, n, n)?;
        }
        if let Some(mb) = limits.file_size_mb {
            add(Resource::FileSize, mb * MIB, mb * MIB)?;
        }
        let nice = limits
            .nice
            .and_then(|n| i32::try_from(n).ok())
            .map(|n| n.max(sys::niceness()));
        Ok(Self(sys::ChildLimits { rlimits, nice }))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The calls, for the child to make between fork and exec (see
    /// `sys::limits::apply_before_exec`).
    pub fn into_child(self) -> sys::ChildLimits {
        self.0
    }
}

/// How shells (glibc's and macOS's signal names, zsh's own) and tools report SIGXCPU, in lower
/// case.
const CPU_REPORTS: &[&str] = &[
    "cpu time limit exceeded",
    "cputime limit exceeded",
    "cpu limit exceeded",
];

/// How they report SIGXFSZ, or the EFBIG a write past the limit gets when SIGXFSZ is handled.
const FILE_SIZE_REPORTS: &[&str] = &[
    "file too large",
    "file size limit exceeded",
    "filesize limit exceeded",
];

/// Which limit, if any, ended a job that did not complete: `(key, why)`.
///
/// A signal tells for `cpu_seconds` (SIGXCPU, or SIGKILL once the job could have used its time)
/// and `file_size_mb` (SIGXFSZ), but only the signal seen in the job's wait status: an exit status
/// of 152 or 153 (128 + SIGXCPU or SIGXFSZ, the same numbers on macOS and Linux) may be the
/// job's own choice. A shell whose command a limit killed exits so too, and says why on stderr
/// ("CPU time limit exceeded", macOS's "Cputime limit exceeded", zsh's "cpu limit exceeded"),
/// which is what names the limit then. The other limits make a system call fail and leave the
/// job to decide; execq then names the limit when the job's stderr shows that call failing (such
/// as "Cannot allocate memory", "MemoryError", "Too many open files", "Resource temporarily
/// unavailable" from a fork).
pub fn which(limits: &ResourceLimits, result: &JobResult) -> Option<(&'static str, String)> {
    let signal = result.signal;
    if let Some(secs) = limits.cpu_seconds {
        // SIGKILL from the hard limit comes a second after SIGXCPU, for a job that caught that;
        // it can only be the limit's if the job ran long enough to use the time on every core.
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as u64;
        let over = result.duration_ms.saturating_mul(cores) >= secs.saturating_mul(1000);
        let named = shows_any_case(result, CPU_REPORTS);
        if signal == Some(libc::SIGXCPU) || named || (signal == Some(libc::SIGKILL) && over) {
            return Some((
                "cpu",
                format!("went over its CPU time limit (cpu_seconds = {secs})"),
            ));
        }
    }
    if let Some(mb) = limits.file_size_mb {
        let named = shows_any_case(result, FILE_SIZE_REPORTS);
        if signal == Some(libc::SIGXFSZ) || named {
            return Some((
                "file_size",
                format!("wrote past its file size limit (file_size_mb = {mb})"),
            ));
        }
    }
    if let Some(mb) = limits.memory_mb {
        const MARKERS: &[&str] = &[
            "Cannot allocate memory",
            "MemoryError",
            "out of memory",
            "Out of memory",
            "memory allocation of",
            "std::bad_alloc",
            "failed to allocate",
        ];
        if shows(result, MARKERS) {
            return Some((
                "memory",
                format!("could not allocate memory past its limit (memory_mb = {mb})"),
            ));
        }
    }
    if let Some(n) = limits.open_files
        && shows(result, &["Too many open files"])
    {
        return Some((
            "open_files",
            format!("could not open more files (open_files = {n})"),
        ));
    }
    if let Some(n) = limits.processes {
        const MARKERS: &[&str] = &[
            "Resource temporarily unavailable",
            "Cannot fork",
            "can't fork",
            "fork: retry",
        ];
        if shows(result, MARKERS) {
            return Some((
                "processes",
                format!(
                    "could not start more processes (processes = {n}, counting all of the user's)"
                ),
            ));
        }
    }
    None
}

fn shows(result: &JobResult, markers: &[&str]) -> bool {
    markers.iter().any(|m| result.stderr.contains(m))
}

/// [`shows`], whatever the case: shells word signal reports differently (zsh in lower case).
fn shows_any_case(result: &JobResult, markers: &[&str]) -> bool {
    let stderr = result.stderr.to_lowercase();
    markers.iter().any(|m| stderr.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(value: Value) -> Result<ResourceLimits, String> {
        ResourceLimits::of_job(value.as_object().unwrap())
    }

    #[test]
    fn limits_are_read_and_checked() {
        let limits = of(json!({"limits": {"cpu_seconds": 5, "nice": 10}})).unwrap();
        assert_eq!(limits.cpu_seconds, Some(5));
        assert_eq!(limits.nice, Some(10));
        assert_eq!(of(json!({})).unwrap(), ResourceLimits::default());
        let typo = of(json!({"limits": {"cpu": 5}})).unwrap_err();
        assert!(typo.contains("unknown limit `cpu`"), "{typo}");
        let zero = of(json!({"limits": {"memory_mb": 0}})).unwrap_err();
        assert!(
            zero.contains("`memory_mb` must be a whole number from 1 to"),
            "{zero}"
        );
        let negative = of(json!({"limits": {"nice": -5}})).unwrap_err();
        assert!(
            negative.contains("`nice` must be a whole number from 0 to 19"),
            "{negative}"
        );
        let text = of(json!({"limits": {"open_files": "10"}})).unwrap_err();
        assert!(
            text.contains("`open_files` must be a whole number"),
            "{text}"
        );
        assert!(
            of(json!({"limits": 5}))
                .unwrap_err()
                .contains("must be a table or object")
        );
    }

    #[test]
    fn a_jobs_own_limit_beats_the_default() {
        let job = of(json!({"limits": {"cpu_seconds": 5}})).unwrap();
        let defaults = of(json!({"limits": {"cpu_seconds": 60, "open_files": 100}})).unwrap();
        let merged = job.or(defaults);
        assert_eq!(merged.cpu_seconds, Some(5));
        assert_eq!(merged.open_files, Some(100));
    }

    #[test]
    fn a_hard_limit_is_never_raised() {
        let huge = ResourceLimits {
            open_files: Some(MAX),
            ..ResourceLimits::default()
        };
        let plan = Plan::new(&huge).unwrap();
        let current = sys::hard(Resource::OpenFiles).unwrap();
        assert!(plan.0.rlimits[0].1.rlim_max <= current);
    }
}

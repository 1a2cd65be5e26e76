//! The batch script a forwarded job runs: the job's command in its folder, environment and
//! limits, under a watchdog that ends it at its timeout (in seconds: Slurm's own limit is in whole
//! minutes), recording how it ended in a file beside its output, so a drain that comes long after
//! Slurm has forgotten the job still files the right record.
//!
//! The files in the job's folder: `stdout`, `stderr` (Slurm writes them), `started` (when and
//! where it started), `status` (written last, by rename: `exit=N`, plus `timeout=1` or `signal=N`,
//! or `error=...` when it could not start), `timed_out` (the watchdog fired), `cancelled`
//! (`execq cancel` asked, before it called `scancel`).

use std::path::Path;
use std::time::Duration;

use crate::job::limits::ResourceLimits;
use crate::job::{JobSpec, Program};

/// What the script needs beyond the job.
pub struct Frame<'a> {
    /// The job's folder (shared with the compute nodes).
    pub dir: &'a Path,
    pub queue: &'a Path,
    /// The job's name, as `EXECQ_JOB` gives it.
    pub job: &'a str,
    /// Where a job without `cwd` starts if that folder exists there (the drain's own).
    pub fallback_cwd: Option<&'a Path>,
    /// The copy of a script job's file in `dir`.
    pub script_copy: &'a Path,
    pub timeout: Duration,
    pub grace: Duration,
    pub limits: &'a ResourceLimits,
}

/// The script, or why the job cannot be written as one.
///
/// The script's own lines run with its own environment; the job's `env`, limits and niceness
/// apply only in the subshell that becomes the job (a job's `PATH` or `IFS` cannot break the
/// watchdog). Nothing from the job is written outside a quoted word.
pub fn render(spec: &JobSpec, frame: &Frame<'_>) -> Result<String, String> {
    let q = |text: &str| quote(text);
    let path = |p: &Path| quote(&p.to_string_lossy());
    let mut s = String::from(
        "#!/bin/bash
# A job of execq, forwarded by `execq drain`.
",
    );
    s += &format!(
        "__execq_dir={}
",
        path(frame.dir)
    );
    s += STAMP;
    match (&spec.cwd, frame.fallback_cwd) {
        (Some(cwd), _) => {
            s += &format!(
                "cd -- {} || {{ __execq_finish error=cwd; exit 1; }}\n",
                path(cwd)
            );
        }
        (None, Some(cwd)) => {
            s += &format!(
                "cd -- {} 2>/dev/null || cd -- \"${{HOME:-/}}\" 2>/dev/null || cd /\n",
                path(cwd)
            );
        }
        (None, None) => s += "cd -- \"${HOME:-/}\" 2>/dev/null || cd /\n",
    }
    let mut child =
        String::from("unset EXECQ_FAULT EXECQ_CRASH_AT EXECQ_CRASH_TRACE EXECQ_WAIT_FALLBACK\n");
    child += &format!(
        "export EXECQ_QUEUE={} EXECQ_JOB={}\n",
        path(frame.queue),
        q(frame.job)
    );
    if let Some(id) = &spec.task_id {
        child += &format!("export EXECQ_TASK_ID={}\n", q(id));
    }
    for (name, value) in &spec.env {
        if !is_shell_name(name) {
            return Err(format!(
                "`env` name `{name}` cannot be passed to a Slurm job (bash takes letters, digits and `_`, not starting with a digit)"
            ));
        }
        if name.starts_with("__execq_") || READ_ONLY.contains(&name.as_str()) {
            return Err(format!(
                "`env` name `{name}` cannot be passed to a Slurm job (bash keeps it for itself)"
            ));
        }
        child += &format!("export {name}={}\n", q(value));
    }
    child += &ulimits(frame.limits);
    // Found before the job's `PATH` applies.
    let nice = (frame.limits.nice)
        .map(|n| format!("\"$__execq_nice\" -n {n} "))
        .unwrap_or_default();
    if frame.limits.nice.is_some() {
        s += "__execq_nice=$(command -v nice || echo nice)\n";
    }
    child += &format!("exec {nice}{} </dev/null\n", command(spec, frame));
    s += "set -m\n";
    s += &format!("(\n{child}) &\n");
    s += &format!(
        include_str!("watch.sh"),
        timeout = frame.timeout.as_secs_f64(),
        grace = frame.grace.as_secs_f64().max(1.0),
    );
    Ok(s)
}

/// The shell words that start the job's program.
fn command(spec: &JobSpec, frame: &Frame<'_>) -> String {
    let words: Vec<String> = match &spec.program {
        Program::Argv { program, args } => std::iter::once(program)
            .chain(args)
            .map(|w| quote(w))
            .collect(),
        Program::Shell(line) => vec!["/bin/sh".into(), "-c".into(), quote(line)],
        Program::Script { interpreter } => interpreter
            .iter()
            .map(|w| quote(w))
            .chain(std::iter::once(quote(&frame.script_copy.to_string_lossy())))
            .collect(),
    };
    words.join(" ")
}

/// `ulimit` lines for the limits Slurm has no option for (memory goes to `--mem`).
fn ulimits(limits: &ResourceLimits) -> String {
    let mut s = String::new();
    let mut set = |flag: &str, value: Option<u64>| {
        if let Some(v) = value {
            s += &format!("ulimit -{flag} {v} || exit 126\n");
        }
    };
    set("t", limits.cpu_seconds);
    set("n", limits.open_files);
    set("u", limits.processes);
    // bash counts file sizes in 1024-byte blocks.
    set("f", limits.file_size_mb.map(|mb| mb.saturating_mul(1024)));
    s
}

/// The helpers every script starts with: `__execq_stamp` (the time, as records give it) and
/// `__execq_finish` (writes `status` whole, by rename); `started` is written first thing.
const STAMP: &str = r#"__execq_stamp() { date +%Y-%m-%dT%H:%M:%S.%6N%:z; }
__execq_finish() { { printf '%s\n' "$@"; printf 'finished_at=%s\n' "$(__execq_stamp)"; } >"$__execq_dir/status.tmp" && mv -f -- "$__execq_dir/status.tmp" "$__execq_dir/status"; }
{ printf 'started_at=%s\nnode=%s\n' "$(__execq_stamp)" "$(hostname)"; } >"$__execq_dir/started.tmp" && mv -f -- "$__execq_dir/started.tmp" "$__execq_dir/started"
"#;

/// Variables bash will not let a script set.
const READ_ONLY: [&str; 9] = [
    "SHELLOPTS",
    "BASHOPTS",
    "UID",
    "EUID",
    "PPID",
    "BASH_VERSINFO",
    "BASHPID",
    "GROUPS",
    "BASH_ARGV0",
];

fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// One word for bash. Job fields never hold NUL (checked when the job is read).
fn quote(word: &str) -> String {
    shlex::try_quote(word)
        .map(|w| w.into_owned())
        .unwrap_or_else(|_| "''".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_words_stay_one_word() {
        for word in ["a b", "$(touch x)", "`id`", "it's", "x\ny", "-n", ""] {
            let quoted = quote(word);
            let back = shlex::split(&quoted).unwrap();
            assert_eq!(back, vec![word.to_owned()], "{quoted}");
        }
    }

    #[test]
    fn env_names_bash_cannot_export_are_refused() {
        assert!(is_shell_name("PATH_2"));
        for bad in ["2X", "A-B", "A B", "", "A=B"] {
            assert!(!is_shell_name(bad), "{bad}");
        }
    }
}

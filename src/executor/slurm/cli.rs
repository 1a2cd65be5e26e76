//! Running Slurm's commands (`sbatch`, `squeue`, `scancel`), found on `PATH` and configured by
//! the environment (`SLURM_CONF`) as for any Slurm user, and telling a fault that passes (the
//! controller cannot be reached) from a refusal of the job itself.

use std::io::Read;
use std::os::fd::BorrowedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

/// How long a Slurm command may take before the drain stops waiting for it. A command facing an
/// unreachable controller gives up by itself after its `MessageTimeout` (10 s by default) and a
/// retry or two.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How a Slurm command went.
#[derive(Debug)]
pub enum Ran {
    /// It exited 0: its standard output.
    Ok(String),
    /// It said no: what it said, and whether that is a fault that passes (Slurm could not be
    /// reached at all: nothing was done).
    Refused { message: String, transient: bool },
    /// It could not be run, did not end in time, or broke off talking to Slurm midway (a reply
    /// that timed out): what it asked for may have been done.
    Unknown(String),
}

/// Runs `program args`, lending it `lock` (see `executor::Job::lock`).
pub fn run(program: &str, args: &[String], lock: Option<BorrowedFd<'_>>) -> Ran {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(fd) = lock {
        crate::sys::lend_fd(&mut command, fd);
    }
    // Defaults from the environment that would run a job more than once, not at all, under
    // another name, or hold the drain (the options themselves are refused in config.toml).
    for var in [
        "SBATCH_ARRAY_INX",
        "SBATCH_WAIT",
        "SBATCH_REQUEUE",
        "SBATCH_JOB_NAME",
    ] {
        command.env_remove(var);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ran::Refused {
                message: format!("`{program}` was not found on PATH (is Slurm installed here?)"),
                transient: true,
            };
        }
        Err(e) => return Ran::Unknown(format!("cannot run `{program}`: {e}")),
    };
    let status = match child.wait_timeout(COMMAND_TIMEOUT) {
        Ok(Some(status)) => status,
        Ok(None) => {
            return Ran::Unknown(format!(
                "`{program}` did not answer within {} s",
                COMMAND_TIMEOUT.as_secs()
            ));
        }
        Err(e) => return Ran::Unknown(format!("cannot wait for `{program}`: {e}")),
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    if status.success() {
        return Ran::Ok(out);
    }
    let message = tidy(&err, &out, status);
    Ran::classify(message, status.code().is_none())
}

impl Ran {
    /// A failed command's answer, judged by what it says, in this order: anything that may have
    /// reached Slurm midway (a lost reply, a reset connection, the command killed) is unknown
    /// (looked up, never repeated blindly); a controller never reached, or a client that could not
    /// even ask (no configuration, no credential), is a fault that passes; Slurm's answer about
    /// the request itself ("Batch job submission failed: Invalid partition ...") is a refusal.
    /// Anything else is unknown.
    fn classify(message: String, killed: bool) -> Self {
        if killed || is_midway(&message) {
            return Self::Unknown(message);
        }
        if is_transient(&message) {
            return Self::Refused {
                message,
                transient: true,
            };
        }
        if is_answer(&message) {
            return Self::Refused {
                message,
                transient: false,
            };
        }
        Self::Unknown(message)
    }
}

/// Slurm's message, on one line without its `sbatch: error:` prefixes.
fn tidy(err: &str, out: &str, status: std::process::ExitStatus) -> String {
    let text = if err.trim().is_empty() { out } else { err };
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            l.split_once(": error: ").map_or(l, |(_, rest)| rest)
        })
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return format!("it exited with {status} and said nothing");
    }
    lines.join("; ")
}

/// Whether Slurm's message says the controller was never reached, or the command could not even
/// ask (its configuration or credential missing): nothing was done.
pub fn is_transient(message: &str) -> bool {
    const UNREACHED: [&str; 11] = [
        "unable to contact slurm controller",
        "temporarily unable",
        "temporarily unavailable",
        "connection refused",
        "connect failure",
        "could not establish a configuration source",
        "unable to establish controller machine",
        "munge",
        "authentication",
        "slurm.conf",
        "was not found on path",
    ];
    says(message, &UNREACHED)
}

/// Whether Slurm's message says the exchange broke off midway: the controller may have acted
/// (a submission it accepted before its reply was lost). Checked before [`is_transient`]: a
/// busy controller's "temporarily unable ..., retrying" may come before the lost reply.
fn is_midway(message: &str) -> bool {
    const MIDWAY: [&str; 9] = [
        "socket timed out",
        "zero bytes were transmitted",
        "communication connection failure",
        "transport endpoint",
        "connection reset",
        "message receive failure",
        "message send failure",
        "unexpected message received",
        "broken pipe",
    ];
    says(message, &MIDWAY)
}

/// Whether the message is Slurm's answer about the request itself.
fn is_answer(message: &str) -> bool {
    const ANSWERS: [&str; 6] = [
        "submission failed:",
        "invalid",
        "not available",
        "denied",
        "violates",
        "not permitted",
    ];
    says(message, &ANSWERS)
}

/// Whether `message` holds any of `phrases` (lower case), whatever its case.
fn says(message: &str, phrases: &[&str]) -> bool {
    let lower = message.to_lowercase();
    phrases.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_faults_pass_and_refusals_stay() {
        assert!(is_transient(
            "Batch job submission failed: Unable to contact slurm controller (connect failure)"
        ));
        assert!(!is_transient(
            "Batch job submission failed: Invalid partition name specified"
        ));
        assert!(!is_transient(
            "Batch job submission failed: Invalid account or account/partition combination specified"
        ));
    }

    #[test]
    fn a_missing_command_is_a_fault_that_passes() {
        let ran = run("execq-no-such-sbatch", &[], None);
        assert!(
            matches!(
                ran,
                Ran::Refused {
                    transient: true,
                    ..
                }
            ),
            "{ran:?}"
        );
    }
}

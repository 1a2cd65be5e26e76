//! A service verb as a *plan*: a list of [`Action`]s that is either carried out or, with
//! `--dry-run`, printed as the shell commands it amounts to.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::UnitFile;
use crate::queue::Queue;
use crate::queue::lock::DrainLock;
use crate::signals::Shutdown;

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the queue's folders (0700).
    CreateQueue(PathBuf),
    /// Create an empty file (0600) if it is missing.
    Touch(PathBuf),
    /// Write a file with mode 0644, replacing it.
    Write(UnitFile),
    Remove(PathBuf),
    /// Run a command; with `may_fail`, a non-zero exit is fine.
    Run {
        argv: Vec<String>,
        may_fail: bool,
    },
    /// Run a command until it fails (the service is gone), for up to 10 s.
    WaitUntilFails(Vec<String>),
    /// Run a command that may fail for a moment (`launchctl bootstrap` right after `bootout`
    /// answers "5: Input/output error" now and then): up to [`RETRIES`] tries with backoff, then
    /// fail with `hint`.
    Retry {
        argv: Vec<String>,
        hint: String,
    },
    /// Wait (up to [`DRAIN_WAIT`]) for the drain running a job in this queue to finish, and keep
    /// the queue locked until [`Action::ReleaseQueue`], so that stopping the service does not
    /// interrupt a job.
    HoldQueue(PathBuf),
    ReleaseQueue,
}

/// Tries of an [`Action::Retry`]; the waits between them double from 250 ms (about 4 s in all).
pub const RETRIES: u32 = 5;

/// How long reinstalling waits for a running job before giving up (see [`Action::HoldQueue`]).
pub const DRAIN_WAIT: Duration = Duration::from_secs(60);

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateQueue(p) => write!(
                f,
                "mkdir -p -m 0700 {}/{{pending,running,completed,failed,results,tmp}}",
                shell_quote(&p.display().to_string())
            ),
            Self::Touch(p) => write!(f, "touch {}", shell_quote(&p.display().to_string())),
            Self::Write(unit) => write!(
                f,
                "write {} (mode 0644)",
                shell_quote(&unit.path.display().to_string())
            ),
            Self::Remove(p) => write!(f, "rm -f {}", shell_quote(&p.display().to_string())),
            Self::Run { argv, may_fail } => {
                write!(
                    f,
                    "{}{}",
                    join_argv(argv),
                    if *may_fail { " || true" } else { "" }
                )
            }
            Self::WaitUntilFails(argv) => write!(
                f,
                "while {} >/dev/null 2>&1; do sleep 0.1; done",
                join_argv(argv)
            ),
            Self::Retry { argv, .. } => {
                write!(f, "{} # tried up to {RETRIES} times", join_argv(argv))
            }
            Self::HoldQueue(queue) => write!(
                f,
                "# wait up to {} s for a job running in {} to finish, and lock the queue",
                DRAIN_WAIT.as_secs(),
                shell_quote(&queue.display().to_string())
            ),
            Self::ReleaseQueue => write!(f, "# unlock the queue"),
        }
    }
}

pub(crate) fn join_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `text` for a POSIX shell when it needs it.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Carries out a plan, or prints it with `dry_run`.
pub fn execute(plan: &[Action], dry_run: bool, out: &mut dyn Write) -> Result<()> {
    let mut held = None;
    for action in plan {
        if dry_run {
            writeln!(out, "{action}")?;
            continue;
        }
        match action {
            Action::HoldQueue(root) => held = Some(hold_queue(&Queue::new(root))?),
            Action::ReleaseQueue => held = None,
            other => perform(other)?,
        }
    }
    drop(held);
    Ok(())
}

/// Takes the queue's lock, waiting up to [`DRAIN_WAIT`] for a drain that holds it.
fn hold_queue(queue: &Queue) -> Result<Option<DrainLock>> {
    if !queue.pending.is_dir() {
        return Ok(None);
    }
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        if let Some(lock) = crate::queue::lock::acquire(queue, false, &Shutdown::default())? {
            return Ok(Some(lock));
        }
        if Instant::now() >= deadline {
            bail!(
                "a drain of `{}` has been running a job for over {} s; stopping the service now would \
                 interrupt it. Run this again once `execq status` shows no job running",
                queue.root.display(),
                DRAIN_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn retry(argv: &[String], hint: &str) -> Result<()> {
    let mut wait = Duration::from_millis(250);
    let mut last = String::new();
    for attempt in 1..=RETRIES {
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("failed to run `{}`", join_argv(argv)))?;
        if out.status.success() {
            return Ok(());
        }
        last = format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if attempt < RETRIES {
            std::thread::sleep(wait);
            wait *= 2;
        }
    }
    bail!(
        "`{}` failed {RETRIES} times (last: {last}). {hint}",
        join_argv(argv)
    )
}

fn perform(action: &Action) -> Result<()> {
    match action {
        Action::Retry { argv, hint } => retry(argv, hint),
        Action::HoldQueue(_) | Action::ReleaseQueue => Ok(()),
        Action::CreateQueue(root) => Queue::new(root).open(),
        Action::Touch(path) => OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map(drop)
            .with_context(|| format!("failed to create `{}`", path.display())),
        Action::Write(unit) => write_unit(unit),
        Action::Remove(path) => crate::fsutil::remove_if_exists(path),
        Action::Run { argv, may_fail } => {
            let status = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .status()
                .with_context(|| format!("failed to run `{}`", join_argv(argv)))?;
            if !status.success() && !may_fail {
                bail!("`{}` failed ({status})", join_argv(argv));
            }
            Ok(())
        }
        Action::WaitUntilFails(argv) => wait_until_fails(argv),
    }
}

fn write_unit(unit: &UnitFile) -> Result<()> {
    if let Some(dir) = unit.path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("failed to create `{}`", dir.display()))?;
    }
    let tmp = unit.path.with_extension("execq-tmp");
    crate::fault::step("write", &tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("failed to write `{}`", tmp.display()))?;
    file.write_all(unit.content.as_bytes())
        .and_then(|()| crate::fsutil::try_sync(&file, &tmp))
        .with_context(|| format!("failed to write `{}`", tmp.display()))?;
    crate::fsutil::rename(&tmp, &unit.path)
}

fn wait_until_fails(argv: &[String]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("failed to run `{}`", join_argv(argv)))?;
        if !status.success() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "`{}` still succeeds after 10 s: the old service did not go away",
        join_argv(argv)
    )
}

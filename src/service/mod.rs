//! `execq service`: render, install, uninstall and inspect the background agent that runs drains —
//! a launchd LaunchAgent on macOS, systemd user units elsewhere.
//!
//! Each verb is a *plan*: a list of [`Action`]s that is either carried out or, with `--dry-run`,
//! printed. The unit files come from the templates in `launchd/` and `systemd/`, embedded at build
//! time so the repository's files are the single source.

mod launchd;
mod systemd;

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::queue::Queue;

/// The service label when none is given: the launchd Label and the systemd unit name.
pub const DEFAULT_LABEL: &str = "io.execq.drain";

/// Which service manager to target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Launchd,
    Systemd,
}

impl Platform {
    /// launchd on macOS, systemd everywhere else.
    pub fn native() -> Self {
        if cfg!(target_os = "macos") {
            Self::Launchd
        } else {
            Self::Systemd
        }
    }
}

/// Everything the unit files need, as absolute paths.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub platform: Platform,
    pub label: String,
    pub queue: PathBuf,
    pub bin: PathBuf,
    pub home: PathBuf,
    pub uid: u32,
}

impl ServiceSpec {
    /// The PATH jobs get: the system's folders plus Homebrew's and the user's own bin folders.
    pub fn path_env(&self) -> String {
        let home = self.home.display();
        let system = match self.platform {
            Platform::Launchd => {
                "/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/usr/local/sbin:/opt/local/bin:\
                 /opt/local/sbin:/usr/bin:/bin:/usr/sbin:/sbin"
            }
            Platform::Systemd => "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        };
        format!("{home}/.local/bin:{home}/.cargo/bin:{system}")
    }

    /// Where the service's own stdout and stderr go (launchd only; the seed's names).
    pub fn server_logs(&self) -> [PathBuf; 2] {
        [
            self.queue.join("server.log"),
            self.queue.join("server.error.log"),
        ]
    }
}

/// A file the service consists of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitFile {
    pub path: PathBuf,
    pub content: String,
}

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

fn join_argv(argv: &[String]) -> String {
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

/// The service's files, rendered for this machine.
pub fn render(spec: &ServiceSpec) -> Vec<UnitFile> {
    match spec.platform {
        Platform::Launchd => vec![launchd::plist(spec)],
        Platform::Systemd => systemd::units(spec),
    }
}

/// The steps that install (or reinstall) the service and start it.
pub fn install_plan(spec: &ServiceSpec) -> Vec<Action> {
    let mut plan = vec![Action::CreateQueue(spec.queue.clone())];
    if spec.platform == Platform::Launchd {
        plan.extend(spec.server_logs().into_iter().map(Action::Touch));
    }
    plan.extend(render(spec).into_iter().map(Action::Write));
    plan.extend(match spec.platform {
        Platform::Launchd => launchd::load(spec),
        Platform::Systemd => systemd::load(spec),
    });
    plan
}

/// The steps that stop the service and remove its files.
pub fn uninstall_plan(spec: &ServiceSpec) -> Vec<Action> {
    match spec.platform {
        Platform::Launchd => launchd::unload(spec),
        Platform::Systemd => systemd::unload(spec),
    }
}

/// What the service manager says about the service.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServiceState {
    pub label: String,
    pub manager: &'static str,
    /// Its files are where `install` puts them.
    pub installed: bool,
    /// The manager has it loaded and watching; `None` if the manager could not be asked.
    pub loaded: Option<bool>,
    /// Why `loaded` is unknown (the manager's own words), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_because: Option<String>,
    pub files: Vec<PathBuf>,
}

/// Asks the service manager about the service (never fails: an unreachable manager is `None`).
pub fn state(spec: &ServiceSpec) -> ServiceState {
    let files: Vec<PathBuf> = render(spec).into_iter().map(|u| u.path).collect();
    let installed = files.iter().all(|p| p.exists());
    let (manager, probe) = match spec.platform {
        Platform::Launchd => ("launchd", launchd::probe(spec)),
        Platform::Systemd => ("systemd", systemd::probe(spec)),
    };
    let (loaded, unknown_because) = match Command::new(&probe[0])
        .args(&probe[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(e) => (None, Some(format!("cannot run `{}`: {e}", probe[0]))),
        Ok(out) if out.status.success() => (Some(true), None),
        Ok(out) if not_loaded(spec.platform, out.status.code()) => (Some(false), None),
        Ok(out) => (
            None,
            Some(format!(
                "`{}` failed ({}): {}",
                join_argv(&probe),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        ),
    };
    ServiceState {
        label: spec.label.clone(),
        manager,
        installed,
        loaded,
        unknown_because,
        files,
    }
}

/// Whether the probe's exit status means "not loaded" rather than "could not ask" (no user bus
/// over ssh or cron, no GUI session): `systemctl is-active` answers 3 (inactive) or 4 (no such
/// unit); `launchctl print` answers 113 (no such service).
fn not_loaded(platform: Platform, code: Option<i32>) -> bool {
    match platform {
        Platform::Systemd => matches!(code, Some(3 | 4)),
        Platform::Launchd => code == Some(113),
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
fn hold_queue(queue: &Queue) -> Result<Option<crate::queue::lock::DrainLock>> {
    if !queue.pending.is_dir() {
        return Ok(None);
    }
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let shutdown = crate::signals::Shutdown::default();
        if let Some(lock) = crate::queue::lock::acquire(queue, false, &shutdown)? {
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
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("failed to write `{}`", tmp.display()))?;
    file.write_all(unit.content.as_bytes())
        .and_then(|()| crate::sys::full_sync(&file))
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

/// Replaces each `@NAME@` in `template` with its value, escaped by `escape`.
fn fill(template: &str, values: &[(&str, String)], escape: impl Fn(&str) -> String) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("@{name}@"), &escape(value))
        })
}

fn values(spec: &ServiceSpec) -> Vec<(&'static str, String)> {
    vec![
        ("LABEL", spec.label.clone()),
        ("EXECQ", spec.bin.display().to_string()),
        ("QUEUE", spec.queue.display().to_string()),
        ("HOME", spec.home.display().to_string()),
        ("PATH", spec.path_env()),
    ]
}

/// The folder `install` writes the service's files to.
fn home_path(spec: &ServiceSpec, rel: &str) -> PathBuf {
    spec.home.join(rel)
}

/// Checks a label is usable as a file and unit name.
pub fn check_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok || label.starts_with('.') {
        bail!(
            "invalid label `{label}`: use letters, digits, `.`, `-` and `_` (for example `{DEFAULT_LABEL}`)"
        );
    }
    Ok(())
}

//! `execq service`: render, install, uninstall and inspect the background agent that runs drains —
//! a launchd LaunchAgent on macOS, systemd user units elsewhere.
//!
//! Each verb is a *plan* ([`plan`]) that is either carried out or, with `--dry-run`, printed. The
//! unit files come from the templates in `launchd/` and `systemd/`, embedded at build time so the
//! repository's files are the single source.

mod launchd;
mod plan;
mod systemd;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use plan::join_argv;

use crate::queue::Queue;
use crate::sys;
pub use plan::{Action, execute};

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

/// The service for `queue` as this machine would install it.
pub fn spec(
    queue: &Queue,
    label: &str,
    bin: Option<&Path>,
    platform: Option<Platform>,
) -> Result<ServiceSpec> {
    check_label(label)?;
    let home = sys::home().context("HOME is not set")?;
    let bin = match bin {
        Some(bin) => {
            std::path::absolute(bin).with_context(|| format!("invalid path `{}`", bin.display()))?
        }
        // Absolute (macOS may report `./target/release/execq`), but not canonical, so a Homebrew
        // symlink keeps pointing at the current version.
        None => std::env::current_exe()
            .and_then(std::path::absolute)
            .context("cannot tell where this execq binary is; pass --bin")?,
    };
    Ok(ServiceSpec {
        platform: platform.unwrap_or_else(Platform::native),
        label: label.to_owned(),
        queue: queue.root.clone(),
        bin,
        home,
        uid: sys::euid(),
    })
}

//! `execq service print|install|uninstall|status`: the background agent that runs drains (see the
//! `service` module for the plans and unit files).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::exit_code::ExitCode;
use crate::output;
use crate::queue::Queue;
use crate::service::{self, Platform, ServiceSpec};
use crate::sys;

/// `execq service ...`
#[derive(Clone, Debug)]
pub struct ServiceRequest {
    pub action: ServiceAction,
    pub label: String,
    /// The execq binary the service runs (default: this one).
    pub bin: Option<PathBuf>,
    /// launchd or systemd (default: this machine's).
    pub platform: Option<Platform>,
    pub dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceAction {
    Print,
    Install,
    Uninstall,
    Status,
}

/// The service for `queue` as this machine would install it.
pub fn spec(
    queue: &Queue,
    label: &str,
    bin: Option<&Path>,
    platform: Option<Platform>,
) -> Result<ServiceSpec> {
    service::check_label(label)?;
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

/// Runs `execq service ...`.
pub fn run(queue: &Queue, request: &ServiceRequest) -> Result<ExitCode> {
    let spec = spec(
        queue,
        &request.label,
        request.bin.as_deref(),
        request.platform,
    )?;
    let mut stdout = io::stdout().lock();
    match request.action {
        ServiceAction::Print => print(&spec, &mut stdout)?,
        ServiceAction::Install => {
            service::execute(&service::install_plan(&spec), request.dry_run, &mut stdout)?;
            if !request.dry_run {
                writeln!(
                    stdout,
                    "installed `{}`: drains of `{}` now start when jobs arrive",
                    spec.label,
                    queue.root.display()
                )?;
            }
        }
        ServiceAction::Uninstall => {
            service::execute(
                &service::uninstall_plan(&spec),
                request.dry_run,
                &mut stdout,
            )?;
            if !request.dry_run {
                writeln!(
                    stdout,
                    "uninstalled `{}`; the queue `{}` was left as it is",
                    spec.label,
                    queue.root.display()
                )?;
            }
        }
        ServiceAction::Status => {
            let state = service::state(&spec);
            output::print_json(&state)?;
            let running = state.installed && state.loaded == Some(true);
            return Ok(if running {
                ExitCode::Success
            } else {
                ExitCode::Unhealthy
            });
        }
    }
    Ok(ExitCode::Success)
}

fn print(spec: &ServiceSpec, out: &mut impl Write) -> Result<()> {
    for unit in service::render(spec) {
        if spec.platform == Platform::Systemd {
            writeln!(out, "# {}", unit.path.display())?;
        }
        write!(out, "{}", unit.content)?;
    }
    Ok(())
}

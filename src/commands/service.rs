//! `execq service print|install|uninstall|status`: the background agent that runs drains (see the
//! `service` module for the plans and unit files).

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::output;
use crate::queue::Queue;
use crate::service::{self, Platform, ServiceSpec};

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

/// Runs `execq service ...`.
pub fn run(queue: &Queue, request: &ServiceRequest) -> Result<ExitCode> {
    let spec = service::spec(
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

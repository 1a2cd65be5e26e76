//! `execq service`: install, remove or inspect the background service, and the flags every
//! service action shares.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use execq::options::{DEFAULT_LABEL, Platform, ServiceAction, ServiceRequest};

#[derive(Debug, Args)]
pub(super) struct ServiceArgs {
    #[command(subcommand)]
    action: ServiceVerb,
    /// The launchd label / systemd unit name
    #[arg(long, global = true, default_value = DEFAULT_LABEL)]
    label: String,
    /// The execq binary the service runs [default: this one]
    #[arg(long, global = true, value_name = "PATH")]
    bin: Option<PathBuf>,
    /// Which service manager to target [default: launchd on macOS, systemd elsewhere]
    #[arg(long, global = true, value_enum)]
    platform: Option<PlatformArg>,
    /// Print the commands instead of running them
    #[arg(long, global = true)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
enum ServiceVerb {
    /// Print the LaunchAgent plist (or systemd units) for this machine
    Print,
    /// Write the service's files and load it (again, if it was installed)
    Install,
    /// Unload the service and remove its files (the queue is kept)
    Uninstall,
    /// Whether the service is installed and loaded, as JSON (exits 4 if not both)
    Status,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PlatformArg {
    Launchd,
    Systemd,
}

impl From<ServiceArgs> for ServiceRequest {
    fn from(args: ServiceArgs) -> Self {
        Self {
            action: match args.action {
                ServiceVerb::Print => ServiceAction::Print,
                ServiceVerb::Install => ServiceAction::Install,
                ServiceVerb::Uninstall => ServiceAction::Uninstall,
                ServiceVerb::Status => ServiceAction::Status,
            },
            label: args.label,
            bin: args.bin,
            platform: args.platform.map(|p| match p {
                PlatformArg::Launchd => Platform::Launchd,
                PlatformArg::Systemd => Platform::Systemd,
            }),
            dry_run: args.dry_run,
        }
    }
}

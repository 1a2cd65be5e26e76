//! `QUEUE/config.toml`: the queue's defaults for drains. Optional: without it every setting has
//! its built-in default; a command-line flag beats the file. A file that does not parse, or names
//! a key that does not exist, is an error naming the line and the key — never silently ignored:
//! drains refuse to run jobs until it is fixed (see `commands::drain`), and `status` reports it.
//!
//! ```toml
//! timeout = "10m"   # per-job timeout: seconds, or a number with s, m, h, d or w
//! grace = 5         # between SIGTERM and SIGKILL
//! settle = 2        # how long a half-written file must stay unchanged
//! linger = 0        # how long a drain keeps the queue once pending/ is empty
//! jobs = 2          # jobs run at once
//!
//! [limits]          # defaults for jobs that do not set their own (see `job::limits`)
//! cpu_seconds = 600
//! nice = 10
//!
//! [retention]       # drains archive old records (see `retention`)
//! completed = "30d"
//! failed = "90d"
//! archive = true
//!
//! [mcp]             # what `execq mcp` lets agents do (see `mcp`)
//! allow = ["make", "cargo"]
//! allow_env = ["CARGO_TERM_COLOR", "LC_*"]
//! allow_shell = false
//! read_only = false
//! max_wait = 50
//!
//! [sandbox]         # jobs' sandboxes: a default and a floor per door (see `job::sandbox`)
//! default = "workspace"
//! mcp = "workspace"
//!
//! [executor]        # where jobs that name no executor run (see `executor`)
//! default = "local"
//!
//! [executor.slurm]  # Slurm's settings for jobs run there
//! partition = "debug"
//! account = "lab"
//! sbatch_args = ["--qos=low"]
//! output_dir = "/shared/execq"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

mod executor;
pub use executor::{ExecutorConfig, SlurmSettings};

use crate::job::schedule::{DEFAULT_GROUP, valid_group};

use crate::duration::Seconds;
use crate::job::executor::Kind;
use crate::job::limits::{self, ResourceLimits};
use crate::job::notify::Notify;
use crate::job::sandbox::Policies;
use crate::queue::Queue;

/// The file's name in the queue folder.
pub const FILE: &str = "config.toml";

/// The most jobs a drain runs at once.
pub const MAX_JOBS: usize = 256;

/// What `config.toml` may hold.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub timeout: Option<Seconds>,
    pub grace: Option<Seconds>,
    pub settle: Option<Seconds>,
    pub linger: Option<Seconds>,
    pub jobs: Option<Jobs>,
    pub limits: Option<ResourceLimits>,
    pub retention: Option<Retention>,
    pub notify: Option<Notify>,
    /// A dashboard page every drain that did work rewrites (relative: in the queue folder).
    pub dashboard: Option<PathBuf>,
    /// What `execq mcp` lets agents do.
    pub mcp: Option<McpConfig>,
    /// Jobs' sandboxes: a default, and a floor per door.
    pub sandbox: Option<Policies>,
    /// Groups with slots of their own (`[groups.NAME] jobs = N`).
    pub groups: Option<BTreeMap<String, Group>>,
    /// Where jobs run (`[executor]`, `[executor.slurm]`).
    pub executor: Option<ExecutorConfig>,
}

/// `[groups.NAME]`: how many of the group's jobs run at once.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub jobs: Jobs,
}

/// `jobs` in the file: 1 to [`MAX_JOBS`].
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Jobs(pub usize);

impl TryFrom<i64> for Jobs {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, String> {
        usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_JOBS).contains(n))
            .map(Jobs)
            .ok_or_else(|| format!("`jobs` must be from 1 to {MAX_JOBS}, found {n}"))
    }
}

/// `[retention]` in config.toml.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub completed: Option<Seconds>,
    pub failed: Option<Seconds>,
    #[serde(default = "archive_default")]
    pub archive: bool,
}

fn archive_default() -> bool {
    true
}

/// Why the config cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid config `{}`: {message}", .path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// The queue's config: `None` when there is no file.
pub fn load(queue: &Queue) -> Result<Option<Config>, ConfigError> {
    let path = queue.root.join(FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError {
                path,
                message: e.to_string(),
            });
        }
    };
    let config: Config = toml::from_str(&text).map_err(|e| ConfigError {
        path: path.clone(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    if let Some(Err(why)) = config.notify.as_ref().map(Notify::check) {
        return Err(ConfigError {
            path,
            message: format!("[notify]: {why}"),
        });
    }
    let groups = config.groups.iter().flatten();
    if let Some((name, _)) = groups.clone().find(|(name, _)| !valid_group(name)) {
        return Err(ConfigError {
            path,
            message: format!(
                "[groups.{name}]: a group's name is 1 to 64 letters, digits, `_`, `-` or `.`, not starting with `.`"
            ),
        });
    }
    if let Some(Err(why)) = (config.executor.as_ref())
        .and_then(|e| e.slurm.as_ref())
        .map(SlurmSettings::check)
    {
        return Err(ConfigError { path, message: why });
    }
    if let Some(why) = config.limits.as_ref().and_then(limits::unsupported) {
        return Err(ConfigError {
            path,
            message: format!("[limits]: {why}"),
        });
    }
    Ok(Some(config))
}

/// Bytes kept at each end of each output stream of a job by default (512 KiB + 512 KiB).
pub const DEFAULT_KEEP: usize = 512 * 1024;

/// Settings for one drain.
#[derive(Clone, Debug)]
pub struct DrainOptions {
    /// Default per-job timeout (a job's own `timeout` field overrides it).
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL when ending a job's process group.
    pub grace: Duration,
    /// How long a not-yet-parseable file must stay unchanged before it is acted on.
    pub settle: Duration,
    /// Wait for another drain to finish instead of leaving at once.
    pub wait_for_lock: bool,
    /// Bytes kept at each end of each output stream in the record.
    pub keep: usize,
    /// How long to keep the lock once `pending/` is empty, for jobs that arrive meanwhile.
    pub linger: Duration,
    /// How many jobs run at once (`--jobs`, at least 1).
    pub jobs: usize,
    /// Resource limits for jobs that do not set their own (`[limits]` in `config.toml`).
    pub limits: ResourceLimits,
    /// Old records archived or deleted by drains that did work (`[retention]`).
    pub retention: Option<Retention>,
    /// Notifications for filed jobs (`[notify]`; a job's own `notify` beats it key by key).
    pub notify: Option<Notify>,
    /// A dashboard page to rewrite after a drain that did work (`dashboard` in config.toml).
    pub dashboard: Option<PathBuf>,
    /// Jobs' sandboxes (`[sandbox]`).
    pub sandbox: Policies,
    /// Each configured group's slots (`[groups.NAME] jobs = N`); `default` takes `jobs`.
    pub groups: BTreeMap<String, usize>,
    /// Where a job that names no executor runs (`[executor] default`).
    pub executor: Kind,
    /// `[executor.slurm]`.
    pub slurm: SlurmSettings,
}

impl DrainOptions {
    /// The group whose slots a job of `group` takes: its own if configured, else `default`'s.
    pub fn slot_group<'a>(&self, group: &'a str) -> &'a str {
        if self.groups.contains_key(group) {
            group
        } else {
            DEFAULT_GROUP
        }
    }

    /// How many jobs of a slot group (see [`Self::slot_group`]) run at once.
    pub fn slots(&self, group: &str) -> usize {
        match self.groups.get(group) {
            Some(&n) => n,
            None => self.jobs.max(1),
        }
    }

    /// Whether jobs may run side by side: more than one slot, or groups of their own.
    pub fn parallel(&self) -> bool {
        self.jobs > 1 || !self.groups.is_empty()
    }
}

impl Default for DrainOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            grace: Duration::from_secs(5),
            settle: Duration::from_secs(2),
            wait_for_lock: false,
            keep: DEFAULT_KEEP,
            linger: Duration::ZERO,
            jobs: 1,
            limits: ResourceLimits::default(),
            retention: None,
            notify: None,
            dashboard: None,
            sandbox: Policies::default(),
            groups: BTreeMap::new(),
            executor: Kind::Local,
            slurm: Default::default(),
        }
    }
}

/// The drain settings given on the command line (`None`: not given).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flags {
    pub timeout: Option<Duration>,
    pub grace: Option<Duration>,
    pub settle: Option<Duration>,
    pub linger: Option<Duration>,
    pub jobs: Option<usize>,
}

/// Where a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Default,
    File,
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::File => "config.toml",
            Self::Flag => "flag",
        })
    }
}

/// One effective setting.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
    pub source: Source,
}

/// The drain's settings: each from its flag, else the file, else `base` (the built-in default).
pub fn effective(
    file: Option<&Config>,
    flags: &Flags,
    base: DrainOptions,
) -> (DrainOptions, Vec<Setting>) {
    let file = file.cloned().unwrap_or_default();
    let mut opts = base;
    let mut settings = flagged_settings(&file, flags, &mut opts);
    if let Some(limits) = file.limits {
        opts.limits = limits;
    }
    settings.extend(opts.limits.entries().into_iter().map(|(name, value)| {
        Setting::from_file(name, value.map(|v| v.to_string()), "none".into())
    }));
    opts.retention = file.retention;
    opts.notify = file.notify.clone();
    opts.dashboard = file.dashboard.clone();
    settings.extend(retention_settings(file.retention));
    settings.extend(mcp_settings(file.mcp.unwrap_or_default()));
    opts.sandbox = file.sandbox.unwrap_or_default();
    settings.extend(sandbox_settings(&opts.sandbox));
    // `[groups.default]` sets the default group's slots as `jobs` does (and beats it).
    opts.groups = (file.groups.iter().flatten())
        .filter(|(name, _)| name.as_str() != DEFAULT_GROUP)
        .map(|(name, group)| (name.clone(), group.jobs.0))
        .collect();
    if let Some(default) = file.groups.as_ref().and_then(|g| g.get(DEFAULT_GROUP))
        && flags.jobs.is_none()
    {
        opts.jobs = default.jobs.0;
        settings.push(Setting {
            name: "groups.jobs",
            value: format!("{DEFAULT_GROUP}: {}", default.jobs.0),
            source: Source::File,
        });
    }
    settings.extend(opts.groups.iter().map(|(name, n)| Setting {
        name: "groups.jobs",
        value: format!("{name}: {n}"),
        source: Source::File,
    }));
    let executor = file.executor.unwrap_or_default();
    opts.executor = executor.default.unwrap_or_default();
    opts.slurm = executor.slurm.unwrap_or_default();
    settings.extend(executor_settings(executor.default, &opts.slurm));
    (opts, settings)
}

/// The settings a flag can give (timeout, grace, settle, linger, jobs), set in `opts`.
fn flagged_settings(file: &Config, flags: &Flags, opts: &mut DrainOptions) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut pick =
        |name, flag: Option<Duration>, from_file: Option<Seconds>, slot: &mut Duration| {
            let (value, source) = match (flag, from_file) {
                (Some(v), _) => (v, Source::Flag),
                (None, Some(Seconds(v))) => (v, Source::File),
                (None, None) => (*slot, Source::Default),
            };
            *slot = value;
            settings.push(Setting {
                name,
                value: format!("{}s", value.as_secs_f64()),
                source,
            });
        };
    pick("timeout", flags.timeout, file.timeout, &mut opts.timeout);
    pick("grace", flags.grace, file.grace, &mut opts.grace);
    pick("settle", flags.settle, file.settle, &mut opts.settle);
    pick("linger", flags.linger, file.linger, &mut opts.linger);
    let (jobs, source) = match (flags.jobs, file.jobs) {
        (Some(n), _) => (n, Source::Flag),
        (None, Some(Jobs(n))) => (n, Source::File),
        (None, None) => (opts.jobs, Source::Default),
    };
    opts.jobs = jobs;
    settings.push(Setting {
        name: "jobs",
        value: jobs.to_string(),
        source,
    });
    settings
}

mod mcp;
mod settings;

use settings::{age, executor_settings, retention_settings, sandbox_settings};

use mcp::mcp_settings;
pub use mcp::{DEFAULT_MAX_WAIT, McpConfig};

#[cfg(test)]
mod tests;

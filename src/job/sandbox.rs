//! A job's sandbox (`sandbox` in a job file, `[sandbox]` in `config.toml`): what its processes may
//! write, read and reach. This file reads the policy and compares two of them; `exec::sandbox`
//! turns one into the kernel's rules when the job runs.
//!
//! ```json
//! "sandbox": "workspace"
//! "sandbox": {"mode": "workspace", "writable": ["~/.cache/go-build"], "network": false}
//! ```
//!
//! | mode        | writes                                                   | network           |
//! |-------------|----------------------------------------------------------|-------------------|
//! | `none`      | anywhere the user may (today's behaviour)                | yes               |
//! | `workspace` | its `cwd`, a private temporary folder, `writable`        | only if `network` |
//! | `read-only` | a private temporary folder                               | only if `network` |
//!
//! `readable`, when given, limits reads too (see `exec::sandbox` for what is always readable).
//! Paths are absolute or start with `~/` (the home folder of the user running the drain).

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

/// How strictly a job is sandboxed, from loosest to strictest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    None,
    Workspace,
    ReadOnly,
}

impl Mode {
    /// The names, as a job file spells them.
    pub const NAMES: [&str; 3] = ["none", "workspace", "read-only"];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "none" => Ok(Self::None),
            "workspace" => Ok(Self::Workspace),
            "read-only" => Ok(Self::ReadOnly),
            _ => Err(format!(
                "unknown mode `{name}` (known: {})",
                Self::NAMES.join(", ")
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Workspace => "workspace",
            Self::ReadOnly => "read-only",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sandbox policy: a job's, a default, or a floor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sandbox {
    pub mode: Mode,
    /// More folders a `workspace` job may write beneath (absolute or `~/...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<String>,
    /// When given, the only folders it may read beneath (besides what programs need to run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readable: Option<Vec<String>>,
    /// IP networking (Unix-domain sockets are always allowed).
    pub network: bool,
    /// Floors only: the folders a `workspace` job's `cwd` must lie beneath (its cwd is writable,
    /// so without this whoever submits chooses where it writes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<Vec<String>>,
}

impl Sandbox {
    /// No sandbox: today's behaviour.
    pub const NONE: Self = Self {
        mode: Mode::None,
        writable: Vec::new(),
        readable: None,
        network: true,
        workspaces: None,
    };

    /// The policy `mode` names, with nothing added.
    pub fn of_mode(mode: Mode) -> Self {
        Self {
            mode,
            network: mode == Mode::None,
            ..Self::NONE
        }
    }

    /// Reads a policy: a mode's name, or an object (`allow_workspaces`: whether `workspaces` may
    /// be given, as it may in `config.toml`'s floors).
    pub fn parse(value: &Value, allow_workspaces: bool) -> Result<Self, String> {
        let object = match value {
            Value::String(name) => return Mode::parse(name).map(Self::of_mode),
            Value::Object(object) => object,
            other => {
                return Err(format!(
                    "must be a mode ({}) or an object with a `mode`, found {}",
                    Mode::NAMES.join(", "),
                    crate::job::type_name(other)
                ));
            }
        };
        let mode = match object.get("mode") {
            Some(Value::String(name)) => Mode::parse(name)?,
            Some(other) => {
                return Err(format!(
                    "`mode` must be a string, found {}",
                    crate::job::type_name(other)
                ));
            }
            None => return Err("`mode` is missing".into()),
        };
        let mut policy = Self::of_mode(mode);
        for (key, value) in object {
            match key.as_str() {
                "mode" => {}
                "writable" => policy.writable = folders(key, value)?,
                "readable" => policy.readable = Some(folders(key, value)?),
                "workspaces" if allow_workspaces => policy.workspaces = Some(folders(key, value)?),
                "network" => {
                    policy.network = value.as_bool().ok_or_else(|| {
                        format!(
                            "`network` must be true or false, found {}",
                            crate::job::type_name(value)
                        )
                    })?;
                }
                _ => {
                    let known = if allow_workspaces {
                        "mode, writable, readable, network, workspaces"
                    } else {
                        "mode, writable, readable, network"
                    };
                    return Err(format!("unknown key `{key}` (known: {known})"));
                }
            }
        }
        match mode {
            Mode::None if object.len() > 1 => {
                Err("mode `none` takes no other keys: it is no sandbox at all".into())
            }
            Mode::ReadOnly if !policy.writable.is_empty() => Err(
                "`writable` goes with mode `workspace`; a `read-only` job writes only in its temporary folder"
                    .into(),
            ),
            _ => Ok(policy),
        }
    }

    /// Reads a job's `sandbox` (absent or `null`: none asked for).
    pub fn of_job(job: &Map<String, Value>) -> Result<Option<Self>, String> {
        match job.get("sandbox") {
            None | Some(Value::Null) => Ok(None),
            Some(value) => Self::parse(value, false).map(Some),
        }
    }

    /// The policy as a job file holds it: the mode's name alone when nothing else is set.
    pub fn to_json(&self) -> Value {
        if *self == Self::of_mode(self.mode) {
            return Value::String(self.mode.as_str().into());
        }
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Whether this policy is at least as strict as `floor`; if not, what is looser. A job's cwd
    /// is checked by the caller ([`Sandbox::allows_cwd`]), which knows it.
    pub fn within(&self, floor: &Self) -> Result<(), String> {
        if self.mode < floor.mode {
            return Err(format!(
                "mode `{}` is looser than `{}`",
                self.mode, floor.mode
            ));
        }
        if self.mode == Mode::None {
            return Ok(());
        }
        if self.network && !floor.network {
            return Err("`network = true` is looser than no network".into());
        }
        if self.mode == Mode::Workspace
            && let Some(extra) = self
                .writable
                .iter()
                .find(|w| !beneath_any(w, &floor.writable))
        {
            return Err(format!(
                "writable folder `{extra}` is not among the floor's writable folders ({})",
                list(&floor.writable)
            ));
        }
        if let Some(allowed) = &floor.readable {
            let Some(readable) = &self.readable else {
                return Err(format!(
                    "reading everywhere is looser than reading only {}",
                    list(allowed)
                ));
            };
            if let Some(extra) = readable.iter().find(|r| !beneath_any(r, allowed)) {
                return Err(format!(
                    "readable folder `{extra}` is not among the floor's readable folders ({})",
                    list(allowed)
                ));
            }
        }
        Ok(())
    }

    /// Whether a `workspace` job with this floor may have `cwd` as its (writable) working folder.
    pub fn allows_cwd(&self, cwd: &Path) -> Result<(), String> {
        let Some(workspaces) = &self.workspaces else {
            return Ok(());
        };
        let cwd = cwd.to_string_lossy();
        if beneath_any(&cwd, workspaces) {
            return Ok(());
        }
        Err(format!(
            "the working folder `{cwd}` is not beneath the floor's workspaces ({})",
            list(workspaces)
        ))
    }
}

/// The door a job came through: each may have its own floor in `[sandbox]`. Written into the job
/// (`origin`) by the door; a file dropped into `pending/` by the user's own program has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `execq submit`, `execq retry`.
    Cli,
    /// `execq mcp`.
    Mcp,
    /// A schedule's occurrence (and `schedule add`).
    Schedule,
    /// The served dashboard (its retry).
    Dashboard,
}

impl Origin {
    pub const ALL: [Self; 4] = [Self::Cli, Self::Mcp, Self::Schedule, Self::Dashboard];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Mcp => "mcp",
            Self::Schedule => "schedule",
            Self::Dashboard => "dashboard",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == name)
            .ok_or_else(|| {
                format!("unknown origin `{name}` (known: cli, mcp, schedule, dashboard)")
            })
    }
}

/// `[sandbox]` in `config.toml`: a default for jobs that ask for none, and a floor per origin.
///
/// ```toml
/// [sandbox]
/// default = "workspace"
/// mcp = { mode = "workspace", workspaces = ["~/src"], writable = ["~/.cache/go-build"] }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct Policies {
    pub default: Option<Sandbox>,
    /// Per origin, in [`Origin::ALL`]'s order.
    pub floors: [Option<Sandbox>; 4],
}

impl TryFrom<Map<String, Value>> for Policies {
    type Error = String;

    fn try_from(table: Map<String, Value>) -> Result<Self, String> {
        let mut policies = Self::default();
        for (key, value) in &table {
            if key == "default" {
                let policy =
                    Sandbox::parse(value, false).map_err(|e| format!("[sandbox] default: {e}"))?;
                policies.default = Some(policy);
                continue;
            }
            let origin = Origin::parse(key).map_err(|_| {
                format!(
                    "[sandbox]: unknown key `{key}` (known: default, cli, mcp, schedule, dashboard)"
                )
            })?;
            let floor = Sandbox::parse(value, true).map_err(|e| format!("[sandbox] {key}: {e}"))?;
            policies.floors[origin as usize] = Some(floor);
        }
        Ok(policies)
    }
}

impl Policies {
    pub fn floor(&self, origin: Origin) -> Option<&Sandbox> {
        self.floors[origin as usize].as_ref()
    }

    /// The policy a job runs under: its own if it asked for one (refused if looser than its
    /// origin's floor), else the default, raised to the floor when the default is looser.
    pub fn resolve(
        &self,
        job: Option<&Sandbox>,
        origin: Option<Origin>,
    ) -> Result<Applied, String> {
        let floor = origin.and_then(|o| Some((o, self.floor(o)?)));
        let (policy, source) = match job {
            Some(asked) => {
                if let Some((origin, floor)) = floor {
                    asked
                        .within(floor)
                        .map_err(|why| refusal(asked, origin, floor, &why))?;
                }
                (asked.clone(), Source::Job)
            }
            None => {
                let (base, source) = match &self.default {
                    Some(default) => (default.clone(), Source::Default),
                    None => (Sandbox::NONE, Source::Unset),
                };
                match floor {
                    Some((origin, floor)) if base.within(floor).is_err() => {
                        (floor.clone(), Source::Floor(origin))
                    }
                    _ => (base, source),
                }
            }
        };
        Ok(Applied {
            policy,
            source,
            floor: floor.map(|(o, f)| (o, f.clone())),
        })
    }
}

/// What a job asked for, refused by its floor, in words that name the floor.
fn refusal(asked: &Sandbox, origin: Origin, floor: &Sandbox, why: &str) -> String {
    format!(
        "sandbox {} is looser than the floor for jobs from {} ([sandbox] {} = {} in config.toml): {why}",
        asked.to_json(),
        origin.door(),
        origin.as_str(),
        floor.to_json()
    )
}

impl Origin {
    /// The door, in words.
    pub fn door(self) -> &'static str {
        match self {
            Self::Cli => "the command line",
            Self::Mcp => "execq mcp",
            Self::Schedule => "schedules",
            Self::Dashboard => "the dashboard",
        }
    }
}

/// Where the applied policy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The job's own `sandbox`.
    Job,
    /// `[sandbox] default`.
    Default,
    /// Its origin's floor, the default being looser.
    Floor(Origin),
    /// Nothing set anywhere.
    Unset,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Job => f.write_str("job"),
            Self::Default => f.write_str("[sandbox] default"),
            Self::Floor(origin) => write!(f, "[sandbox] {}", origin.as_str()),
            Self::Unset => f.write_str("none set"),
        }
    }
}

/// The policy a job runs under, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub policy: Sandbox,
    pub source: Source,
    /// Its origin's floor, whose `workspaces` bound a workspace job's cwd.
    pub floor: Option<(Origin, Sandbox)>,
}

impl Applied {
    /// Whether a `workspace` job may work (and so write) in `cwd`, by its floor.
    pub fn check_cwd(&self, cwd: &Path) -> Result<(), String> {
        match &self.floor {
            Some((origin, floor)) if self.policy.mode == Mode::Workspace => floor
                .allows_cwd(cwd)
                .map_err(|why| format!("refused by [sandbox] {}: {why}", origin.as_str())),
            _ => Ok(()),
        }
    }
}

/// A list of folders, each absolute or `~/...`.
fn folders(key: &str, value: &Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "`{key}` must be a list of folders, found {}",
            crate::job::type_name(value)
        ));
    };
    items
        .iter()
        .map(|item| {
            let Value::String(path) = item else {
                return Err(format!(
                    "`{key}` must be a list of folders, found {} in it",
                    crate::job::type_name(item)
                ));
            };
            if path.contains('\0') {
                return Err(format!(
                    "`{key}`: `{}` contains a NUL byte",
                    path.escape_debug()
                ));
            }
            if !(path.starts_with('/') || path == "~" || path.starts_with("~/")) {
                return Err(format!(
                    "`{key}`: `{path}` must be an absolute path or start with `~/`"
                ));
            }
            if Path::new(path)
                .components()
                .any(|c| c == Component::ParentDir)
            {
                return Err(format!("`{key}`: `{path}` must not contain `..`"));
            }
            Ok(path.clone())
        })
        .collect()
}

/// `~` or `~/rest` with the home folder put in (`None`: no home folder known).
pub fn expand(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            Some(home?.join(rest.trim_start_matches('/')))
        }
        _ => Some(PathBuf::from(path)),
    }
}

/// Whether `path` is one of `folders` or beneath one, comparing whole components (`~` expanded
/// with this process's home folder on both sides).
fn beneath_any(path: &str, folders: &[String]) -> bool {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let Some(path) = expand(path, home.as_deref()) else {
        return false;
    };
    folders.iter().any(|folder| {
        expand(folder, home.as_deref()).is_some_and(|folder| path.starts_with(folder))
    })
}

fn list(folders: &[String]) -> String {
    if folders.is_empty() {
        return "none".into();
    }
    folders
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Sandbox, String> {
        Sandbox::parse(&value, false)
    }

    #[test]
    fn a_mode_by_name_or_as_an_object() {
        assert_eq!(
            parse(json!("read-only")).unwrap(),
            Sandbox::of_mode(Mode::ReadOnly)
        );
        let policy =
            parse(json!({"mode": "workspace", "writable": ["~/.cache/go-build"], "network": true}))
                .unwrap();
        assert_eq!(policy.mode, Mode::Workspace);
        assert_eq!(policy.writable, ["~/.cache/go-build"]);
        assert!(policy.network);
        assert!(
            !parse(json!("workspace")).unwrap().network,
            "network is off by default"
        );
        assert!(parse(json!("none")).unwrap().network);
    }

    #[test]
    fn every_mistake_is_named() {
        for (value, expected) in [
            (json!("readonly"), "unknown mode `readonly`"),
            (json!(true), "must be a mode"),
            (json!({"writable": []}), "`mode` is missing"),
            (
                json!({"mode": "workspace", "write": []}),
                "unknown key `write`",
            ),
            (
                json!({"mode": "workspace", "writable": "/tmp"}),
                "must be a list of folders",
            ),
            (
                json!({"mode": "workspace", "writable": ["build"]}),
                "absolute path",
            ),
            (
                json!({"mode": "workspace", "writable": ["/a/../b"]}),
                "`..`",
            ),
            (
                json!({"mode": "workspace", "network": "no"}),
                "true or false",
            ),
            (
                json!({"mode": "read-only", "writable": ["/tmp"]}),
                "goes with mode `workspace`",
            ),
            (
                json!({"mode": "none", "network": false}),
                "takes no other keys",
            ),
            (
                json!({"mode": "workspace", "workspaces": ["/src"]}),
                "unknown key `workspaces`",
            ),
        ] {
            let error = parse(value.clone()).unwrap_err();
            assert!(error.contains(expected), "{value}: {error}");
        }
        assert!(
            Sandbox::parse(&json!({"mode": "workspace", "workspaces": ["/src"]}), true).is_ok()
        );
    }

    #[test]
    fn stricter_passes_a_floor_and_looser_is_named() {
        let floor = parse(json!({"mode": "workspace", "writable": ["/cache"]})).unwrap();
        for ok in [
            json!("workspace"),
            json!("read-only"),
            json!({"mode": "workspace", "writable": ["/cache/go"]}),
        ] {
            assert_eq!(parse(ok.clone()).unwrap().within(&floor), Ok(()), "{ok}");
        }
        for (looser, expected) in [
            (json!("none"), "mode `none` is looser than `workspace`"),
            (json!({"mode": "workspace", "network": true}), "network"),
            (
                json!({"mode": "workspace", "writable": ["/cachet"]}),
                "`/cachet` is not among",
            ),
        ] {
            let error = parse(looser.clone()).unwrap().within(&floor).unwrap_err();
            assert!(error.contains(expected), "{looser}: {error}");
        }
        let reading = parse(json!({"mode": "read-only", "readable": ["/src"]})).unwrap();
        assert!(parse(json!("read-only")).unwrap().within(&reading).is_err());
        assert!(
            parse(json!({"mode": "read-only", "readable": ["/src/a"]}))
                .unwrap()
                .within(&reading)
                .is_ok()
        );
        assert!(parse(json!("workspace")).unwrap().within(&reading).is_err());
    }

    #[test]
    fn a_floor_s_workspaces_bound_the_working_folder() {
        let floor =
            Sandbox::parse(&json!({"mode": "workspace", "workspaces": ["/src"]}), true).unwrap();
        assert!(floor.allows_cwd(Path::new("/src/app")).is_ok());
        let error = floor.allows_cwd(Path::new("/srcs")).unwrap_err();
        assert!(
            error.contains("not beneath the floor's workspaces (`/src`)"),
            "{error}"
        );
        assert!(
            Sandbox::of_mode(Mode::Workspace)
                .allows_cwd(Path::new("/"))
                .is_ok()
        );
    }

    #[test]
    fn a_policy_is_written_back_as_it_reads() {
        for value in [
            json!("none"),
            json!("workspace"),
            json!({"mode": "workspace", "writable": ["/x"], "network": false}),
            json!({"mode": "read-only", "readable": ["/y"], "network": true}),
        ] {
            assert_eq!(parse(value.clone()).unwrap().to_json(), value);
        }
    }
}

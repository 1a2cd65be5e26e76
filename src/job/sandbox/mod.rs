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

mod policies;

pub use policies::{Applied, Origin, Policies, Source};

#[cfg(test)]
mod tests;

//! `[mcp]` in `config.toml`: what `execq mcp` lets agents do.

use std::time::Duration;

use serde::Deserialize;

use super::{Setting, age};
use crate::duration::Seconds;

/// The longest a tool call waits for a job unless `[mcp] max_wait` says otherwise: under the
/// 60 s that several clients allow a tool call.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(50);

/// `[mcp]` in `config.toml`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// Programs agents may run; when set (or `allow_shell`), nothing else.
    pub allow: Option<Vec<String>>,
    /// Variables agents may set in a job's `env` under an allowlist (`NAME`, or `PREFIX*`).
    pub allow_env: Option<Vec<String>>,
    /// Shell command lines too (any program, through `/bin/sh -c`).
    pub allow_shell: Option<bool>,
    /// Inspection only: no submit, cancel or retry.
    pub read_only: Option<bool>,
    /// The cap on `wait_seconds`: at least a second (an MCP task's watch waits this long between
    /// looks at its job).
    #[serde(default, deserialize_with = "at_least_a_second")]
    pub max_wait: Option<Seconds>,
}

fn at_least_a_second<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Seconds>, D::Error> {
    let seconds = Option::<Seconds>::deserialize(d)?;
    match seconds {
        Some(Seconds(s)) if s < Duration::from_secs(1) => Err(serde::de::Error::custom(
            "`max_wait` must be at least 1 second (MCP tasks wait up to it between looks at a job)",
        )),
        other => Ok(other),
    }
}

/// `[mcp]`'s settings.
pub(super) fn mcp_settings(mcp: McpConfig) -> Vec<Setting> {
    [
        ("mcp.allow", mcp.allow.map(|list| list.join(", "))),
        ("mcp.allow_env", mcp.allow_env.map(|list| list.join(", "))),
        ("mcp.allow_shell", mcp.allow_shell.map(|b| b.to_string())),
        ("mcp.read_only", mcp.read_only.map(|b| b.to_string())),
        ("mcp.max_wait", age(mcp.max_wait)),
    ]
    .into_iter()
    .map(|(name, value)| {
        let default = match name {
            "mcp.allow" => "any program".into(),
            "mcp.allow_env" => "none".into(),
            "mcp.max_wait" => format!("{}s", DEFAULT_MAX_WAIT.as_secs()),
            _ => "false".into(),
        };
        Setting::from_file(name, value, default)
    })
    .collect()
}

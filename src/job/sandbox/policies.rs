//! Where a job's sandbox comes from: the door it came through (`origin`), `[sandbox]` in
//! `config.toml` (a default, and a floor per door), and how the three make the policy it runs
//! under.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use super::{Mode, Sandbox};

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

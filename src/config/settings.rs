//! Each setting as `config` and `status` show it, with where its value came from.

use super::{Retention, Setting, Source};
use crate::duration::Seconds;
use crate::job::sandbox::{Origin, Policies};

/// A duration from the file as a setting's value.
pub(super) fn age(value: Option<Seconds>) -> Option<String> {
    value.map(|Seconds(d)| format!("{}s", d.as_secs_f64()))
}

/// `[retention]`'s settings.
pub(super) fn retention_settings(retention: Option<Retention>) -> Vec<Setting> {
    [
        (
            "retention.completed",
            retention.and_then(|r| age(r.completed)),
        ),
        ("retention.failed", retention.and_then(|r| age(r.failed))),
        (
            "retention.archive",
            retention.map(|r| r.archive.to_string()),
        ),
    ]
    .into_iter()
    .map(|(name, value)| Setting::from_file(name, value, "none".into()))
    .collect()
}

/// `[sandbox]`'s settings: the default and each door's floor, as a job file would spell them.
pub(super) fn sandbox_settings(policies: &Policies) -> Vec<Setting> {
    let default = Setting::from_file(
        "sandbox.default",
        policies.default.as_ref().map(|p| p.to_json().to_string()),
        "\"none\"".into(),
    );
    let floors = Origin::ALL.into_iter().map(|origin| {
        let name = match origin {
            Origin::Cli => "sandbox.cli",
            Origin::Mcp => "sandbox.mcp",
            Origin::Schedule => "sandbox.schedule",
            Origin::Dashboard => "sandbox.dashboard",
        };
        let floor = policies.floor(origin).map(|p| p.to_json().to_string());
        Setting::from_file(name, floor, "no floor".into())
    });
    std::iter::once(default).chain(floors).collect()
}

/// `[executor]`'s settings.
pub(super) fn executor_settings(
    default: Option<crate::job::executor::Kind>,
    slurm: &super::SlurmSettings,
) -> Vec<Setting> {
    let words = |w: &[String]| (!w.is_empty()).then(|| w.join(" "));
    vec![
        Setting::from_file(
            "executor.default",
            default.map(|k| k.as_str().to_owned()),
            "local".into(),
        ),
        Setting::from_file(
            "executor.slurm.partition",
            slurm.partition.clone(),
            "Slurm's default".into(),
        ),
        Setting::from_file(
            "executor.slurm.account",
            slurm.account.clone(),
            "Slurm's default".into(),
        ),
        Setting::from_file(
            "executor.slurm.sbatch_args",
            words(&slurm.sbatch_args),
            "none".into(),
        ),
        Setting::from_file(
            "executor.slurm.output_dir",
            slurm.output_dir.as_ref().map(|d| d.display().to_string()),
            "QUEUE/slurm".into(),
        ),
    ]
}

impl Setting {
    /// A setting only the file can give: its value there, else `default`.
    pub(super) fn from_file(name: &'static str, value: Option<String>, default: String) -> Self {
        let source = if value.is_some() {
            Source::File
        } else {
            Source::Default
        };
        Self {
            name,
            value: value.unwrap_or(default),
            source,
        }
    }
}

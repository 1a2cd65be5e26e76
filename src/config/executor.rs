//! `[executor]` and `[executor.slurm]`: where jobs run, and Slurm's settings.

use std::path::PathBuf;

use serde::Deserialize;

use crate::job::executor::Kind;
use crate::queue::Queue;

/// `[executor]`: where jobs that do not name an executor run, and Slurm's settings.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    pub default: Option<Kind>,
    pub slurm: Option<SlurmSettings>,
}

/// `[executor.slurm]` in config.toml.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSettings {
    /// `sbatch --partition`.
    pub partition: Option<String>,
    /// `sbatch --account`.
    pub account: Option<String>,
    /// More `sbatch` arguments, each one word (`["--qos=low", "--gres=gpu:1"]`).
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    /// Where jobs' scripts and output go: a folder the drain and the compute nodes both see.
    /// Default: `QUEUE/slurm`.
    pub output_dir: Option<PathBuf>,
}

impl SlurmSettings {
    /// The folder for jobs' files.
    pub fn output_dir(&self, queue: &Queue) -> PathBuf {
        match &self.output_dir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => queue.root.join(dir),
            None => queue.root.join("slurm"),
        }
    }
}

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

/// `sbatch` options the queue may not set: execq sets them for each job, and exactly-once rests
/// on them (the job's identity, one run, where its output goes).
const OWN_OPTIONS: [&str; 16] = [
    "-J",
    "--job-name",
    "-a",
    "--array",
    "--requeue",
    "--no-requeue",
    "-o",
    "--output",
    "-e",
    "--error",
    "-D",
    "--chdir",
    "--wrap",
    "--parsable",
    "-i",
    "--input",
];

impl SlurmSettings {
    /// Why these settings cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        for arg in &self.sbatch_args {
            let option = arg.split('=').next().unwrap_or_default();
            let short = OWN_OPTIONS
                .iter()
                .any(|o| o.len() == 2 && arg.starts_with(o) && !arg.starts_with("--"));
            if OWN_OPTIONS.contains(&option) || short {
                return Err(format!(
                    "[executor.slurm] sbatch_args: `{arg}` is set by execq for each job (its identity, one run, its output); remove it"
                ));
            }
        }
        Ok(())
    }

    /// The folder for jobs' files.
    pub fn output_dir(&self, queue: &Queue) -> PathBuf {
        match &self.output_dir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => queue.root.join(dir),
            None => queue.root.join("slurm"),
        }
    }
}

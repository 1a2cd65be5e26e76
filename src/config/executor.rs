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

/// `sbatch` options the queue may not set: execq sets them for each job, or they would run it
/// more than once (`--array`), not at all (`--test-only`) or hold the drain (`--wait`). Long
/// options are refused under any abbreviation sbatch accepts.
const OWN_LONG: [&str; 12] = [
    "job-name",
    "array",
    "requeue",
    "no-requeue",
    "output",
    "error",
    "chdir",
    "wrap",
    "parsable",
    "input",
    "test-only",
    "wait",
];

/// Their short forms.
const OWN_SHORT: [char; 7] = ['J', 'a', 'o', 'e', 'D', 'i', 'W'];

/// Short options whose value may follow in the same word (`-pgpu`); any other short option must
/// stand alone, so that none hides in a bundle (`-Qa1-2`).
const SHORT_WITH_VALUE: &str = "pAqtNncCwxGLMdbmkSFBn";

impl SlurmSettings {
    /// Why these settings cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let refuse = |arg: &str, why: &str| {
            Err(format!(
                "[executor.slurm] sbatch_args: `{arg}` {why}; remove it"
            ))
        };
        for arg in &self.sbatch_args {
            if let Some(long) = arg.strip_prefix("--") {
                let name = long.split('=').next().unwrap_or_default();
                if name.len() >= 2 && OWN_LONG.iter().any(|own| own.starts_with(name))
                    || name.is_empty()
                {
                    return refuse(
                        arg,
                        "is set by execq for each job (its identity, one run, its output)",
                    );
                }
            } else if let Some(short) = arg.strip_prefix('-') {
                let mut letters = short.chars();
                let Some(letter) = letters.next() else {
                    continue;
                };
                if OWN_SHORT.contains(&letter) {
                    return refuse(
                        arg,
                        "is set by execq for each job (its identity, one run, its output)",
                    );
                }
                if letters.next().is_some() && !SHORT_WITH_VALUE.contains(letter) {
                    return refuse(arg, "bundles short options: give each as a word of its own");
                }
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

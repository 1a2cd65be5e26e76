//! Where a job asks to run (`executor`): the names, and how a job and a record spell them. What
//! runs it is in the `executor` module.

use serde_json::{Map, Value};

/// The executors a job may name (`executor` in a job, `[executor] default` in config.toml).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A child process of the drain, on this machine.
    #[default]
    Local,
    /// A Slurm batch job (`sbatch`).
    Slurm,
}

impl Kind {
    pub const NAMES: &str = "`local` or `slurm`";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Slurm => "slurm",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "local" => Ok(Self::Local),
            "slurm" => Ok(Self::Slurm),
            other => Err(format!("unknown executor `{other}` (use {})", Self::NAMES)),
        }
    }

    fn named(name: &str) -> Result<Self, String> {
        Self::parse(name).map_err(|_| format!("must be {}, found `{name}`", Self::NAMES))
    }

    /// A job's `executor` field: a name, or the object a record carries (`{"kind": "slurm",
    /// ...}`: a retried record runs where it ran). `None` when absent or null.
    pub fn of_job(job: &Map<String, Value>) -> Result<Option<Self>, String> {
        match job.get("executor") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(name)) => Self::named(name).map(Some),
            Some(Value::Object(o)) => match o.get("kind") {
                Some(Value::String(name)) => Self::named(name).map(Some),
                _ => Err("as an object needs `kind` (`local` or `slurm`)".into()),
            },
            Some(other) => Err(format!(
                "must be {}, found {}",
                Self::NAMES,
                crate::job::type_name(other)
            )),
        }
    }
}

/// A job queued again from its record (`retry`, `rerun`) asks for the executor it ran on, not for
/// that run's Slurm id: `"executor": {"kind": "slurm", "job_id": 7}` becomes `"slurm"`.
pub fn as_asked(job: &mut Map<String, Value>) {
    if let Some(Value::Object(ran)) = job.get("executor")
        && let Some(Value::String(kind)) = ran.get("kind")
    {
        let kind = kind.clone();
        job.insert("executor".into(), Value::String(kind));
    }
}

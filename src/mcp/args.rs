//! The tools' arguments (their schemas are the tools' input schemas) and the structured answers
//! only the MCP door gives.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ops::output::Stream;
use crate::ops::view::JobView;

/// One program and its arguments, or one string.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitArgs {
    /// The program to run (a name found on PATH, or a path), without a shell. Give `command`
    /// (with `args`) or `shell`, not both.
    pub command: Option<String>,
    /// Arguments for `command`, each passed as is (no shell quoting needed).
    #[serde(default)]
    pub args: Vec<String>,
    /// A command line run by /bin/sh -c (pipes, redirections, globs).
    pub shell: Option<String>,
    /// The folder to run in (absolute, or relative to the server's folder).
    pub cwd: Option<String>,
    /// Environment variables to set for the job.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds before the job is stopped (the queue's default otherwise).
    pub timeout: Option<f64>,
    /// Higher runs first (default 0).
    pub priority: Option<i64>,
    /// Run only after this job (or these jobs) completed: task_ids or job names.
    pub after: Option<OneOrMany>,
    /// Do not start before this time (RFC 3339, such as 2026-11-24T22:00:00+01:00).
    pub not_before: Option<String>,
    /// What the job is for, kept in its record.
    pub description: Option<String>,
    /// Your own id for the job, to refer to it later (default: a time-based id).
    pub task_id: Option<String>,
    /// Confine the job: "read-only" (writes only in a private temporary folder), "workspace"
    /// (writes only in cwd and that folder), "none"; or an object {"mode": "workspace",
    /// "writable": ["/abs/dir"], "readable": ["/abs/dir"], "network": false}. Network is off
    /// in both sandboxed modes unless "network": true. The queue's owner may set a floor that a
    /// looser request is refused by.
    pub sandbox: Option<serde_json::Value>,
    /// The group whose slots it takes (`[groups.NAME] jobs = N` in the queue's config; default
    /// "default").
    pub group: Option<String>,
    /// Queue it held: it waits, untouched, until release_job.
    #[serde(default)]
    pub hold: bool,
    /// Where it runs: "local" (a process on this machine) or "slurm" (a batch job on the Slurm
    /// cluster the queue's owner set up); default: the queue's `[executor] default`, else local.
    pub executor: Option<String>,
    /// Set by the server itself for a task-augmented call (see `mcp::tasks`); not advertised.
    #[serde(default)]
    #[schemars(skip)]
    pub mcp_task: bool,
    /// Wait up to this many seconds for the job to finish and return its result (default 0:
    /// return at once; capped at the server's max_wait, 50 s by default).
    pub wait_seconds: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// The job: its task_id, file name, or file name without .json.
    pub job: String,
    /// Wait up to this many seconds for it to finish (default 0; capped at the server's
    /// max_wait, 50 s by default).
    pub wait_seconds: Option<f64>,
    /// The job as of its run N (0: the first), for a task of that run; not advertised.
    #[serde(default)]
    #[schemars(skip)]
    pub run: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobArg {
    /// The job: its task_id, file name, or file name without .json.
    pub job: String,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateArg {
    #[default]
    All,
    Pending,
    Running,
    Completed,
    Failed,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Newest,
    Oldest,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Which jobs (default all).
    #[serde(default)]
    pub state: StateArg,
    /// newest (default) or oldest first.
    #[serde(default)]
    pub order: Order,
    /// How many (default 20, at most 500).
    pub limit: Option<usize>,
    /// Only jobs submitted as tasks (`tasks/list`); not advertised.
    #[serde(default)]
    #[schemars(skip)]
    pub mcp_tasks: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputArgs {
    /// The job: its task_id, file name, or file name without .json.
    pub job: String,
    /// stdout (default) or stderr.
    #[serde(default)]
    pub stream: Stream,
    /// Where to start, in bytes (default 0; use the previous page's next_offset).
    #[serde(default)]
    pub offset: u64,
    /// How many bytes (default 65536, at most 1048576).
    pub length: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// How many jobs there are in the states asked for.
    pub total: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    /// What happened, in a sentence.
    pub message: String,
    pub job: JobView,
}

//! The tools that steer the queue rather than one submission: pause and resume it (or a group),
//! hold and release a waiting job, rerun a finished one. Each goes through the operation every
//! door uses (`ops::pause`, `ops::edit`, `ops::rerun`), behind this server's policy: a read-only
//! server refuses them all; under an allowlist, a job released or rerun must be one an agent could
//! have submitted (as `retry_job` checks).

use std::sync::Arc;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, JsonObject};
use rmcp::{ErrorData, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::args::JobArg;
use super::schema;
use super::tools::{Execq, ToolError, answer, blocking, flatten, parse, tool_error};
use crate::job::sandbox::Origin;
use crate::ops;
use crate::ops::submit::check_sandbox;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupArg {
    /// Only this group's jobs (default: the whole queue).
    pub group: Option<String>,
}

/// What a control tool did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Steered {
    /// What happened, in a sentence.
    pub message: String,
    /// The job it concerns, when it concerns one (its name now).
    pub job: Option<String>,
}

fn steered(message: String, job: Option<String>) -> CallToolResult {
    let text = message.clone();
    answer(&Steered { message, job }, text)
}

impl Execq {
    fn may_steer(&self) -> Result<(), ToolError> {
        self.policy.check(None, false, &[]).map_err(tool_error)
    }

    async fn pause_or_resume(
        &self,
        args: JsonObject,
        pause: bool,
    ) -> Result<CallToolResult, ToolError> {
        let args: GroupArg = parse(args)?;
        self.may_steer()?;
        let (queue, policy) = (self.queue.clone(), Arc::clone(&self.policy));
        let changed = blocking(move || {
            if pause {
                ops::pause::pause(&queue, args.group.as_deref(), Origin::Mcp)
            } else {
                // Resumed, its waiting jobs start: each must be one an agent could have submitted.
                for (name, spec) in ops::pause::waiting_jobs(&queue, args.group.as_deref())? {
                    policy
                        .check_spec(&spec)
                        .and_then(|()| {
                            let cwd = spec.cwd.as_deref();
                            check_sandbox(&queue, spec.sandbox.as_ref(), Origin::Mcp, cwd)
                        })
                        .map_err(|why| {
                            anyhow::anyhow!("not resumed: `{name}` waits in it, and {why}")
                        })?;
                }
                let changed = ops::pause::resume(&queue, args.group.as_deref(), Origin::Mcp)?;
                super::calls::kick(&queue);
                Ok(changed)
            }
        })
        .await?;
        let what = if changed.scope == "queue" {
            "the queue".to_owned()
        } else {
            format!("group `{}`", changed.scope)
        };
        let message = match (pause, changed.unchanged) {
            (true, false) => format!(
                "{what} is paused: no job of it starts until resume_queue (running ones go on)"
            ),
            (true, true) => format!("{what} was paused already"),
            (false, false) => format!("{what} is resumed: its waiting jobs start"),
            (false, true) => format!("{what} was not paused"),
        };
        Ok(steered(message, None))
    }

    async fn hold_or_release(
        &self,
        args: JsonObject,
        hold: bool,
    ) -> Result<CallToolResult, ToolError> {
        let args: JobArg = parse(args)?;
        self.may_steer()?;
        let (queue, policy) = (self.queue.clone(), Arc::clone(&self.policy));
        let done = blocking(move || {
            if hold {
                return ops::edit::hold(&queue, &args.job);
            }
            // Released, it runs: it must be a job this server would have let an agent submit.
            let waiting = ops::edit::read(&queue, &args.job, "released")?;
            let spec = crate::job::from_json(&waiting.object)
                .map_err(|e| anyhow::anyhow!("`{}` cannot run as it is: {e}", waiting.name))?;
            policy
                .check_spec(&spec)
                .and_then(|()| {
                    let cwd = spec.cwd.as_deref();
                    check_sandbox(&queue, spec.sandbox.as_ref(), Origin::Mcp, cwd)
                })
                .map_err(|why| anyhow::anyhow!("`{}` was not released: {why}", waiting.name))?;
            let mut object = waiting.object.clone();
            object.remove("hold");
            let done = ops::edit::replace(&queue, &waiting, object)?;
            super::calls::kick(&queue);
            Ok(done)
        })
        .await?;
        let message = match (hold, done.unchanged) {
            (true, false) => format!(
                "`{}` is held: it waits, untouched, until release_job",
                done.name
            ),
            (true, true) => format!("`{}` was held already", done.name),
            (false, false) => format!("`{}` is released: it may run", done.name),
            (false, true) => format!("`{}` was not held", done.name),
        };
        Ok(steered(message, Some(done.name)))
    }

    async fn rerun(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args: JobArg = parse(args)?;
        self.may_steer()?;
        let (queue, policy) = (self.queue.clone(), Arc::clone(&self.policy));
        let path = blocking(move || {
            let path = ops::rerun::rerun(&queue, &args.job, Origin::Mcp, |spec| {
                policy.check_spec(spec)
            })?;
            super::calls::kick(&queue);
            Ok(path)
        })
        .await?;
        let name = crate::queue::names::display_name(path.file_name().unwrap_or_default());
        Ok(steered(
            format!("a fresh copy is queued as `{name}` (rerun_of the original)"),
            Some(name),
        ))
    }
}

#[tool_router(router = control_router, vis = "pub(super)")]
impl Execq {
    #[tool(
        description = "Pause the queue (or one `group`): no job of it starts until resume_queue. Running jobs go on; new and scheduled jobs wait.",
        input_schema = schema::input::<GroupArg>(),
        output_schema = schema::output::<Steered>()
    )]
    async fn pause_queue(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.pause_or_resume(args, true).await)
    }

    #[tool(
        description = "Resume a paused queue (or `group`): its waiting jobs start.",
        input_schema = schema::input::<GroupArg>(),
        output_schema = schema::output::<Steered>()
    )]
    async fn resume_queue(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.pause_or_resume(args, false).await)
    }

    #[tool(
        description = "Hold a waiting job: it stays pending, untouched, until release_job.",
        input_schema = schema::input::<JobArg>(),
        output_schema = schema::output::<Steered>()
    )]
    async fn hold_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.hold_or_release(args, true).await)
    }

    #[tool(
        description = "Release a held job: it may run again.",
        input_schema = schema::input::<JobArg>(),
        output_schema = schema::output::<Steered>()
    )]
    async fn release_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.hold_or_release(args, false).await)
    }

    #[tool(
        description = "Run a finished job (completed, failed or cancelled) again as a fresh copy under a new name; its rerun_of names the original, whose record stays.",
        input_schema = schema::input::<JobArg>(),
        output_schema = schema::output::<Steered>()
    )]
    async fn rerun_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.rerun(args).await)
    }
}

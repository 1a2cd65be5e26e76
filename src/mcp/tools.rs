//! The MCP tools. Each takes its arguments as a JSON object and parses them itself, so that a
//! bad argument comes back as a tool error (`isError`) naming the argument — something the model
//! can fix — rather than a protocol error; the advertised input schema is still the argument
//! type's own. Queue work runs on tokio's blocking pool.

use std::sync::Arc;
use std::time::Duration;

use super::schema;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, JsonObject, ListResourceTemplatesResult,
    ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Policy;
use super::args::{Done, GetArgs, JobArg, JobList, ListArgs, NoArgs, OutputArgs, SubmitArgs};
use super::resources;
use super::stdio::Relay;
use super::tasks::Tasks;
use crate::ops::output::OutputPage;
use crate::ops::view::JobView;
use crate::queue::Queue;

/// Serves on stdin/stdout until the client hangs up.
pub async fn serve(queue: Queue, policy: Policy) -> anyhow::Result<()> {
    let tasks = Arc::new(Tasks::new(
        task_ttl_ms(&queue),
        policy.max_wait.as_secs_f64(),
    ));
    let server = Execq {
        queue,
        policy: Arc::new(policy),
        tool_router: Execq::tool_router() + Execq::control_router(),
        watches: resources::Watches::default(),
    };
    let (read, write, relay) = Relay::start(tokio::io::stdin(), tokio::io::stdout(), tasks);
    let served = async {
        let service = server
            .serve((read, write))
            .await
            .map_err(|e| anyhow::anyhow!("MCP handshake failed: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| anyhow::anyhow!("the MCP session failed: {e}"))
    };
    let result = served.await;
    relay.finish().await.ok();
    result.map(drop)
}

/// How long a finished task's result is kept, in milliseconds: as long as `[retention]` keeps its
/// job's record where `get_job` finds it — for good when it archives (archived records are found
/// too), else the shorter of its two ages; `None`: for good.
fn task_ttl_ms(queue: &Queue) -> Option<u64> {
    let retention = crate::config::load(queue).ok().flatten()?.retention?;
    if retention.archive {
        return None;
    }
    [retention.completed, retention.failed]
        .into_iter()
        .flatten()
        .map(|age| u64::try_from(age.0.as_millis()).unwrap_or(u64::MAX))
        .min()
}

#[derive(Clone)]
pub(super) struct Execq {
    pub(super) queue: Queue,
    pub(super) policy: Arc<Policy>,
    tool_router: ToolRouter<Self>,
    /// Resource subscriptions (2025-11-25 and before).
    watches: resources::Watches,
}

/// A failure the model can act on: becomes a tool error (`isError`) with a sentence saying
/// what to do.
#[derive(Debug)]
pub(super) struct ToolError(String);

pub(super) fn tool_error(message: impl Into<String>) -> ToolError {
    ToolError(message.into())
}

/// Structured output and readable text.
pub(super) fn answer(value: &impl Serialize, text: String) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = serde_json::to_value(value).ok();
    result
}

pub(super) fn parse<T: DeserializeOwned>(args: JsonObject) -> Result<T, ToolError> {
    serde_path_to_error::deserialize(Value::Object(args)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            tool_error(format!("invalid arguments: {}", e.into_inner()))
        } else {
            tool_error(format!("invalid argument `{path}`: {}", e.into_inner()))
        }
    })
}

/// Runs queue work off the async threads; its error (or panic) becomes a tool error.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ToolError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(tool_error(format!("{e:#}"))),
        Err(e) => Err(tool_error(format!("internal error: {e}"))),
    }
}

pub(super) fn seconds(
    value: Option<f64>,
    name: &str,
    cap: Duration,
) -> Result<Duration, ToolError> {
    match value {
        None => Ok(Duration::ZERO),
        Some(s) if s.is_finite() && s >= 0.0 => {
            Ok(Duration::from_secs_f64(s.min(cap.as_secs_f64())))
        }
        Some(s) => Err(tool_error(format!(
            "`{name}` must be a number of seconds, 0 or more (got {s})"
        ))),
    }
}

pub(super) fn flatten(
    result: Result<CallToolResult, ToolError>,
) -> Result<CallToolResult, ErrorData> {
    Ok(result.unwrap_or_else(|ToolError(message)| {
        CallToolResult::error(vec![ContentBlock::text(message)])
    }))
}

#[tool_router]
impl Execq {
    #[tool(
        description = "Queue a shell command to run on the user's machine, and return at once with its reference (or its result, if it finishes within wait_seconds). Give `command` plus `args` (no shell), or `shell` (a /bin/sh command line). The job keeps running after this call returns: use get_job to see its status and result, job_output to read long output, cancel_job to stop it. Good for long builds and tests that would exceed a tool call's time limit.",
        input_schema = schema::input::<SubmitArgs>(),
        output_schema = schema::output::<JobView>()
    )]
    async fn submit_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.submit(args, ctx).await)
    }

    #[tool(
        description = "The status and result of one job: state, exit code, duration, why it waits, and the last 4 KiB of stdout and stderr. With wait_seconds, waits up to that long for it to finish first.",
        input_schema = schema::input::<GetArgs>(),
        output_schema = schema::output::<JobView>(),
        annotations(read_only_hint = true)
    )]
    async fn get_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.get(args, ctx).await)
    }

    #[tool(
        description = "List jobs by state (pending, running, completed, failed, or all), newest or oldest first, with a limit.",
        input_schema = schema::input::<ListArgs>(),
        output_schema = schema::output::<JobList>(),
        annotations(read_only_hint = true)
    )]
    async fn list_jobs(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.list(args).await)
    }

    #[tool(
        description = "A page of a job's stdout or stderr: `length` bytes from `offset` (a running job's output so far included). Call again with next_offset until eof.",
        input_schema = schema::input::<OutputArgs>(),
        output_schema = schema::output::<OutputPage>(),
        annotations(read_only_hint = true)
    )]
    async fn job_output(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.output(args).await)
    }

    #[tool(
        description = "Cancel a pending or running job. A running job's whole process group is stopped (TERM, then KILL); it is recorded as cancelled with the output it had produced.",
        input_schema = schema::input::<JobArg>(),
        output_schema = schema::output::<Done>(),
        annotations(destructive_hint = true)
    )]
    async fn cancel_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.act(args, false).await)
    }

    #[tool(
        description = "Run a failed job again (timeout, error, cancelled, interrupted ... included): it goes back to pending with its earlier result kept in its history.",
        input_schema = schema::input::<JobArg>(),
        output_schema = schema::output::<Done>()
    )]
    async fn retry_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.act(args, true).await)
    }

    #[tool(
        description = "The queue at a glance: how many jobs are pending, running, completed and failed, the running drain, the last drain's outcome, the service, recent errors, and whether the queue is healthy.",
        input_schema = schema::input::<NoArgs>(),
        annotations(read_only_hint = true)
    )]
    async fn queue_status(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.status(args).await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Execq {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("execq", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "execq runs shell commands in a local queue. submit_job returns at once with the \
                 job's reference (or its result if it finishes within wait_seconds); the job keeps \
                 running, so use get_job (with wait_seconds) to wait for it and read its result, \
                 job_output to page through long output, cancel_job to stop it.",
            )
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let queue = self.queue.clone();
        blocking(move || resources::list(&queue))
            .await
            .map_err(|ToolError(e)| ErrorData::internal_error(e, None))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let queue = self.queue.clone();
        let read = tokio::task::spawn_blocking(move || resources::read(&queue, &request.uri));
        match read.await {
            Ok(result) => result.map(ReadResourceResponse::from),
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }

    /// 2025-11-25 and before: one notification, when the job's record lands.
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let (peer, uri) = (context.peer.clone(), request.uri.clone());
        let runtime = tokio::runtime::Handle::current();
        self.watches.start(&self.queue, &request.uri, move || {
            let updated = ResourceUpdatedNotificationParam::new(uri);
            let _ = runtime.block_on(peer.notify_resource_updated(updated));
        })
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.watches.stop(&request.uri);
        Ok(())
    }

    /// 2026-07-28: `subscriptions/listen` for jobs' URIs (those that name one).
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let uris = (requested.resource_subscriptions.iter().flatten())
            .filter(|uri| resources::parse(uri).is_ok())
            .cloned();
        Some(
            SubscriptionFilter::builder()
                .resource_subscriptions(uris)
                .build(),
        )
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        let watches = resources::Watches::default();
        let runtime = tokio::runtime::Handle::current();
        for uri in &uris {
            let (sink, uri_) = (context.sink().clone(), uri.clone());
            let runtime = runtime.clone();
            // A URI whose job is not (or no longer) there is simply never updated.
            let _ = watches.start(&self.queue, uri, move || {
                let _ = runtime.block_on(sink.notify_resource_updated(uri_));
            });
        }
        context.cancelled().await;
        for uri in &uris {
            watches.stop(uri);
        }
        Ok(())
    }
}

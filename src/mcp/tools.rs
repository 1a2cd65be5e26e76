//! The MCP tools. Each takes its arguments as a JSON object and parses them itself, so that a
//! bad argument comes back as a tool error (`isError`) naming the argument — something the model
//! can fix — rather than a protocol error; the advertised input schema is still the argument
//! type's own. Queue work runs on tokio's blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, JsonObject, ProgressNotificationParam,
    ProgressToken, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Policy;
use super::jobs::{self, JobView, OutputPage, Stream};
use super::stdio::Relay;
use crate::commands::submit::{EnvVar, SubmitCommand, SubmitOptions};
use crate::queue::Queue;
use crate::queue::catalog::State;
use crate::queue::watch::{Phase, Tracked};

/// How often a waiting tool call looks at the job.
const POLL: Duration = Duration::from_millis(100);

/// How often a waiting tool call reports progress, when the client asked for it.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// `list_jobs`' default and largest `limit`.
const LIST_DEFAULT: usize = 20;
const LIST_MAX: usize = 500;

/// `job_output`'s default page.
const PAGE_DEFAULT: u64 = 64 * 1024;

/// Serves on stdin/stdout until the client hangs up.
pub async fn serve(queue: Queue, policy: Policy) -> anyhow::Result<()> {
    let server = Execq {
        queue,
        policy: Arc::new(policy),
        tool_router: Execq::tool_router(),
    };
    let (read, write, relay) = Relay::start(tokio::io::stdin(), tokio::io::stdout());
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

#[derive(Clone)]
struct Execq {
    queue: Queue,
    policy: Arc<Policy>,
    tool_router: ToolRouter<Self>,
}

/// One program and its arguments, or one string.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SubmitArgs {
    /// The program to run (a name found on PATH, or a path), without a shell. Give `command`
    /// (with `args`) or `shell`, not both.
    command: Option<String>,
    /// Arguments for `command`, each passed as is (no shell quoting needed).
    #[serde(default)]
    args: Vec<String>,
    /// A command line run by /bin/sh -c (pipes, redirections, globs).
    shell: Option<String>,
    /// The folder to run in (absolute, or relative to the server's folder).
    cwd: Option<String>,
    /// Environment variables to set for the job.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Seconds before the job is stopped (the queue's default otherwise).
    timeout: Option<f64>,
    /// Higher runs first (default 0).
    priority: Option<i64>,
    /// Run only after this job (or these jobs) completed: task_ids or job names.
    after: Option<OneOrMany>,
    /// Do not start before this time (RFC 3339, such as 2026-11-24T22:00:00+01:00).
    not_before: Option<String>,
    /// What the job is for, kept in its record.
    description: Option<String>,
    /// Your own id for the job, to refer to it later (default: a time-based id).
    task_id: Option<String>,
    /// Wait up to this many seconds for the job to finish and return its result (default 0:
    /// return at once; capped at the server's max_wait, 50 s by default).
    wait_seconds: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    /// The job: its task_id, file name, or file name without .json.
    job: String,
    /// Wait up to this many seconds for it to finish (default 0; capped at the server's
    /// max_wait, 50 s by default).
    wait_seconds: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JobArg {
    /// The job: its task_id, file name, or file name without .json.
    job: String,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum StateArg {
    #[default]
    All,
    Pending,
    Running,
    Completed,
    Failed,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Order {
    #[default]
    Newest,
    Oldest,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    /// Which jobs (default all).
    #[serde(default)]
    state: StateArg,
    /// newest (default) or oldest first.
    #[serde(default)]
    order: Order,
    /// How many (default 20, at most 500).
    limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OutputArgs {
    /// The job: its task_id, file name, or file name without .json.
    job: String,
    /// stdout (default) or stderr.
    #[serde(default)]
    stream: Stream,
    /// Where to start, in bytes (default 0; use the previous page's next_offset).
    #[serde(default)]
    offset: u64,
    /// How many bytes (default 65536, at most 1048576).
    length: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Debug, Serialize, JsonSchema)]
struct JobList {
    jobs: Vec<jobs::Listed>,
    /// How many jobs there are in the states asked for.
    total: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Done {
    /// What happened, in a sentence.
    message: String,
    job: JobView,
}

/// A failure the model can act on: becomes a tool error (`isError`) with a sentence saying
/// what to do.
#[derive(Debug)]
struct ToolError(String);

fn tool_error(message: impl Into<String>) -> ToolError {
    ToolError(message.into())
}

/// Structured output and readable text.
fn answer(value: &impl Serialize, text: String) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = serde_json::to_value(value).ok();
    result
}

fn parse<T: DeserializeOwned>(args: JsonObject) -> Result<T, ToolError> {
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
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ToolError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(tool_error(format!("{e:#}"))),
        Err(e) => Err(tool_error(format!("internal error: {e}"))),
    }
}

fn seconds(value: Option<f64>, name: &str, cap: Duration) -> Result<Duration, ToolError> {
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

fn flatten(result: Result<CallToolResult, ToolError>) -> Result<CallToolResult, ErrorData> {
    Ok(result.unwrap_or_else(|ToolError(message)| {
        CallToolResult::error(vec![ContentBlock::text(message)])
    }))
}

#[tool_router]
impl Execq {
    #[tool(
        description = "Queue a shell command to run on the user's machine, and return at once with its reference (or its result, if it finishes within wait_seconds). Give `command` plus `args` (no shell), or `shell` (a /bin/sh command line). The job keeps running after this call returns: use get_job to see its status and result, job_output to read long output, cancel_job to stop it. Good for long builds and tests that would exceed a tool call's time limit.",
        input_schema = schema_for_input::<SubmitArgs>().expect("an object schema"),
        output_schema = schema_for_output::<JobView>()
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
        input_schema = schema_for_input::<GetArgs>().expect("an object schema"),
        output_schema = schema_for_output::<JobView>(),
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
        input_schema = schema_for_input::<ListArgs>().expect("an object schema"),
        output_schema = schema_for_output::<JobList>(),
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
        input_schema = schema_for_input::<OutputArgs>().expect("an object schema"),
        output_schema = schema_for_output::<OutputPage>(),
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
        input_schema = schema_for_input::<JobArg>().expect("an object schema"),
        output_schema = schema_for_output::<Done>(),
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
        input_schema = schema_for_input::<JobArg>().expect("an object schema"),
        output_schema = schema_for_output::<Done>()
    )]
    async fn retry_job(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.act(args, true).await)
    }

    #[tool(
        description = "The queue at a glance: how many jobs are pending, running, completed and failed, the running drain, the last drain's outcome, the service, recent errors, and whether the queue is healthy.",
        input_schema = schema_for_input::<NoArgs>().expect("an object schema"),
        annotations(read_only_hint = true)
    )]
    async fn queue_status(
        &self,
        Parameters(args): Parameters<JsonObject>,
    ) -> Result<CallToolResult, ErrorData> {
        flatten(self.status(args).await)
    }
}

impl Execq {
    async fn submit(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let args: SubmitArgs = parse(args)?;
        let wait = seconds(args.wait_seconds, "wait_seconds", self.policy.max_wait)?;
        let (command, program) = match (&args.command, &args.shell) {
            (Some(program), None) => {
                let mut argv = vec![program.clone()];
                argv.extend(args.args.iter().cloned());
                (SubmitCommand::Argv(argv), Some(program.as_str()))
            }
            (None, Some(line)) if args.args.is_empty() => {
                (SubmitCommand::Shell(line.clone()), None)
            }
            (None, Some(_)) => {
                return Err(tool_error(
                    "`args` goes with `command`; with `shell`, put everything in the command line",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(tool_error(
                    "give either `command` (with `args`) or `shell`, not both",
                ));
            }
            (None, None) => {
                return Err(tool_error(
                    "nothing to run: give `command` (with `args`) or `shell`",
                ));
            }
        };
        let env: Vec<(String, String)> = args.env.into_iter().collect();
        for (name, value) in &env {
            crate::job::check_env(name, value).map_err(|e| tool_error(e.to_string()))?;
        }
        if let Err(why) = self.policy.check(program, args.shell.is_some(), &env) {
            let what = program.map_or_else(|| "a shell command".to_owned(), |p| format!("`{p}`"));
            tracing::warn!(target: crate::logging::DAEMON_LOG_ONLY, "mcp: refused to submit {what}: {why}");
            return Err(tool_error(why));
        }
        let not_before = match &args.not_before {
            None => None,
            Some(text) => Some(chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
                tool_error(format!(
                    "`not_before` must be an RFC 3339 time such as 2026-11-24T22:00:00+01:00 ({e})"
                ))
            })?),
        };
        let options = SubmitOptions {
            command,
            task_id: args.task_id,
            description: args.description,
            result_file: None,
            timeout: args.timeout,
            cwd: args.cwd.map(Into::into),
            priority: args.priority,
            after: match args.after {
                None => Vec::new(),
                Some(OneOrMany::One(one)) => vec![one],
                Some(OneOrMany::Many(many)) => many,
            },
            not_before,
            env: env
                .into_iter()
                .map(|(name, value)| EnvVar::Set(name, value))
                .collect(),
            limits: Default::default(),
        };
        let queue = self.queue.clone();
        let (submitted, tracked) = blocking(move || {
            // A task_id given by hand may be an earlier job's: its records are not this job's.
            let earlier = match options.task_id {
                Some(_) => crate::queue::watch::records(&queue),
                None => Default::default(),
            };
            let submitted = crate::commands::submit::submit(&queue, &options)?;
            tracing::info!(task_id = %submitted.task_id, path = %submitted.path.display(), "mcp: job submitted");
            if let Err(e) = jobs::start_drain(&queue) {
                tracing::warn!("mcp: the job is queued, but no drain could be started: {e:#}");
            }
            let name = submitted.path.file_name().unwrap_or_default().to_owned();
            let tracked = Tracked::pending(submitted.task_id.clone(), name, submitted.id, earlier);
            Ok((submitted, tracked))
        })
        .await?;
        let name =
            crate::queue::names::display_name(submitted.path.file_name().unwrap_or_default());
        let view = self.wait_for(tracked, name, wait, &ctx).await?;
        let mut text = view.text();
        if !view.done {
            text = format!(
                "queued: {}\nIt runs in the background; get_job with job=\"{}\" tells its status and result.\n{text}",
                submitted.task_id, view.job
            );
        }
        Ok(answer(&view, text))
    }

    async fn get(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let args: GetArgs = parse(args)?;
        let wait = seconds(args.wait_seconds, "wait_seconds", self.policy.max_wait)?;
        let queue = self.queue.clone();
        let reference = args.job.clone();
        let found = blocking(move || match Tracked::find_entry(&queue, &reference) {
            Ok((tracked, entry)) => Ok(Ok((tracked, entry.name))),
            // Not in the queue: perhaps archived (see `retention`).
            Err(e) => match crate::commands::show::json(&queue, &reference) {
                Ok(shown) if shown["state"] == "archived" => Ok(Err(JobView::archived(&shown))),
                _ => Err(e),
            },
        })
        .await?;
        let view = match found {
            Ok((tracked, name)) => self.wait_for(tracked, name, wait, &ctx).await?,
            Err(archived) => archived,
        };
        let text = view.text();
        Ok(answer(&view, text))
    }

    /// Waits up to `wait` for the job to finish (reporting progress every second when the
    /// client gave a progress token), then describes it as it is.
    async fn wait_for(
        &self,
        tracked: Tracked,
        name: String,
        wait: Duration,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<JobView, ToolError> {
        let start = Instant::now();
        let deadline = start + wait;
        let token = ctx.meta.get_progress_token();
        let mut reported = start;
        let tracked = Arc::new(tracked);
        loop {
            let queue = self.queue.clone();
            let job = Arc::clone(&tracked);
            let phase = blocking(move || {
                Ok(match job.phase(&queue)? {
                    Phase::Finished(entry) => Some(JobView::of(&queue, &entry)?),
                    Phase::Pending | Phase::Running => None,
                })
            })
            .await?;
            if let Some(view) = phase {
                return Ok(view);
            }
            if Instant::now() >= deadline || ctx.ct.is_cancelled() {
                break;
            }
            if let Some(token) = &token
                && reported.elapsed() >= PROGRESS_EVERY
            {
                reported = Instant::now();
                let waited = start.elapsed().as_secs_f64();
                let param =
                    ProgressNotificationParam::new(ProgressToken(token.0.clone()), waited.floor())
                        .with_total(wait.as_secs_f64().ceil())
                        .with_message(format!(
                            "{} not finished after {waited:.0} s",
                            tracked.reference
                        ));
                // Progress is a courtesy: a client that cannot take it still gets the answer.
                let _ = ctx.peer.notify_progress(param).await;
            }
            tokio::time::sleep(POLL).await;
        }
        let queue = self.queue.clone();
        blocking(move || {
            let entry = jobs::current(&queue, &name)?;
            JobView::of(&queue, &entry)
        })
        .await
    }

    async fn list(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args: ListArgs = parse(args)?;
        let limit = args.limit.unwrap_or(LIST_DEFAULT);
        if limit == 0 || limit > LIST_MAX {
            return Err(tool_error(format!("`limit` must be from 1 to {LIST_MAX}")));
        }
        let states: Vec<State> = match args.state {
            StateArg::All => State::ALL.to_vec(),
            StateArg::Pending => vec![State::Pending],
            StateArg::Running => vec![State::Running],
            StateArg::Completed => vec![State::Completed],
            StateArg::Failed => vec![State::Failed],
        };
        let newest = matches!(args.order, Order::Newest);
        let queue = self.queue.clone();
        let (jobs, total) = blocking(move || jobs::list(&queue, &states, newest, limit)).await?;
        let mut text = format!("{} of {total} jobs", jobs.len());
        for j in &jobs {
            text.push_str(&format!(
                "\n{}  {}  {}  {}",
                j.status.as_deref().unwrap_or(&j.state),
                j.job,
                j.time,
                j.command
            ));
        }
        Ok(answer(&JobList { jobs, total }, text))
    }

    async fn output(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args: OutputArgs = parse(args)?;
        let length = args.length.unwrap_or(PAGE_DEFAULT);
        if length == 0 || length > jobs::MAX_PAGE {
            return Err(tool_error(format!(
                "`length` must be from 1 to {}",
                jobs::MAX_PAGE
            )));
        }
        let queue = self.queue.clone();
        let page = blocking(move || {
            jobs::output_page(&queue, &args.job, args.stream, args.offset, length)
        })
        .await?;
        let end = if page.eof {
            "the end".to_owned()
        } else if page.running {
            format!(
                "more may come: the job is running; next_offset {}",
                page.next_offset
            )
        } else {
            format!("next_offset {}", page.next_offset)
        };
        let text = format!(
            "{}[{} bytes {}..{} of {}; {end}]",
            page.data,
            page.stream.name(),
            page.offset,
            page.next_offset,
            page.total_bytes
        );
        Ok(answer(&page, text))
    }

    async fn act(&self, args: JsonObject, retry: bool) -> Result<CallToolResult, ToolError> {
        let args: JobArg = parse(args)?;
        if let Err(why) = self.policy.check(None, false, &[]) {
            return Err(tool_error(why));
        }
        let queue = self.queue.clone();
        let policy = Arc::clone(&self.policy);
        let done = blocking(move || {
            let (message, reference) = if retry {
                // A retry runs the job again: it passes the check a submission does.
                let path = crate::commands::retry::retry_if(&queue, &args.job, |spec| {
                    policy.check_spec(spec)
                })?;
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if let Err(e) = jobs::start_drain(&queue) {
                    tracing::warn!("mcp: the job is queued, but no drain could be started: {e:#}");
                }
                (format!("`{}` is pending again, as {name}", args.job), name)
            } else {
                let line = crate::commands::cancel::cancel(&queue, &args.job)?;
                (line.replace('\t', " "), args.job.clone())
            };
            let entry = jobs::current(&queue, &reference)?;
            Ok(Done {
                message,
                job: JobView::of(&queue, &entry)?,
            })
        })
        .await?;
        let text = format!("{}\n{}", done.message, done.job.text());
        Ok(answer(&done, text))
    }

    async fn status(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let _: NoArgs = parse(args)?;
        let queue = self.queue.clone();
        let report = blocking(move || {
            let service =
                crate::commands::service::spec(&queue, crate::service::DEFAULT_LABEL, None, None)
                    .ok();
            crate::commands::status::report(&queue, service.as_ref())
        })
        .await?;
        let c = &report.counts;
        let text = format!(
            "queue {}: {} pending ({} waiting for a time or a dependency), {} running, {} completed, {} failed; {}",
            report.queue,
            c.pending,
            c.waiting,
            c.running,
            c.completed,
            c.failed,
            if report.healthy {
                "healthy".to_owned()
            } else {
                format!("problems: {}", report.problems.join("; "))
            }
        );
        Ok(answer(&report, text))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Execq {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("execq", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "execq runs shell commands in a local queue. submit_job returns at once with the \
                 job's reference (or its result if it finishes within wait_seconds); the job keeps \
                 running, so use get_job (with wait_seconds) to wait for it and read its result, \
                 job_output to page through long output, cancel_job to stop it.",
            )
    }
}

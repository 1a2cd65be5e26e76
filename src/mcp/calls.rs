//! What each tool does: parse its arguments, check them against the server's policy, call the
//! operation (`ops`) on tokio's blocking pool, and answer with the operation's outcome as
//! structured content and text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject, ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;

use super::args::{
    Done, GetArgs, JobArg, JobList, ListArgs, NoArgs, OneOrMany, Order, OutputArgs, StateArg,
    SubmitArgs,
};
use super::text;
use super::tools::{Execq, ToolError, answer, blocking, parse, seconds, tool_error};
use crate::ops::cancel::{self, Origin};
use crate::ops::get::{self, Found};
use crate::ops::kick::{self, Launch};
use crate::ops::list::{self, ListRequest};
use crate::ops::output::{self, MAX_PAGE};
use crate::ops::submit::{EnvVar, SubmitCommand, SubmitOptions};
use crate::ops::view::{Detail, JobView};
use crate::ops::wait::{self, Waited};
use crate::queue::Queue;
use crate::queue::catalog::State;
use crate::queue::watch::Tracked;

/// How often a waiting tool call reports progress, when the client asked for it.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// `list_jobs`' default and largest `limit`.
const LIST_DEFAULT: usize = 20;
const LIST_MAX: usize = 500;

/// `job_output`'s default page.
const PAGE_DEFAULT: u64 = 64 * 1024;

/// Makes sure a drain runs what was just queued (`ops::kick`); the job is queued either way.
pub(super) fn kick(queue: &Queue) {
    if let Err(e) = kick::kick(queue, Launch::Process) {
        tracing::warn!("mcp: the job is queued, but no drain could be started: {e:#}");
    }
}

impl SubmitArgs {
    /// The submission these arguments ask for, the program it names (`None`: a shell line), and
    /// the variables it sets.
    fn options(&self) -> Result<(SubmitOptions, Option<&str>), ToolError> {
        let (command, program) = match (&self.command, &self.shell) {
            (Some(program), None) => {
                let mut argv = vec![program.clone()];
                argv.extend(self.args.iter().cloned());
                (SubmitCommand::Argv(argv), Some(program.as_str()))
            }
            (None, Some(line)) if self.args.is_empty() => {
                (SubmitCommand::Shell(line.clone()), None)
            }
            (None, Some(_)) => Err(tool_error(
                "`args` goes with `command`; with `shell`, put everything in the command line",
            ))?,
            (Some(_), Some(_)) => Err(tool_error(
                "give either `command` (with `args`) or `shell`, not both",
            ))?,
            (None, None) => Err(tool_error(
                "nothing to run: give `command` (with `args`) or `shell`",
            ))?,
        };
        for (name, value) in &self.env {
            crate::job::check_env(name, value).map_err(|e| tool_error(e.to_string()))?;
        }
        let not_before = match &self.not_before {
            None => None,
            Some(text) => Some(chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
                tool_error(format!(
                    "`not_before` must be an RFC 3339 time such as 2026-11-24T22:00:00+01:00 ({e})"
                ))
            })?),
        };
        let options = SubmitOptions {
            command,
            task_id: self.task_id.clone(),
            description: self.description.clone(),
            result_file: None,
            timeout: self.timeout,
            cwd: self.cwd.clone().map(Into::into),
            priority: self.priority,
            after: match &self.after {
                None => Vec::new(),
                Some(OneOrMany::One(one)) => vec![one.clone()],
                Some(OneOrMany::Many(many)) => many.clone(),
            },
            not_before,
            env: (self.env.iter())
                .map(|(name, value)| EnvVar::Set(name.clone(), value.clone()))
                .collect(),
            limits: Default::default(),
            sandbox: match &self.sandbox {
                None | Some(serde_json::Value::Null) => None,
                Some(value) => Some(
                    crate::job::sandbox::Sandbox::parse(value, false)
                        .map_err(|e| tool_error(format!("`sandbox`: {e}")))?,
                ),
            },
            origin: crate::job::sandbox::Origin::Mcp,
            mcp_task: self.mcp_task,
            hold: self.hold,
            group: self.group.clone(),
            executor: match self.executor.as_deref() {
                None => None,
                Some(name) => Some(
                    crate::executor::Kind::parse(name)
                        .map_err(|e| tool_error(format!("`executor`: {e}")))?,
                ),
            },
        };
        Ok((options, program))
    }
}

impl Execq {
    pub(super) async fn submit(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let args: SubmitArgs = parse(args)?;
        let wait = seconds(args.wait_seconds, "wait_seconds", self.policy.max_wait)?;
        let (options, program) = args.options()?;
        let env: Vec<(String, String)> = args.env.clone().into_iter().collect();
        if let Err(why) = self.policy.check(program, args.shell.is_some(), &env) {
            let what = program.map_or_else(|| "a shell command".to_owned(), |p| format!("`{p}`"));
            tracing::warn!(target: crate::logging::DAEMON_LOG_ONLY, "mcp: refused to submit {what}: {why}");
            return Err(tool_error(why));
        }
        let queue = self.queue.clone();
        let (submitted, tracked) = blocking(move || {
            // A task_id given by hand may be an earlier job's: its records are not this job's.
            let earlier = match &options.task_id {
                Some(task_id) => crate::queue::watch::records_named(&queue, task_id),
                None => Default::default(),
            };
            // The drain starts while pending/ is synced (see `ops::submit::submit_unsynced`).
            let unsynced = crate::ops::submit::submit_unsynced(&queue, &options)?;
            kick(&queue);
            let submitted = unsynced.sync(&queue)?;
            tracing::info!(task_id = %submitted.task_id, path = %submitted.path.display(), "mcp: job submitted");
            let name = submitted.path.file_name().unwrap_or_default().to_owned();
            let tracked = Tracked::pending(submitted.task_id.clone(), name, submitted.id, earlier);
            Ok((submitted, tracked))
        })
        .await?;
        let name =
            crate::queue::names::display_name(submitted.path.file_name().unwrap_or_default());
        let view = self.wait_for(tracked, name, wait, &ctx).await?;
        let mut text = text::job(&view);
        if !view.done {
            text = format!(
                "queued: {}\nIt runs in the background; get_job with job=\"{}\" tells its status and result.\n{text}",
                submitted.task_id, view.job
            );
        }
        Ok(answer(&view, text))
    }

    pub(super) async fn get(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let args: GetArgs = parse(args)?;
        let wait = seconds(args.wait_seconds, "wait_seconds", self.policy.max_wait)?;
        let queue = self.queue.clone();
        let reference = args.job.clone();
        let found = blocking(move || match Tracked::find_entry(&queue, &reference) {
            Ok((tracked, entry)) => {
                let runs = entry
                    .object
                    .as_ref()
                    .map_or(0, crate::ops::view::runs_before);
                Ok(Ok((tracked, entry.name, entry.state, runs)))
            }
            // Not in the queue: perhaps archived (see `retention`).
            Err(e) => match get::find(&queue, &reference) {
                Ok(found @ Found::Archived(_)) => {
                    Ok(Err(get::view(&queue, &found, Detail::Tails)?))
                }
                _ => Err(e),
            },
        })
        .await?;
        let view = match found {
            // An earlier run's task: that run has ended, whatever the job does now.
            Ok((tracked, name, _, runs)) if args.run.is_some_and(|k| k < runs) => {
                self.wait_for(tracked, name, Duration::ZERO, &ctx).await?
            }
            Ok((tracked, name, state, _)) => {
                if !self.policy.read_only && matches!(state, State::Pending | State::Running) {
                    // A job left in running/ by a drain that died, or one pending with no
                    // drain: the wait (or the client polling) would see it waiting for good.
                    let queue = self.queue.clone();
                    blocking(move || {
                        kick(&queue);
                        Ok(())
                    })
                    .await?;
                }
                self.wait_for(tracked, name, wait, &ctx).await?
            }
            Err(archived) => archived,
        };
        let view = match args.run {
            Some(k) if k < view.retries => {
                let (queue, job) = (self.queue.clone(), view.job.clone());
                let record = blocking(move || get::get(&queue, &job, Detail::Record)).await?;
                let record = record.record.unwrap_or_default();
                view.at_run(&record, k).map_err(tool_error)?
            }
            Some(k) => view
                .at_run(&serde_json::Value::Null, k)
                .map_err(tool_error)?,
            None => view,
        };
        let text = text::job(&view);
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
        let queue = self.queue.clone();
        let token = ctx.meta.get_progress_token();
        let (peer, cancelled) = (ctx.peer.clone(), ctx.ct.clone());
        let runtime = tokio::runtime::Handle::current();
        blocking(move || {
            let start = Instant::now();
            let mut reported = start;
            let between = || {
                if let Some(token) = &token
                    && reported.elapsed() >= PROGRESS_EVERY
                {
                    reported = Instant::now();
                    let waited = start.elapsed().as_secs_f64();
                    let param = ProgressNotificationParam::new(
                        ProgressToken(token.0.clone()),
                        waited.floor(),
                    )
                    .with_total(wait.as_secs_f64().ceil())
                    .with_message(format!(
                        "{} not finished after {waited:.0} s",
                        tracked.reference
                    ));
                    // Progress is a courtesy: a client that cannot take it still gets the answer.
                    let _ = runtime.block_on(peer.notify_progress(param));
                }
                !cancelled.is_cancelled()
            };
            let entry = match wait::until(&queue, &tracked, Some(start + wait), between)? {
                Waited::Finished(entry) => *entry,
                Waited::NotYet => Tracked::find_entry(&queue, &name)?.1,
            };
            let waiting = get::waiting(&queue, &entry)?;
            JobView::of(&entry, waiting.as_ref(), Detail::Tails)
        })
        .await
    }

    pub(super) async fn list(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args: ListArgs = parse(args)?;
        let limit = args.limit.unwrap_or(LIST_DEFAULT);
        if limit == 0 || limit > LIST_MAX {
            return Err(tool_error(format!("`limit` must be from 1 to {LIST_MAX}")));
        }
        let request = ListRequest {
            states: match args.state {
                StateArg::All => Vec::new(),
                StateArg::Pending => vec![State::Pending],
                StateArg::Running => vec![State::Running],
                StateArg::Completed => vec![State::Completed],
                StateArg::Failed => vec![State::Failed],
            },
            limit: Some(limit),
            order: match args.order {
                Order::Newest => list::Order::NewestFirst,
                Order::Oldest => list::Order::OldestFirst,
            },
            mcp_tasks: args.mcp_tasks,
        };
        let queue = self.queue.clone();
        let (jobs, total) = blocking(move || {
            let listing = list::list(&queue, &request)?;
            Ok((listing.views()?, listing.total))
        })
        .await?;
        let text = text::list(&jobs, total);
        Ok(answer(&JobList { jobs, total }, text))
    }

    pub(super) async fn output(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args: OutputArgs = parse(args)?;
        let length = args.length.unwrap_or(PAGE_DEFAULT);
        if length == 0 || length > MAX_PAGE {
            return Err(tool_error(format!("`length` must be from 1 to {MAX_PAGE}")));
        }
        let queue = self.queue.clone();
        let page = blocking(move || {
            output::output_page(&queue, &args.job, args.stream, args.offset, length)
        })
        .await?;
        let text = text::page(&page);
        Ok(answer(&page, text))
    }

    pub(super) async fn act(
        &self,
        args: JsonObject,
        retry: bool,
    ) -> Result<CallToolResult, ToolError> {
        let args: JobArg = parse(args)?;
        if let Err(why) = self.policy.check(None, false, &[]) {
            return Err(tool_error(why));
        }
        let queue = self.queue.clone();
        let policy = Arc::clone(&self.policy);
        let done = blocking(move || {
            let (message, reference) = if retry {
                // A retry runs the job again: it passes the check a submission does.
                let path = crate::ops::retry::retry_if(
                    &queue,
                    &args.job,
                    crate::job::sandbox::Origin::Mcp,
                    |spec| policy.check_spec(spec),
                )?;
                kick(&queue);
                // As every door names files (`\xNN` for a byte that is not UTF-8), so the name
                // finds the job again.
                let name = crate::queue::names::display_name(path.file_name().unwrap_or_default());
                (format!("`{}` is pending again, as {name}", args.job), name)
            } else {
                let done = cancel::cancel(&queue, &args.job, Origin::Mcp)?;
                let line = format!("{} {} ({})", done.job(), done.status(), done.detail());
                (line, args.job.clone())
            };
            let (_, entry) = Tracked::find_entry(&queue, &reference)?;
            let waiting = get::waiting(&queue, &entry)?;
            Ok(Done {
                message,
                job: JobView::of(&entry, waiting.as_ref(), Detail::Tails)?,
            })
        })
        .await?;
        let text = format!("{}\n{}", done.message, text::job(&done.job));
        Ok(answer(&done, text))
    }

    pub(super) async fn status(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let _: NoArgs = parse(args)?;
        let queue = self.queue.clone();
        let report =
            blocking(move || crate::ops::status::report(&queue, crate::service::DEFAULT_LABEL))
                .await?;
        let text = text::status(&report);
        Ok(answer(&report, text))
    }
}

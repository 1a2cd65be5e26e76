//! MCP tasks, in both protocol revisions that define them: 2025-11-25 (tasks in the core protocol:
//! what the official TypeScript SDK 1.x and Python SDK 1.x speak) and 2026-07-28 (the tasks
//! extension, `io.modelcontextprotocol/tasks`: the TypeScript SDK 2 with `ext-tasks`, the Python
//! SDK 2). A task-augmented `tools/call` of `submit_job` or `retry_job` answers at once with a
//! task, which `tasks/get` and `tasks/cancel` (and in 2025-11-25 `tasks/result` and `tasks/list`)
//! then follow. `shape` says how the two revisions differ on the wire.
//!
//! **A task is a job.** Its id is the job's file name; its state is the job's, read from the
//! queue on every request; nothing about it lives in this process, so a task made by one
//! `execq mcp` is answered by the next (a restart, another client, another agent), and after its
//! record is archived. rmcp does not model the first revision, and models the second with tasks
//! of its own, so the relay (`stdio`) hands each line to [`Tasks`] on its way, which turns a task
//! request into the tool call that answers it (`get_job`, `cancel_job`, `list_jobs`) — the same
//! tools, so the same policy (`--read-only`, the allowlist, sandbox floors) holds for tasks — and
//! that tool's answer back into the task's shape.
//!
//! | request | answered by | then |
//! |---|---|---|
//! | `tools/call` as a task | the tool, told `wait_seconds: 0` and `mcp_task: true` | the task |
//! | `tasks/get` | `get_job` | the task (2026-07-28: with its result) |
//! | `tasks/result` | `get_job` with `wait_seconds`, again until the job has finished | what `get_job` answers, `isError` unless it completed |
//! | `tasks/cancel` | `cancel_job` (the whole process group; recorded `cancelled`) | the task (2026-07-28: an empty answer) |
//! | `tasks/list` | `list_jobs`, the 500 newest, those submitted as tasks | `{tasks}` |
//!
//! In 2025-11-25 the server that made a task also watches its job (a `get_job` that waits, asked
//! again until the job ends) and sends `notifications/tasks/status` when it does.
//!
//! A call refused outright (a bad argument, the allowlist, a sandbox floor, `--read-only`) queues
//! nothing; as a task it is `failed` from the start, with the reason, its id carrying that reason
//! (`shape::refused`) so that every server answers for it without anything stored.

mod shape;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};

use shape::{Revision, State, Task, refused};

/// The tools a client may call as a task.
const TASK_TOOLS: [&str; 2] = ["submit_job", "retry_job"];

/// What a `retry_job` task's id ends with, then the run it follows (`NAME#retry-1`: the first
/// retry). A task is one run of its job, so it never changes once that run has ended, however
/// often the job is retried; and its result has `retry_job`'s shape (`{message, job}`), where a
/// `submit_job` task's (run 0, `NAME`) has `get_job`'s, as each tool's output schema says.
const RETRY: &str = "#retry-";

/// A task, by its id: a job's file name, with [`RETRY`] and a run for a retry.
#[derive(Clone, Debug, PartialEq)]
struct TaskRef {
    job: String,
    /// The retry it follows: `None` for the job's first run.
    retry: Option<usize>,
}

impl TaskRef {
    fn parse(id: &str) -> Self {
        let retry = id.rsplit_once(RETRY).and_then(|(job, run)| {
            let digits = !run.is_empty() && run.bytes().all(|b| b.is_ascii_digit());
            let n: usize = run
                .parse()
                .ok()
                .filter(|&n| digits && n > 0 && !run.starts_with('0'))?;
            Some((job, n))
        });
        match retry {
            Some((job, run)) => Self {
                job: job.to_owned(),
                retry: Some(run),
            },
            None => Self {
                job: id.to_owned(),
                retry: None,
            },
        }
    }

    fn id(&self) -> String {
        match self.retry {
            Some(run) => format!("{}{RETRY}{run}", self.job),
            None => self.job.clone(),
        }
    }

    /// The run of its job this task follows.
    fn run(&self) -> usize {
        self.retry.unwrap_or(0)
    }

    /// The job as this task.
    fn task<'a>(&self, view: &Value, state: &'a State, ttl_ms: Option<u64>) -> Task<'a> {
        let mut task = Task::of(view, state, ttl_ms);
        task.id = self.id();
        task
    }

    /// A `get_job` answer as the final result of the tool that made this task.
    fn result(&self, result: &Value) -> Value {
        let mut result = result.clone();
        if self.retry.is_some() {
            let view = job_view(&result).clone();
            let status = view["status"].as_str().unwrap_or("not finished").to_owned();
            result["structuredContent"] =
                json!({"message": format!("`{}` was retried: {status}", self.job), "job": view});
        }
        result
    }
}

/// What an answer from the server is the answer to.
#[derive(Debug)]
enum Asked {
    Initialize,
    /// 2026-07-28's `server/discover`.
    Discover,
    ToolsList {
        rev: Revision,
    },
    /// A task-augmented tool call (same id as the client's).
    Create {
        rev: Revision,
        retry: bool,
    },
    Get {
        id: Value,
        rev: Revision,
        task: TaskRef,
    },
    Result {
        id: Value,
        task: TaskRef,
    },
    /// `tasks/cancel`, first: is the task's run still going?
    CancelCheck {
        id: Value,
        rev: Revision,
        task: TaskRef,
        /// The request, for the `_meta` the cancel carries.
        request: Value,
    },
    Cancel {
        id: Value,
        rev: Revision,
        task: TaskRef,
    },
    /// This server's watch on a task it made, for its status notification.
    Watch {
        task: TaskRef,
    },
    List {
        id: Value,
    },
}

/// Where a line goes next.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// To the server, in place of the client's line.
    Server(Vec<u8>),
    /// To the client, in place of the server's line.
    Client(Vec<u8>),
    /// To the client, and a request of our own to the server.
    Both(Vec<u8>, Vec<u8>),
    /// Nowhere: the answer to a request of our own that needs nothing more.
    Nowhere,
}

/// The task requests in flight, by the id of the request the server answers.
pub struct Tasks {
    asked: Mutex<HashMap<String, Asked>>,
    /// Our own requests' ids: `execq-task-TOKEN-N`, TOKEN random per server, so that no client
    /// request can carry one (its answer would be taken for ours, and the client's lost).
    token: String,
    next: AtomicU64,
    /// Whether the session, if one was opened by `initialize`, speaks a revision with tasks
    /// (2025-11-25 or later): a client of an older one gets plain calls.
    core_tasks: AtomicBool,
    /// How long a finished task's result stays (`[retention]`), in milliseconds; `None`: for good.
    ttl_ms: Option<u64>,
    /// What one `get_job` may wait, in seconds (the server's `max_wait`).
    wait: f64,
}

fn line(value: &Value) -> Vec<u8> {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

fn key(id: &Value) -> String {
    id.to_string()
}

fn answer(id: &Value, result: Value) -> Vec<u8> {
    line(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn error(id: &Value, code: i64, message: &str) -> Vec<u8> {
    line(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

impl Tasks {
    pub fn new(ttl_ms: Option<u64>, wait: f64) -> Self {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        Self {
            asked: Mutex::new(HashMap::new()),
            token: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            next: AtomicU64::new(1),
            core_tasks: AtomicBool::new(true),
            ttl_ms,
            wait,
        }
    }

    fn remember(&self, id: &Value, asked: Asked) {
        if let Ok(mut map) = self.asked.lock() {
            map.insert(key(id), asked);
        }
    }

    /// A tool call of our own, answering the client's request `asked`. It carries the protocol's
    /// own `_meta` fields of the request it answers (`for_request`): in 2026-07-28, which has no
    /// session, each request says its revision and the client's capabilities there.
    fn call(&self, tool: &str, arguments: Value, asked: Asked, for_request: &Value) -> Route {
        let id = json!(format!(
            "execq-task-{}-{}",
            self.token,
            self.next.fetch_add(1, Ordering::Relaxed)
        ));
        self.remember(&id, asked);
        let mut params = json!({"name": tool, "arguments": arguments});
        if let Some(meta) = for_request["params"]["_meta"].as_object() {
            let protocol: serde_json::Map<String, Value> = (meta.iter())
                .filter(|(key, _)| key.starts_with("io.modelcontextprotocol/"))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            params["_meta"] = Value::Object(protocol);
        }
        Route::Server(line(&json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params,
        })))
    }

    /// A line from the client (valid JSON): `None` to pass it on as it is.
    pub fn inbound(&self, text: &[u8]) -> Option<Route> {
        let message: Value = serde_json::from_slice(text).ok()?;
        let id = message.get("id").filter(|id| !id.is_null())?.clone();
        let method = message.get("method")?.as_str()?.to_owned();
        let rev = Revision::of(&message["params"]);
        match method.as_str() {
            "initialize" => self.remember(&id, Asked::Initialize),
            "server/discover" => self.remember(&id, Asked::Discover),
            "tools/list" => self.remember(&id, Asked::ToolsList { rev }),
            "tools/call" => return self.create(id, message, rev),
            "tasks/get" | "tasks/cancel" => return Some(self.follow(id, &method, &message, rev)),
            "tasks/result" | "tasks/list" if rev == Revision::Core => {
                return Some(self.follow(id, &method, &message, rev));
            }
            "tasks/update" if rev == Revision::Extension => {
                let why = "execq's tasks never ask for input: there is nothing to update";
                return Some(Route::Client(error(&id, -32602, why)));
            }
            _ => {}
        }
        None
    }

    /// A task-augmented call of a task tool, sent on without its `task` and told not to wait.
    fn create(&self, id: Value, mut message: Value, rev: Revision) -> Option<Route> {
        let name = message["params"]["name"].as_str()?.to_owned();
        let session = rev == Revision::Extension || self.core_tasks.load(Ordering::Relaxed);
        if !session || !rev.wants_task(&message["params"]) {
            return None;
        }
        if !TASK_TOOLS.contains(&name.as_str()) {
            if rev == Revision::Extension {
                return None;
            }
            // 2025-11-25: a task asked of a tool that does not declare task support.
            let why = format!(
                "`{name}` cannot be called as a task (its execution.taskSupport is forbidden); call it without `task`"
            );
            return Some(Route::Client(error(&id, -32601, &why)));
        }
        let params = message.get_mut("params")?.as_object_mut()?;
        params.remove("task");
        if name == "submit_job" {
            let arguments = params.entry("arguments").or_insert_with(|| json!({}));
            if let Some(arguments) = arguments.as_object_mut() {
                arguments.insert("wait_seconds".into(), json!(0));
                arguments.insert("mcp_task".into(), json!(true));
            }
        }
        let retry = name == "retry_job";
        self.remember(&id, Asked::Create { rev, retry });
        Some(Route::Server(line(&message)))
    }

    /// `tasks/get`, `tasks/result`, `tasks/cancel` or `tasks/list`: the tool call that answers it.
    fn follow(&self, id: Value, method: &str, message: &Value, rev: Revision) -> Route {
        if method == "tasks/list" {
            let arguments =
                json!({"state": "all", "order": "newest", "limit": 500, "mcp_tasks": true});
            return self.call("list_jobs", arguments, Asked::List { id }, message);
        }
        let Some(text) = message["params"]["taskId"].as_str() else {
            return Route::Client(error(&id, -32602, "`taskId` is missing"));
        };
        if let Some((state, at)) = refused::state(text) {
            return Route::Client(self.refused(&id, method, rev, text, &state, at));
        }
        let task = TaskRef::parse(text);
        let job = task.job.clone();
        match method {
            "tasks/get" => {
                let arguments = json!({"job": job, "run": task.run()});
                let asked = Asked::Get { id, rev, task };
                self.call("get_job", arguments, asked, message)
            }
            "tasks/result" => self.ask_job(task, |task| Asked::Result { id, task }),
            _ => {
                let arguments = json!({"job": job, "run": task.run()});
                let request = message.clone();
                let asked = Asked::CancelCheck {
                    id,
                    rev,
                    task,
                    request,
                };
                self.call("get_job", arguments, asked, message)
            }
        }
    }

    /// The answer about a refused call's task: failed from the start, with its reason.
    fn refused(
        &self,
        id: &Value,
        method: &str,
        rev: Revision,
        task: &str,
        state: &State,
        at: String,
    ) -> Vec<u8> {
        let message = match state {
            State::Failed { message, .. } => message.as_str(),
            _ => "refused",
        };
        match method {
            "tasks/get" => answer(id, refused::task(task, state, at).got(rev, None)),
            "tasks/result" => answer(
                id,
                json!({"content": [{"type": "text", "text": message}], "isError": true,
                       "_meta": {"io.modelcontextprotocol/related-task": {"taskId": task}}}),
            ),
            _ => error(
                id,
                -32602,
                &format!("task {task} has already finished: {message}"),
            ),
        }
    }

    /// A line from the server: `None` to pass it on as it is.
    pub fn outbound(&self, text: &[u8]) -> Option<Route> {
        let mut message: Value = serde_json::from_slice(text).ok()?;
        if message.get("method").is_some() {
            return None;
        }
        let asked = self.asked.lock().ok()?.remove(&key(message.get("id")?))?;
        let result = message.get("result").cloned().unwrap_or(Value::Null);
        let failed = message.get("error").is_some() || result["isError"] == true;
        let said = || {
            result["content"][0]["text"]
                .as_str()
                .or_else(|| message["error"]["message"].as_str())
                .unwrap_or("the request failed")
                .to_owned()
        };
        let reply = match asked {
            Asked::Initialize => {
                let version = result["protocolVersion"].as_str().unwrap_or_default();
                let tasks = version >= "2025-11-25";
                self.core_tasks.store(tasks, Ordering::Relaxed);
                if !tasks {
                    return None;
                }
                advertise(&asked, &mut message)
            }
            Asked::ToolsList {
                rev: Revision::Core,
            } if !self.core_tasks.load(Ordering::Relaxed) => return None,
            Asked::Discover | Asked::ToolsList { .. } => advertise(&asked, &mut message),
            Asked::Create { rev, .. } if failed => {
                let task = refused::id(&said());
                let (state, at) = refused::state(&task)?;
                let created = refused::task(&task, &state, at).created(rev);
                answer(&message["id"], created)
            }
            Asked::Create { rev, retry } => {
                return Some(self.created(&message["id"], &result, rev, retry));
            }
            Asked::Watch { .. } if failed => return Some(Route::Nowhere),
            Asked::Watch { task } => return Some(self.watched(task, &result)),
            Asked::Get { id, .. }
            | Asked::Cancel { id, .. }
            | Asked::CancelCheck { id, .. }
            | Asked::Result { id, .. }
                if failed =>
            {
                error(&id, -32602, &said())
            }
            Asked::Get { id, rev, task } => {
                let view = job_view(&result);
                let state = State::of(view);
                let outcome = task.result(&result);
                answer(
                    &id,
                    task.task(view, &state, self.ttl_ms)
                        .got(rev, Some(&outcome)),
                )
            }
            // A run that has ended cannot be cancelled (nor, through it, a later run).
            Asked::CancelCheck { id, task, .. } if finished(job_view(&result)) => error(
                &id,
                -32602,
                &format!("task {} has already finished", task.id()),
            ),
            Asked::CancelCheck {
                id,
                rev,
                task,
                request,
            } => {
                let arguments = json!({"job": task.job});
                let asked = Asked::Cancel { id, rev, task };
                return Some(self.call("cancel_job", arguments, asked, &request));
            }
            Asked::Cancel {
                id,
                rev: Revision::Extension,
                ..
            } => answer(&id, json!({"resultType": "complete"})),
            Asked::Cancel { id, rev, task } => {
                let view = job_view(&result);
                let state = State::of(view);
                answer(
                    &id,
                    Value::Object(task.task(view, &state, self.ttl_ms).fields(rev)),
                )
            }
            Asked::Result { id, task } => return Some(self.result(id, task, &result)),
            Asked::List { id } if failed => error(&id, -32603, &said()),
            Asked::List { id } => answer(&id, json!({"tasks": self.listed(&result)})),
        };
        Some(Route::Client(reply))
    }

    /// The answer to a task-augmented call that queued its job: the job as a task, and (in
    /// 2025-11-25, which has a status notification) a watch on it while it has not finished.
    fn created(&self, id: &Value, result: &Value, rev: Revision, retry: bool) -> Route {
        let view = job_view(result);
        let state = State::of(view);
        let job = view["job"].as_str().unwrap_or_default().to_owned();
        // A retry's task follows the run it queued: the job's earlier runs are its history.
        let runs = view["retries"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok());
        let task = TaskRef {
            job,
            retry: retry.then(|| runs.unwrap_or(1).max(1)),
        };
        let reply = answer(id, task.task(view, &state, self.ttl_ms).created(rev));
        if state.finished() || rev == Revision::Extension {
            return Route::Client(reply);
        }
        match self.ask_job(task, |task| Asked::Watch { task }) {
            Route::Server(watch) => Route::Both(reply, watch),
            other => other,
        }
    }

    /// A watched job's answer: asked again until it has finished, then the notification.
    fn watched(&self, task: TaskRef, result: &Value) -> Route {
        let view = job_view(result);
        let state = State::of(view);
        if !finished(view) {
            return self.ask_job(task, |task| Asked::Watch { task });
        }
        let fields = task.task(view, &state, self.ttl_ms).fields(Revision::Core);
        let note =
            json!({"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": fields});
        Route::Client(line(&note))
    }

    /// `tasks/result`: asked again until the job has finished, then what `get_job` answers (in
    /// the shape of the tool that made the task), `isError` unless it completed.
    fn result(&self, id: Value, task: TaskRef, result: &Value) -> Route {
        let view = job_view(result);
        if !finished(view) {
            return self.ask_job(task, |task| Asked::Result { id, task });
        }
        let mut answer_ = task.result(result);
        answer_["isError"] = json!(view["status"] != "completed");
        answer_["_meta"] = json!({"io.modelcontextprotocol/related-task": {"taskId": task.id()}});
        Route::Client(answer(&id, answer_))
    }

    /// The jobs in a `list_jobs` answer that were submitted as tasks, as tasks.
    fn listed(&self, result: &Value) -> Vec<Value> {
        let views = result["structuredContent"]["jobs"].as_array();
        views
            .into_iter()
            .flatten()
            .filter(|view| view["mcp_task"] == true)
            .map(|view| {
                // The job's current run: its first (`NAME`), or the latest retry's.
                let runs = view["retries"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok());
                let task = TaskRef {
                    job: view["job"].as_str().unwrap_or_default().to_owned(),
                    retry: runs.filter(|&n| n > 0),
                };
                let state = State::of(view);
                Value::Object(task.task(view, &state, self.ttl_ms).fields(Revision::Core))
            })
            .collect()
    }

    /// A `get_job` of our own that waits for `job`, answering `next`.
    fn ask_job(&self, task: TaskRef, next: impl FnOnce(TaskRef) -> Asked) -> Route {
        let arguments = json!({"job": task.job, "wait_seconds": self.wait, "run": task.run()});
        // Only in 2025-11-25 (a session, opened by `initialize`): no `_meta` needed.
        self.call("get_job", arguments, next(task), &Value::Null)
    }
}

/// Whether a job's view is final: it has a result, or only its archived record is left.
fn finished(view: &Value) -> bool {
    view["done"] == true || view["state"] == "archived"
}

/// The answer to `initialize`, `server/discover` or `tools/list`, saying that tasks are served:
/// the capability in the revision's words, and in 2025-11-25 each task tool's
/// `execution.taskSupport`.
fn advertise(asked: &Asked, message: &mut Value) -> Vec<u8> {
    // `get_mut`, never indexing: an error answer must not grow a `result`, nor a result fields.
    let Some(result) = message.get_mut("result").and_then(Value::as_object_mut) else {
        return line(message);
    };
    if let Some(capabilities) = result
        .get_mut("capabilities")
        .and_then(Value::as_object_mut)
    {
        match asked {
            Asked::Initialize => {
                capabilities.insert(
                    "tasks".into(),
                    json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}),
                );
            }
            _ => {
                let extensions = capabilities
                    .entry("extensions")
                    .or_insert_with(|| json!({}));
                if let Some(extensions) = extensions.as_object_mut() {
                    extensions.insert(shape::EXTENSION.into(), json!({}));
                }
            }
        }
    }
    if let (
        Asked::ToolsList {
            rev: Revision::Core,
        },
        Some(Value::Array(tools)),
    ) = (asked, result.get_mut("tools"))
    {
        for tool in tools {
            if TASK_TOOLS.contains(&tool["name"].as_str().unwrap_or_default()) {
                tool["execution"] = json!({"taskSupport": "optional"});
            }
        }
    }
    line(message)
}

/// The job in a tool's answer: `submit_job` and `get_job` answer with its view, `retry_job` and
/// `cancel_job` with `{message, job}`.
fn job_view(result: &Value) -> &Value {
    let content = &result["structuredContent"];
    if content["job"].is_object() {
        &content["job"]
    } else {
        content
    }
}

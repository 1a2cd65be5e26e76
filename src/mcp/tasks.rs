//! MCP tasks as protocol revision 2025-11-25 defines them (what the official TypeScript SDK 1.x
//! and Python SDK 1.x clients speak): a task-augmented `tools/call` of `submit_job` or
//! `retry_job` answers at once with a task, which `tasks/get`, `tasks/result`, `tasks/cancel` and
//! `tasks/list` then follow.
//!
//! **A task is a job.** Its id is the job's file name; its state is the job's, read from the
//! queue on every request; nothing about it lives in this process, so a task made by one
//! `execq mcp` is answered by the next (a restart, another client, another agent). rmcp does not
//! model this revision, so the relay (`stdio`) hands each line to [`Tasks`] on its way, which
//! turns a task request into the tool call that answers it (`get_job`, `cancel_job`,
//! `list_jobs`) — the same tools, so the same policy (`--read-only`, the allowlist, sandbox
//! floors) holds for tasks — and that tool's answer back into the task's shape.
//!
//! | request | answered by | then |
//! |---|---|---|
//! | `tools/call` with `task` | the tool, told `wait_seconds: 0` and `mcp_task: true` | `{task}` |
//! | `tasks/get` | `get_job` | the task |
//! | `tasks/result` | `get_job` with `wait_seconds`, again until the job has finished | what `get_job` answers, `isError` unless it completed |
//! | `tasks/cancel` | `cancel_job` (the whole process group; recorded `cancelled`) | the task |
//! | `tasks/list` | `list_jobs`, the 500 newest, those submitted as tasks | `{tasks}` |
//!
//! The server that made a task also watches its job (a `get_job` that waits, asked again until
//! the job ends) and sends `notifications/tasks/status` when it does.
//!
//! A job's status maps to a task's: pending or running → `working` (the reason it waits as the
//! status message), `completed` → `completed`, `cancelled` → `cancelled`, any other (failed,
//! timeout, error, dependency failed, interrupted) → `failed`, its error as the message. A
//! submission refused outright (a bad argument, the allowlist, a sandbox floor) creates no job
//! and so no task: its tool error comes back as the call's answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

/// How often a client should poll, in milliseconds.
pub const POLL_INTERVAL_MS: u64 = 1000;

/// The tools a client may call as a task.
const TASK_TOOLS: [&str; 2] = ["submit_job", "retry_job"];

/// What an answer from the server is the answer to.
#[derive(Debug)]
enum Asked {
    Initialize,
    ToolsList,
    /// A task-augmented tool call (same id as the client's).
    Create,
    Get {
        id: Value,
    },
    Result {
        id: Value,
        task: String,
    },
    Cancel {
        id: Value,
    },
    /// This server's watch on a task it made, for its status notification.
    Watch {
        task: String,
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
    next: AtomicU64,
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

impl Tasks {
    pub fn new(ttl_ms: Option<u64>, wait: f64) -> Self {
        Self {
            asked: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            ttl_ms,
            wait,
        }
    }

    fn remember(&self, id: &Value, asked: Asked) {
        if let Ok(mut map) = self.asked.lock() {
            map.insert(key(id), asked);
        }
    }

    /// A tool call of our own, answering the client's request `asked`.
    fn call(&self, tool: &str, arguments: Value, asked: Asked) -> Route {
        let id = json!(format!(
            "execq-task-{}",
            self.next.fetch_add(1, Ordering::Relaxed)
        ));
        self.remember(&id, asked);
        Route::Server(line(&json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        })))
    }

    /// A line from the client (valid JSON): `None` to pass it on as it is.
    pub fn inbound(&self, text: &[u8]) -> Option<Route> {
        let mut message: Value = serde_json::from_slice(text).ok()?;
        let id = message.get("id").filter(|id| !id.is_null())?.clone();
        let method = message.get("method")?.as_str()?.to_owned();
        let task_id = || message["params"]["taskId"].as_str().map(str::to_owned);
        match method.as_str() {
            "initialize" => self.remember(&id, Asked::Initialize),
            "tools/list" => self.remember(&id, Asked::ToolsList),
            "tools/call" => {
                let params = message.get_mut("params")?.as_object_mut()?;
                let name = params.get("name")?.as_str()?.to_owned();
                if !TASK_TOOLS.contains(&name.as_str()) || !params.get("task")?.is_object() {
                    return None;
                }
                params.remove("task");
                if name == "submit_job" {
                    let arguments = params
                        .entry("arguments")
                        .or_insert_with(|| json!({}))
                        .as_object_mut()?;
                    arguments.insert("wait_seconds".into(), json!(0));
                    arguments.insert("mcp_task".into(), json!(true));
                }
                self.remember(&id, Asked::Create);
                return Some(Route::Server(line(&message)));
            }
            "tasks/get" | "tasks/result" | "tasks/cancel" => {
                let Some(task) = task_id() else {
                    return Some(Route::Client(error(&id, -32602, "`taskId` is missing")));
                };
                return Some(match method.as_str() {
                    "tasks/get" => self.call("get_job", json!({"job": task}), Asked::Get { id }),
                    "tasks/result" => self.call(
                        "get_job",
                        json!({"job": task, "wait_seconds": self.wait}),
                        Asked::Result { id, task },
                    ),
                    _ => self.call("cancel_job", json!({"job": task}), Asked::Cancel { id }),
                });
            }
            "tasks/list" => {
                let arguments = json!({"state": "all", "order": "newest", "limit": 500});
                return Some(self.call("list_jobs", arguments, Asked::List { id }));
            }
            _ => {}
        }
        None
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
            Asked::Initialize | Asked::ToolsList => advertise(&asked, &mut message),
            // Refused outright: no job, no task; the tool's error is the answer.
            Asked::Create if failed => line(&message),
            Asked::Create => return Some(self.created(message, &result)),
            Asked::Watch { .. } if failed => return Some(Route::Nowhere),
            Asked::Watch { task } => {
                let view = job_view(&result);
                if !finished(view) {
                    return Some(self.ask_job(task, |task| Asked::Watch { task }));
                }
                let task = self.task(view);
                line(
                    &json!({"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": task}),
                )
            }
            Asked::Get { id } | Asked::Cancel { id } if failed => error(&id, -32602, &said()),
            Asked::Get { id } | Asked::Cancel { id } => {
                let task = self.task(job_view(&result));
                line(&json!({"jsonrpc": "2.0", "id": id, "result": task}))
            }
            Asked::Result { id, .. } if failed => error(&id, -32602, &said()),
            Asked::Result { id, task } => {
                let view = job_view(&result);
                if !finished(view) {
                    // Not finished: ask again (tasks/result waits for the end).
                    return Some(self.ask_job(task, |task| Asked::Result { id, task }));
                }
                let mut answer = result.clone();
                answer["isError"] = json!(view["status"] != "completed");
                answer["_meta"] =
                    json!({"io.modelcontextprotocol/related-task": {"taskId": view["job"]}});
                line(&json!({"jsonrpc": "2.0", "id": id, "result": answer}))
            }
            Asked::List { id } if failed => error(&id, -32603, &said()),
            Asked::List { id } => {
                let tasks: Vec<Value> = result["structuredContent"]["jobs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|view| view["mcp_task"] == true)
                    .map(|view| self.task(view))
                    .collect();
                line(&json!({"jsonrpc": "2.0", "id": id, "result": {"tasks": tasks}}))
            }
        };
        Some(Route::Client(reply))
    }

    /// The answer to a task-augmented call that queued its job: the job as a task, and a watch
    /// on it (see [`Asked::Watch`]) while it has not finished.
    fn created(&self, mut message: Value, result: &Value) -> Route {
        let view = job_view(result);
        let task = self.task(view);
        let working = task["status"] == "working";
        message["result"] = json!({ "task": task });
        if !working {
            return Route::Client(line(&message));
        }
        let job = view["job"].as_str().unwrap_or_default().to_owned();
        match self.ask_job(job, |task| Asked::Watch { task }) {
            Route::Server(watch) => Route::Both(line(&message), watch),
            other => other,
        }
    }

    /// A `get_job` of our own that waits for `job`, answering `next`.
    fn ask_job(&self, job: String, next: impl FnOnce(String) -> Asked) -> Route {
        let arguments = json!({"job": job, "wait_seconds": self.wait});
        self.call("get_job", arguments, next(job))
    }

    /// A job's view as a task.
    fn task(&self, view: &Value) -> Value {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let (status, message) = match view["status"].as_str() {
            None => {
                let message =
                    text(&view["waiting"]).unwrap_or_else(|| match view["state"].as_str() {
                        Some("running") => "running".to_owned(),
                        _ => "queued".to_owned(),
                    });
                ("working", Some(message))
            }
            Some("completed") => ("completed", None),
            Some("cancelled") => ("cancelled", text(&view["error"])),
            Some(status) => (
                "failed",
                Some(text(&view["error"]).unwrap_or_else(|| status.to_owned())),
            ),
        };
        let now = chrono::Local::now().to_rfc3339();
        let created = text(&view["started_at"])
            .or_else(|| text(&view["time"]))
            .unwrap_or_else(|| now.clone());
        let updated = text(&view["completed_at"])
            .or_else(|| text(&view["time"]))
            .unwrap_or(now);
        let mut task = Map::new();
        task.insert("taskId".into(), view["job"].clone());
        task.insert("status".into(), json!(status));
        if let Some(message) = message {
            task.insert("statusMessage".into(), json!(message));
        }
        task.insert("ttl".into(), json!(self.ttl_ms));
        task.insert("createdAt".into(), json!(created));
        task.insert("lastUpdatedAt".into(), json!(updated));
        task.insert("pollInterval".into(), json!(POLL_INTERVAL_MS));
        Value::Object(task)
    }
}

/// Whether a job's view is final: it has a result, or only its archived record is left.
fn finished(view: &Value) -> bool {
    view["done"] == true || view["state"] == "archived"
}

/// The answer to `initialize` or `tools/list`, saying that tasks are served: the capability, and
/// each task tool's `execution.taskSupport`.
fn advertise(asked: &Asked, message: &mut Value) -> Vec<u8> {
    if matches!(asked, Asked::Initialize)
        && let Some(capabilities) = message["result"].get_mut("capabilities")
    {
        capabilities["tasks"] =
            json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}});
    }
    if let Some(tools) = message["result"]["tools"].as_array_mut() {
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

fn error(id: &Value, code: i64, message: &str) -> Vec<u8> {
    line(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(route: Route) -> Value {
        match route {
            Route::Server(bytes) | Route::Client(bytes) | Route::Both(bytes, _) => {
                serde_json::from_slice(&bytes).unwrap()
            }
            Route::Nowhere => Value::Null,
        }
    }

    #[test]
    fn a_task_call_submits_without_waiting_and_answers_with_the_job_as_a_task() {
        let tasks = Tasks::new(Some(60_000), 50.0);
        let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "submit_job", "arguments": {"shell": "true", "wait_seconds": 9},
                       "task": {"ttl": 1000}}});
        let sent = parsed(tasks.inbound(call.to_string().as_bytes()).unwrap());
        assert_eq!(sent["params"]["arguments"]["wait_seconds"], 0);
        assert_eq!(sent["params"]["arguments"]["mcp_task"], true);
        assert!(sent["params"].get("task").is_none());
        let answer = json!({"jsonrpc": "2.0", "id": 7, "result": {"content": [],
            "structuredContent": {"job": "j.json", "state": "pending", "status": null,
                                  "waiting": "after `x`", "time": "2026-12-02T10:00:00+00:00"}}});
        let reply = parsed(tasks.outbound(answer.to_string().as_bytes()).unwrap());
        let task = &reply["result"]["task"];
        assert_eq!(task["taskId"], "j.json");
        assert_eq!(task["status"], "working");
        assert_eq!(task["statusMessage"], "after `x`");
        assert_eq!(task["ttl"], 60_000);
        assert_eq!(reply["id"], 7);
    }

    #[test]
    fn a_result_asks_again_until_the_job_has_finished_and_a_failed_job_is_an_error() {
        let tasks = Tasks::new(None, 50.0);
        let ask = json!({"jsonrpc": "2.0", "id": "r", "method": "tasks/result", "params": {"taskId": "j.json"}});
        let first = parsed(tasks.inbound(ask.to_string().as_bytes()).unwrap());
        assert_eq!(first["params"]["name"], "get_job");
        let running = json!({"jsonrpc": "2.0", "id": first["id"], "result": {
            "structuredContent": {"job": "j.json", "state": "running", "done": false}}});
        let again = parsed(tasks.outbound(running.to_string().as_bytes()).unwrap());
        assert_eq!(again["method"], "tools/call", "asked again: {again}");
        let failed = json!({"jsonrpc": "2.0", "id": again["id"], "result": {
            "content": [{"type": "text", "text": "failed"}],
            "structuredContent": {"job": "j.json", "state": "failed", "status": "timeout", "done": true}}});
        let reply = parsed(tasks.outbound(failed.to_string().as_bytes()).unwrap());
        assert_eq!(reply["id"], "r");
        assert_eq!(reply["result"]["isError"], true);
        assert_eq!(
            reply["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
            "j.json"
        );
    }

    #[test]
    fn lines_that_are_not_about_tasks_pass_unchanged() {
        let tasks = Tasks::new(None, 50.0);
        for line in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_job", "arguments": {}}}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "submit_job", "arguments": {}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        ] {
            assert_eq!(tasks.inbound(line.to_string().as_bytes()), None, "{line}");
        }
        let answer = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
        assert_eq!(tasks.outbound(answer.to_string().as_bytes()), None);
    }
}

//! What a task looks like on the wire in each protocol revision, and where a job stands as one.
//!
//! | | 2025-11-25 (core) | 2026-07-28 (the tasks extension) |
//! |---|---|---|
//! | a call asks for a task | with `params.task` | by a client declaring `io.modelcontextprotocol/tasks` |
//! | fields | `ttl`, `pollInterval` | `ttlMs`, `pollIntervalMs`, `resultType` |
//! | a job that ran and failed | `failed` | `completed`, its result `isError` |
//! | a job that never ran, a refused call | `failed` | `failed`, with a JSON-RPC `error` |
//! | the result | `tasks/result` | inline in `tasks/get` |

use serde_json::{Map, Value, json};

/// How often a client should poll, in milliseconds.
pub const POLL_INTERVAL_MS: u64 = 1000;

/// The tasks extension's identifier (2026-07-28), in both sides' capabilities.
pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// The JSON-RPC error code of a task whose call was refused: nothing was queued.
pub const REFUSED: i64 = -32602;
/// The JSON-RPC error code of a task whose job was queued but never ran (a dependency failed, it
/// could not start: its sandbox refused, its program was missing), in the server-defined range.
pub const NEVER_RAN: i64 = -32000;

/// The protocol revision a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revision {
    /// 2025-11-25 and before: a session opened by `initialize`.
    Core,
    /// 2026-07-28 and later: every request says so in its `_meta`.
    Extension,
}

impl Revision {
    pub fn of(params: &Value) -> Self {
        match params["_meta"]["io.modelcontextprotocol/protocolVersion"].as_str() {
            Some(version) if version >= "2026-07-28" => Self::Extension,
            _ => Self::Core,
        }
    }

    /// Whether a `tools/call` with these params asks for a task.
    pub fn wants_task(self, params: &Value) -> bool {
        match self {
            Self::Core => params["task"].is_object(),
            Self::Extension => {
                params["_meta"]["io.modelcontextprotocol/clientCapabilities"]["extensions"]
                    .get(EXTENSION)
                    .is_some_and(|declared| !declared.is_null())
            }
        }
    }
}

/// Where a task stands.
#[derive(Debug, PartialEq)]
pub enum State {
    /// Pending or running; why it waits, or what it does.
    Working(String),
    /// It ran: exited 0 (`false`), or failed, timed out or was interrupted (`true`), and why.
    Ran {
        is_error: bool,
        message: Option<String>,
    },
    /// It never ran (or the call was refused): the error's code and why.
    Failed {
        code: i64,
        message: String,
    },
    Cancelled(Option<String>),
}

impl State {
    /// A job's view (`get_job`'s structured content) as a task's state.
    pub fn of(view: &Value) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let Some(status) = view["status"].as_str() else {
            return Self::Working(text(&view["waiting"]).unwrap_or_else(|| {
                match view["state"].as_str() {
                    Some("running") => "running".to_owned(),
                    _ => "queued".to_owned(),
                }
            }));
        };
        let message = text(&view["error"]);
        match status {
            "completed" => Self::Ran {
                is_error: false,
                message: None,
            },
            "cancelled" => Self::Cancelled(message),
            "error" | "dependency_failed" => Self::Failed {
                code: NEVER_RAN,
                message: message.unwrap_or_else(|| status.replace('_', " ")),
            },
            _ => Self::Ran {
                is_error: true,
                message: Some(message.unwrap_or_else(|| failure(view, status))),
            },
        }
    }

    pub fn finished(&self) -> bool {
        !matches!(self, Self::Working(_))
    }

    /// The status and its message, as `revision` says.
    fn status(&self, revision: Revision) -> (&'static str, Option<&str>) {
        match (self, revision) {
            (Self::Working(why), _) => ("working", Some(why)),
            (
                Self::Ran {
                    is_error: false, ..
                },
                _,
            ) => ("completed", None),
            (Self::Ran { message, .. }, Revision::Extension) => ("completed", message.as_deref()),
            (Self::Ran { message, .. }, Revision::Core) => ("failed", message.as_deref()),
            (Self::Failed { message, .. }, _) => ("failed", Some(message)),
            (Self::Cancelled(why), _) => ("cancelled", why.as_deref()),
        }
    }
}

/// Why a job that ran did not complete, when its record gives no error.
fn failure(view: &Value, status: &str) -> String {
    match view["returncode"].as_i64() {
        Some(code) if status == "failed" => format!("exited with code {code}"),
        _ => status.to_owned(),
    }
}

/// One task: its id, where it stands, and its times.
pub struct Task<'a> {
    pub id: String,
    pub state: &'a State,
    pub created: String,
    pub updated: String,
    /// How long its result is kept, in milliseconds (`[retention]`); `None`: for good.
    pub ttl_ms: Option<u64>,
}

impl<'a> Task<'a> {
    /// A job's view as a task.
    pub fn of(view: &Value, state: &'a State, ttl_ms: Option<u64>) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let now = || chrono::Local::now().to_rfc3339();
        Self {
            id: view["job"].as_str().unwrap_or_default().to_owned(),
            state,
            created: text(&view["submitted_at"])
                .or_else(|| text(&view["started_at"]))
                .or_else(|| text(&view["time"]))
                .unwrap_or_else(now),
            updated: text(&view["completed_at"])
                .or_else(|| text(&view["time"]))
                .unwrap_or_else(now),
            ttl_ms,
        }
    }

    /// The task's fields, as `revision` names them.
    pub fn fields(&self, revision: Revision) -> Map<String, Value> {
        let (status, message) = self.state.status(revision);
        // A running job's time is its claim's, to the second: never before the task was made.
        let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
        let updated = match (at(&self.created), at(&self.updated)) {
            (Some(created), Some(updated)) if updated < created => &self.created,
            _ => &self.updated,
        };
        let mut task = Map::new();
        task.insert("taskId".into(), json!(self.id));
        task.insert("status".into(), json!(status));
        if let Some(message) = message {
            task.insert("statusMessage".into(), json!(message));
        }
        task.insert("createdAt".into(), json!(self.created));
        task.insert("lastUpdatedAt".into(), json!(updated));
        let (ttl, poll) = match revision {
            Revision::Core => ("ttl", "pollInterval"),
            Revision::Extension => ("ttlMs", "pollIntervalMs"),
        };
        task.insert(ttl.into(), json!(self.ttl_ms));
        task.insert(poll.into(), json!(POLL_INTERVAL_MS));
        task
    }

    /// The answer to a call that made this task.
    pub fn created(&self, revision: Revision) -> Value {
        match revision {
            Revision::Core => json!({ "task": self.fields(revision) }),
            Revision::Extension => {
                let mut task = self.fields(revision);
                task.insert("resultType".into(), json!("task"));
                Value::Object(task)
            }
        }
    }

    /// The answer to `tasks/get`; in 2026-07-28 with its outcome: `result`, the tool result the
    /// finished job gives (`isError` unless it completed), or `error`.
    pub fn got(&self, revision: Revision, result: Option<&Value>) -> Value {
        let mut task = self.fields(revision);
        if revision == Revision::Extension {
            task.insert("resultType".into(), json!("complete"));
            match self.state {
                State::Ran { is_error, .. } => {
                    let mut result = result.cloned().unwrap_or_else(|| json!({"content": []}));
                    result["isError"] = json!(is_error);
                    result["resultType"] = json!("complete");
                    task.insert("result".into(), result);
                }
                State::Failed { code, message } => {
                    task.insert("error".into(), json!({"code": code, "message": message}));
                }
                State::Working(_) | State::Cancelled(_) => {}
            }
        }
        Value::Object(task)
    }
}

/// A refused call's task. Nothing was queued, so nothing is stored: the id carries the reason
/// (hex of `{"message", "at"}`), and any server answers for it.
pub mod refused {
    use super::{REFUSED, State, Task};
    use serde_json::{Value, json};
    use std::fmt::Write;

    const PREFIX: &str = "refused-";
    /// The longest reason kept, in bytes.
    const MAX: usize = 2000;

    pub fn id(message: &str) -> String {
        let mut end = message.len().min(MAX);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let at = chrono::Local::now().to_rfc3339();
        let data = json!({"message": &message[..end], "at": at}).to_string();
        data.bytes().fold(PREFIX.to_owned(), |mut id, b| {
            let _ = write!(id, "{b:02x}");
            id
        })
    }

    /// `None`: not a refused call's task (or not one this server could have made).
    pub fn state(id: &str) -> Option<(State, String)> {
        let hex = id.strip_prefix(PREFIX)?;
        // Escaped as JSON, a reason of MAX bytes may take six times as many.
        if hex.len() % 2 != 0 || hex.len() > 2 * (6 * MAX + 200) {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let data: Value = serde_json::from_slice(&bytes).ok()?;
        let message = data["message"].as_str()?.to_owned();
        let at = data["at"].as_str()?.to_owned();
        Some((
            State::Failed {
                code: REFUSED,
                message,
            },
            at,
        ))
    }

    pub fn task<'a>(id: &str, state: &'a State, at: String) -> Task<'a> {
        Task {
            id: id.to_owned(),
            state,
            created: at.clone(),
            updated: at,
            ttl_ms: None,
        }
    }
}

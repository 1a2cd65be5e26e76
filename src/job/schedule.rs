//! When a job may run and in what order: `priority`, `after`, `not_before`, `hold` and `group`,
//! and the `env` it runs with. The rules that use them are in `drain::schedule` and the README's "Scheduling".

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use super::{JobError, text, type_name};

/// A job's scheduling fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Higher runs first (`priority`, default 0).
    pub priority: i64,
    /// Jobs (a task_id, a file name or its stem) that must have completed first (`after`).
    pub after: Vec<String>,
    /// Not to start before this time (`not_before`, RFC 3339).
    pub not_before: Option<DateTime<FixedOffset>>,
    /// Held: not to start until released (`hold: true`; `execq hold`, `execq release`).
    pub hold: bool,
    /// The group whose slots it takes (`group`; `None`: the `default` group).
    pub group: Option<String>,
}

/// The group a job without `group` is in.
pub const DEFAULT_GROUP: &str = "default";

/// Whether `name` may name a group: 1 to 64 of `A-Za-z0-9_-.`, not starting with `.` (it names a
/// file under `paused/`).
pub fn valid_group(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl Schedule {
    /// Reads the scheduling fields of a job object; absent or `null` fields take their defaults.
    pub fn of(job: &Map<String, Value>) -> Result<Self, JobError> {
        Ok(Self {
            priority: priority(job)?,
            after: after(job)?,
            not_before: not_before(job)?,
            hold: hold(job)?,
            group: group(job)?,
        })
    }

    /// The group it is in.
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(DEFAULT_GROUP)
    }

    /// Whether anything but the defaults is asked for.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

fn given<'a>(job: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    job.get(field).filter(|v| !v.is_null())
}

fn priority(job: &Map<String, Value>) -> Result<i64, JobError> {
    match given(job, "priority") {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| JobError::BadPriority(n.to_string())),
        Some(other) => Err(JobError::BadPriority(type_name(other).into())),
    }
}

fn after(job: &Map<String, Value>) -> Result<Vec<String>, JobError> {
    let refs = match given(job, "after") {
        None => return Ok(Vec::new()),
        Some(Value::String(one)) => vec![text("after", &Value::String(one.clone()))?],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| text(&format!("after[{i}]"), v))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(JobError::WrongType {
                field: "after".into(),
                expected: "a job reference or a list of them",
                found: type_name(other),
            });
        }
    };
    match refs.iter().position(|r| r.trim().is_empty()) {
        Some(i) => Err(JobError::EmptyField(format!("after[{i}]"))),
        None => Ok(refs),
    }
}

fn hold(job: &Map<String, Value>) -> Result<bool, JobError> {
    match given(job, "hold") {
        None => Ok(false),
        Some(Value::Bool(hold)) => Ok(*hold),
        Some(other) => Err(JobError::WrongType {
            field: "hold".into(),
            expected: "true or false",
            found: type_name(other),
        }),
    }
}

fn group(job: &Map<String, Value>) -> Result<Option<String>, JobError> {
    match given(job, "group") {
        None => Ok(None),
        Some(Value::String(name)) if valid_group(name) => Ok(Some(name.clone())),
        Some(Value::String(name)) => Err(JobError::BadGroup(name.clone())),
        Some(other) => Err(JobError::WrongType {
            field: "group".into(),
            expected: "a group name",
            found: type_name(other),
        }),
    }
}

fn not_before(job: &Map<String, Value>) -> Result<Option<DateTime<FixedOffset>>, JobError> {
    match given(job, "not_before") {
        None => Ok(None),
        Some(Value::String(at)) => DateTime::parse_from_rfc3339(at.trim())
            .map(Some)
            .map_err(|_| JobError::BadTime(at.clone())),
        Some(other) => Err(JobError::BadTime(type_name(other).into())),
    }
}

/// The job's `env`: an object of strings, each name non-empty and free of `=` and NUL.
pub fn env(job: &Map<String, Value>) -> Result<Vec<(String, String)>, JobError> {
    let vars = match given(job, "env") {
        None => return Ok(Vec::new()),
        Some(Value::Object(vars)) => vars,
        Some(other) => {
            return Err(JobError::WrongType {
                field: "env".into(),
                expected: "an object of strings",
                found: type_name(other),
            });
        }
    };
    vars.iter()
        .map(|(name, value)| {
            let value = text(&format!("env.{name}"), value)?;
            super::check_env(name, &value)?;
            Ok((name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule(value: Value) -> Result<Schedule, JobError> {
        Schedule::of(value.as_object().unwrap())
    }

    #[test]
    fn defaults_when_absent() {
        assert!(schedule(json!({"command": "true"})).unwrap().is_default());
        assert!(
            schedule(json!({"priority": null, "after": null}))
                .unwrap()
                .is_default()
        );
    }

    #[test]
    fn fields_are_read() {
        let s = schedule(json!({
            "priority": -3, "after": ["build", "lint.json"], "not_before": "2026-11-24T14:00:00+01:00"
        }))
        .unwrap();
        assert_eq!(s.priority, -3);
        assert_eq!(s.after, ["build", "lint.json"]);
        assert_eq!(
            s.not_before.unwrap().to_rfc3339(),
            "2026-11-24T14:00:00+01:00"
        );
        assert_eq!(schedule(json!({"after": "one"})).unwrap().after, ["one"]);
        let held = schedule(json!({"hold": true, "group": "gpu-1"})).unwrap();
        assert!(held.hold);
        assert_eq!(held.group(), "gpu-1");
        assert_eq!(schedule(json!({})).unwrap().group(), "default");
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (
                json!({"priority": 1.5}),
                "`priority` must be a whole number",
            ),
            (json!({"priority": "high"}), "found a string"),
            (
                json!({"priority": 1e30}),
                "`priority` must be a whole number",
            ),
            (
                json!({"after": 3}),
                "`after` must be a job reference or a list of them",
            ),
            (json!({"after": ["a", 2]}), "`after[1]` must be a string"),
            (json!({"after": [""]}), "`after[0]` is empty"),
            (
                json!({"not_before": "tomorrow"}),
                "`not_before` must be an RFC 3339 time",
            ),
            (json!({"not_before": 5}), "found `a number`"),
            (json!({"hold": "yes"}), "`hold` must be true or false"),
            (json!({"group": ""}), "`group` must be 1 to 64"),
            (json!({"group": "../x"}), "`group` must be 1 to 64"),
            (json!({"group": ".hidden"}), "`group` must be 1 to 64"),
            (json!({"group": 3}), "`group` must be a group name"),
        ];
        for (job, message) in cases {
            let err = schedule(job.clone()).unwrap_err().to_string();
            assert!(err.contains(message), "{job}: {err}");
        }
        let env_err = |v: Value| env(v.as_object().unwrap()).unwrap_err().to_string();
        assert!(env_err(json!({"env": ["A"]})).contains("`env` must be an object of strings"));
        assert!(env_err(json!({"env": {"A": 1}})).contains("`env.A` must be a string"));
        assert!(env_err(json!({"env": {"A=B": "x"}})).contains("`env` name `A=B`"));
        let ok = env(json!({"env": {"A": "1", "B": ""}}).as_object().unwrap()).unwrap();
        assert_eq!(ok, [("A".into(), "1".into()), ("B".into(), "".into())]);
    }
}

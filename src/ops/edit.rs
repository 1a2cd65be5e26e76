//! Change a job that waits in `pending/`: hold it (`execq hold`, `submit --hold`), release it
//! (`execq release`), set some of its fields (`execq edit --set`), or replace it whole (`execq
//! edit` in `$EDITOR`). The new job is checked as the drain will read it, then swapped in by
//! `queue::edit`: applied whole before a drain claims the job, or refused — never half-applied,
//! never run twice.

use std::ffi::OsString;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use crate::fsutil::FileId;
use crate::job::{self, Format};
use crate::queue::Queue;
use crate::queue::catalog::State;
use crate::queue::edit::{self, Rewritten};
use crate::queue::pending::MAX_JOB_BYTES;

/// A waiting job as read, to be changed.
#[derive(Debug)]
pub struct Waiting {
    /// Its name, for people.
    pub name: String,
    file_name: OsString,
    /// The job, as its file has it.
    pub object: Map<String, Value>,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    id: FileId,
    mtime: SystemTime,
}

/// What an edit did.
#[derive(Debug)]
pub struct Edited {
    /// Its name now: its own, or a free one if a new job took that meanwhile.
    pub name: String,
    /// Nothing needed changing (held already, released already, the same fields).
    pub unchanged: bool,
}

/// Reads the waiting job `reference` names, to change it (`doing`, for errors: "held", "edited").
pub fn read(queue: &Queue, reference: &str, doing: &str) -> Result<Waiting> {
    queue.open()?;
    let entry = super::get::in_queue(queue, reference, doing)?;
    if entry.state != State::Pending {
        bail!(
            "`{}` is {}: only a job waiting in pending/ can be {doing}",
            entry.name,
            entry.state.as_str()
        );
    }
    if Format::of(&entry.file_name) != Format::Json {
        bail!(
            "`{}` is not a JSON job: only JSON jobs can be {doing} (a script's file is what it runs)",
            entry.name
        );
    }
    let file = match crate::sys::open_nofollow(&entry.path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "`{}` left pending/ before it could be {doing} (a drain claimed it, or it was cancelled); nothing was changed",
            entry.name
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot open `{}`", entry.path.display())),
    };
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > MAX_JOB_BYTES {
        bail!("`{}` is not a job file execq can change", entry.name);
    }
    let bytes = std::io::read_to_string(file)
        .with_context(|| format!("cannot read `{}`", entry.path.display()))?
        .into_bytes();
    let object = job::parse_object(&bytes)
        .map_err(|e| anyhow::anyhow!("`{}` cannot be {doing}: {e}", entry.name))?;
    Ok(Waiting {
        name: entry.name,
        file_name: entry.file_name,
        object,
        bytes,
        id: FileId::of(&meta),
        mtime: meta.modified().unwrap_or(SystemTime::now()),
    })
}

/// Replaces `waiting` with `object`, if it is a job the drain would run, and if no drain has
/// claimed it (and nobody changed it) since it was read.
pub fn replace(queue: &Queue, waiting: &Waiting, object: Map<String, Value>) -> Result<Edited> {
    if object.contains_key("result") {
        bail!("a waiting job cannot carry a `result`: it is what execq writes when the job ends");
    }
    job::from_json(&object).map_err(|e| anyhow::anyhow!("the edited job is not valid: {e}"))?;
    if object == waiting.object {
        return Ok(Edited {
            name: waiting.name.clone(),
            unchanged: true,
        });
    }
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(object))?;
    bytes.push(b'\n');
    if bytes.len() as u64 > MAX_JOB_BYTES {
        bail!("the edited job is over the {MAX_JOB_BYTES}-byte limit for job files");
    }
    match edit::rewrite(queue, &waiting.file_name, waiting.id, &bytes, waiting.mtime)? {
        Rewritten::Done(path) => Ok(Edited {
            name: crate::queue::names::display_name(path.file_name().unwrap_or_default()),
            unchanged: false,
        }),
        Rewritten::Busy => bail!(
            "`{}` is being changed by another execq right now; nothing was changed (try again)",
            waiting.name
        ),
        Rewritten::Gone if edit::being_edited(queue, &waiting.file_name) => bail!(
            "`{}` is being changed by another execq right now; nothing was changed (try again)",
            waiting.name
        ),
        Rewritten::Gone => bail!(
            "`{}` left pending/ before the change could be made (a drain claimed it, or it was cancelled); nothing was changed",
            waiting.name
        ),
        Rewritten::Changed => bail!(
            "`{}` was changed by someone else meanwhile; nothing was changed (look at it again and retry)",
            waiting.name
        ),
    }
}

/// Reads the waiting job `reference` names and changes it with `change`.
pub fn change(
    queue: &Queue,
    reference: &str,
    doing: &str,
    change: impl FnOnce(&mut Map<String, Value>) -> Result<()>,
) -> Result<Edited> {
    let waiting = read(queue, reference, doing)?;
    let mut object = waiting.object.clone();
    change(&mut object)?;
    replace(queue, &waiting, object)
}

/// `execq hold`: the job stays in `pending/`, untouched by drains, until released.
pub fn hold(queue: &Queue, reference: &str) -> Result<Edited> {
    change(queue, reference, "held", |object| {
        object.insert("hold".into(), Value::Bool(true));
        Ok(())
    })
}

/// `execq release`: a held job may run again.
pub fn release(queue: &Queue, reference: &str) -> Result<Edited> {
    change(queue, reference, "released", |object| {
        object.remove("hold");
        Ok(())
    })
}

/// The fields a job may carry that execq reads.
const JOB_FIELDS: [&str; 17] = [
    "command",
    "args",
    "cwd",
    "env",
    "timeout",
    "task_id",
    "description",
    "result_file",
    "priority",
    "after",
    "not_before",
    "limits",
    "notify",
    "sandbox",
    "hold",
    "group",
    "executor",
];

/// What execq writes about a job: `--set` leaves it alone.
const OWN_FIELDS: [&str; 8] = [
    "result",
    "history",
    "origin",
    "submitted_at",
    "mcp_task",
    "rerun_of",
    "retried_at",
    "retried_as",
];

/// `execq edit --set FIELD=VALUE`: each value is JSON (`timeout=30`, `hold=true`,
/// `after=["build"]`), or else a string (`command=make test`); `FIELD=` with nothing removes it.
pub fn set_fields(object: &mut Map<String, Value>, settings: &[String]) -> Result<()> {
    for setting in settings {
        let Some((field, value)) = setting.split_once('=') else {
            bail!("`--set {setting}`: give FIELD=VALUE");
        };
        let field = field.trim();
        if field.is_empty() {
            bail!("`--set {setting}`: the field's name is empty");
        }
        if OWN_FIELDS.contains(&field) {
            bail!("`{field}` is execq's own record of the job; it is not edited");
        }
        if !JOB_FIELDS.contains(&field) && !object.contains_key(field) {
            bail!(
                "`{field}` is not a field of a job (they are: {}); to add a field of your own, edit the job in $EDITOR",
                JOB_FIELDS.join(", ")
            );
        }
        if value.is_empty() {
            object.remove(field);
            continue;
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        object.insert(field.to_owned(), value);
    }
    Ok(())
}

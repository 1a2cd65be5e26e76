//! `execq hold REF…`, `execq release REF…` and `execq edit REF [--set FIELD=VALUE…]`: change jobs
//! that wait in `pending/` (see `ops::edit`). Each prints `NAME\tSTATE` per job; `hold` and
//! `release` try every job and exit 1 if any could not be changed.

use std::io::Write;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::exit_code::ExitCode;
use crate::ops::edit::{self, Edited};
use crate::output;
use crate::queue::Queue;

/// `execq edit`'s options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opts {
    pub job: String,
    /// `FIELD=VALUE` settings; none: open the job in `$VISUAL` or `$EDITOR`.
    pub set: Vec<String>,
}

/// `execq hold` (`hold`) or `execq release`.
pub fn hold(queue: &Queue, jobs: &[String], hold: bool) -> Result<ExitCode> {
    let (state, verb) = if hold {
        ("held", "hold")
    } else {
        ("released", "release")
    };
    super::for_each_job(jobs, |reference| {
        let done = if hold {
            edit::hold(queue, reference)?
        } else {
            edit::release(queue, reference)?
        };
        let already = if done.unchanged { " (already)" } else { "" };
        if !done.unchanged {
            tracing::info!(job = %done.name, "{state} by `execq {verb}`");
        }
        Ok(format!("{}\t{state}{already}", done.name))
    })
}

/// `execq edit`.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let done = if opts.set.is_empty() {
        in_editor(queue, &opts.job)?
    } else {
        edit::change(queue, &opts.job, "edited", |object| {
            edit::set_fields(object, &opts.set)
        })?
    };
    if !done.unchanged {
        tracing::info!(job = %done.name, "edited by `execq edit`");
    }
    let state = if done.unchanged {
        "unchanged"
    } else {
        "edited"
    };
    output::print_line(&format!("{}\t{state}", done.name))?;
    Ok(ExitCode::Success)
}

/// Opens the job in the user's editor; applies what was saved if it is a valid job. An edit
/// that cannot be applied is kept in a file named in the error, so no work is lost.
fn in_editor(queue: &Queue, reference: &str) -> Result<Edited> {
    let waiting = edit::read(queue, reference, "edited")?;
    let editor = ["VISUAL", "EDITOR"]
        .into_iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_owned());
    let mut file = tempfile::Builder::new()
        .prefix("execq-edit-")
        .suffix(".json")
        .tempfile()
        .context("cannot make a file to edit the job in")?;
    file.write_all(&waiting.bytes)?;
    file.flush()?;
    // Through the shell, as git does: EDITOR may carry arguments (`code --wait`).
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("execq-edit")
        .arg(file.path())
        .status()
        .with_context(|| format!("cannot run the editor `{editor}`"))?;
    if !status.success() {
        bail!("the editor `{editor}` failed ({status}); nothing was changed");
    }
    let text = std::fs::read_to_string(file.path()).context("cannot read the edited job back")?;
    let keep = |why: anyhow::Error| -> anyhow::Error {
        match file.keep() {
            Ok((_, path)) => why.context(format!("your edit is kept in {}", path.display())),
            Err(_) => why,
        }
    };
    let object = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(keep(anyhow::anyhow!("the edited job is not a JSON object"))),
        Err(e) => {
            return Err(keep(anyhow::anyhow!(
                "the edited job is not valid JSON: {e}"
            )));
        }
    };
    edit::replace(queue, &waiting, object).map_err(keep)
}

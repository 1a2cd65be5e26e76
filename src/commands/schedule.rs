//! `execq schedule add|list|remove|run`: recurring schedules (see the `cron` module).

use std::fs;

use anyhow::{Context, Result, bail};
use jiff::Zoned;
use serde_json::{Map, Value, json};

use crate::clock;
use crate::cron::{self, Overlap, Spec, fire, state};
use crate::exit_code::ExitCode;
use crate::fsutil;
use crate::job::sandbox::Origin;
use crate::ops::submit::{self, SubmitOptions};
use crate::output::{self, Table};
use crate::queue::Queue;
use crate::queue::names::display_path;

/// `execq schedule ...`.
#[derive(Clone, Debug)]
pub enum Opts {
    Add(Box<Add>),
    List { json: bool },
    Remove { name: String },
    Run { name: String },
}

/// `execq schedule add`.
#[derive(Clone, Debug)]
pub struct Add {
    pub name: String,
    pub cron: String,
    pub catch_up: bool,
    /// `overlap = "queue"` rather than the default `"skip"`.
    pub overlap_queue: bool,
    pub job: SubmitOptions,
}

/// Runs `execq schedule ...`.
pub fn run(queue: &Queue, opts: Opts) -> Result<ExitCode> {
    match opts {
        Opts::Add(add) => self::add(queue, &add),
        Opts::List { json } => list(queue, json),
        Opts::Remove { name } => remove(queue, &name),
        Opts::Run { name } => {
            let path = fire::run_now(queue, &name)?;
            tracing::info!(schedule = %name, job = %display_path(&path), "schedule run by hand");
            output::print_line(&path.display().to_string())?;
            Ok(ExitCode::Success)
        }
    }
}

fn add(queue: &Queue, add: &Add) -> Result<ExitCode> {
    cron::check_name(&add.name).map_err(anyhow::Error::msg)?;
    let job = SubmitOptions {
        origin: Origin::Schedule,
        ..add.job.clone()
    };
    let template = submit::template(&job)?;
    let cwd = template
        .get("cwd")
        .and_then(|c| c.as_str())
        .map(std::path::Path::new);
    submit::check_sandbox(queue, job.sandbox.as_ref(), Origin::Schedule, cwd)
        .map_err(anyhow::Error::msg)?;
    submit::check_executor(queue, &template).map_err(anyhow::Error::msg)?;
    let spec = Spec {
        cron: add.cron.trim().to_owned(),
        catch_up: add.catch_up,
        overlap: if add.overlap_queue {
            Overlap::Queue
        } else {
            Overlap::Skip
        },
        job: template,
    };
    let definition = cron::validate(&add.name, spec).map_err(anyhow::Error::msg)?;
    queue.open()?;
    let dir = cron::dir(queue);
    fs::create_dir_all(&dir).with_context(|| format!("failed to create `{}`", dir.display()))?;
    let _lock = state::lock(queue)?;
    for ext in ["toml", "json"] {
        let existing = dir.join(format!("{}.{ext}", add.name));
        if existing.exists() {
            bail!(
                "schedule `{}` already exists (`{}`); `execq schedule remove {}` first",
                add.name,
                existing.display(),
                add.name
            );
        }
    }
    let now = clock::now()?;
    // Occurrences from now on fire (a drain seeing the file first would arm it a little later).
    state::write_marker(queue, &add.name, &state::Marker::at(&now, None))?;
    let path = dir.join(format!("{}.toml", add.name));
    let staged = dir.join(format!(".{}.{}.tmp", add.name, std::process::id()));
    fsutil::write_new_synced(&staged, to_toml(&definition.spec)?.as_bytes())?;
    let placed = fsutil::move_if_free(&staged, &path);
    fsutil::discard(&staged);
    if !placed? {
        bail!("schedule `{}` was added meanwhile", add.name);
    }
    fsutil::sync_dir(&dir)?;
    tracing::info!(schedule = %add.name, cron = %definition.spec.cron, "schedule added");
    let next = definition
        .next_after(&now)
        .map_or_else(|| "never".to_owned(), |t| clock::rfc3339(&t));
    output::print_line(&format!(
        "added schedule {} ({}): next run {next}",
        add.name,
        path.display()
    ))?;
    Ok(ExitCode::Success)
}

/// A schedule as TOML: its settings, then `[job]`.
fn to_toml(spec: &Spec) -> Result<String> {
    let mut table = toml::Table::new();
    table.insert("cron".into(), toml::Value::String(spec.cron.clone()));
    table.insert("catch_up".into(), toml::Value::Boolean(spec.catch_up));
    table.insert(
        "overlap".into(),
        toml::Value::String(spec.overlap.as_str().into()),
    );
    let job = to_toml_value(&Value::Object(spec.job.clone()))
        .context("the job cannot be written as TOML")?;
    table.insert("job".into(), job);
    toml::to_string(&table).context("the schedule cannot be written as TOML")
}

fn to_toml_value(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => {
            toml::Value::Array(items.iter().map(to_toml_value).collect::<Option<_>>()?)
        }
        Value::Object(map) => toml::Value::Table(
            map.iter()
                .filter_map(|(k, v)| to_toml_value(v).map(|v| (k.clone(), v)))
                .collect(),
        ),
    })
}

/// One schedule, as `list` shows it.
fn describe(queue: &Queue, found: &cron::Found, now: &Zoned) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("name".into(), json!(found.name));
    row.insert("file".into(), json!(display_path(&found.path(queue))));
    match &found.definition {
        Ok(definition) => {
            let marker = state::read_marker(queue, &definition.name);
            let since = marker
                .as_ref()
                .and_then(state::Marker::last)
                .unwrap_or_else(|| now.clone());
            let next = definition.next_after(&since);
            row.insert("cron".into(), json!(definition.spec.cron));
            row.insert(
                "next_run".into(),
                json!(
                    next.map(|t| clock::rfc3339(if t.timestamp() < now.timestamp() {
                        now
                    } else {
                        &t
                    }))
                ),
            );
            row.insert(
                "last_occurrence".into(),
                json!(
                    marker
                        .as_ref()
                        .filter(|m| m.job.is_some())
                        .map(|m| m.last.clone())
                ),
            );
            row.insert(
                "last_job".into(),
                json!(marker.as_ref().and_then(|m| m.job.clone())),
            );
            row.insert("catch_up".into(), json!(definition.spec.catch_up));
            row.insert("overlap".into(), json!(definition.spec.overlap.as_str()));
            let program = crate::job::from_json(&definition.spec.job)
                .map(|spec| crate::job::summary(&spec.program, std::path::Path::new("")))
                .unwrap_or_default();
            row.insert("command".into(), json!(program));
            // It still fires while its jobs cannot start; they wait in pending/.
            let group = (definition.spec.job.get("group").and_then(Value::as_str))
                .unwrap_or(crate::job::schedule::DEFAULT_GROUP);
            let paused = !crate::queue::pause::may_start(queue, group);
            row.insert("paused".into(), json!(paused));
            row.insert("error".into(), Value::Null);
        }
        Err(why) => {
            row.insert("error".into(), json!(why));
        }
    }
    row
}

fn list(queue: &Queue, json: bool) -> Result<ExitCode> {
    let now = clock::now()?;
    let found = cron::load_all(queue)?;
    let rows: Vec<Map<String, Value>> = found.iter().map(|f| describe(queue, f, &now)).collect();
    if json {
        output::print_json(&rows)?;
        return Ok(ExitCode::Success);
    }
    if rows.is_empty() {
        output::print_line(&format!(
            "no schedules in {} (add one with `execq schedule add`)",
            cron::dir(queue).display()
        ))?;
        return Ok(ExitCode::Success);
    }
    let mut table = Table::new(&["NAME", "CRON", "NEXT RUN", "LAST", "COMMAND"]);
    let text = |row: &Map<String, Value>, key: &str| {
        row.get(key)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    for row in &rows {
        if let Some(error) = row["error"].as_str() {
            table.row(vec![
                text(row, "name"),
                "-".into(),
                "-".into(),
                "-".into(),
                format!("INVALID: {}", error.replace('\n', " ")),
            ]);
            continue;
        }
        table.row(vec![
            text(row, "name"),
            text(row, "cron"),
            match row["paused"] == true {
                true => format!("{} (paused: its job waits)", text(row, "next_run")),
                false => text(row, "next_run"),
            },
            text(row, "last_occurrence"),
            text(row, "command"),
        ]);
    }
    output::print(&table.render())?;
    Ok(ExitCode::Success)
}

fn remove(queue: &Queue, name: &str) -> Result<ExitCode> {
    cron::check_name(name).map_err(anyhow::Error::msg)?;
    let dir = cron::dir(queue);
    let files: Vec<_> = ["toml", "json"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .filter(|p| p.exists())
        .collect();
    if files.is_empty() {
        bail!("no schedule named `{name}` in `{}`", dir.display());
    }
    let _lock = state::lock(queue)?;
    for file in &files {
        fsutil::remove_if_exists(file)?;
    }
    state::remove_marker(queue, name)?;
    fsutil::sync_dir(&dir)?;
    tracing::info!(schedule = %name, "schedule removed");
    output::print_line(&format!("removed schedule {name}"))?;
    Ok(ExitCode::Success)
}

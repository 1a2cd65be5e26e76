//! Pause and resume the queue or one group (`execq pause`/`resume`, MCP `pause_queue` and
//! `resume_queue`, the served dashboard), and the groups' state (`execq group list`, `status`).
//! A pause stops drains from *starting* jobs of its scope: running ones go on, schedules keep
//! firing into `pending/`, where their jobs wait (see `queue::pause`).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::config::{self, DrainOptions};
use crate::job::sandbox::Origin;
use crate::job::schedule::{DEFAULT_GROUP, Schedule, valid_group};
use crate::queue::Queue;
use crate::queue::catalog::{self, State};
use crate::queue::pause::{self, Scope};

/// What `pause` or `resume` did.
#[derive(Clone, Debug, Serialize)]
pub struct Changed {
    /// `queue`, or the group's name.
    pub scope: String,
    pub paused: bool,
    /// It was so already.
    pub unchanged: bool,
}

fn scope(group: Option<&str>) -> Result<Scope> {
    match group {
        None => Ok(Scope::Queue),
        Some(name) if valid_group(name) => Ok(Scope::Group(name.to_owned())),
        Some(name) => bail!(
            "`{name}` is not a group's name (1 to 64 letters, digits, `_`, `-` or `.`, not starting with `.`)"
        ),
    }
}

fn shown(scope: &Scope) -> String {
    match scope {
        Scope::Queue => "queue".to_owned(),
        Scope::Group(name) => name.clone(),
    }
}

/// Pauses the queue (`group: None`) or a group, coming through `origin`'s door.
pub fn pause(queue: &Queue, group: Option<&str>, origin: Origin) -> Result<Changed> {
    let scope = scope(group)?;
    queue.open()?;
    let now = crate::job::result::timestamp(chrono::Local::now());
    let changed = pause::pause(queue, &scope, origin.as_str(), &now)?;
    if changed {
        tracing::info!(
            by = origin.as_str(),
            "{} paused: drains start none of its jobs until resumed",
            scope.describe()
        );
    }
    Ok(Changed {
        scope: shown(&scope),
        paused: true,
        unchanged: !changed,
    })
}

/// Resumes the queue or a group.
pub fn resume(queue: &Queue, group: Option<&str>, origin: Origin) -> Result<Changed> {
    let scope = scope(group)?;
    let changed = pause::resume(queue, &scope)?;
    if changed {
        tracing::info!(by = origin.as_str(), "{} resumed", scope.describe());
    }
    Ok(Changed {
        scope: shown(&scope),
        paused: false,
        unchanged: !changed,
    })
}

/// The jobs that wait in `pending/` in the queue (`group: None`) or a group, as they would run
/// (those that cannot run at all are left out: the drain files them as errors).
pub fn waiting_jobs(
    queue: &Queue,
    group: Option<&str>,
) -> Result<Vec<(String, crate::job::JobSpec)>> {
    let mut jobs = Vec::new();
    for entry in catalog::load(queue, State::Pending)? {
        if group.is_some_and(|g| entry.schedule().group() != g) {
            continue;
        }
        let spec = match (&entry.object, entry.sidecar.is_none()) {
            (Some(object), _) => crate::job::from_json(object).ok(),
            (None, _) => std::fs::read(&entry.path)
                .ok()
                .and_then(|bytes| crate::job::from_script(&bytes).ok()),
        };
        if let Some(spec) = spec {
            jobs.push((entry.name, spec));
        }
    }
    Ok(jobs)
}

/// One group, as `execq group list` and `status` show it.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct GroupView {
    pub name: String,
    /// How many of its jobs run at once (`[groups.NAME] jobs`; `default`: the queue's `jobs`).
    pub slots: usize,
    /// Configured in `config.toml` (else its jobs share `default`'s slots).
    pub configured: bool,
    pub pending: usize,
    pub running: usize,
    /// Of `running`, those handed to another executor (Slurm): they run there, pause or not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub forwarded: usize,
    pub paused: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The queue's pause, and each group: configured ones, and any a pending or running job names.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Groups {
    /// The whole queue is paused: no job starts.
    pub paused: bool,
    /// When, and through which door (`paused_at`, `by`).
    pub paused_by: Option<Value>,
    pub groups: Vec<GroupView>,
}

pub fn groups(queue: &Queue) -> Result<Groups> {
    let file = config::load(queue).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (opts, _) = config::effective(file.as_ref(), &Default::default(), DrainOptions::default());
    let mut views: BTreeMap<String, GroupView> = BTreeMap::new();
    let add = |views: &mut BTreeMap<String, GroupView>, name: &str| {
        views.entry(name.to_owned()).or_insert_with(|| GroupView {
            name: name.to_owned(),
            slots: opts.slots(opts.slot_group(name)),
            configured: name == DEFAULT_GROUP || opts.groups.contains_key(name),
            ..GroupView::default()
        });
    };
    add(&mut views, DEFAULT_GROUP);
    for name in opts.groups.keys() {
        add(&mut views, name);
    }
    for state in [State::Pending, State::Running] {
        for entry in catalog::load(queue, state)? {
            let schedule = (entry.object.as_ref())
                .and_then(|o| Schedule::of(o).ok())
                .unwrap_or_default();
            let name = schedule.group();
            add(&mut views, name);
            if let Some(view) = views.get_mut(name) {
                match state {
                    State::Pending => view.pending += 1,
                    _ => view.running += 1,
                }
                if state == State::Running && crate::queue::forwarded::read(&entry.path).is_some() {
                    view.forwarded += 1;
                }
            }
        }
    }
    let paused = pause::paused(queue)?;
    for scope in paused.keys() {
        if let Scope::Group(name) = scope {
            add(&mut views, name);
            if let Some(view) = views.get_mut(name) {
                view.paused = true;
            }
        }
    }
    Ok(Groups {
        paused: paused.contains_key(&Scope::Queue),
        paused_by: paused.get(&Scope::Queue).cloned(),
        groups: views.into_values().collect(),
    })
}

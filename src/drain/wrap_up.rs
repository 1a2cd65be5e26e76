//! What a drain does once its passes are over: the work only a drain that did work does (jobs a
//! killed cancel or retry left taken, retention, the dashboard page), then its account in
//! `daemon.log` and `last-drain.json`.

use std::time::Instant;

use anyhow::Result;
use chrono::{DateTime, Local};
use tracing::{info, warn};

use super::Summary;
use crate::config::DrainOptions;
use crate::queue::{Queue, last_drain, taken};
use crate::sys;

/// After a drain that did work (never an idle one: failed/ may be long, and an idle drain must
/// cost next to nothing).
pub(super) fn after_work(queue: &Queue, opts: &DrainOptions) -> Result<()> {
    let outcome = taken::recover(queue).map(drop);
    if let Some(retention) = &opts.retention {
        // At most hourly; a failure is logged, and the next hour tries again.
        if let Err(e) = crate::retention::apply_hourly(queue, retention) {
            warn!("old records could not be archived: {e:#}");
        }
    }
    if let Err(e) = crate::queue::index::tidy(queue) {
        warn!("the index of records could not be rebuilt: {e:#}");
    }
    if let Some(page) = &opts.dashboard {
        let page = queue.root.join(page);
        let refresh = Some(crate::dashboard::REFRESH_SECS);
        if let Err(e) = crate::dashboard::write(queue, &page, refresh) {
            warn!("the dashboard could not be written: {e:#}");
        }
    }
    outcome
}

/// For a drain that did work, was stopped or failed: logs "drain finished", and records the outcome
/// in `last-drain.json` unless `lost` (its queue folder was replaced: the new one is left alone).
pub(super) fn report(
    queue: &Queue,
    summary: &Summary,
    started_at: DateTime<Local>,
    started: Instant,
    outcome: &Result<()>,
    lost: bool,
) {
    if summary.touched() || summary.stopped_by.is_some() || outcome.is_err() {
        info!(
            completed = summary.completed,
            failed = summary.failed,
            recovered = summary.recovered,
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            peak_rss_kib = sys::peak_rss_bytes() / 1024,
            stopped_by = %summary.stopped_by.map_or_else(|| "-".into(), |s| s.to_string()),
            "drain finished"
        );
        let error = outcome.as_ref().err().map(|e| format!("{e:#}"));
        if !lost && let Err(e) = record_last_drain(queue, summary, started_at, error) {
            warn!("could not record the drain's outcome: {e:#}");
        }
    }
}

fn record_last_drain(
    queue: &Queue,
    summary: &Summary,
    started_at: DateTime<Local>,
    error: Option<String>,
) -> Result<()> {
    let outcome = match (&error, summary.stopped_by) {
        (Some(_), _) => "error".to_owned(),
        (None, Some(signal)) => format!("stopped by signal {signal}"),
        (None, None) if summary.failed > 0 => "some jobs failed".to_owned(),
        (None, None) => "ok".to_owned(),
    };
    last_drain::write(
        queue,
        &serde_json::json!({
            "started_at": crate::job::result::timestamp(started_at),
            "finished_at": crate::job::result::timestamp(Local::now()),
            "outcome": outcome,
            "completed": summary.completed,
            "failed": summary.failed,
            "recovered": summary.recovered,
            "stopped_by": summary.stopped_by,
            "error": error,
            "pid": std::process::id(),
        }),
    )
}

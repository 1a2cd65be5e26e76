//! Jobs as MCP resources, so that a client can attach a job's record or output to a
//! conversation:
//!
//! | URI | what | type |
//! |---|---|---|
//! | `execq://job/{job}` | the job's whole record (its file), result included once it has one | `application/json` |
//! | `execq://job/{job}/stdout`, `.../stderr` | its output: all of it up to 1 MiB, else the last 1 MiB | `text/plain` |
//!
//! `{job}` is any reference the tools take (a task_id, a file name, with or without `.json`),
//! percent-encoded. Archived jobs are found too. `resources/list` lists the newest jobs' records.
//!
//! A client may subscribe to any of these: `notifications/resources/updated` comes once, when the
//! job's record lands (its output is final then) — through `resources/subscribe` in 2025-11-25
//! and before, through `subscriptions/listen` in 2026-07-28. Each subscription is a waiter on the
//! blocking pool, so a server holds at most [`MAX_WATCHES`] at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::Value;

use crate::ops::get;
use crate::ops::list::{self, ListRequest};
use crate::ops::output::{self, MAX_PAGE, Stream};
use crate::ops::view::Detail;
use crate::ops::wait::{self, Waited};
use crate::queue::Queue;
use crate::queue::watch::Tracked;

const PREFIX: &str = "execq://job/";

/// How many subscriptions one server holds at once, both revisions' together.
pub const MAX_WATCHES: usize = 64;

/// The waiters running now.
static WATCHING: AtomicUsize = AtomicUsize::new(0);

/// How many jobs `resources/list` lists, newest first.
const LISTED: usize = 100;

/// What a job's URI names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Record,
    Output(Stream),
}

/// The characters a job reference keeps encoded in a URI.
const ENCODED: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

pub fn uri(job: &str, part: Part) -> String {
    let job = utf8_percent_encode(job, ENCODED);
    match part {
        Part::Record => format!("{PREFIX}{job}"),
        Part::Output(stream) => format!("{PREFIX}{job}/{}", stream.name()),
    }
}

/// The job reference and part a URI names; `Err` says why it names none.
pub fn parse(uri: &str) -> Result<(String, Part), String> {
    let rest = uri.strip_prefix(PREFIX).ok_or_else(|| {
        format!("`{uri}` is not an execq job URI (execq://job/JOB[/stdout|/stderr])")
    })?;
    let (job, part) = match rest.split_once('/') {
        None => (rest, Part::Record),
        Some((job, "stdout")) => (job, Part::Output(Stream::Stdout)),
        Some((job, "stderr")) => (job, Part::Output(Stream::Stderr)),
        Some(_) => {
            return Err(format!(
                "`{uri}`: after the job comes nothing, /stdout or /stderr"
            ));
        }
    };
    let job = percent_decode_str(job)
        .decode_utf8()
        .map_err(|_| format!("`{uri}`: the job is not UTF-8 once decoded"))?;
    if job.is_empty() || job.contains('/') || job.contains('\0') {
        return Err(format!("`{uri}` names no job"));
    }
    Ok((job.into_owned(), part))
}

pub fn templates() -> ListResourceTemplatesResult {
    let template = |suffix: &str, name: &str, description: &str, mime: &str| {
        ResourceTemplate::new(format!("{PREFIX}{{job}}{suffix}"), name)
            .with_description(description)
            .with_mime_type(mime)
    };
    ListResourceTemplatesResult::with_all_items(vec![
        template(
            "",
            "job",
            "A job's record: what it runs and, once it has finished, its result (status, exit code, output). {job}: its task_id or file name.",
            "application/json",
        ),
        template(
            "/stdout",
            "job-stdout",
            "A job's standard output (the last 1 MiB of a longer one), so far while it runs.",
            "text/plain",
        ),
        template(
            "/stderr",
            "job-stderr",
            "A job's standard error (the last 1 MiB of a longer one), so far while it runs.",
            "text/plain",
        ),
    ])
}

/// The newest jobs' records.
pub fn list(queue: &Queue) -> anyhow::Result<ListResourcesResult> {
    let request = ListRequest {
        states: Vec::new(),
        limit: Some(LISTED),
        order: list::Order::NewestFirst,
        mcp_tasks: false,
    };
    let views = list::list(queue, &request)?.views()?;
    let resources = views
        .into_iter()
        .map(|view| {
            let state = view.status.as_deref().unwrap_or(&view.state);
            Resource::new(uri(&view.job, Part::Record), view.job.clone())
                .with_description(format!("{} ({state})", view.command))
                .with_mime_type("application/json")
        })
        .collect();
    Ok(ListResourcesResult::with_all_items(resources))
}

/// `resources/read`.
pub fn read(queue: &Queue, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let (job, part) = parse(uri).map_err(|e| ErrorData::invalid_params(e, None))?;
    let not_found = |e: anyhow::Error| ErrorData::resource_not_found(format!("{e:#}"), None);
    let view = get::get(queue, &job, Detail::Record).map_err(not_found)?;
    let contents = match part {
        Part::Record => {
            let record = view.record.unwrap_or(Value::Null);
            let text = serde_json::to_string_pretty(&record).unwrap_or_default();
            ResourceContents::text(text, uri).with_mime_type("application/json")
        }
        Part::Output(stream) => {
            let text = if view.state == "archived" {
                let record = view.record.unwrap_or(Value::Null);
                let text = record["result"][stream.name()].as_str().unwrap_or_default();
                tail(text).to_owned()
            } else {
                output_tail(queue, &view.job, stream).map_err(not_found)?
            };
            ResourceContents::text(text, uri).with_mime_type("text/plain")
        }
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

/// The last [`MAX_PAGE`] bytes of `text`, from a character's start.
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(MAX_PAGE as usize);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A job's stream in the queue: all of it, or its last [`MAX_PAGE`] bytes.
fn output_tail(queue: &Queue, job: &str, stream: Stream) -> anyhow::Result<String> {
    let first = output::output_page(queue, job, stream, 0, MAX_PAGE)?;
    if first.total_bytes <= MAX_PAGE {
        return Ok(first.data);
    }
    let from = first.total_bytes - MAX_PAGE;
    Ok(output::output_page(queue, job, stream, from, MAX_PAGE)?.data)
}

/// The subscriptions a server holds: each URI's waiter, told to stop by its flag.
#[derive(Clone, Default)]
pub struct Watches(Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>);

impl Watches {
    /// Starts waiting for `uri`'s job to finish; `updated` is called once, when it has (at once
    /// if it already has). A second subscription to one URI is the first.
    pub fn start(
        &self,
        queue: &Queue,
        uri: &str,
        updated: impl FnOnce() + Send + 'static,
    ) -> Result<(), ErrorData> {
        let (job, _) = parse(uri).map_err(|e| ErrorData::invalid_params(e, None))?;
        let tracked = match Tracked::find(queue, &job) {
            Ok(tracked) => Some(tracked),
            // Only its archived record left: finished, so updated at once.
            Err(e) => match get::find(queue, &job) {
                Ok(get::Found::Archived(_)) => None,
                _ => return Err(ErrorData::resource_not_found(format!("{e:#}"), None)),
            },
        };
        let stop = Arc::new(AtomicBool::new(false));
        {
            let mut watches =
                (self.0.lock()).map_err(|_| ErrorData::internal_error("watches", None))?;
            if watches.contains_key(uri) {
                return Ok(());
            }
            let counted = WATCHING.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_WATCHES).then_some(n + 1)
            });
            if counted.is_err() {
                return Err(ErrorData::invalid_params(
                    format!("this server already holds {MAX_WATCHES} subscriptions: end one first"),
                    None,
                ));
            }
            watches.insert(uri.to_owned(), Arc::clone(&stop));
        }
        let (queue, uri, watches) = (queue.clone(), uri.to_owned(), self.clone());
        tokio::task::spawn_blocking(move || {
            let finished = match tracked {
                None => true,
                Some(tracked) => matches!(
                    wait::until(&queue, &tracked, None, || !stop.load(Ordering::Relaxed)),
                    Ok(Waited::Finished(_))
                ),
            };
            watches.forget(&uri, &stop);
            WATCHING.fetch_sub(1, Ordering::SeqCst);
            if finished {
                updated();
            }
        });
        Ok(())
    }

    /// Stops the waiter for `uri`, if there is one.
    pub fn stop(&self, uri: &str) {
        if let Some(stop) = self.0.lock().ok().and_then(|mut w| w.remove(uri)) {
            stop.store(true, Ordering::Relaxed);
        }
    }

    fn forget(&self, uri: &str, stop: &Arc<AtomicBool>) {
        if let Ok(mut watches) = self.0.lock()
            && watches.get(uri).is_some_and(|s| Arc::ptr_eq(s, stop))
        {
            watches.remove(uri);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_uri_parses_back_to_its_job_and_part() {
        for job in ["20261202-1-a.json", "odd name ?#%{}`", "été"] {
            for part in [
                Part::Record,
                Part::Output(Stream::Stdout),
                Part::Output(Stream::Stderr),
            ] {
                let u = uri(job, part);
                assert_eq!(parse(&u), Ok((job.to_owned(), part)), "{u}");
            }
        }
        for bad in [
            "execq://job/",
            "http://x/y",
            "execq://job/a/b",
            "execq://job/a/stdout/x",
            "execq://job/a%2Fb",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

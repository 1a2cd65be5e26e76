//! What the MCP tools read and do. Synchronous, like the rest of execq: the tools call these on
//! tokio's blocking pool.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::job::result::{JobResult, timestamp};
use crate::queue::catalog::{self, Entry, State};
use crate::queue::record::spool_paths;
use crate::queue::watch::Tracked;
use crate::queue::{Queue, lock};

/// Output kept at the end of each stream in a job's summary.
pub const TAIL_BYTES: usize = 4 * 1024;

/// The most `job_output` returns in one page.
pub const MAX_PAGE: u64 = 1024 * 1024;

/// One job, as the tools report it.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct JobView {
    /// The job's file name: the surest reference to pass to the other tools.
    pub job: String,
    pub task_id: Option<String>,
    /// pending, running, completed, failed, or archived.
    pub state: String,
    /// How it ended: completed, failed, timeout, error, interrupted, cancelled,
    /// dependency_failed. Null until it has.
    pub status: Option<String>,
    /// It has a result and will not change (unless retried).
    pub done: bool,
    /// What it runs, in one line.
    pub command: String,
    /// Why a pending job is not running yet (a time, a dependency), if it waits for something.
    pub waiting: Option<String>,
    pub returncode: Option<i32>,
    pub duration_ms: Option<u64>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// How long a running job has been running.
    pub running_seconds: Option<f64>,
    pub error: Option<String>,
    /// The last 4 KiB of its output so far (job_output pages through all of it).
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// Bytes written to each stream so far.
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
}

impl JobView {
    pub fn of(queue: &Queue, entry: &Entry) -> Result<Self> {
        let mut view = Self {
            job: entry.name.clone(),
            task_id: entry.task_id().map(str::to_owned),
            state: entry.state.as_str().to_owned(),
            command: entry.command(),
            ..Self::default()
        };
        match entry.state {
            State::Pending => {
                view.waiting = catalog::waiting(queue, std::slice::from_ref(entry))?
                    .remove(&entry.file_name)
                    .map(|w| w.to_string());
            }
            State::Running => {
                view.running_seconds = SystemTime::now()
                    .duration_since(entry.time)
                    .ok()
                    .map(|d| d.as_secs_f64());
                let [out, err] = spool_paths(&entry.path);
                (view.stdout_tail, view.stdout_bytes) = live_tail(&out);
                (view.stderr_tail, view.stderr_bytes) = live_tail(&err);
            }
            State::Completed | State::Failed => {
                if let Some(result) = &entry.result {
                    view.add_result(result);
                }
            }
        }
        Ok(view)
    }

    /// A job found only in the archive (see `retention`): `show --json`'s answer.
    pub fn archived(shown: &Value) -> Self {
        let record = &shown["record"];
        let mut view = Self {
            job: shown["file"].as_str().unwrap_or_default().to_owned(),
            task_id: record["task_id"].as_str().map(str::to_owned),
            state: "archived".to_owned(),
            command: record["command"].as_str().unwrap_or("?").to_owned(),
            ..Self::default()
        };
        if let Ok(result) = serde_json::from_value::<JobResult>(record["result"].clone()) {
            view.add_result(&result);
        }
        view
    }

    fn add_result(&mut self, r: &JobResult) {
        self.status = Some(r.status.as_str().to_owned());
        self.done = true;
        self.returncode = r.returncode;
        self.duration_ms = Some(r.duration_ms);
        self.started_at.clone_from(&r.started_at);
        self.completed_at = Some(r.completed_at.clone());
        self.error.clone_from(&r.error);
        self.stdout_tail = tail(&r.stdout, TAIL_BYTES);
        self.stderr_tail = tail(&r.stderr, TAIL_BYTES);
        self.stdout_bytes = r.stdout_bytes;
        self.stderr_bytes = r.stderr_bytes;
    }

    /// The view as a few lines for people (and models) to read.
    pub fn text(&self) -> String {
        let mut out = format!("job {}", self.job);
        if let Some(id) = &self.task_id {
            out.push_str(&format!(" (task_id {id})"));
        }
        out.push_str(&format!(
            ": {}",
            self.status.as_deref().unwrap_or(&self.state)
        ));
        if let Some(code) = self.returncode {
            out.push_str(&format!(", exit code {code}"));
        }
        if let Some(ms) = self.duration_ms {
            out.push_str(&format!(", took {}", crate::output::duration_ms(ms)));
        }
        if let Some(secs) = self.running_seconds {
            out.push_str(&format!(", running for {secs:.0} s"));
        }
        out.push_str(&format!("\ncommand: {}", self.command));
        if let Some(why) = &self.waiting {
            out.push_str(&format!("\nwaiting for: {why}"));
        }
        if let Some(error) = &self.error {
            out.push_str(&format!("\nerror: {error}"));
        }
        for (name, text, bytes) in [
            ("stdout", &self.stdout_tail, self.stdout_bytes),
            ("stderr", &self.stderr_tail, self.stderr_bytes),
        ] {
            if bytes > 0 {
                let shown = if (text.len() as u64) < bytes {
                    format!(
                        " (last {} of {bytes} bytes; job_output has the rest)",
                        text.len()
                    )
                } else {
                    String::new()
                };
                out.push_str(&format!("\n{name}{shown}:\n{text}"));
            }
        }
        if !self.done {
            out.push_str("\n(not finished: get_job with wait_seconds waits for it)");
        }
        out
    }
}

/// The last `max` bytes of `text`, from a character boundary.
fn tail(text: &str, max: usize) -> String {
    text[crate::output::tail_start(text, max)..].to_owned()
}

/// The end of a running job's live output, and its size so far.
fn live_tail(path: &std::path::Path) -> (String, u64) {
    let Ok(mut file) = File::open(path) else {
        return (String::new(), 0);
    };
    let size = file.metadata().map_or(0, |m| m.len());
    let start = size.saturating_sub(TAIL_BYTES as u64);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return (String::new(), size);
    }
    (String::from_utf8_lossy(&bytes).into_owned(), size)
}

/// Which of a job's streams.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    #[default]
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// A page of a job's output.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct OutputPage {
    pub job: String,
    pub stream: Stream,
    /// Where this page starts, in bytes.
    pub offset: u64,
    /// The page (bytes `offset` .. `next_offset`, as UTF-8 text; a character cut by the page's
    /// end moves to the next page).
    pub data: String,
    /// Where the next page starts.
    pub next_offset: u64,
    /// Bytes of this stream available now (a running job's grows).
    pub total_bytes: u64,
    /// No more output will come: the job has finished and this page reaches the end.
    pub eof: bool,
    /// The job is still running: later calls may find more.
    pub running: bool,
    /// The record kept only the start and end of a very long stream; the middle is replaced by a
    /// marker (the job's `result_file` has it all, when it set one).
    pub truncated: bool,
}

/// Bytes `offset..offset+length` of the job's stream: from the live copy while it runs, from
/// its record once it has finished.
pub fn output_page(
    queue: &Queue,
    reference: &str,
    stream: Stream,
    offset: u64,
    length: u64,
) -> Result<OutputPage> {
    let length = length.clamp(1, MAX_PAGE);
    let entry = catalog::find(queue, reference)?;
    match entry.state {
        State::Pending => Ok(page(&entry, stream, offset, &[], 0, false, false)),
        State::Completed | State::Failed => from_record(&entry, stream, offset, length),
        State::Running => {
            let [out, err] = spool_paths(&entry.path);
            let path = if stream == Stream::Stdout { out } else { err };
            if let Some((bytes, total)) = read_range(&path, offset, length)? {
                return Ok(page(&entry, stream, offset, &bytes, total, true, false));
            }
            // Not a byte yet, or it finished just now and its live copy is gone.
            match catalog::find(queue, reference)? {
                again if again.state == State::Running => {
                    Ok(page(&again, stream, offset, &[], 0, true, false))
                }
                again => from_record(&again, stream, offset, length),
            }
        }
    }
}

/// The bytes of `path` from `offset`, at most `length`, and the file's size; `None` if there is
/// no such file.
fn read_range(path: &Path, offset: u64, length: u64) -> Result<Option<(Vec<u8>, u64)>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let total = file.metadata()?.len();
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(offset))?;
    file.take(length).read_to_end(&mut bytes)?;
    Ok(Some((bytes, total)))
}

fn from_record(entry: &Entry, stream: Stream, offset: u64, length: u64) -> Result<OutputPage> {
    let Some(result) = &entry.result else {
        anyhow::bail!(
            "`{}` has finished but its result cannot be read",
            entry.name
        );
    };
    let (text, truncated) = match stream {
        Stream::Stdout => (&result.stdout, result.stdout_truncated),
        Stream::Stderr => (&result.stderr, result.stderr_truncated),
    };
    let bytes = text.as_bytes();
    let total = bytes.len() as u64;
    let start = usize::try_from(offset.min(total)).unwrap_or(bytes.len());
    let end = usize::try_from(offset.saturating_add(length).min(total)).unwrap_or(bytes.len());
    Ok(page(
        entry,
        stream,
        offset,
        &bytes[start..end],
        total,
        false,
        truncated,
    ))
}

fn page(
    entry: &Entry,
    stream: Stream,
    offset: u64,
    bytes: &[u8],
    total: u64,
    running: bool,
    truncated: bool,
) -> OutputPage {
    // A character cut by the page's end goes to the next page, unless nothing else would fit
    // or the stream really ends there.
    let mut keep = bytes.len();
    if let Err(e) = std::str::from_utf8(bytes) {
        let more_to_come = running || offset + (bytes.len() as u64) < total;
        if e.error_len().is_none() && e.valid_up_to() > 0 && more_to_come {
            keep = e.valid_up_to();
        }
    }
    let next_offset = offset + keep as u64;
    OutputPage {
        job: entry.name.clone(),
        stream,
        offset,
        data: String::from_utf8_lossy(&bytes[..keep]).into_owned(),
        next_offset,
        total_bytes: total,
        eof: entry.result.is_some() && !running && next_offset >= total,
        running,
        truncated,
    }
}

/// The job `reference` names as it is now: the pending or running one, else the newest record
/// (looking again for a moment if it is between `running/` and its record).
pub fn current(queue: &Queue, reference: &str) -> Result<Entry> {
    Tracked::find_entry(queue, reference).map(|(_, entry)| entry)
}

/// A summary line of a job, for `list_jobs`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Listed {
    pub job: String,
    pub task_id: Option<String>,
    pub state: String,
    pub status: Option<String>,
    pub returncode: Option<i32>,
    /// When it was queued (pending), started (running) or finished.
    pub time: String,
    pub command: String,
}

impl Listed {
    fn of(entry: &Entry) -> Self {
        Self {
            job: entry.name.clone(),
            task_id: entry.task_id().map(str::to_owned),
            state: entry.state.as_str().to_owned(),
            status: entry.result.as_ref().map(|r| r.status.as_str().to_owned()),
            returncode: entry.result.as_ref().and_then(|r| r.returncode),
            time: timestamp(entry.time.into()),
            command: entry.command(),
        }
    }
}

/// The `limit` newest (or oldest) jobs in `states`, and how many there are in all.
pub fn list(
    queue: &Queue,
    states: &[State],
    newest: bool,
    limit: usize,
) -> Result<(Vec<Listed>, usize)> {
    let mut all = Vec::new();
    let mut total = 0;
    for &state in states {
        if newest {
            let (entries, n) = catalog::newest(queue, state, limit)?;
            all.extend(entries);
            total += n;
        } else {
            let entries = catalog::load(queue, state)?;
            total += entries.len();
            all.extend(entries);
        }
    }
    if newest {
        all.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.name.cmp(&a.name)));
    } else {
        all.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    }
    all.truncate(limit);
    Ok((all.iter().map(Listed::of).collect(), total))
}

/// Starts a drain for a job just submitted, as `submit --start` does, unless a drain holds the
/// queue or the service is installed for it (launchd or systemd will start one in a moment).
/// A new process rather than a fork: this one runs an async runtime's threads.
pub fn start_drain(queue: &Queue) -> Result<bool> {
    if lock::is_held(queue)? || service_installed(queue) {
        return Ok(false);
    }
    let exe = std::env::current_exe().context("cannot tell where this execq binary is")?;
    let mut child = Command::new(exe)
        .arg("--queue")
        .arg(&queue.root)
        .args(["drain", "--linger", "0.2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a client that ends the server's group leaves the drain be.
        .process_group(0)
        .spawn()
        .context("failed to start a drain")?;
    // Reaped when it ends, so no zombie waits for this long-lived server to exit.
    std::thread::spawn(move || child.wait());
    Ok(true)
}

/// Whether the default service's files are installed, for this queue.
fn service_installed(queue: &Queue) -> bool {
    let Ok(spec) = crate::commands::service::spec(queue, crate::service::DEFAULT_LABEL, None, None)
    else {
        return false;
    };
    let root = queue.root.display().to_string();
    let units = crate::service::render(&spec);
    !units.is_empty()
        && units.iter().all(|unit| unit.path.exists())
        && units
            .iter()
            .any(|unit| std::fs::read_to_string(&unit.path).is_ok_and(|text| text.contains(&root)))
}

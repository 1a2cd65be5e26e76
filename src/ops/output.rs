//! A page of a job's output: from the live copy while it runs, from its record once it has
//! finished (MCP `job_output`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::queue::Queue;
use crate::queue::catalog::{Entry, State};
use crate::queue::record::spool_paths;

/// The most one page holds.
pub const MAX_PAGE: u64 = 1024 * 1024;

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
    let entry = super::get::in_queue(queue, reference, "read page by page")?;
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
            match super::get::in_queue(queue, reference, "read page by page")? {
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

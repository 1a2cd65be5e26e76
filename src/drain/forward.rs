//! Jobs run by another executor (see `executor`): handing a claimed job over, and, at each hold
//! of the lock, filing the forwarded jobs that have finished.
//!
//! A job handed over stays in `running/` with its note. A hand-over that cannot happen now (the
//! cluster cannot be reached) puts the job back in `pending/` and parks that executor's jobs for
//! the rest of this drain; the reason is kept in `forwarding-fault.json`, which `status` shows.

use std::os::fd::AsFd;

use anyhow::Result;
use tracing::{info, warn};

use super::Drainer;
use super::job::Started;
use crate::executor::{self, Job, Kind, Launched, News};
use crate::job::result::{JobResult, Status};
use crate::job::{Format, JobSpec};
use crate::queue::claim::{self, Claimed};
use crate::queue::forwarded::{self, Forwarded};
use crate::queue::record::{self, Record};

impl Drainer<'_> {
    /// The executor a job read from `pending/` would run on.
    pub(super) fn executor_of(
        &self,
        json: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Kind {
        json.and_then(|o| Kind::of_job(o).ok().flatten())
            .unwrap_or(self.opts.executor)
    }

    /// Whether jobs for `kind` wait for the next drain (it could not take one in this drain).
    pub(super) fn parked(&self, kind: Kind) -> bool {
        self.parked.contains(&kind)
    }

    /// Hands a claimed job to its (non-local) executor.
    pub(super) fn forward(
        &mut self,
        kind: Kind,
        claimed: Claimed,
        record: Record,
        spec: &JobSpec,
    ) -> Result<Started> {
        let launched = {
            let lent = self.lent.as_ref().map(|f| f.as_fd());
            let job = Job {
                queue: self.queue,
                opts: self.opts,
                shutdown: self.shutdown,
                claimed: &claimed,
                spec,
                lock: lent,
            };
            executor::of(kind, self.opts).launch(&job)
        };
        match launched {
            Launched::Forwarded(note) => {
                let id = note
                    .job_id
                    .map_or_else(|| "unknown yet".into(), |id| id.to_string());
                info!(file = ?claimed.name, executor = kind.as_str(), job_id = %id, "job forwarded");
                self.summary.forwarded += 1;
                self.clear_fault();
                Ok(Started::Recorded)
            }
            Launched::Finished(result) => {
                let path = claimed.path.clone();
                self.record_result(claimed, record, *result)?;
                self.settle_record()?;
                crate::fsutil::remove_if_exists(&forwarded::note_path(&path))?;
                Ok(Started::Recorded)
            }
            Launched::Later(why) => {
                claim::unclaim(self.queue, &claimed)?;
                crate::fsutil::sync_dir(&self.queue.pending)?;
                crate::fsutil::remove_if_exists(&forwarded::note_path(&claimed.path))?;
                self.parked.insert(kind);
                // Said once per fault, not by every drain (one every 2 s under launchd) that
                // meets it again; `status` says it for as long as it lasts.
                if self.note_fault(kind, &why) {
                    warn!(file = ?claimed.name, executor = kind.as_str(), error = %why, "job not handed over; jobs for this executor wait in pending/ until it answers");
                } else {
                    tracing::debug!(file = ?claimed.name, error = %why, "job not handed over");
                }
                Ok(Started::Vanished)
            }
        }
    }

    /// Asks about the forwarded jobs again if [`POLL_EVERY`] has passed since this drain last did
    /// (a drain busy with local jobs holds the lock, and the 2 s trigger's drains leave at once).
    pub(super) fn poll_if_due(&mut self) -> Result<()> {
        if self.polled.is_some_and(|at| at.elapsed() < POLL_EVERY) {
            return Ok(());
        }
        self.polled = Some(std::time::Instant::now());
        let Ok(dir) = std::fs::read_dir(&self.queue.running) else {
            return Ok(());
        };
        let names: Vec<std::ffi::OsString> = dir.flatten().map(|e| e.file_name()).collect();
        if !names.iter().any(|n| forwarded::is_note(n)) {
            return Ok(());
        }
        let notes = forwarded::all(self.queue, &names)?;
        self.poll_forwarded(notes)
    }

    /// Asks each executor about its forwarded jobs and files those that finished.
    pub(super) fn poll_forwarded(&mut self, mut notes: Vec<Forwarded>) -> Result<()> {
        self.polled = Some(std::time::Instant::now());
        let mut kinds: Vec<Kind> = Vec::new();
        for note in &notes {
            if !kinds.contains(&note.kind) {
                kinds.push(note.kind);
            }
        }
        for kind in kinds {
            let (theirs, rest): (Vec<_>, Vec<_>) = notes.into_iter().partition(|n| n.kind == kind);
            notes = rest;
            self.poll_executor(kind, theirs)?;
        }
        Ok(())
    }

    /// Asks one executor about its forwarded jobs, and acts on what it says.
    fn poll_executor(&mut self, kind: Kind, notes: Vec<Forwarded>) -> Result<()> {
        let news = match executor::of(kind, self.opts).poll(self.queue, notes) {
            Ok(news) => news,
            Err(why) => {
                // If it cannot be asked, it cannot take a job either: not tried again this drain.
                self.parked.insert(kind);
                if self.note_fault(kind, &why) {
                    warn!(executor = kind.as_str(), error = %why, "forwarded jobs could not be looked at; they stay in running/ until it answers");
                }
                return Ok(());
            }
        };
        self.clear_fault();
        for news in news {
            match news {
                News::Running(note) => self.update(&note)?,
                News::Finished {
                    job,
                    result,
                    executor,
                } => self.file_forwarded(&job, *result, executor)?,
                News::NeverSent(note) => self.put_back(&note)?,
            }
        }
        Ok(())
    }

    /// Saves what changed in a running job's note (its Slurm state, node, id).
    fn update(&self, note: &Forwarded) -> Result<()> {
        let path = note.path(self.queue);
        if forwarded::read(&path).as_ref() != Some(note) {
            forwarded::save(self.queue, &path, note)?;
        }
        Ok(())
    }

    fn file_forwarded(
        &mut self,
        note: &Forwarded,
        mut result: JobResult,
        executor: serde_json::Value,
    ) -> Result<()> {
        let Some(claimed) = note.claimed(self.queue) else {
            return forwarded::remove(self.queue, note);
        };
        let record = match record_of(&claimed) {
            Record::Merged(mut object) => {
                object.insert("executor".into(), executor);
                Record::Merged(object)
            }
            Record::Sidecar => Record::Sidecar,
        };
        if !claim::still_there(&claimed) {
            result
                .notes
                .push("the job file was replaced in running/ while it ran".into());
        }
        let line = format!(
            "{} (returncode {})",
            result.status.as_str(),
            result.returncode.map_or("-".into(), |c| c.to_string())
        );
        if result.status == Status::Completed {
            info!(file = ?claimed.name, job_id = %note.job_id.map_or_else(|| "-".into(), |id| id.to_string()), result = %line, "forwarded job finished");
        } else {
            warn!(file = ?claimed.name, job_id = %note.job_id.map_or_else(|| "-".into(), |id| id.to_string()), result = %line, error = %result.error.as_deref().unwrap_or("-"), "forwarded job finished");
        }
        let finishing = record::prepare(self.queue, &claimed, record, &result)?;
        finishing.sync()?;
        self.file_record(finishing)?;
        crate::fsutil::discard_dir(&note.dir);
        forwarded::remove(self.queue, note)?;
        Ok(())
    }

    /// A job whose hand-over never happened goes back to `pending/`, to be handed over again.
    fn put_back(&self, note: &Forwarded) -> Result<()> {
        if let Some(claimed) = note.claimed(self.queue) {
            claim::unclaim(self.queue, &claimed)?;
            crate::fsutil::sync_dir(&self.queue.pending)?;
            warn!(file = ?claimed.name, identity = %note.identity, "Slurm has no job of this one's identity and its script never started: it was never handed over (a drain stopped first, or sbatch's answer was lost before Slurm took it); it is back in pending/");
        }
        crate::fsutil::discard_dir(&note.dir);
        forwarded::remove(self.queue, note)?;
        Ok(())
    }

    /// Records why forwarding failed; whether that is news (a new or changed reason).
    fn note_fault(&mut self, kind: Kind, why: &str) -> bool {
        forwarded::note_fault(self.queue, kind, why).unwrap_or_else(|e| {
            warn!("could not record why forwarding failed: {e:#}");
            true
        })
    }

    fn clear_fault(&mut self) {
        match forwarded::clear_fault(self.queue) {
            Ok(true) => info!("forwarding works again"),
            Ok(false) => {}
            Err(e) => warn!("could not clear the forwarding fault: {e:#}"),
        }
    }
}

/// How a forwarded job's record is stored, from what its file holds.
fn record_of(job: &Claimed) -> Record {
    let bytes = crate::queue::pending::read_regular(&job.path).unwrap_or_default();
    match (Format::of(&job.name), crate::job::parse_object(&bytes)) {
        (Format::Json, Ok(object)) => Record::Merged(object),
        _ => Record::Sidecar,
    }
}

/// How often a busy drain asks about forwarded jobs (launchd's interval trigger's pace).
const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The executors a drain could not reach: their jobs wait for the next drain.
pub(super) type Parked = std::collections::HashSet<Kind>;

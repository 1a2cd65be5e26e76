//! One job's way through a drain: claimed, run, its record written.
//!
//! One sync per job: the previous job's record is written but left unsynced until this job is
//! claimed, and then one sync of that record makes both durable (on ext4 a single journal commit;
//! elsewhere the sync of `running/` that follows does the claim's share). The job starts only
//! after both. A drain killed in between leaves both jobs in `running/` with the previous one's
//! record complete in a `.tmp` file: the next drain files that record and records the claimed job
//! as interrupted (it is never run again). After a power loss the record may be cut short; then
//! both are recorded as interrupted, as they would be had the power failed a moment earlier,
//! before the record was written.

use anyhow::Result;
use tracing::{error, warn};

use super::Drainer;
use crate::config::DrainOptions;
use crate::exec::result_file;
use crate::executor::{self, Kind};
use crate::job::result::{JobResult, Status};
use crate::job::{self, Format, JobError, JobSpec};
use crate::queue::Queue;
use crate::queue::claim::{self, Claimed};
use crate::queue::pending::{self, Loaded};
use crate::queue::record::{self, Record};
use crate::signals::Shutdown;

/// What to do with a job once claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Run,
    /// File it without running, with this status and error (a failed dependency, a cycle).
    Skip(Status, String),
}

/// What became of an entry that was ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// It was claimed, and run (or refused) and recorded.
    Ran,
    /// It vanished before it could be claimed (its producer took it back).
    Vanished,
}

/// A claimed job, ready to run (on the drain's thread, or on a worker's with `--jobs`).
pub(super) struct Work {
    pub(super) claimed: Claimed,
    pub(super) record: Record,
    pub(super) spec: JobSpec,
}

impl Work {
    /// Runs the job here, to its end (the local executor), and returns its result.
    pub(super) fn run(&self, queue: &Queue, opts: &DrainOptions, shutdown: &Shutdown) -> JobResult {
        executor::local::run(&executor::Job {
            queue,
            opts,
            shutdown,
            claimed: &self.claimed,
            spec: &self.spec,
            lock: None,
        })
    }
}

/// What [`Drainer::start`] did.
pub(super) enum Started {
    /// The entry was gone before it could be claimed.
    Vanished,
    /// Claimed and recorded without running (a failed dependency, a job that cannot run).
    Recorded,
    /// Claimed: run it, then hand the result to [`Drainer::record_result`].
    Run(Box<Work>),
}

impl Drainer<'_> {
    /// Claims, runs and records one job on this thread (see the module docs for the one sync
    /// per job).
    pub(super) fn process(&mut self, loaded: Loaded, outcome: Outcome) -> Result<Step> {
        match self.start(loaded, outcome)? {
            Started::Vanished => Ok(Step::Vanished),
            Started::Recorded => Ok(Step::Ran),
            Started::Run(work) => {
                let result = work.run(self.queue, self.opts, self.shutdown);
                self.record_result(work.claimed, work.record, result)?;
                Ok(Step::Ran)
            }
        }
    }

    /// Claims the job durably and decides what to do with it.
    pub(super) fn start(&mut self, loaded: Loaded, outcome: Outcome) -> Result<Started> {
        // Replaced since the pass read it (an edit, a hold, a producer's rename): it is judged
        // again by the next pass, never run on the verdict about the file it replaced.
        if crate::fsutil::FileId::at(&self.queue.pending.join(&loaded.name)) != Some(loaded.id) {
            return Ok(Started::Vanished);
        }
        let object = match &loaded.json {
            Some(Ok(object)) => Some(object),
            _ => None,
        };
        let kind = self.executor_of(object);
        // Its executor could not take a job in this drain: it waits, unclaimed, for the next.
        if outcome == Outcome::Run && self.parked(kind) {
            return Ok(Started::Vanished);
        }
        let Some(claimed) = claim::claim(self.queue, &loaded.name)? else {
            return Ok(Started::Vanished);
        };
        if claimed.id != loaded.id {
            // Replaced in the moment between that look and the claim: put back, not started (a
            // held job a drain dies holding here is put back by the next one: never run).
            warn!(file = ?claimed.name, "the job file was replaced as it was claimed; it goes back to be judged again");
            claim::unclaim(self.queue, &claimed)?;
            return Ok(Started::Vanished);
        }
        self.make_durable(&claimed)?;
        // Paused since the pass judged it (looked at last, after the claim and its sync, which
        // may take a while): once `execq pause` has returned, nothing it paused starts.
        let schedule = match &loaded.json {
            Some(Ok(object)) => crate::job::schedule::Schedule::of(object).unwrap_or_default(),
            _ => Default::default(),
        };
        if outcome == Outcome::Run && !crate::queue::pause::may_start(self.queue, schedule.group())
        {
            claim::unclaim(self.queue, &claimed)?;
            crate::fsutil::sync_dir(&self.queue.pending)?;
            return Ok(Started::Vanished);
        }
        let from = loaded.name.clone();
        let task_id = match &loaded.json {
            Some(Ok(object)) => object.get("task_id").and_then(|t| t.as_str()),
            _ => None,
        };
        self.claimed(&from, &claimed.name, task_id.map(str::to_owned));
        let (record, spec) = plan(loaded);
        let result = match (outcome, spec) {
            (Outcome::Skip(status, why), _) => {
                warn!(file = ?claimed.name, status = %status.as_str(), error = %why, "job not run");
                JobResult::skipped(status, why)
            }
            (Outcome::Run, Ok(spec)) if kind != Kind::Local => {
                return self.forward(kind, claimed, record, &spec);
            }
            (Outcome::Run, Ok(spec)) => {
                return Ok(Started::Run(Box::new(Work {
                    claimed,
                    record,
                    spec,
                })));
            }
            (Outcome::Run, Err(why)) => {
                error!(file = ?claimed.name, error = %why, "job cannot run");
                JobResult::error(why.to_string())
            }
        };
        self.record_result(claimed, record, result)?;
        Ok(Started::Recorded)
    }

    /// Writes the job's record, leaving it for the next claim to sync (a record already waiting
    /// is filed first).
    pub(super) fn record_result(
        &mut self,
        claimed: Claimed,
        record: Record,
        mut result: JobResult,
    ) -> Result<()> {
        if !claim::still_there(&claimed) {
            result.notes.push(
                "the job file was removed or replaced in running/ while the job ran (by the job?); \
                 this record is kept without it"
                    .into(),
            );
        }
        self.settle_record()?;
        let finishing = record::prepare(self.queue, &claimed, record, &result)?;
        self.unsynced = Some(finishing);
        Ok(())
    }

    /// Syncs the previous record together with this claim, then files the previous record. If
    /// that fails, the job (not started) goes back to `pending/` rather than being found
    /// "interrupted" later.
    fn make_durable(&mut self, claimed: &Claimed) -> Result<()> {
        let previous = self.unsynced.take();
        let synced = previous
            .as_ref()
            .map_or(Ok(()), record::Finishing::sync)
            .and_then(|()| claim::sync_claims(self.queue));
        let filed = synced.and_then(|()| previous.map_or(Ok(()), |f| self.file_record(f)));
        if let Err(e) = filed {
            if let Err(undo) = claim::unclaim(self.queue, claimed) {
                error!(file = ?claimed.name, error = %format!("{undo:#}"), "could not put a claimed job back in pending/");
            }
            return Err(e);
        }
        Ok(())
    }
}

/// How a loaded job will be recorded, and what it asks to run (or why it cannot).
fn plan(loaded: Loaded) -> (Record, Result<JobSpec, JobError>) {
    if let Some(why) = loaded.refusal {
        return (Record::Sidecar, Err(why));
    }
    match (loaded.format, loaded.json) {
        (Format::Json, Some(Ok(object))) => {
            let spec = job::from_json(&object);
            (Record::Merged(object), spec)
        }
        (_, Some(Err(why))) => (Record::Sidecar, Err(why)),
        (Format::Script, _) => (Record::Sidecar, job::from_script(&loaded.bytes)),
        (Format::Json | Format::Unsupported, _) => (
            Record::Sidecar,
            Err(JobError::Unsupported(loaded.name.to_string_lossy().into())),
        ),
    }
}

/// How the record of a job found in `running/` after a crash is stored, given what its file
/// holds; a temporary result file it may have left is removed.
pub(super) fn record_shape_after_crash(queue: &Queue, job: &Claimed) -> Record {
    let bytes = pending::read_regular(&job.path).unwrap_or_default();
    let record = match (Format::of(&job.name), job::parse_object(&bytes)) {
        (Format::Json, Ok(object)) => Record::Merged(object),
        _ => Record::Sidecar,
    };
    if let Record::Merged(object) = &record
        && let Some(requested) = job::from_json(object).ok().and_then(|s| s.result_file)
    {
        result_file::discard_temp(&queue.results, &requested, &job.path);
    }
    record
}

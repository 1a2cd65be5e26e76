//! What became of the forwarded jobs: one `squeue` for all of them, and the files each job's
//! script leaves (see `script`), which outlive Slurm's memory of the job.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, bail};
use chrono::DateTime;

use super::cli::{self, Ran};
use crate::exec::capture::Capture;
use crate::executor::News;
use crate::job::result::{JobResult, Status, timestamp};
use crate::queue::Queue;
use crate::queue::forwarded::Forwarded;

/// How many identities one `squeue` call names.
const PER_CALL: usize = 500;

/// One job as `squeue` lists it.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    job_id: Option<u64>,
    state: String,
    node: Option<String>,
    reason: Option<String>,
}

/// The news of each job; `Err` when Slurm cannot be asked and no job could be settled from its
/// files alone.
pub fn poll(_queue: &Queue, jobs: Vec<Forwarded>) -> Result<Vec<News>, String> {
    let identities: Vec<&str> = jobs.iter().map(|j| j.identity.as_str()).collect();
    let rows = squeue(&identities);
    let mut news = Vec::new();
    for job in jobs {
        let row = rows.as_ref().ok().map(|rows| rows.get(&job.identity));
        if let Some(n) = news_of(job, row) {
            news.push(n);
        }
    }
    match rows {
        Err(why) if news.iter().all(|n| matches!(n, News::Running(_))) => Err(why),
        _ => Ok(news),
    }
}

/// `row`: `None` when Slurm could not be asked, `Some(None)` when `squeue` does not list the job.
fn news_of(mut job: Forwarded, row: Option<Option<&Row>>) -> Option<News> {
    let status = read_pairs(&job.dir.join("status"));
    if let Some(Some(r)) = row {
        job.job_id = job.job_id.or(r.job_id);
        job.node = r.node.clone().or(job.node.take());
        job.reason = r.reason.clone();
    }
    let mut state = row.flatten().map(|r| r.state.clone());
    // Not listed: forgotten (after MinJobAge), or listed by another command only. `scontrol`
    // is asked about that one job before it is taken for gone.
    let mut gone = false;
    if row == Some(None) {
        match job.job_id.map(scontrol_state) {
            Some(Ok(Some(known))) => state = Some(known),
            Some(Ok(None)) => gone = true,
            Some(Err(_)) => return Some(News::Running(Box::new(job))),
            None => gone = true,
        }
    }
    let ended = state.as_deref().is_some_and(is_final);
    // Ended by a signal (a cancel, Slurm's time limit): Slurm's final word says which.
    let waiting_for_slurm = status.contains_key("signal") && state.is_some() && !ended;
    let finished = (!status.is_empty() && !waiting_for_slurm)
        || ended
        || gone && (job.job_id.is_some() || started(&job));
    if finished {
        let result = result(&job, state.as_deref(), &status);
        if job.node.is_none() {
            job.node = read_pairs(&job.dir.join("started")).remove("node");
        }
        let executor = job.describe();
        return Some(News::Finished {
            job: Box::new(job),
            result: Box::new(result),
            executor,
        });
    }
    if gone {
        // Not known to Slurm, never started, no id: `sbatch` never took it.
        return Some(News::NeverSent(Box::new(job)));
    }
    job.state = state.or(job.state.take());
    // Cancelled while `sbatch` was still on its way (`scancel` then found no job to end): ended
    // now that Slurm has it.
    if let Some(id) = job.job_id
        && job.dir.join("cancelled").exists()
    {
        let _ = cli::run("scancel", &[id.to_string()], None);
    }
    Some(News::Running(Box::new(job)))
}

/// `scontrol show job ID`'s state: `None` when Slurm does not know the job.
fn scontrol_state(id: u64) -> Result<Option<String>, String> {
    let args = [
        "show".to_owned(),
        "job".to_owned(),
        "--oneliner".to_owned(),
        id.to_string(),
    ];
    match cli::run("scontrol", &args, None) {
        Ran::Ok(out) => Ok(out
            .split_whitespace()
            .find_map(|w| w.strip_prefix("JobState="))
            .map(str::to_owned)),
        Ran::Refused { message, .. } if message.to_lowercase().contains("invalid job id") => {
            Ok(None)
        }
        Ran::Refused { message, .. } | Ran::Unknown(message) => Err(message),
    }
}

fn started(job: &Forwarded) -> bool {
    job.dir.join("started").exists()
}

/// Whether Slurm is done with a job in this state.
fn is_final(state: &str) -> bool {
    !matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "COMPLETING"
            | "SUSPENDED"
            | "REQUEUED"
            | "REQUEUE_FED"
            | "REQUEUE_HOLD"
            | "RESIZING"
            | "RESV_DEL_HOLD"
            | "SIGNALING"
            | "STAGE_OUT"
            | "STOPPED"
    )
}

/// Every job named in `identities` that Slurm still knows, by identity.
fn squeue(identities: &[&str]) -> Result<HashMap<String, Row>, String> {
    let mut rows = HashMap::new();
    for chunk in identities.chunks(PER_CALL) {
        let args = vec![
            "--noheader".to_owned(),
            "--states=all".to_owned(),
            "--format=%i|%j|%T|%N|%r".to_owned(),
            format!("--name={}", chunk.join(",")),
        ];
        match cli::run("squeue", &args, None) {
            Ran::Ok(out) => rows.extend(parse_rows(&out)),
            Ran::Refused { message, .. } | Ran::Unknown(message) => {
                return Err(format!(
                    "cannot ask Slurm about the forwarded jobs: {message}"
                ));
            }
        }
    }
    Ok(rows)
}

fn parse_rows(out: &str) -> impl Iterator<Item = (String, Row)> + '_ {
    out.lines().filter_map(|line| {
        let mut cells = line.trim().splitn(5, '|');
        let (id, name, state) = (cells.next()?, cells.next()?, cells.next()?);
        let text = |c: Option<&str>| {
            c.map(str::trim)
                .filter(|c| !c.is_empty() && *c != "None" && *c != "(null)")
                .map(str::to_owned)
        };
        let (node, reason) = (text(cells.next()), text(cells.next()));
        Some((
            name.to_owned(),
            Row {
                job_id: id.trim().parse().ok(),
                state: state.trim().to_owned(),
                node,
                reason,
            },
        ))
    })
}

/// `key=value` lines of a file the job's script wrote.
fn read_pairs(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The job's result, from Slurm's final `state` (if it still knows the job) and its files.
fn result(job: &Forwarded, state: Option<&str>, status: &HashMap<String, String>) -> JobResult {
    let started = read_pairs(&job.dir.join("started"));
    let (outcome, returncode, error) = judge(job, state, status);
    let mut result = JobResult::skipped(outcome, error.unwrap_or_default());
    if result.error.as_deref() == Some("") {
        result.error = None;
    }
    result.returncode = returncode;
    result.signal = returncode.filter(|c| *c < 0).map(|c| -c);
    result.timed_out = outcome == Status::Timeout;
    result.started_at = started.get("started_at").cloned();
    if let Some(done) = status.get("finished_at") {
        result.completed_at = done.clone();
    }
    if let (Some(a), Ok(b)) = (
        result
            .started_at
            .as_deref()
            .and_then(|a| DateTime::parse_from_rfc3339(a).ok()),
        DateTime::parse_from_rfc3339(&result.completed_at),
    ) {
        result.duration_ms = u64::try_from((b - a).num_milliseconds()).unwrap_or(0);
    }
    let keep = crate::config::DEFAULT_KEEP;
    (result.stdout, result.stdout_truncated, result.stdout_bytes) =
        read_output(&job.dir.join("stdout"), keep);
    (result.stderr, result.stderr_truncated, result.stderr_bytes) =
        read_output(&job.dir.join("stderr"), keep);
    if let Some(id) = job.job_id {
        result.notes.push(format!(
            "ran on Slurm as job {id}{}",
            job.node
                .as_deref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default()
        ));
    }
    result
}

/// Status, return code and error, from Slurm's final state and the script's `status` file.
fn judge(
    job: &Forwarded,
    state: Option<&str>,
    status: &HashMap<String, String>,
) -> (Status, Option<i32>, Option<String>) {
    let exit: Option<i32> = status.get("exit").and_then(|c| c.parse().ok());
    // bash gives 128+N both for a command ended by signal N and for one that exited 128+N: only
    // a job execq or Slurm signalled (timeout, cancel) is recorded -N, as local records say.
    let signalled = status.contains_key("timeout") || status.contains_key("signal");
    let code = exit.map(|c| match c {
        129..=159 if signalled => -(c - 128),
        c => c,
    });
    let cancelled = job.dir.join("cancelled").exists();
    let failed = |why: &str| (Status::Failed, code, Some(why.to_owned()));
    match state {
        Some("CANCELLED") => {
            return (
                Status::Cancelled,
                code,
                Some("cancelled in Slurm (`execq cancel` or `scancel`)".into()),
            );
        }
        Some("TIMEOUT") if !status.contains_key("timeout") => {
            return (
                Status::Timeout,
                code,
                Some("Slurm ended it at its time limit".into()),
            );
        }
        Some("OUT_OF_MEMORY") => return failed("Slurm ended it: out of memory (OUT_OF_MEMORY)"),
        Some("NODE_FAIL") => return failed("Slurm: its node failed (NODE_FAIL)"),
        Some("PREEMPTED") => return failed("Slurm preempted it (PREEMPTED)"),
        Some(s @ ("BOOT_FAIL" | "DEADLINE" | "REVOKED" | "SPECIAL_EXIT")) => {
            return failed(&format!("Slurm ended it: {s}"));
        }
        _ => {}
    }
    if status.contains_key("timeout") {
        return (
            Status::Timeout,
            code,
            Some(format!("timed out after {} s", job.timeout_secs)),
        );
    }
    if let Some(why) = status.get("error") {
        let why = match why.as_str() {
            "cwd" => format!(
                "working directory `{}` does not exist on the node",
                job.cwd.as_deref().unwrap_or("?")
            ),
            other => other.to_owned(),
        };
        return (Status::Error, None, Some(why));
    }
    if cancelled && (status.contains_key("signal") || exit.is_none()) {
        let why = "cancelled by `execq cancel` while it ran";
        return (Status::Cancelled, code, Some(why.into()));
    }
    if status.contains_key("signal") {
        return failed("ended by a signal from Slurm (cancelled there, or at its time limit)");
    }
    match code {
        Some(0) => (Status::Completed, Some(0), None),
        Some(c) => (Status::Failed, Some(c), None),
        None => match state {
            Some(state) => failed(&format!(
                "Slurm ended it ({state}) and its script recorded no exit status (it was killed, or could not start)"
            )),
            None => failed(
                "Slurm no longer knows the job and its script recorded no exit status (its node may have failed, or it was killed)",
            ),
        },
    }
}

/// A stream as the record keeps it: its ends, with a marker where bytes were left out.
fn read_output(path: &Path, keep: usize) -> (String, bool, u64) {
    use std::io::Read;
    let mut capture = Capture::new(keep, keep);
    if let Ok(mut file) = std::fs::File::open(path) {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            capture.push(&buf[..n]);
        }
    }
    let c = capture.finish();
    (c.text, c.truncated, c.bytes)
}

/// Asks Slurm to end a forwarded job (`scancel`), marking it cancelled by execq first.
/// A job Slurm had already finished is left to be filed as it ended.
pub fn cancel(job: &Forwarded) -> Result<()> {
    let target = match job.job_id {
        Some(id) => id.to_string(),
        None => format!("--name={}", job.identity),
    };
    // Written first, read only for a job its status says was signalled (or that left none): a
    // drain that comes after Slurm forgot the job still files it cancelled.
    let marker = job.dir.join("cancelled");
    let now = timestamp(chrono::Local::now());
    crate::fsutil::write(&marker, now.as_bytes())?;
    match cli::run("scancel", &[target], None) {
        Ran::Ok(_) => Ok(()),
        Ran::Refused { message, .. } if already_over(&message) => {
            crate::fsutil::discard(&marker);
            Ok(())
        }
        Ran::Refused { message, .. } | Ran::Unknown(message) => {
            crate::fsutil::discard(&marker);
            bail!("scancel failed: {message}")
        }
    }
}

/// Whether `scancel` said no because the job has ended.
fn already_over(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("already completing or completed") || lower.contains("invalid job id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::executor::Kind;

    fn job(dir: &Path) -> Forwarded {
        Forwarded {
            kind: Kind::Slurm,
            name: "j.json".into(),
            running: "j.json".into(),
            identity: "execq-00-j.json".into(),
            dir: dir.to_owned(),
            job_id: Some(7),
            state: None,
            node: None,
            reason: None,
            submitted_at: "2026-12-02T10:00:00+00:00".into(),
            timeout_secs: 5.0,
            cwd: None,
        }
    }

    fn pairs(text: &str) -> HashMap<String, String> {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }

    #[test]
    fn slurms_final_state_and_the_scripts_status_make_the_records_status() {
        let dir = tempfile::tempdir().unwrap();
        let j = job(dir.path());
        let cases = [
            (Some("COMPLETED"), "exit=0", Status::Completed, Some(0)),
            (Some("FAILED"), "exit=3", Status::Failed, Some(3)),
            (None, "exit=3", Status::Failed, Some(3)),
            (
                Some("FAILED"),
                "exit=143\ntimeout=1",
                Status::Timeout,
                Some(-15),
            ),
            (Some("TIMEOUT"), "", Status::Timeout, None),
            (
                Some("CANCELLED"),
                "exit=143\nsignal=15",
                Status::Cancelled,
                Some(-15),
            ),
            (Some("OUT_OF_MEMORY"), "", Status::Failed, None),
            (Some("NODE_FAIL"), "", Status::Failed, None),
            (Some("PREEMPTED"), "", Status::Failed, None),
            (None, "", Status::Failed, None),
            (
                None,
                "error=working directory `/x` does not exist on the node",
                Status::Error,
                None,
            ),
        ];
        for (state, status, want, code) in cases {
            let (got, rc, error) = judge(&j, state, &pairs(status));
            assert_eq!((got, rc), (want, code), "{state:?} {status:?}: {error:?}");
            if want != Status::Completed {
                assert!(error.is_some() || want == Status::Failed, "{state:?}");
            }
        }
        let (_, _, error) = judge(&j, Some("OUT_OF_MEMORY"), &HashMap::new());
        assert!(error.unwrap().contains("OUT_OF_MEMORY"));
    }

    #[test]
    fn a_job_cancelled_by_execq_after_slurm_forgot_it_is_still_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cancelled"), "now").unwrap();
        let (got, ..) = judge(&job(dir.path()), None, &pairs("exit=143\nsignal=15"));
        assert_eq!(got, Status::Cancelled);
    }

    #[test]
    fn squeue_rows_parse_with_empty_cells() {
        let rows: HashMap<_, _> =
            parse_rows("12|execq-a|RUNNING|node1|None\n13|execq-b|PENDING||Priority\n").collect();
        assert_eq!(rows["execq-a"].job_id, Some(12));
        assert_eq!(rows["execq-a"].node.as_deref(), Some("node1"));
        assert_eq!(rows["execq-a"].reason, None);
        assert_eq!(rows["execq-b"].node, None);
        assert_eq!(rows["execq-b"].reason.as_deref(), Some("Priority"));
    }
}

//! The Slurm executor: a claimed job becomes a batch job (`sbatch --parsable`), and later drains
//! ask `squeue` about every forwarded job at once and file the finished ones (see [`poll`]).
//!
//! Exactly once: the job's note (`queue::forwarded`) is made durable, with the identity the job
//! carries as its Slurm name, before `sbatch` runs; `sbatch` holds the drain's lock until it ends
//! (see `executor::Job::lock`); once it has answered, the Slurm id is added to the note. A drain
//! killed anywhere in between leaves a note without an id, and the next drain looks the job up by
//! its identity: found, it is followed; not found and never started, it was never sent, and goes
//! back to `pending/`. A job is never submitted twice.

mod cli;
mod poll;
mod script;

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use tracing::warn;

use super::{Executor, Job, Launched, News};
use crate::config::SlurmSettings as Settings;
use crate::fsutil;
use crate::job::result::{JobResult, timestamp};
use crate::job::{JobSpec, Program};
use crate::queue::Queue;
use crate::queue::forwarded::{self, Forwarded};

/// Hands jobs to Slurm.
pub struct Slurm<'a> {
    settings: &'a Settings,
}

impl<'a> Slurm<'a> {
    pub fn new(settings: &'a Settings) -> Self {
        Self { settings }
    }
}

impl Executor for Slurm<'_> {
    fn launch(&self, job: &Job<'_>) -> Launched {
        match self.submit(job) {
            Ok(launched) => launched,
            Err(e) => Launched::Finished(Box::new(JobResult::error(format!("{e:#}")))),
        }
    }

    fn poll(&self, queue: &Queue, jobs: Vec<Forwarded>) -> Result<Vec<News>, String> {
        poll::poll(queue, jobs)
    }

    fn cancel(&self, job: &Forwarded) -> Result<()> {
        poll::cancel(job)
    }
}

impl Slurm<'_> {
    fn submit(&self, job: &Job<'_>) -> Result<Launched> {
        let (queue, opts, spec) = (job.queue, job.opts, job.spec);
        if let Some(why) = refusal(job) {
            return Ok(Launched::Finished(Box::new(JobResult::error(why))));
        }
        let name = job.claimed.name.to_string_lossy().into_owned();
        let running = job.claimed.path.file_name().unwrap_or_default();
        let identity = identity(&name);
        let dir = self.settings.output_dir(queue).join(&identity);
        if dir.to_string_lossy().contains('\\') {
            let why = format!(
                "the job's Slurm folder `{}` has a backslash in its path, which Slurm's file names cannot hold; set output_dir in [executor.slurm]",
                dir.display()
            );
            return Ok(Launched::Finished(Box::new(JobResult::error(why))));
        }
        let timeout = spec.timeout.unwrap_or(opts.timeout);
        let script_copy = dir.join("job-script");
        let cwd = std::env::current_dir().ok();
        let frame = script::Frame {
            dir: &dir,
            queue: &queue.root,
            job: &name,
            fallback_cwd: cwd.as_deref(),
            script_copy: &script_copy,
            timeout,
            grace: opts.grace,
            limits: &spec.limits.or(opts.limits),
        };
        let text = match script::render(spec, &frame) {
            Ok(text) => text,
            Err(why) => return Ok(Launched::Finished(Box::new(JobResult::error(why)))),
        };
        let note = Forwarded {
            kind: super::Kind::Slurm,
            name: name.clone(),
            running: running.to_string_lossy().into_owned(),
            identity,
            dir: dir.clone(),
            job_id: None,
            state: None,
            node: None,
            reason: None,
            submitted_at: timestamp(chrono::Local::now()),
            timeout_secs: timeout.as_secs_f64(),
            cwd: spec.cwd.as_ref().map(|c| c.display().to_string()),
        };
        // The note first: a drain killed from here on leaves a job the next one finds never
        // sent (and whose folder it removes), or sent (and follows).
        forwarded::save(queue, &job.claimed.path, &note)?;
        // A shared folder not mounted now is a fault that passes: the job waits, `status` says why.
        if let Err(e) = fsutil::create_private_dir(&dir) {
            return Ok(Launched::Later(format!(
                "cannot create the job's folder `{}` (output_dir in [executor.slurm]): {e}",
                dir.display()
            )));
        }
        if matches!(spec.program, Program::Script { .. }) {
            fsutil::copy(&job.claimed.path, &script_copy)?;
        }
        fsutil::write(&dir.join("job.sh"), text.as_bytes())?;
        let args = self.sbatch_args(&note, spec, timeout, opts);
        send(job, note, &args)
    }

    fn sbatch_args(
        &self,
        note: &Forwarded,
        spec: &JobSpec,
        timeout: Duration,
        opts: &crate::config::DrainOptions,
    ) -> Vec<String> {
        let dir = note.dir.display().to_string();
        // Slurm expands `%` in file names (`%j`, `%u`): a literal one is `%%`.
        let file = |name: &str| format!("{}/{name}", dir.replace('%', "%%"));
        // Slurm's limit is a backstop, in whole minutes, past the script's own watchdog.
        let minutes = (timeout + opts.grace).as_secs().div_ceil(60) + 1;
        // The queue's own arguments first: execq's, which exactly-once rests on, come after and
        // win (config.toml refuses the ones that would change them; see `config`).
        let mut args = self.settings.sbatch_args.clone();
        if let Some(p) = &self.settings.partition {
            args.push(format!("--partition={p}"));
        }
        if let Some(a) = &self.settings.account {
            args.push(format!("--account={a}"));
        }
        if let Some(mb) = spec.limits.or(opts.limits).memory_mb {
            args.push(format!("--mem={mb}M"));
        }
        args.extend([
            "--parsable".to_owned(),
            format!("--job-name={}", note.identity),
            format!(
                "--comment=execq job {}",
                note.name.replace(['\n', '\r'], " ")
            ),
            format!("--output={}", file("stdout")),
            format!("--error={}", file("stderr")),
            // Never execq's folder: the job's script moves to the job's own.
            "--chdir=/".to_owned(),
            format!("--time={minutes}"),
            "--no-requeue".to_owned(),
        ]);
        args.push(format!("{dir}/job.sh"));
        args
    }
}

/// Runs `sbatch` for a job whose note is on disk, and says what became of it.
fn send(job: &Job<'_>, mut note: Forwarded, args: &[String]) -> Result<Launched> {
    let queue = job.queue;
    match cli::run("sbatch", args, job.lock) {
        cli::Ran::Ok(out) => {
            crate::fault::kill_point("slurm-submitted");
            note.job_id = parse_id(&out);
            note.state = Some("PENDING".into());
            forwarded::save(queue, &job.claimed.path, &note)?;
            Ok(Launched::Forwarded(Box::new(note)))
        }
        // The note stays until the job is back in `pending/` or its record is filed (the
        // drain removes it): a drain killed before then finds it never sent.
        cli::Ran::Refused {
            message,
            transient: true,
        } => {
            remove_dir(&note.dir);
            Ok(Launched::Later(format!(
                "Slurm cannot take jobs now: {message}"
            )))
        }
        cli::Ran::Refused {
            message,
            transient: false,
        } => {
            remove_dir(&note.dir);
            warn!(file = ?job.claimed.name, error = %message, "Slurm refused the job");
            let mut result = JobResult::error(format!("Slurm refused the job: {message}"));
            result.status = crate::job::result::Status::Failed;
            Ok(Launched::Finished(Box::new(result)))
        }
        cli::Ran::Unknown(why) => {
            // Maybe submitted, maybe not: the next drain looks the job up by its identity.
            warn!(file = ?job.claimed.name, error = %why, "sbatch's answer is unknown; the job will be looked up by its name in Slurm");
            Ok(Launched::Forwarded(Box::new(note)))
        }
    }
}

/// Why a job cannot be forwarded as it is, if it cannot.
fn refusal(job: &Job<'_>) -> Option<String> {
    let spec = job.spec;
    match job.opts.sandbox.resolve(spec.sandbox.as_ref(), spec.origin) {
        Err(why) => return Some(why),
        Ok(applied) if applied.policy.mode != crate::job::sandbox::Mode::None => {
            return Some(format!(
                "the sandbox `{}` cannot be enforced on Slurm, so the job was not sent (run it with `\"executor\": \"local\"`, or without a sandbox)",
                applied.policy.mode
            ));
        }
        Ok(_) => {}
    }
    if spec.result_file.is_some() {
        return Some(
            "`result_file` is not supported for jobs run on Slurm (their output is in the record)"
                .into(),
        );
    }
    None
}

/// The name the job carries in Slurm: unique to this hand-over, and telling which job it is.
fn identity(name: &str) -> String {
    let mut token = [0u8; 6];
    getrandom::fill(&mut token).expect("the OS gives random bytes");
    let hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("execq-{hex}-{stem}")
}

/// `sbatch --parsable`'s answer: `ID` or `ID;CLUSTER`.
fn parse_id(out: &str) -> Option<u64> {
    out.trim().split(';').next()?.trim().parse().ok()
}

fn remove_dir(dir: &Path) {
    fsutil::discard_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_unique_and_safe_in_a_name_list() {
        let a = identity("a,b c/../.json");
        assert!(
            a.starts_with("execq-") && a.ends_with("a_b_c_.._.json"),
            "{a}"
        );
        assert!(!a.contains(','));
        assert_ne!(identity("x"), identity("x"));
    }

    #[test]
    fn sbatch_ids_parse_with_or_without_a_cluster() {
        assert_eq!(parse_id("123\n"), Some(123));
        assert_eq!(parse_id("77;cluster\n"), Some(77));
        assert_eq!(parse_id("garbage"), None);
    }
}

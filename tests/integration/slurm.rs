//! The Slurm executor against a real one-node cluster (munged, slurmctld and slurmd on localhost,
//! started by `scripts/slurm-test-cluster.sh`): jobs forwarded with `sbatch`, followed by later
//! drains, and filed as ordinary records. These tests never skip: without a cluster they fail,
//! saying why.
//!
//! They run one at a time (one of them stops the controller), and every command they run is told
//! where the cluster's configuration is (`SLURM_CONF`), as a Slurm user's shell would be.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mcp::Client;
use crate::util::*;

/// How long a test waits for Slurm to run and a drain to file a job; reaching it means a hang.
const SLURM_DEADLINE: Duration = Duration::from_secs(60);

/// How often a test that waits for a forwarded job runs a drain (the service's trigger does it
/// every 2 s).
const TICK: Duration = Duration::from_millis(300);

/// The cluster's MessageTimeout: a command facing a stopped controller fails after about 2 s.
const MSG_TIMEOUT: &str = "3";

/// One Slurm test at a time: one of them stops the controller the others need.
static LOCK: Mutex<()> = Mutex::new(());

/// Runs `scripts/slurm-test-cluster.sh start`: installs Slurm if missing and starts whatever of
/// the cluster is down. Returns its `SLURM_CONF`, or the script's output when it fails.
fn start_cluster() -> Result<String, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(Path::new(root).join("scripts/slurm-test-cluster.sh"))
        .arg("start")
        .env("SLURM_TEST_MSG_TIMEOUT", MSG_TIMEOUT)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run scripts/slurm-test-cluster.sh: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().last().unwrap_or_default().trim();
    match last.strip_prefix("SLURM_CONF=") {
        Some(conf) if out.status.success() => Ok(conf.to_owned()),
        _ => Err(format!(
            "scripts/slurm-test-cluster.sh start failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        )),
    }
}

/// The test cluster's `slurm.conf`, the cluster started once per test process.
fn cluster() -> &'static str {
    static CONF: OnceLock<Result<String, String>> = OnceLock::new();
    // `scripts/test-deps.sh` (run once per test process) starts the cluster too: have it done
    // before any test here stops the controller, so that it never restarts it mid-test.
    test_deps();
    match CONF.get_or_init(start_cluster) {
        Ok(conf) => conf,
        Err(e) => panic!("{e}"),
    }
}

/// Takes the Slurm tests' lock (a test that panicked holding it poisons nothing here) and makes
/// sure the cluster runs.
fn slurm() -> MutexGuard<'static, ()> {
    let lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    cluster();
    lock
}

/// `execq --queue QUEUE ARGS`, told where the cluster is.
fn x(q: &TestQueue, args: &[&str]) -> Command {
    let mut cmd = q.execq(args);
    cmd.env("SLURM_CONF", cluster());
    cmd
}

/// One drain, to completion.
fn drain(q: &TestQueue) -> Output {
    run(x(q, &["drain", "--grace", "1"]))
}

/// A Slurm client command (`squeue`, ...) against the test cluster; its stdout.
#[track_caller]
fn slurm_cmd(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("SLURM_CONF", cluster())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every Slurm job the controller remembers (finished ones too) whose name contains `stem`:
/// (name, id, state).
fn slurm_jobs_named(stem: &str) -> Vec<(String, u64, String)> {
    slurm_cmd("squeue", &["-h", "-t", "all", "-o", "%j|%i|%T"])
        .lines()
        .filter_map(|l| {
            let mut parts = l.trim().splitn(3, '|');
            let (name, id, state) = (parts.next()?, parts.next()?, parts.next()?);
            if !name.contains(stem) {
                return None;
            }
            Some((name.to_owned(), id.trim().parse().ok()?, state.to_owned()))
        })
        .collect()
}

/// The ids of the jobs Slurm still has pending or running (squeue's default listing).
fn slurm_active_ids() -> Vec<u64> {
    slurm_cmd("squeue", &["-h", "-o", "%i"])
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The one Slurm job whose name contains `stem`, once there is one: its id.
#[track_caller]
fn slurm_id_of(stem: &str) -> u64 {
    let mut found = Vec::new();
    within(&format!("a Slurm job named after `{stem}`"), || {
        found = slurm_jobs_named(stem);
        !found.is_empty()
    });
    assert_eq!(found.len(), 1, "one Slurm job for `{stem}`: {found:?}");
    found[0].1
}

/// A name no other test run has given a Slurm job (the controller remembers finished jobs for
/// MinJobAge, 300 s, across test runs).
fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{:x}{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A JSON job for Slurm: `command` is a shell line; `extra` adds or replaces fields.
fn slurm_job(stem: &str, command: &str, extra: Value) -> String {
    let mut job = json!({"command": command, "task_id": stem, "executor": "slurm"});
    for (k, v) in extra.as_object().unwrap() {
        job[k] = v.clone();
    }
    job.to_string()
}

/// Polls `cond` until it holds, failing the test at [`SLURM_DEADLINE`].
#[track_caller]
fn within(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < SLURM_DEADLINE,
            "timed out after {SLURM_DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The names in a queue folder, without the drain's dot-files.
fn visible(q: &TestQueue, folder: &str) -> Vec<String> {
    q.names(folder)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// `NAME`'s record, if it has been filed: (folder, record).
fn record(q: &TestQueue, name: &str) -> Option<(&'static str, Value)> {
    ["completed", "failed"].into_iter().find_map(|folder| {
        let rel = format!("{folder}/{name}");
        q.path(&rel).is_file().then(|| (folder, q.json(&rel)))
    })
}

/// What the queue looks like, for a failure message.
fn state_of(q: &TestQueue, stem: &str) -> String {
    let log = q.log();
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    format!(
        "pending {:?}, running {:?}, completed {:?}, failed {:?}\nSlurm jobs: {:?}\ndaemon.log (last lines, newest first):\n{}",
        q.names("pending"),
        q.names("running"),
        q.names("completed"),
        q.names("failed"),
        slurm_jobs_named(stem),
        tail.join("\n")
    )
}

/// Runs a drain every [`TICK`], as the service would, until `NAME` has its record; returns the
/// folder it is in and the record.
#[track_caller]
fn drain_until_filed(q: &TestQueue, name: &str) -> (&'static str, Value) {
    let start = Instant::now();
    loop {
        drain(q).success();
        if let Some(found) = record(q, name) {
            return found;
        }
        assert!(
            start.elapsed() < SLURM_DEADLINE,
            "no record for `{name}` after {SLURM_DEADLINE:?} of drains: {}",
            state_of(q, name.trim_end_matches(".json"))
        );
        std::thread::sleep(TICK);
    }
}

/// Sets its flag when dropped, also when the test panics.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `body` while drains run every [`TICK`] beside it, as they do under the service.
fn with_drains<T>(q: &TestQueue, body: impl FnOnce() -> T) -> T {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let _ = drain(q);
                std::thread::sleep(TICK);
            }
        });
        let _stop = SetOnDrop(&stop);
        body()
    })
}

/// Asserts what every record of a job Slurm ran carries: `executor` with its kind, Slurm id and
/// node.
#[track_caller]
fn assert_ran_on_slurm(record: &Value, job_id: Option<u64>) {
    let executor = &record["executor"];
    assert_eq!(executor["kind"], "slurm", "{record}");
    assert!(executor["job_id"].is_u64(), "a numeric Slurm id: {record}");
    assert_eq!(executor["node"], "localhost", "{record}");
    if let Some(id) = job_id {
        assert_eq!(
            executor["job_id"], id,
            "the Slurm job squeue shows: {record}"
        );
    }
}

/// A job that writes `started` (a marker in scratch), then waits for `go` before it goes on.
fn gated(q: &TestQueue, then: &str) -> String {
    format!(
        "touch '{s}'; while [ ! -e '{g}' ]; do sleep 0.1; done; {then}",
        s = q.scratch("started").display(),
        g = q.scratch("go").display()
    )
}

#[test]
fn a_forwarded_job_completes_with_its_output_env_and_cwd() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let line = unique("line");
    let argv = unique("argv");
    q.add(
        &format!("{line}.json"),
        &slurm_job(
            &line,
            "echo \"$GREETING from $(pwd)\"; echo to-stderr >&2",
            json!({"env": {"GREETING": "hello there"}, "cwd": q.scratch.display().to_string()}),
        ),
    );
    q.add(
        &format!("{argv}.json"),
        &json!({"command": "printf", "args": ["<%s>\\n", "a b", "it's", "$HOME"],
                "task_id": argv, "executor": "slurm"})
        .to_string(),
    );
    let started = Instant::now();
    drain(&q).success();
    let (folder, rec) = drain_until_filed(&q, &format!("{line}.json"));
    assert_eq!(folder, "completed", "{rec}");
    let result = &rec["result"];
    assert_eq!(result["status"], "completed", "{rec}");
    assert_eq!(result["returncode"], 0, "{rec}");
    assert_eq!(
        result["stdout"],
        format!("hello there from {}\n", q.scratch.display()),
        "the job's env and cwd reached the node: {rec}"
    );
    assert!(
        result["stderr"]
            .as_str()
            .unwrap_or_default()
            .contains("to-stderr"),
        "{rec}"
    );
    assert_eq!(
        rec["task_id"], line,
        "the job's own fields are in its record: {rec}"
    );
    assert_ran_on_slurm(&rec, Some(slurm_id_of(&line)));

    let (folder, rec) = drain_until_filed(&q, &format!("{argv}.json"));
    assert_eq!(folder, "completed", "{rec}");
    assert_eq!(
        rec["result"]["stdout"], "<a b>\n<it's>\n<$HOME>\n",
        "each argument arrives as it was given, unexpanded: {rec}"
    );
    assert_ran_on_slurm(&rec, Some(slurm_id_of(&argv)));
    assert!(started.elapsed() < SLURM_DEADLINE);
    assert!(visible(&q, "running").is_empty() && visible(&q, "pending").is_empty());
}

#[test]
fn a_forwarded_job_that_exits_3_is_failed_with_returncode_3() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("three");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(&stem, "echo before; exit 3", json!({})),
    );
    drain(&q).success();
    let (folder, rec) = drain_until_filed(&q, &format!("{stem}.json"));
    assert_eq!(folder, "failed", "{rec}");
    assert_eq!(rec["result"]["status"], "failed", "{rec}");
    assert_eq!(rec["result"]["returncode"], 3, "{rec}");
    assert_eq!(rec["result"]["stdout"], "before\n", "{rec}");
    assert_ran_on_slurm(&rec, Some(slurm_id_of(&stem)));
    let list: Vec<Value> = serde_json::from_str(&run(x(&q, &["list", "--json"])).stdout).unwrap();
    let row = list.iter().find(|r| r["job"] == format!("{stem}.json"));
    assert_eq!(
        row.map(|r| r["status"].clone()),
        Some(json!("failed")),
        "{list:?}"
    );
}

#[test]
fn a_forwarded_job_past_its_timeout_in_seconds_is_filed_as_timeout() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("slow");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(&stem, "echo before; sleep 45", json!({"timeout": 2})),
    );
    let started = Instant::now();
    drain(&q).success();
    let (folder, rec) = drain_until_filed(&q, &format!("{stem}.json"));
    let took = started.elapsed();
    assert_eq!(folder, "failed", "{rec}");
    assert_eq!(rec["result"]["status"], "timeout", "{rec}");
    assert_eq!(
        rec["result"]["stdout"], "before\n",
        "output before the timeout is kept: {rec}"
    );
    assert_ran_on_slurm(&rec, Some(slurm_id_of(&stem)));
    assert!(
        took < Duration::from_secs(30),
        "execq's timeout (2 s) ended it, not Slurm's whole minutes nor the sleep: took {took:?}"
    );
}

#[test]
fn cancelling_a_forwarded_running_job_files_it_cancelled_and_slurm_forgets_it() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("victim");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(&stem, &gated(&q, "echo never"), json!({"timeout": 120})),
    );
    drain(&q).success();
    within("the job to start on the node", || {
        q.scratch("started").exists()
    });
    let id = slurm_id_of(&stem);
    assert!(slurm_active_ids().contains(&id), "running in Slurm");
    let out = run(x(&q, &["cancel", &stem]));
    out.success();
    assert!(out.stdout.contains("cancelled"), "{}", out.stdout);
    let (folder, rec) = drain_until_filed(&q, &format!("{stem}.json"));
    assert_eq!(folder, "failed", "{rec}");
    assert_eq!(rec["result"]["status"], "cancelled", "{rec}");
    assert_ran_on_slurm(&rec, Some(id));
    within(
        "the Slurm job to leave squeue's pending and running jobs",
        || !slurm_active_ids().contains(&id),
    );
    let state = slurm_jobs_named(&stem);
    assert_eq!(state.len(), 1, "{state:?}");
    assert!(
        state[0].2.starts_with("CANCELLED"),
        "Slurm's state: {state:?}"
    );
    // The gate opening now changes nothing: the job is gone.
    fs::write(q.scratch("go"), "").unwrap();
    drain(&q).success();
    assert_eq!(
        q.result(&format!("failed/{stem}.json"))["status"],
        "cancelled"
    );
    assert!(
        !rec["result"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("never")
    );
}

#[test]
fn a_drain_killed_right_after_sbatch_leaves_exactly_one_slurm_job_and_one_record() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("crash");
    let ran = q.scratch("ran.log");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(
            &stem,
            &format!("echo {stem} >> '{}'", ran.display()),
            json!({}),
        ),
    );
    let mut killed = x(&q, &["drain", "--grace", "1"]);
    killed.env("EXECQ_FAULT", "slurm-submitted");
    let out = run(killed);
    assert!(
        out.status.signal() == Some(9),
        "the drain was not stopped at the crash point `slurm-submitted` (after sbatch returned, \
         before the Slurm id was saved): {:?}\n{}",
        out.status,
        out.stderr
    );
    assert!(
        visible(&q, "completed").is_empty() && visible(&q, "failed").is_empty(),
        "the killed drain filed nothing"
    );
    let submitted = slurm_jobs_named(&stem);
    assert_eq!(
        submitted.len(),
        1,
        "sbatch ran once before the kill: {submitted:?}"
    );

    let (folder, rec) = drain_until_filed(&q, &format!("{stem}.json"));
    assert_eq!(folder, "completed", "{rec}");
    assert_ran_on_slurm(&rec, Some(submitted[0].1));
    // More drains find nothing left to do, and send nothing again.
    drain(&q).success();
    drain(&q).success();
    let all = slurm_jobs_named(&stem);
    assert_eq!(all.len(), 1, "exactly one Slurm job: {all:?}");
    assert_eq!(
        fs::read_to_string(&ran).unwrap_or_default().lines().count(),
        1,
        "the job ran once"
    );
    assert_eq!(
        visible(&q, "completed"),
        [format!("{stem}.json")],
        "one record"
    );
    assert!(visible(&q, "failed").is_empty(), "{:?}", q.names("failed"));
    assert!(
        visible(&q, "pending").is_empty(),
        "{:?}",
        q.names("pending")
    );
    assert!(
        visible(&q, "running").is_empty(),
        "{:?}",
        q.names("running")
    );
}

/// The controller stopped for a test; started again when dropped, however the test ends.
struct ControllerStopped;

impl ControllerStopped {
    fn new() -> Self {
        let pid_file = Path::new(cluster()).with_file_name("slurmctld.pid");
        let pid: u32 = fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", pid_file.display()))
            .trim()
            .parse()
            .unwrap();
        // From here on the controller may be down: the guard brings it back.
        let guard = Self;
        kill(pid, libc::SIGTERM);
        within("slurmctld to exit", || !alive(pid));
        guard
    }

    /// Starts the controller again, failing the test if it cannot.
    fn restore(self) {
        let result = start_cluster();
        std::mem::forget(self);
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

impl Drop for ControllerStopped {
    fn drop(&mut self) {
        if let Err(e) = start_cluster() {
            eprintln!("could not restart the Slurm controller: {e}");
        }
    }
}

#[test]
fn with_the_controller_stopped_jobs_wait_and_run_once_it_is_back() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("patient");
    let ran = q.scratch("ran.log");
    let name = format!("{stem}.json");
    q.add(
        &name,
        &slurm_job(
            &stem,
            &format!("echo {stem} >> '{}'", ran.display()),
            json!({}),
        ),
    );
    let down = ControllerStopped::new();
    let out = drain(&q);
    assert!(
        visible(&q, "pending") == [name.clone()],
        "the job waits in pending/: {} ({}{})",
        state_of(&q, &stem),
        out.stdout,
        out.stderr
    );
    assert!(
        visible(&q, "failed").is_empty() && visible(&q, "completed").is_empty(),
        "nothing failed for a transient fault: {:?}",
        q.names("failed")
    );
    assert!(
        visible(&q, "running").is_empty(),
        "{:?}",
        q.names("running")
    );
    let status = run(x(&q, &["status"]));
    let said = format!("{}{}", status.stdout, status.stderr);
    assert!(
        said.to_lowercase().contains("slurm"),
        "status says why the job waits:\n{said}"
    );
    assert!(
        q.log().to_lowercase().contains("slurm"),
        "daemon.log says why:\n{}",
        q.log()
    );
    // A second drain while it is still down loses nothing either.
    drain(&q);
    assert_eq!(
        visible(&q, "pending"),
        [name.as_str()],
        "{}",
        state_of(&q, &stem)
    );

    down.restore();
    let (folder, rec) = drain_until_filed(&q, &name);
    assert_eq!(folder, "completed", "{rec}");
    assert_ran_on_slurm(&rec, None);
    drain(&q).success();
    assert_eq!(
        fs::read_to_string(&ran).unwrap_or_default().lines().count(),
        1,
        "the job ran once"
    );
    assert_eq!(slurm_jobs_named(&stem).len(), 1, "sent to Slurm once");
}

#[test]
fn without_sbatch_on_path_a_job_waits_and_status_says_why() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("nosbatch");
    let name = format!("{stem}.json");
    q.add(&name, &slurm_job(&stem, "echo fine", json!({})));
    let empty = q.scratch("empty-bin");
    fs::create_dir(&empty).unwrap();
    let mut cmd = x(&q, &["drain", "--grace", "1"]);
    cmd.env("PATH", &empty);
    let out = run(cmd);
    assert_eq!(
        visible(&q, "pending"),
        [name.as_str()],
        "the job waits: {} ({})",
        state_of(&q, &stem),
        out.stderr
    );
    assert!(visible(&q, "failed").is_empty(), "{:?}", q.names("failed"));
    let status = run(x(&q, &["status"]));
    let said = format!("{}{}", status.stdout, status.stderr);
    assert!(said.contains("sbatch"), "status says why:\n{said}");
    assert!(
        q.log().contains("sbatch"),
        "daemon.log says why:\n{}",
        q.log()
    );
    // With Slurm's commands back on PATH it runs.
    let (folder, rec) = drain_until_filed(&q, &name);
    assert_eq!(
        (folder, rec["result"]["stdout"].clone()),
        ("completed", json!("fine\n"))
    );
}

#[test]
fn a_job_slurm_refuses_is_failed_with_slurms_message() {
    let _slurm = slurm();
    let q = TestQueue::new();
    fs::write(
        q.path("config.toml"),
        "[executor]\ndefault = \"slurm\"\n[executor.slurm]\npartition = \"nosuch\"\n",
    )
    .unwrap();
    let stem = unique("refused");
    q.add(
        &format!("{stem}.json"),
        &json!({"command": "echo never", "task_id": stem}).to_string(),
    );
    let (folder, rec) = drain_until_filed(&q, &format!("{stem}.json"));
    assert_eq!(folder, "failed", "{rec}");
    assert_eq!(rec["result"]["status"], "failed", "{rec}");
    let error = rec["result"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Invalid partition"),
        "Slurm's own message: {rec}"
    );
    assert!(slurm_jobs_named(&stem).is_empty(), "no Slurm job was made");
}

#[test]
fn a_sandboxed_job_is_refused_for_slurm_with_a_clear_error() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("boxed");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(&stem, "echo never", json!({"sandbox": "workspace"})),
    );
    let (folder, rec) = drain_until_filed(&q, &format!("{stem}.json"));
    assert_eq!(folder, "failed", "{rec}");
    let error = rec["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("sandbox"), "says the sandbox is why: {rec}");
    assert!(
        slurm_jobs_named(&stem).is_empty(),
        "nothing was sent to Slurm"
    );
}

#[test]
fn local_and_forwarded_jobs_in_one_queue_both_complete() {
    let _slurm = slurm();
    let q = TestQueue::new();
    fs::write(
        q.path("config.toml"),
        "[executor]\ndefault = \"slurm\"\n[executor.slurm]\npartition = \"debug\"\nsbatch_args = [\"--nice=0\"]\n",
    )
    .unwrap();
    let here = unique("here");
    let there = unique("there");
    q.add(
        &format!("{here}.json"),
        &json!({"command": "echo local-ran", "task_id": here, "executor": "local"}).to_string(),
    );
    q.add(
        &format!("{there}.json"),
        &json!({"command": "echo slurm-ran", "task_id": there}).to_string(),
    );
    drain(&q).success();
    let (folder, local) = record(&q, &format!("{here}.json"))
        .expect("the local job ran in the drain, as it always has");
    assert_eq!(folder, "completed", "{local}");
    assert_eq!(local["result"]["stdout"], "local-ran\n", "{local}");
    let kind = &local["executor"];
    assert!(
        kind.is_null() || kind["kind"] == "local" || *kind == "local",
        "a local job's record says nothing of Slurm: {local}"
    );
    assert!(
        slurm_jobs_named(&here).is_empty(),
        "the local job was not sent"
    );

    let (folder, remote) = drain_until_filed(&q, &format!("{there}.json"));
    assert_eq!(folder, "completed", "{remote}");
    assert_eq!(remote["result"]["stdout"], "slurm-ran\n", "{remote}");
    assert_ran_on_slurm(&remote, Some(slurm_id_of(&there)));
    assert_eq!(visible(&q, "completed").len(), 2);
}

#[test]
fn a_job_submitted_through_mcp_with_executor_slurm_completes_on_slurm() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let id = unique("mcp");
    let mut client = Client::ready_with(&q, &[], &[("SLURM_CONF", cluster())]);
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "echo", "args": ["from", "mcp"], "executor": "slurm", "task_id": id}),
    );
    assert!(!failed, "{text}");
    let start = Instant::now();
    let (folder, rec) = loop {
        drain(&q).success();
        let filed = ["completed", "failed"].into_iter().find_map(|folder| {
            let name = visible(&q, folder).into_iter().next()?;
            Some((folder, q.json(&format!("{folder}/{name}"))))
        });
        if let Some(found) = filed {
            break found;
        }
        assert!(
            start.elapsed() < SLURM_DEADLINE,
            "no record: {}",
            state_of(&q, &id)
        );
        std::thread::sleep(TICK);
    };
    assert_eq!(folder, "completed", "{rec}");
    assert_eq!(rec["result"]["stdout"], "from mcp\n", "{rec}");
    assert_ran_on_slurm(&rec, None);
    let (failed, text, view) = client.call_full("get_job", json!({"job": id}));
    assert!(!failed, "{text}");
    assert_eq!(view["status"], "completed", "{view}");
}

#[test]
fn a_forwarded_job_shows_in_show_list_and_status_while_the_drain_has_moved_on() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let out_dir = q.scratch("slurm-out");
    fs::write(
        q.path("config.toml"),
        format!(
            "[executor.slurm]\npartition = \"debug\"\noutput_dir = \"{}\"\n",
            out_dir.display()
        ),
    )
    .unwrap();
    let stem = unique("shown");
    let name = format!("{stem}.json");
    q.add(
        &name,
        &slurm_job(&stem, &gated(&q, "echo done"), json!({"timeout": 50})),
    );
    let started = Instant::now();
    drain(&q).success();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the drain handed the job over and returned"
    );
    assert!(
        q.names("running").contains(&name),
        "the forwarded job stays in running/: {}",
        state_of(&q, &stem)
    );
    within("the job to start on the node", || {
        q.scratch("started").exists()
    });
    let id = slurm_id_of(&stem);
    assert!(
        fs::read_dir(&out_dir).is_ok_and(|mut d| d.next().is_some()),
        "its files are in the configured output_dir {}",
        out_dir.display()
    );

    let show = run(x(&q, &["show", &stem]));
    show.success();
    assert!(
        show.stdout.to_lowercase().contains("slurm") && show.stdout.contains(&id.to_string()),
        "show names Slurm and its job id {id}:\n{}",
        show.stdout
    );
    let list: Vec<Value> = serde_json::from_str(&run(x(&q, &["list", "--json"])).stdout).unwrap();
    let row = list
        .iter()
        .find(|r| r["job"] == name)
        .unwrap_or_else(|| panic!("list --json has the forwarded job: {list:?}"));
    assert_eq!(row["state"], "running", "{row}");
    assert!(
        row.to_string().contains("slurm"),
        "says where it runs: {row}"
    );
    let status = run(x(&q, &["status"]));
    status.success();
    assert!(
        status.stdout.to_lowercase().contains("slurm"),
        "status counts forwarded jobs apart:\n{}",
        status.stdout
    );

    fs::write(q.scratch("go"), "").unwrap();
    let (folder, rec) = drain_until_filed(&q, &name);
    assert_eq!(folder, "completed", "{rec}");
    assert_eq!(rec["result"]["stdout"], "done\n");
    assert_ran_on_slurm(&rec, Some(id));
    let show = run(x(&q, &["show", &stem]));
    assert!(show.stdout.contains("completed"), "{}", show.stdout);
}

#[test]
fn follow_prints_a_forwarded_jobs_output_as_it_grows_then_its_status() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("followed");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(
            &stem,
            &format!("echo first; {}", gated(&q, "echo second; exit 3")),
            json!({"timeout": 50}),
        ),
    );
    drain(&q).success();
    let mut follow = x(&q, &["follow", &stem])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let out = with_drains(&q, || {
        let first = lines.recv_timeout(SLURM_DEADLINE);
        if first.is_err() {
            kill(follow.id(), libc::SIGKILL);
        }
        assert_eq!(
            first.as_deref(),
            Ok("first"),
            "printed while the job still runs: {}",
            state_of(&q, &stem)
        );
        let early = record(&q, &format!("{stem}.json"));
        assert!(early.is_none(), "filed before it could end: {early:?}");
        fs::write(q.scratch("go"), "").unwrap();
        finish_within(follow, SLURM_DEADLINE)
    });
    let mut rest = Vec::new();
    loop {
        match lines.recv_timeout(DEADLINE) {
            Ok(line) => rest.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("follow's output never ended"),
        }
    }
    assert_eq!(rest, ["second"], "{}", out.stderr);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("failed (returncode 3)"),
        "{}",
        out.stderr
    );
}

#[test]
fn wait_returns_when_a_forwarded_job_is_done_while_drains_run() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("awaited");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(&stem, "sleep 1; exit 4", json!({})),
    );
    drain(&q).success();
    assert!(
        record(&q, &format!("{stem}.json")).is_none(),
        "still on Slurm"
    );
    let waiter = x(&q, &["wait", &stem, "--timeout", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = with_drains(&q, || finish_within(waiter, SLURM_DEADLINE));
    assert_eq!(out.code(), 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("{stem}.json\tfailed\t4")),
        "{}",
        out.stdout
    );
}

#[test]
fn submit_executor_slurm_wait_runs_the_job_on_slurm_and_exits_with_its_code() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("submitted");
    // No drains but those `submit --wait` starts itself.
    let waiter = x(
        &q,
        &[
            "submit",
            "--wait",
            "--executor",
            "slurm",
            "--id",
            &stem,
            "--timeout",
            "40",
            "--shell",
            "echo out; echo err >&2; exit 7",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let out = finish_within(waiter, SLURM_DEADLINE);
    assert_eq!(out.code(), 7, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.starts_with("err\n"), "{}", out.stderr);
    let failed = visible(&q, "failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let rec = q.json(&format!("failed/{}", failed[0]));
    assert_ran_on_slurm(&rec, None);
    assert_eq!(rec["result"]["returncode"], 7, "{rec}");
}

#[test]
fn wait_on_a_forwarded_job_with_no_drain_running_finishes_by_itself() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("alone");
    q.add(
        &format!("{stem}.json"),
        &slurm_job(&stem, "sleep 1; echo ok", json!({})),
    );
    drain(&q).success();
    assert!(
        record(&q, &format!("{stem}.json")).is_none(),
        "still on Slurm"
    );
    let waiter = x(&q, &["wait", &stem, "--timeout", "45"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(waiter, SLURM_DEADLINE);
    assert_eq!(
        out.code(),
        0,
        "wait starts the drains that bring the job home: {}{}\n{}",
        out.stdout,
        out.stderr,
        state_of(&q, &stem)
    );
    assert!(
        out.stdout.contains(&format!("{stem}.json\tcompleted\t0")),
        "{}",
        out.stdout
    );
}

#[test]
fn a_retried_forwarded_job_runs_on_slurm_again_as_a_new_slurm_job() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("again");
    let name = format!("{stem}.json");
    q.add(
        &name,
        &slurm_job(
            &stem,
            &format!(
                "[ -e '{}' ] || exit 3; echo second-run",
                q.scratch("go").display()
            ),
            json!({}),
        ),
    );
    drain(&q).success();
    let (folder, first) = drain_until_filed(&q, &name);
    assert_eq!(folder, "failed", "{first}");
    let first_id = first["executor"]["job_id"].clone();
    fs::write(q.scratch("go"), "").unwrap();
    run(x(&q, &["retry", &stem])).success();
    let start = Instant::now();
    let rec = loop {
        drain(&q).success();
        if q.path(&format!("completed/{name}")).is_file() {
            break q.json(&format!("completed/{name}"));
        }
        assert!(start.elapsed() < SLURM_DEADLINE, "{}", state_of(&q, &stem));
        std::thread::sleep(TICK);
    };
    assert_eq!(rec["result"]["stdout"], "second-run\n", "{rec}");
    assert_ran_on_slurm(&rec, None);
    assert_ne!(
        rec["executor"]["job_id"], first_id,
        "a new Slurm job: {rec}"
    );
    assert_eq!(slurm_jobs_named(&stem).len(), 2, "two runs, two Slurm jobs");
}

#[test]
fn a_job_after_a_forwarded_one_waits_for_it_to_complete() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let first = unique("first");
    let then = unique("then");
    let log = q.scratch("order.log");
    q.add(
        &format!("{first}.json"),
        &slurm_job(
            &first,
            &gated(&q, &format!("echo {first} >> '{}'", log.display())),
            json!({"timeout": 50}),
        ),
    );
    q.add(
        &format!("{then}.json"),
        &json!({"command": format!("echo {then} >> '{}'", log.display()), "task_id": then,
                "after": [first.clone()]})
        .to_string(),
    );
    drain(&q).success();
    within("the first job to start on the node", || {
        q.scratch("started").exists()
    });
    drain(&q).success();
    assert!(
        record(&q, &format!("{then}.json")).is_none() && !log.exists(),
        "the dependent job waits while the forwarded one runs: {}",
        state_of(&q, &first)
    );
    fs::write(q.scratch("go"), "").unwrap();
    let (folder, rec) = drain_until_filed(&q, &format!("{then}.json"));
    assert_eq!(folder, "completed", "{rec}");
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        format!("{first}\n{then}\n"),
        "in order"
    );
}

/// A folder of wrappers for Slurm's commands that log each call to `calls.log` and run the real
/// one; returns (PATH with it first, the log).
fn logging_slurm(q: &TestQueue) -> (String, PathBuf) {
    let bin = q.scratch("logging-bin");
    fs::create_dir(&bin).unwrap();
    let calls = q.scratch("calls.log");
    for program in ["sbatch", "squeue", "scontrol", "sacct", "scancel", "sinfo"] {
        let Some(real) = ["/usr/bin", "/usr/local/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(program))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let wrapper = bin.join(program);
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho \"{program} $*\" >> '{}'\nexec '{}' \"$@\"\n",
                calls.display(),
                real.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, calls)
}

#[test]
fn each_drain_asks_slurm_once_for_all_forwarded_jobs_and_an_idle_drain_calls_nothing() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let (path, calls) = logging_slurm(&q);
    let logged_drain = || {
        let mut cmd = x(&q, &["drain", "--grace", "1"]);
        cmd.env("PATH", &path);
        run(cmd).success();
    };
    let calls_of = || fs::read_to_string(&calls).unwrap_or_default();
    let stems = [unique("one"), unique("two")];
    for stem in &stems {
        q.add(
            &format!("{stem}.json"),
            &slurm_job(stem, &gated(&q, "echo ok"), json!({"timeout": 50})),
        );
    }
    logged_drain();
    let sent = calls_of();
    assert_eq!(
        sent.lines().filter(|l| l.starts_with("sbatch ")).count(),
        2,
        "{sent}"
    );
    within("the jobs to start on the node", || {
        q.scratch("started").exists()
    });
    fs::write(&calls, "").unwrap();
    logged_drain();
    let asked = calls_of();
    let questions: Vec<&str> = asked
        .lines()
        .filter(|l| {
            ["squeue ", "scontrol ", "sacct "]
                .iter()
                .any(|c| l.starts_with(c))
        })
        .collect();
    assert_eq!(questions.len(), 1, "one question for both jobs:\n{asked}");
    assert!(!asked.contains("sbatch"), "nothing sent again:\n{asked}");

    fs::write(q.scratch("go"), "").unwrap();
    let start = Instant::now();
    while stems
        .iter()
        .any(|s| record(&q, &format!("{s}.json")).is_none())
    {
        assert!(
            start.elapsed() < SLURM_DEADLINE,
            "{}",
            state_of(&q, &stems[0])
        );
        std::thread::sleep(TICK);
        logged_drain();
    }
    for stem in &stems {
        let (folder, rec) = record(&q, &format!("{stem}.json")).unwrap();
        assert_eq!(folder, "completed", "{rec}");
        assert_ran_on_slurm(&rec, Some(slurm_id_of(stem)));
    }
    // Nothing forwarded any more: a drain writes nothing and calls nothing.
    logged_drain();
    fs::write(&calls, "").unwrap();
    let before = tree(&q.root);
    logged_drain();
    assert_eq!(calls_of(), "", "an idle drain called Slurm");
    assert_eq!(before, tree(&q.root), "an idle drain wrote");
}

/// The durable steps `cmd` takes (`EXECQ_CRASH_TRACE`), one line each.
fn steps_of(q: &TestQueue, mut cmd: Command) -> Vec<String> {
    let trace = q.scratch("trace");
    let _ = fs::remove_file(&trace);
    cmd.env("EXECQ_CRASH_TRACE", &trace);
    run(cmd).success();
    fs::read_to_string(&trace)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// One Slurm job that appends its name to `ran.log` in its queue's scratch: (name, stem).
fn counted_job(q: &TestQueue, prefix: &str) -> (String, String) {
    let stem = unique(prefix);
    let ran = q.scratch("ran.log");
    let command = format!("echo {stem} >> '{}'", ran.display());
    let name = format!("{stem}.json");
    q.add(&name, &slurm_job(&stem, &command, json!({})));
    (name, stem)
}

/// After a crash and the drains that follow it: one record, one run, one Slurm job, nothing
/// left in pending/ or running/.
#[track_caller]
fn assert_once(q: &TestQueue, name: &str, stem: &str, at: &str) {
    let (folder, rec) = drain_until_filed(q, name);
    assert_eq!(folder, "completed", "{at}: {rec}");
    drain(q).success();
    let ran = fs::read_to_string(q.scratch("ran.log")).unwrap_or_default();
    assert_eq!(
        ran.lines().filter(|l| *l == stem).count(),
        1,
        "{at}: runs: {ran:?}"
    );
    let jobs = slurm_jobs_named(stem);
    assert_eq!(jobs.len(), 1, "{at}: Slurm jobs: {jobs:?}");
    assert_ran_on_slurm(&rec, Some(jobs[0].1));
    assert!(
        q.names("pending").is_empty(),
        "{at}: {:?}",
        q.names("pending")
    );
    assert!(
        q.names("running").is_empty(),
        "{at}: {:?}",
        q.names("running")
    );
}

/// Runs `cmd` killed before durable step `n`; it must die by that SIGKILL.
#[track_caller]
fn killed_at(mut cmd: Command, n: usize, at: &str) {
    cmd.env("EXECQ_CRASH_AT", n.to_string());
    let out = run(cmd);
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{at}: not killed: {}",
        out.stderr
    );
}

#[test]
fn a_drain_killed_before_each_durable_step_of_forwarding_sends_the_job_once() {
    let _slurm = slurm();
    let q = TestQueue::new();
    counted_job(&q, "fwd");
    let steps = steps_of(&q, x(&q, &["drain", "--grace", "1"]));
    assert!(steps.iter().any(|s| s.contains(".forwarded")), "{steps:?}");
    for n in 1..=steps.len() {
        let q = TestQueue::new();
        let (name, stem) = counted_job(&q, "fwd");
        let at = format!(
            "forwarding, killed before step {n}/{} ({})",
            steps.len(),
            steps[n - 1]
        );
        killed_at(x(&q, &["drain", "--grace", "1"]), n, &at);
        assert_once(&q, &name, &stem, &at);
    }
}

#[test]
fn a_drain_killed_before_each_durable_step_of_filing_a_forwarded_job_files_it_once() {
    let _slurm = slurm();
    // A queue whose one job has been forwarded and has finished on Slurm, not yet filed.
    let finished = |q: &TestQueue| {
        let (name, stem) = counted_job(q, "file");
        drain(q).success();
        within("the Slurm job to finish", || {
            fs::read_dir(q.path("slurm"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|d| d.path().join("status").exists())
        });
        (name, stem)
    };
    let q = TestQueue::new();
    let (name, _) = finished(&q);
    let steps = steps_of(&q, x(&q, &["drain", "--grace", "1"]));
    assert!(record(&q, &name).is_some(), "the traced drain filed it");
    for n in 1..=steps.len() {
        let q = TestQueue::new();
        let (name, stem) = finished(&q);
        let at = format!(
            "filing, killed before step {n}/{} ({})",
            steps.len(),
            steps[n - 1]
        );
        killed_at(x(&q, &["drain", "--grace", "1"]), n, &at);
        assert_once(&q, &name, &stem, &at);
    }
}

#[test]
fn a_schedule_with_executor_slurm_fires_a_job_that_runs_on_slurm() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let name = unique("sched");
    let at = |now: &str, args: &[&str]| {
        let mut cmd = x(&q, args);
        cmd.env("EXECQ_NOW", now).env("TZ", "UTC");
        run(cmd)
    };
    at(
        "2026-11-20T09:30:00Z",
        &[
            "schedule",
            "add",
            &name,
            "--cron",
            "@hourly",
            "--executor",
            "slurm",
            "--",
            "echo",
            "fired",
        ],
    )
    .success();
    let start = Instant::now();
    let filed = loop {
        at("2026-11-20T10:00:01Z", &["drain", "--grace", "1"]).success();
        let found: Vec<String> = ["completed", "failed"]
            .iter()
            .flat_map(|f| visible(&q, f).into_iter().map(move |n| format!("{f}/{n}")))
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(start.elapsed() < SLURM_DEADLINE, "{}", state_of(&q, &name));
        std::thread::sleep(TICK);
    };
    assert_eq!(filed.len(), 1, "one occurrence, one record: {filed:?}");
    let rec = q.json(&filed[0]);
    assert_eq!(rec["result"]["status"], "completed", "{rec}");
    assert_eq!(rec["result"]["stdout"], "fired\n");
    assert_eq!(rec["scheduled_for"], "2026-11-20T10:00:00+00:00", "{rec}");
    assert_ran_on_slurm(&rec, None);
}

#[test]
fn forwarded_jobs_take_no_local_slot_of_jobs() {
    let _slurm = slurm();
    let q = TestQueue::new();
    // Two local jobs fill `--jobs 2` until the test lets them go; the Slurm job queued after
    // them is handed over meanwhile.
    for n in 0..2 {
        q.add(
            &format!("local-{n}.json"),
            &json!({"command": gated(&q, "true")}).to_string(),
        );
    }
    let stem = unique("slot");
    std::thread::sleep(Duration::from_millis(20));
    q.add(
        &format!("{stem}.json"),
        &slurm_job(&stem, "echo sent", json!({})),
    );
    let mut drain = x(&q, &["drain", "--grace", "1", "--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let forwarded = (|| {
        let start = Instant::now();
        while start.elapsed() < SLURM_DEADLINE {
            if !slurm_jobs_named(&stem).is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    })();
    let locals_still_running = visible(&q, "running")
        .iter()
        .filter(|n| n.starts_with("local-"))
        .count();
    fs::write(q.scratch("go"), "").unwrap();
    assert!(drain.wait().unwrap().success());
    assert!(
        forwarded,
        "the Slurm job was not handed over while both local slots were taken"
    );
    assert_eq!(
        locals_still_running, 2,
        "both local jobs were still running when it was"
    );
    let (folder, rec) = drain_until_filed(&q, &format!("{stem}.json"));
    assert_eq!(folder, "completed", "{rec}");
}

/// A folder of stand-ins for Slurm's commands, each a bash script `body` (run with the real
/// command's arguments; `$REAL` is the real one), put first on PATH by [`with_path`].
fn fake_bin(q: &TestQueue, program: &str, body: &str) -> PathBuf {
    let dir = q.scratch("fake-bin");
    fs::create_dir_all(&dir).unwrap();
    let real = String::from_utf8(
        Command::new("bash")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let script = dir.join(program);
    fs::write(
        &script,
        format!("#!/bin/bash\nREAL={}\n{body}\n", real.trim()),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn with_path(mut cmd: Command, first: &Path) -> Command {
    let path = format!(
        "{}:{}",
        first.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path);
    cmd
}

#[test]
fn an_sbatch_that_broke_off_after_slurm_took_the_job_does_not_send_it_again() {
    let _slurm = slurm();
    let endings = [
        "echo 'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation' >&2; exit 1",
        "echo 'sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying.' >&2; \
         echo 'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation' >&2; exit 1",
        "echo 'sbatch: error: Batch job submission failed: Connection reset by peer' >&2; exit 1",
        "kill -KILL $$",
    ];
    for ending in endings {
        let q = TestQueue::new();
        let (name, stem) = counted_job(&q, "lostreply");
        let once = q.scratch("once");
        let bin = fake_bin(
            &q,
            "sbatch",
            &format!(
                "if [ ! -e '{o}' ]; then touch '{o}'; \"$REAL\" \"$@\" >/dev/null 2>&1; {ending}; fi\n\
                 exec \"$REAL\" \"$@\"",
                o = once.display()
            ),
        );
        let start = Instant::now();
        while record(&q, &name).is_none() {
            assert!(
                start.elapsed() < SLURM_DEADLINE,
                "{ending}: {}",
                state_of(&q, &stem)
            );
            run(with_path(x(&q, &["drain", "--grace", "1"]), &bin)).success();
            std::thread::sleep(TICK);
        }
        assert_once(&q, &name, &stem, ending);
    }
}

#[test]
fn a_busy_drain_files_forwarded_jobs_between_its_local_jobs() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("between");
    let name = format!("{stem}.json");
    q.add(&name, &slurm_job(&stem, "echo quick", json!({})));
    // Local jobs that keep the drain busy for about 9 s.
    for n in 0..6 {
        q.add(
            &format!("z-local-{n}.json"),
            &json!({"command": "sleep 1.5"}).to_string(),
        );
    }
    drain(&q).success();
    let rec = record(&q, &name).unwrap_or_else(|| panic!("{}", state_of(&q, &stem)));
    assert_eq!(rec.1["result"]["stdout"], "quick\n", "{}", rec.1);
    let filed: chrono::DateTime<chrono::Utc> = fs::metadata(q.path(&format!("{}/{name}", rec.0)))
        .unwrap()
        .modified()
        .unwrap()
        .into();
    let last = q.json("completed/z-local-5.json");
    let last_started =
        chrono::DateTime::parse_from_rfc3339(last["result"]["started_at"].as_str().unwrap())
            .unwrap();
    assert!(
        filed < last_started,
        "filed at {filed}, not before the last local job started at {last_started}"
    );
}

#[test]
fn a_job_file_name_with_a_newline_runs_only_its_command() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("nl");
    let home = PathBuf::from(std::env::var("HOME").expect("HOME is set"));
    let marker = home.join(format!("execq-pwned-{stem}"));
    let name = format!("{stem}\ncd;touch execq-pwned-{stem}\n#.json");
    q.add(&name, &slurm_job(&stem, "echo safe", json!({})));
    let (folder, rec) = drain_until_filed(&q, &name);
    assert_eq!(
        (folder, rec["result"]["stdout"].clone()),
        ("completed", json!("safe\n")),
        "{rec}"
    );
    assert!(
        !marker.exists(),
        "a line of the file name ran as shell on the node"
    );
}

#[test]
fn a_jobs_env_and_cwd_cannot_break_the_script_that_watches_it() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let hostile = [
        (
            "path",
            json!({"env": {"PATH": "/nonexistent"}, "timeout": 3, "limits": {"nice": 5}}),
        ),
        ("ifs", json!({"env": {"IFS": "0123456789", "d": "/tmp"}})),
    ];
    let mut names = Vec::new();
    for (what, extra) in hostile {
        let stem = unique(what);
        let name = format!("{stem}.json");
        let mut job: Value = serde_json::from_str(&slurm_job(&stem, "", extra)).unwrap();
        job["command"] = json!("/bin/echo");
        job["args"] = json!([what]);
        q.add(&name, &job.to_string());
        names.push((name, what));
    }
    // A `cwd` with a newline cannot add a line to the status the script records.
    let stem = unique("cwdnl");
    let cwd_job = format!("{stem}.json");
    q.add(
        &cwd_job,
        &slurm_job(&stem, "true", json!({"cwd": "/nonexistent-y\ntimeout=1"})),
    );
    for (name, what) in names {
        let (folder, rec) = drain_until_filed(&q, &name);
        assert_eq!(folder, "completed", "{what}: {rec}");
        assert_eq!(
            rec["result"]["stdout"],
            format!("{what}\n"),
            "{what}: {rec}"
        );
    }
    let (_, rec) = drain_until_filed(&q, &cwd_job);
    assert_eq!(rec["result"]["status"], "error", "{rec}");
    assert!(
        rec["result"]["error"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{rec}"
    );
}

#[test]
fn a_job_without_cwd_keeps_the_files_it_writes_and_exit_137_is_137() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let work = q.scratch("work");
    fs::create_dir(&work).unwrap();
    let stem = unique("keep");
    let name = format!("{stem}.json");
    q.add(
        &name,
        &slurm_job(
            &stem,
            "echo kept > results.csv; : > timed_out; exit 137",
            json!({}),
        ),
    );
    // The drain's own folder (the node sees it: one machine) is where such a job starts.
    let mut first = x(&q, &["drain", "--grace", "1"]);
    first.current_dir(&work);
    run(first).success();
    let (folder, rec) = drain_until_filed(&q, &name);
    assert_eq!(folder, "failed", "{rec}");
    assert_eq!(rec["result"]["status"], "failed", "{rec}");
    assert_eq!(rec["result"]["returncode"], 137, "{rec}");
    assert_eq!(
        fs::read_to_string(work.join("results.csv")).unwrap(),
        "kept\n"
    );
}

#[test]
fn an_empty_answer_from_squeue_does_not_file_a_running_job() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("blind");
    let name = format!("{stem}.json");
    q.add(&name, &slurm_job(&stem, &gated(&q, "echo done"), json!({})));
    drain(&q).success();
    within("the job to start on the node", || {
        q.scratch("started").exists()
    });
    let bin = fake_bin(&q, "squeue", "exit 0");
    run(with_path(x(&q, &["drain", "--grace", "1"]), &bin)).success();
    assert!(
        record(&q, &name).is_none(),
        "filed on an empty squeue: {:?}",
        record(&q, &name)
    );
    fs::write(q.scratch("go"), "").unwrap();
    let (folder, rec) = drain_until_filed(&q, &name);
    assert_eq!(
        (folder, rec["result"]["stdout"].clone()),
        ("completed", json!("done\n")),
        "{rec}"
    );
}

#[test]
fn sbatch_args_that_would_change_a_jobs_identity_or_runs_are_refused_by_the_config() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let bad = [
        "--job-name=x",
        "-Jx",
        "--array=0-1",
        "--requeue",
        "--output=/dev/null",
        "--ar=1-3",
        "--arr=1-3",
        "-Qa1-2",
        "-a5",
        "--test-only",
        "--wait",
        "-W",
        "--job-nam=x",
    ];
    for arg in bad {
        fs::write(
            q.path("config.toml"),
            format!("[executor.slurm]\nsbatch_args = [\"{arg}\"]\n"),
        )
        .unwrap();
        let out = run(x(&q, &["config", "--check"]));
        assert_ne!(out.code(), 0, "{arg} accepted");
        assert!(out.stderr.contains(arg), "{arg}: {}", out.stderr);
    }
    let fine = r#"["--qos=normal", "-pdebug", "--nice=0", "-N", "1", "--mem=100M"]"#;
    fs::write(
        q.path("config.toml"),
        format!("[executor.slurm]\nsbatch_args = {fine}\n"),
    )
    .unwrap();
    run(x(&q, &["config", "--check"])).success();
}

#[test]
fn an_output_dir_with_a_percent_sign_keeps_the_jobs_output() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let out_dir = q.scratch("out%u%j");
    fs::write(
        q.path("config.toml"),
        format!("[executor.slurm]\noutput_dir = \"{}\"\n", out_dir.display()),
    )
    .unwrap();
    let stem = unique("pct");
    let name = format!("{stem}.json");
    q.add(&name, &slurm_job(&stem, "echo percent", json!({})));
    let (folder, rec) = drain_until_filed(&q, &name);
    assert_eq!(
        (folder, rec["result"]["stdout"].clone()),
        ("completed", json!("percent\n")),
        "{rec}"
    );
}

#[test]
fn retrying_a_slurm_job_is_refused_when_a_sandbox_now_applies_to_it() {
    let _slurm = slurm();
    let q = TestQueue::new();
    let stem = unique("retrysb");
    let name = format!("{stem}.json");
    q.add(&name, &slurm_job(&stem, "exit 1", json!({})));
    let (folder, _) = drain_until_filed(&q, &name);
    assert_eq!(folder, "failed");
    fs::write(
        q.path("config.toml"),
        "[sandbox]\ndefault = \"workspace\"\n",
    )
    .unwrap();
    let out = run(x(&q, &["retry", &stem]));
    assert_ne!(out.code(), 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("cannot be enforced on Slurm"),
        "{}",
        out.stderr
    );
    assert_eq!(
        visible(&q, "failed"),
        [name.as_str()],
        "the record stays where it was"
    );
    assert!(visible(&q, "pending").is_empty());
}

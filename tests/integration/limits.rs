//! Per-job resource limits (`limits`, `submit --cpu-seconds`..., config.toml's `[limits]`): each
//! one exceeded by a job made to exceed it, and the record naming the limit.

use std::fs;

use serde_json::{Value, json};

use crate::util::*;

/// Runs a JSON job with `limits` and returns its result.
fn run_limited(q: &TestQueue, name: &str, command: Value, limits: Value) -> Value {
    let mut job = match command {
        Value::String(line) => json!({ "command": line }),
        Value::Array(argv) => json!({ "command": argv[0], "args": argv[1..] }),
        other => panic!("not a command: {other}"),
    };
    job["limits"] = limits;
    q.run_job(name, &job.to_string())
}

#[track_caller]
fn assert_stopped_by(result: &Value, limit: &str) {
    assert_eq!(result["status"], "failed", "{result:#}");
    assert_eq!(result["limit"], limit, "{result:#}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("resource limit"), "{error}");
}

#[test]
fn a_cpu_spin_is_stopped_by_cpu_seconds_with_the_signal_recorded() {
    let q = TestQueue::new();
    let result = run_limited(
        &q,
        "spin.json",
        json!("while :; do :; done"),
        json!({"cpu_seconds": 1}),
    );
    assert_stopped_by(&result, "cpu");
    assert_eq!(result["signal"], libc::SIGXCPU, "{result:#}");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("cpu_seconds = 1")
    );
}

#[test]
fn a_job_that_exits_152_or_153_was_not_stopped_by_a_limit() {
    let q = TestQueue::new();
    let limits = json!({"cpu_seconds": 60, "file_size_mb": 10});
    for code in [152, 153] {
        let result = run_limited(
            &q,
            &format!("exits{code}.json"),
            json!(format!("exit {code}")),
            limits.clone(),
        );
        assert_eq!(result["status"], "failed", "{result:#}");
        assert_eq!(result["returncode"], code, "{result:#}");
        assert!(result["limit"].is_null(), "{result:#}");
        assert!(result["signal"].is_null(), "{result:#}");
    }
    // A shell reports a command it ran and a limit killed as 128 + the signal, and says so on
    // stderr: that is still the limit's doing.
    let wrapped = run_limited(
        &q,
        "wrapped.json",
        json!("sh -c 'while :; do :; done'; exit $?"),
        json!({"cpu_seconds": 1}),
    );
    assert_eq!(wrapped["returncode"], 152, "{wrapped:#}");
    assert_stopped_by(&wrapped, "cpu");
}

#[test]
fn an_allocation_past_memory_mb_fails_and_names_the_limit() {
    let q = TestQueue::new();
    let result = run_limited(
        &q,
        "alloc.json",
        json!(["python3", "-c", "x = bytearray(400 * 1024 * 1024)"]),
        json!({"memory_mb": 100}),
    );
    assert_stopped_by(&result, "memory");
    assert!(result["stderr"].as_str().unwrap().contains("MemoryError"));
    // The same job with room to spare completes: the limit is the job's, not a fixed one.
    let roomy = run_limited(
        &q,
        "roomy.json",
        json!(["python3", "-c", "x = bytearray(4 * 1024 * 1024)"]),
        json!({"memory_mb": 2000}),
    );
    assert_eq!(roomy["status"], "completed", "{roomy:#}");
}

#[test]
fn too_many_files_past_open_files() {
    let q = TestQueue::new();
    let script = "for i in $(seq 3 40); do eval \"exec $i</dev/null\" || exit 1; done";
    let result = run_limited(
        &q,
        "files.json",
        json!(["bash", "-c", script]),
        json!({"open_files": 16}),
    );
    assert_stopped_by(&result, "open_files");
    assert!(
        result["stderr"]
            .as_str()
            .unwrap()
            .contains("Too many open files")
    );
}

#[test]
fn a_big_write_past_file_size_mb_is_stopped() {
    let q = TestQueue::new();
    let target = q.scratch("big.out");
    let script = format!("head -c 5000000 /dev/zero > {}", target.display());
    let result = run_limited(&q, "big.json", json!(script), json!({"file_size_mb": 1}));
    assert_stopped_by(&result, "file_size");
    assert_eq!(fs::metadata(&target).unwrap().len(), 1024 * 1024);
}

#[test]
fn forking_past_processes_fails_and_names_the_limit() {
    let q = TestQueue::new();
    // RLIMIT_NPROC counts the user's processes and is not enforced for root: as root, the job
    // drops to `nobody` first (the limit is inherited across the change of user).
    let mut argv = vec![];
    if euid() == 0 {
        argv.extend([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    argv.extend(["/bin/sh", "-c", "sleep 1 & wait"]);
    let result = run_limited(&q, "forks.json", json!(argv), json!({"processes": 1}));
    assert_stopped_by(&result, "processes");
}

#[test]
fn nice_lowers_the_jobs_priority() {
    let q = TestQueue::new();
    let result = run_limited(
        &q,
        "gentle.json",
        json!("cut -d' ' -f19 /proc/self/stat"),
        json!({"nice": 7}),
    );
    assert_eq!(result["status"], "completed", "{result:#}");
    assert_eq!(result["stdout"], "7\n");
}

#[test]
fn nice_never_runs_a_job_above_a_drain_that_is_itself_niced() {
    let q = TestQueue::new();
    for (name, nice) in [("n00.json", 0), ("n05.json", 5), ("n15.json", 15)] {
        let job = json!({"command": "ps -o nice= -p $$", "limits": {"nice": nice}});
        q.add(name, &job.to_string());
    }
    let drain = q.execq(&["drain", "--grace", "1"]);
    let mut niced = std::process::Command::new("nice");
    niced
        .args(["-n", "10"])
        .arg(drain.get_program())
        .args(drain.get_args());
    run(niced).success();
    for (name, seen) in [("n00.json", "10"), ("n05.json", "10"), ("n15.json", "15")] {
        let result = q.result(&format!("completed/{name}"));
        assert_eq!(
            result["stdout"].as_str().unwrap().trim(),
            seen,
            "{result:#}"
        );
    }
}

#[test]
fn submit_flags_write_limits_and_bad_values_are_refused_naming_them() {
    let q = TestQueue::new();
    let out = run(q.execq(&[
        "submit",
        "--json",
        "--cpu-seconds",
        "30",
        "--nice",
        "5",
        "--",
        "true",
    ]));
    out.success();
    let path: Value = serde_json::from_str(&out.stdout).unwrap();
    let job: Value =
        serde_json::from_str(&fs::read_to_string(path["path"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(job["limits"], json!({"cpu_seconds": 30, "nice": 5}));

    let zero = run(q.execq(&["submit", "--memory-mb", "0", "--", "true"]));
    assert_fails_with(&zero, 1, "`memory_mb` must be a whole number from 1");
    let rude = run(q.execq(&["submit", "--nice", "-5", "--", "true"]));
    assert_fails_with(&rude, 2, "-5 is not in 0..=19");
}

#[test]
fn a_bad_limits_field_is_an_error_naming_the_key() {
    let q = TestQueue::new();
    let result = q.run_job(
        "typo.json",
        &json!({"command": "true", "limits": {"cpu": 5}}).to_string(),
    );
    assert_eq!(result["status"], "error");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.contains("`limits`: unknown limit `cpu` (known: cpu_seconds"),
        "{error}"
    );
}

#[test]
fn config_limits_are_defaults_a_job_overrides_and_check_catches_mistakes() {
    let q = TestQueue::new();
    fs::write(q.path("config.toml"), "[limits]\ncpu_seconds = 1\n").unwrap();
    let shown = run(q.execq(&["config", "--json"]));
    let settings: Vec<Value> = serde_json::from_str(&shown.stdout).unwrap();
    let cpu = settings
        .iter()
        .find(|s| s["name"] == "limits.cpu_seconds")
        .unwrap();
    assert_eq!(
        (&cpu["value"], &cpu["source"]),
        (&json!("1"), &json!("file"))
    );

    let spun = q.run_job("spin.json", &shell_job("while :; do :; done"));
    assert_eq!(spun["limit"], "cpu", "{spun:#}");
    let own = run_limited(
        &q,
        "own.json",
        json!("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo done"),
        json!({"cpu_seconds": 60}),
    );
    assert_eq!(own["status"], "completed", "{own:#}");

    fs::write(q.path("config.toml"), "[limits]\ncpu_secs = 1\n").unwrap();
    let check = run(q.execq(&["config", "--check"]));
    assert_fails_with(&check, 1, "unknown limit `cpu_secs`");
    assert!(check.stderr.contains("line 1"), "{}", check.stderr);
}

//! status, list, show, retry and logs against fixture queues.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::util::*;

fn result(status: &str, rc: Option<i32>, ms: u64, stdout: &str) -> Value {
    json!({
        "status": status, "returncode": rc, "stdout": stdout, "stderr": "", "started_at": "2026-11-20T10:00:00+01:00",
        "completed_at": "2026-11-20T10:00:01+01:00", "duration_ms": ms, "error": null, "timed_out": false,
        "signal": null, "stdout_truncated": false, "stderr_truncated": false,
        "stdout_bytes": stdout.len(), "stderr_bytes": 0
    })
}

fn days_ago(path: &std::path::Path, days: u64) {
    set_mtime(
        path,
        SystemTime::now() - Duration::from_secs(days * 86400 + 30),
    );
}

/// A queue with one job in each state, all with fixed ages and results.
fn fixture() -> TestQueue {
    let q = TestQueue::new();
    q.drain(&[]).success();
    let write = |rel: &str, value: Value, days: u64| {
        let path = q.path(rel);
        fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        days_ago(&path, days);
    };
    write(
        "completed/build.json",
        json!({"task_id": "B1", "command": "make", "args": ["all"], "result": result("completed", Some(0), 1500, "built\n")}),
        4,
    );
    fs::write(q.path("failed/deploy.sh"), "./deploy --prod\n").unwrap();
    days_ago(&q.path("failed/deploy.sh"), 3);
    write(
        "failed/deploy.sh.result.json",
        json!({"job": "deploy.sh", "result": result("failed", Some(2), 245_000, "")}),
        3,
    );
    write(
        "failed/lint.json",
        json!({"task_id": "L1", "command": "cargo clippy", "result": result("timeout", Some(-15), 300_000, "")}),
        2,
    );
    // Fixture commands must be harmless: drains in these tests really run them.
    write(
        "pending/test.json",
        json!({"task_id": "T1", "command": "echo", "args": ["test"]}),
        1,
    );
    q
}

#[test]
fn list_shows_every_job_oldest_first_in_aligned_columns() {
    let q = fixture();
    let out = run(q.execq(&["list"]));
    out.success();
    assert_eq!(
        out.stdout,
        "\
STATE      FILE        TASK_ID  AGE  RC   DURATION  COMMAND
completed  build.json  B1       4d   0    1.5s      make all
failed     deploy.sh   -        3d   2    4m05s     ./deploy --prod
timeout    lint.json   L1       2d   -15  5m00s     cargo clippy
pending    test.json   T1       1d   -    -         echo test
"
    );
}

#[test]
fn list_filters_limits_and_speaks_json() {
    let q = fixture();
    let out = run(q.execq(&["list", "--state", "failed", "--json"]));
    out.success();
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let files: Vec<&str> = rows.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(files, ["deploy.sh", "lint.json"]);
    assert_eq!(rows[1]["status"], "timeout");
    assert_eq!(rows[1]["task_id"], "L1");
    assert_eq!(rows[1]["duration_ms"], 300_000);

    let out = run(q.execq(&["list", "--limit", "2", "--json"]));
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let files: Vec<&str> = rows.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        ["lint.json", "test.json"],
        "the newest two, oldest first"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let q = TestQueue::new();
    for i in 0..1500 {
        q.add(
            &format!("job-with-a-long-name-{i:05}.json"),
            &shell_job("true"),
        );
    }
    let mut child = q
        .execq(&["list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
}

#[test]
fn show_finds_a_job_by_name_stem_or_task_id() {
    let q = fixture();
    for key in ["build.json", "build", "B1"] {
        let out = run(q.execq(&["show", key]));
        out.success();
        assert!(
            out.stdout.contains("status       completed"),
            "{key}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("--- stdout (6 bytes) ---\nbuilt\n"),
            "{}",
            out.stdout
        );
    }
    let out = run(q.execq(&["show", "deploy", "--json"]));
    out.success();
    let shown: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(shown["state"], "failed");
    assert_eq!(shown["record"]["result"]["returncode"], 2);
}

#[test]
fn show_explains_unknown_and_ambiguous_jobs() {
    let q = fixture();
    let out = run(q.execq(&["show", "nope"]));
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("no job matches `nope`"),
        "{}",
        out.stderr
    );
    // A name that a waiting job and a record share means the waiting job: the latest run.
    fs::write(q.path("pending/build.sh"), "echo\n").unwrap();
    let out = run(q.execq(&["show", "build"]));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout.contains("pending/build.sh"), "{}", out.stdout);
    // Two waiting jobs it names: which one is meant cannot be told.
    fs::write(q.path("pending/build.txt"), "echo\n").unwrap();
    let out = run(q.execq(&["show", "build"]));
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains("`build` is ambiguous; it matches: pending/build.sh, pending/build.txt")
            || out
                .stderr
                .contains("`build` is ambiguous; it matches: pending/build.txt, pending/build.sh"),
        "{}",
        out.stderr
    );
}

#[test]
fn retry_requeues_a_failed_json_job_keeping_its_history() {
    let q = fixture();
    let out = run(q.execq(&["retry", "L1"]));
    out.success();
    assert_eq!(
        out.stdout.trim(),
        q.path("pending/lint.json").display().to_string()
    );
    assert!(!q.path("failed/lint.json").exists());
    let requeued = q.json("pending/lint.json");
    assert!(requeued.get("result").is_none());
    assert_eq!(requeued["history"][0]["status"], "timeout");
    assert!(q.log().contains("job retried file=\"lint.json\""));
}

#[test]
fn a_retried_job_runs_again_and_its_record_keeps_both_results() {
    let q = TestQueue::new();
    let flag = q.scratch("second-time");
    q.add(
        "flaky.json",
        &shell_job(&format!(
            "test -e '{0}' || {{ touch '{0}'; exit 1; }}",
            flag.display()
        )),
    );
    q.drain(&[]).success();
    assert_eq!(q.result("failed/flaky.json")["status"], "failed");
    run(q.execq(&["retry", "flaky"])).success();
    q.drain(&[]).success();
    let record = q.json("completed/flaky.json");
    assert_eq!(record["result"]["status"], "completed");
    assert_eq!(record["history"][0]["status"], "failed");
}

#[test]
fn retry_moves_a_script_back_unchanged_and_marks_its_old_sidecar() {
    let q = fixture();
    run(q.execq(&["retry", "deploy.sh"])).success();
    assert_eq!(
        fs::read_to_string(q.path("pending/deploy.sh")).unwrap(),
        "./deploy --prod\n"
    );
    let old = q.json("failed/deploy.sh.result.json");
    assert_eq!(old["retried_as"], "deploy.sh");
    assert!(old["retried_at"].is_string());
    let listed = run(q.execq(&["list", "--state", "failed", "--json"]));
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let old_row = rows
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .ends_with("deploy.sh.result.json")
        })
        .expect("the old record is listed, so it can be seen and pruned");
    assert_eq!(old_row["job"], "deploy.sh");
    assert_eq!(old_row["command"], "(retried as deploy.sh)");
    let shown = run(q.execq(&["show", "deploy.sh"]));
    assert!(
        shown.stdout.contains("pending"),
        "the job itself wins over its old record: {}",
        shown.stdout
    );
    let pruned = run(q.execq(&["prune", "--older-than", "0", "--state", "failed", "--json"]));
    let pruned: Value = serde_json::from_str(&pruned.stdout).unwrap();
    assert_eq!(pruned["jobs"], 2, "{pruned}");
    assert!(!q.path("failed/deploy.sh.result.json").exists());
}

#[test]
fn retry_refuses_completed_and_pending_jobs() {
    let q = fixture();
    let out = run(q.execq(&["retry", "build"]));
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains("`build.json` completed; only failed jobs are retried"),
        "{}",
        out.stderr
    );
    let out = run(q.execq(&["retry", "T1"]));
    assert!(out.stderr.contains("`test.json` is pending already"));
}

#[test]
fn status_reports_counts_the_oldest_job_and_the_last_drain() {
    let q = fixture();
    q.add("recent.json", &shell_job("true"));
    q.drain(&["--settle", "0"]).success();
    q.add("waiting.json", &shell_job("true"));
    let out = run(q.execq(&["status", "--json"]));
    assert_eq!(out.code(), 0, "{}", out.stdout);
    let s: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(s["queue"], q.root.display().to_string());
    assert_eq!(
        s["counts"],
        json!({"pending": 1, "waiting": 0, "running": 0, "forwarded": 0, "completed": 3, "failed": 2})
    );
    assert_eq!(s["oldest_pending"]["file"], "waiting.json");
    assert_eq!(s["drain"], Value::Null);
    assert_eq!(s["last_drain"]["outcome"], "ok");
    assert_eq!(s["last_drain"]["completed"], 2);
    assert_eq!(s["healthy"], true);
    assert!(s["service"]["installed"] == false);
}

#[test]
fn status_flags_a_job_left_by_a_dead_drain_and_a_stale_queue() {
    let q = fixture();
    fs::write(q.path("running/orphan.json"), shell_job("true")).unwrap();
    let out = run(q.execq(&["status"]));
    assert_eq!(out.code(), 4, "unhealthy");
    assert!(
        out.stdout.contains("health      PROBLEMS"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("`orphan.json` is in running/ but no drain is running")
    );
    assert!(
        out.stdout.contains("`test.json` has waited 1d in pending/"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains('\x1b'),
        "no color when stdout is not a terminal"
    );
}

#[test]
fn status_sees_a_drain_at_work() {
    let q = TestQueue::new();
    let pid = q.scratch("pid");
    q.add(
        "busy.json",
        &shell_job(&format!("echo $$ > '{}'; exec sleep 30", pid.display())),
    );
    let drain = q.spawn_drain(&[]);
    read_pid(&pid);
    let out = run(q.execq(&["status", "--json"]));
    let s: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(s["drain"]["job"], "busy.json");
    assert_eq!(s["counts"]["running"], 1);
    assert_eq!(s["healthy"], true);
    kill(drain.id(), libc::SIGTERM);
    finish(drain);
}

#[test]
fn logs_prints_the_end_of_daemon_log_and_follows_it() {
    let q = TestQueue::new();
    q.add("a.json", &shell_job("true"));
    q.drain(&[]).success();
    let out = run(q.execq(&["logs", "-n", "1"]));
    out.success();
    assert_eq!(out.stdout.lines().count(), 1);
    assert!(out.stdout.contains("drain finished"));

    let mut follow = q
        .execq(&["logs", "-n", "1", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("drain finished"), "{first}");
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(q.path("daemon.log"))
        .unwrap();
    writeln!(log, "a line written later").unwrap();
    let watchdog = {
        let pid = follow.id();
        std::thread::spawn(move || {
            std::thread::sleep(DEADLINE);
            kill(pid, libc::SIGKILL);
        })
    };
    let seen = lines.next().and_then(Result::ok);
    assert_eq!(seen.as_deref(), Some("a line written later"));
    drop(watchdog);
    follow.kill().unwrap();
    follow.wait().unwrap();
}

#[test]
fn logs_on_a_queue_without_a_log_says_so() {
    let q = TestQueue::new();
    let out = run(q.execq(&["logs"]));
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("no log yet"));
}

#[test]
fn status_says_when_drains_will_refuse_the_queue() {
    use std::os::unix::fs::PermissionsExt;
    let q = fixture();
    fs::set_permissions(q.path("pending"), fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(q.execq(&["status"]));
    assert_eq!(out.code(), 4);
    assert!(
        out.stdout.contains("drains will not run: refusing to use"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("chmod go-w"));
}

#[test]
fn concurrent_retries_of_one_job_requeue_it_once() {
    for job in ["lint.json", "deploy.sh"] {
        let q = fixture();
        let retries: Vec<_> = (0..8)
            .map(|_| {
                q.execq(&["retry", job])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outcomes: Vec<Output> = retries.into_iter().map(finish).collect();
        let succeeded = outcomes.iter().filter(|o| o.status.success()).count();
        assert_eq!(succeeded, 1, "{job}: exactly one retry wins");
        let stem = job.split('.').next().unwrap();
        let copies = q
            .names("pending")
            .iter()
            .filter(|n| n.starts_with(stem))
            .count();
        assert_eq!(
            copies,
            1,
            "{job}: one copy in pending/: {:?}",
            q.names("pending")
        );
        assert!(!q.path(&format!("failed/{job}")).exists());
    }
}

#[test]
fn inspection_works_on_a_read_only_queue_and_creates_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let q = fixture();
    let _ = fs::remove_file(q.path("drain.lock"));
    fs::write(
        q.path("daemon.log"),
        "2026-11-20T10:00:00.000+01:00  INFO drain started\n",
    )
    .unwrap();
    let before: Vec<Vec<String>> = ["", "pending", "completed", "failed"]
        .iter()
        .map(|f| q.names(f))
        .collect();
    let dirs = ["", "pending", "running", "completed", "failed"];
    for dir in dirs {
        if q.path(dir).exists() {
            fs::set_permissions(q.path(dir), fs::Permissions::from_mode(0o500)).unwrap();
        }
    }
    let outputs = [
        run(q.execq(&["status", "--json"])),
        run(q.execq(&["list"])),
        run(q.execq(&["list", "--json"])),
        run(q.execq(&["show", "build"])),
        run(q.execq(&["logs"])),
    ];
    for dir in dirs {
        if q.path(dir).exists() {
            fs::set_permissions(q.path(dir), fs::Permissions::from_mode(0o700)).unwrap();
        }
    }
    for out in &outputs {
        assert!(
            !out.stderr.contains("error"),
            "{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    assert!(outputs[1].status.success() && outputs[3].status.success());
    let after: Vec<Vec<String>> = ["", "pending", "completed", "failed"]
        .iter()
        .map(|f| q.names(f))
        .collect();
    assert_eq!(before, after, "nothing was created");
}

#[test]
fn every_verb_sees_a_job_whose_name_is_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let q = TestQueue::new();
    let name = OsStr::from_bytes(b"caf\xe9.json");
    fs::write(q.path("pending").join(name), shell_job("exit 1")).unwrap();
    let listed = run(q.execq(&["list", "--json"]));
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["job"], "caf\\xe9.json");
    q.drain(&[]).success();
    let table = run(q.execq(&["list"]));
    assert!(table.stdout.contains("caf\\xe9.json"), "{}", table.stdout);
    let shown = run(q.execq(&["show", "caf\\xe9.json"]));
    shown.success();
    assert!(shown.stdout.contains("exit 1"), "{}", shown.stdout);
    run(q.execq(&["retry", "caf\\xe9"])).success();
    assert!(q.path("pending").join(name).exists());
    let status = run(q.execq(&["status", "--json"]));
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["counts"]["pending"], 1);
    assert_eq!(status["oldest_pending"]["file"], "caf\\xe9.json");
}

#[test]
fn a_failed_job_with_a_mebibyte_of_output_can_be_retried_and_run() {
    let q = TestQueue::new();
    let flag = q.scratch("flag");
    q.add(
        "loud.json",
        &shell_job(&format!(
            "head -c 3000000 /dev/zero | tr '\\0' x; echo; test -e '{}'",
            flag.display()
        )),
    );
    q.drain(&[]).success();
    assert!(fs::metadata(q.path("failed/loud.json")).unwrap().len() > 1024 * 1024);
    fs::write(&flag, "").unwrap();
    run(q.execq(&["retry", "loud"])).success();
    let requeued = fs::metadata(q.path("pending/loud.json")).unwrap().len();
    assert!(requeued <= 1024 * 1024, "{requeued} bytes");
    q.drain(&[]).success();
    let record = q.json("completed/loud.json");
    assert_eq!(record["result"]["status"], "completed");
    assert_eq!(record["history"][0]["status"], "failed");
    assert_eq!(record["history"][0]["trimmed_for_retry"], true);
}

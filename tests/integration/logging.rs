use std::fs;

use crate::util::*;

#[test]
fn every_step_is_logged_with_a_summary() {
    let q = TestQueue::new();
    q.add(
        "ok.json",
        r#"{"task_id": "T1", "command": "echo", "args": ["hi"]}"#,
    );
    q.add("bad.json", r#"{"command": 5}"#);
    q.drain(&[]).success();
    let log = q.log();
    let expect = [
        "INFO drain started pending=2",
        "INFO job started file=\"ok.json\" task_id=T1 command=echo hi",
        "INFO job finished file=\"ok.json\" status=completed returncode=0",
        "INFO job moved file=\"ok.json\" status=completed",
        "ERROR job cannot run file=\"bad.json\" error=`command` must be a string, found a number",
        "INFO drain finished completed=1 failed=1",
    ];
    for line in expect {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
    let first = log.lines().next().unwrap();
    let stamp = first.split_whitespace().next().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
        "local timestamp with offset: {stamp}"
    );
}

#[test]
fn an_idle_drain_writes_nothing_at_all() {
    let q = TestQueue::new();
    q.add("first.json", &shell_job("true"));
    q.drain(&[]).success();
    let before = tree(&q.root);
    let out = q.drain(&[]);
    out.success();
    assert_eq!(tree(&q.root), before, "no file created, changed or touched");
    assert_eq!(out.stderr, "");
}

#[test]
fn a_large_daemon_log_is_rotated() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    fs::write(q.path("daemon.log"), vec![b'x'; 5 * 1024 * 1024]).unwrap();
    q.add("job.json", &shell_job("true"));
    q.drain(&[]).success();
    assert_eq!(
        fs::metadata(q.path("daemon.log.1")).unwrap().len(),
        5 * 1024 * 1024
    );
    assert!(q.log().contains("drain finished"));
}

#[test]
fn strict_mode_turns_a_failed_job_into_exit_3() {
    let q = TestQueue::new();
    q.add("fails.json", &shell_job("exit 1"));
    assert_eq!(q.drain(&["--strict"]).code(), 3);
    q.add("passes.json", &shell_job("true"));
    assert_eq!(q.drain(&["--strict"]).code(), 0);
    q.add("fails-quietly.json", &shell_job("exit 1"));
    assert_eq!(
        q.drain(&[]).code(),
        0,
        "without --strict a failed job is not a failed drain"
    );
}

#[test]
fn a_queue_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let q = TestQueue::new();
    q.add("job.json", &shell_job("true"));
    fs::set_permissions(q.path("pending"), fs::Permissions::from_mode(0o777)).unwrap();
    let out = q.drain(&[]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("lets other users add jobs"),
        "{}",
        out.stderr
    );
    assert_eq!(q.names("pending"), ["job.json"], "nothing ran");
}

#[test]
fn an_error_is_printed_once() {
    let q = TestQueue::new();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&q.root, fs::Permissions::from_mode(0o777)).unwrap();
    let out = q.drain(&[]);
    assert_eq!(out.code(), 1);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("execq: error: refusing to use"),
        "{}",
        out.stderr
    );
    assert!(
        q.log().contains("ERROR refusing to use"),
        "still in daemon.log"
    );
}

#[test]
fn values_with_newlines_cannot_forge_log_lines() {
    let q = TestQueue::new();
    let forged = "2026-01-01T00:00:00.000+00:00 ERROR forged";
    q.add(
        &format!("evil\n{forged}.json"),
        &serde_json::json!({"command": "exit 3", "task_id": format!("id\r\n{forged}")}).to_string(),
    );
    q.add(&format!("bad\n{forged}.json"), r#"{"command": 5}"#);
    q.drain(&[]).success();
    let log = q.log();
    for line in log.lines() {
        assert!(
            line.starts_with("20") && !line.starts_with("2026-01-01T00:00:00.000"),
            "a forged line: {line:?}\n{log}"
        );
    }
    assert!(
        log.contains("forged"),
        "the values are still logged, escaped"
    );
    let status = run(q.execq(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    for line in status["recent_errors"].as_array().unwrap() {
        assert!(!line.as_str().unwrap().starts_with("2026-01-01"), "{line}");
    }
}

#[test]
fn a_log_being_rotated_by_another_process_is_not_rotated_again() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    let mut big = vec![b'x'; 5 * 1024 * 1024];
    big.extend_from_slice(b"\nsegment-0\n");
    fs::write(q.path("daemon.log"), &big).unwrap();
    fs::write(q.path("daemon.log.1"), "segment-1\n").unwrap();
    for i in 0..2 {
        q.add(&format!("j{i}.json"), &shell_job("true"));
    }
    // Another process rotating holds the log's lock: this one writes on and leaves the files.
    let held = fs::File::open(q.path("daemon.log")).unwrap();
    fs2::FileExt::lock_exclusive(&held).unwrap();
    run(q.execq(&["cancel", "j0"])).success();
    let first = fs::read_to_string(q.path("daemon.log.1")).unwrap();
    assert!(first == "segment-1\n", "rotated under another's lock");
    assert!(
        !q.path("daemon.log.2").exists(),
        "rotated under another's lock"
    );
    drop(held);
    run(q.execq(&["cancel", "j1"])).success();
    let rotated = fs::read_to_string(q.path("daemon.log.1")).unwrap();
    assert!(
        rotated.contains("segment-0\n"),
        "not rotated once the lock was free"
    );
    assert_eq!(
        fs::read_to_string(q.path("daemon.log.2")).unwrap(),
        "segment-1\n"
    );
}

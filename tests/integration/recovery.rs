use std::fs;

use crate::util::*;

fn queue_with_layout() -> TestQueue {
    let q = TestQueue::new();
    q.drain(&[]).success();
    q
}

#[test]
fn a_job_left_in_running_is_recorded_interrupted_and_not_run_again() {
    let q = queue_with_layout();
    let marker = q.scratch("ran");
    let job = shell_job(&format!("echo again >> '{}'", marker.display()));
    fs::write(q.path("running/left.json"), &job).unwrap();
    fs::write(q.path("running/left.sh"), "echo again\n").unwrap();
    fs::write(q.path("running/.left.json.tmp"), "partial record").unwrap();

    q.drain(&[]).success();
    let result = q.result("failed/left.json");
    assert_eq!(result["status"], "interrupted");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("was not run again")
    );
    assert!(
        result["started_at"].is_string(),
        "the claim time stands in for the start"
    );
    assert_eq!(
        fs::read_to_string(q.path("failed/left.sh")).unwrap(),
        "echo again\n"
    );
    assert_eq!(
        q.result("failed/left.sh.result.json")["status"],
        "interrupted"
    );
    assert!(!marker.exists(), "never re-run");
    assert!(
        q.names("running").is_empty(),
        "temporary files are cleaned up too"
    );
    assert!(q.log().contains("recorded as interrupted"));
}

#[test]
fn a_finished_record_whose_move_was_cut_short_is_completed() {
    let q = queue_with_layout();
    let record = r#"{"command": "true", "result": {"status": "completed", "returncode": 0, "stdout": "", "stderr": "",
        "started_at": null, "completed_at": "2026-01-01T00:00:00+00:00", "duration_ms": 1, "error": null,
        "timed_out": false, "signal": null, "stdout_truncated": false, "stderr_truncated": false,
        "stdout_bytes": 0, "stderr_bytes": 0}}"#;
    fs::write(q.path("running/done.json"), r#"{"command": "true"}"#).unwrap();
    fs::write(q.path("running/.done.json.record"), record).unwrap();
    fs::write(q.path("running/.orphan.json.record"), record).unwrap();
    // Written in full but not yet synced and renamed when the drain was killed.
    fs::write(q.path("running/staged.json"), r#"{"command": "true"}"#).unwrap();
    fs::write(q.path("running/.staged.json.record.tmp"), record).unwrap();
    fs::write(q.path("running/staged.sh"), "true\n").unwrap();
    let sidecar = format!(
        r#"{{"job": "staged.sh", "result": {}}}"#,
        &record[record.find("{\"status").unwrap()..record.len() - 1]
    );
    fs::write(q.path("running/.staged.sh.sidecar.tmp"), sidecar).unwrap();
    // Cut short: the job is recorded as interrupted.
    fs::write(q.path("running/cut.json"), r#"{"command": "true"}"#).unwrap();
    fs::write(q.path("running/.cut.json.record.tmp"), &record[..40]).unwrap();
    q.drain(&[]).success();
    assert_eq!(q.result("completed/done.json")["status"], "completed");
    assert_eq!(q.result("completed/orphan.json")["status"], "completed");
    assert_eq!(q.result("completed/staged.json")["status"], "completed");
    assert_eq!(
        q.result("completed/staged.sh.result.json")["status"],
        "completed"
    );
    assert_eq!(q.result("failed/cut.json")["status"], "interrupted");
    assert!(q.names("running").is_empty(), "{:?}", q.names("running"));
}

#[test]
fn a_drain_killed_mid_job_leaves_a_job_the_next_drain_records_once() {
    let q = TestQueue::new();
    let pid_file = q.scratch("job.pid");
    let count = q.scratch("count");
    q.add(
        "victim.json",
        &shell_job(&format!(
            "echo x >> '{}'; echo $$ > '{}'; exec sleep 60",
            count.display(),
            pid_file.display()
        )),
    );
    let drain = q.spawn_drain(&[]);
    let job_pid = read_pid(&pid_file);
    kill(drain.id(), libc::SIGKILL);
    finish(drain);
    // A SIGKILLed drain cannot clean up: its job is still running, in its own group.
    assert!(alive(job_pid));
    kill(job_pid, libc::SIGKILL);

    q.drain(&[]).success();
    assert_eq!(q.result("failed/victim.json")["status"], "interrupted");
    assert_eq!(
        fs::read_to_string(&count).unwrap(),
        "x\n",
        "ran exactly once"
    );
    assert!(q.names("running").is_empty());
}

#[test]
fn temporary_files_of_dead_processes_are_swept_and_live_ones_kept() {
    let q = queue_with_layout();
    let dead = 999_999; // above any pid_max in use, so no such process
    let alive = std::process::id();
    for name in [
        format!("last-drain.json.{dead}.tmp"),
        format!("job-x.{dead}.tmp"),
        format!("retry.{dead}.tmp"),
        format!("job-y.{alive}.tmp"),
    ] {
        fs::write(q.path("tmp").join(name), "partial").unwrap();
    }
    q.add("trigger.json", &shell_job("true"));
    q.drain(&[]).success();
    assert_eq!(
        q.names("tmp"),
        [format!("job-y.{alive}.tmp")],
        "a live submit's file is left alone"
    );
}

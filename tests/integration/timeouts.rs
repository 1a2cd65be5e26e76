use std::fs;

use serde_json::json;

use crate::util::*;

#[test]
fn a_job_past_its_timeout_is_ended_with_its_whole_group() {
    let q = TestQueue::new();
    let bg = q.scratch("bg.pid");
    let script = format!(
        "sleep 60 & echo $! > '{}'; echo started; sleep 60",
        bg.display()
    );
    q.add("slow.json", &shell_job(&script));
    q.drain(&["--timeout", "1"]).success();

    let result = q.result("failed/slow.json");
    assert_eq!(result["status"], "timeout");
    assert_eq!(result["timed_out"], true);
    assert_eq!(result["signal"], libc::SIGTERM);
    assert_eq!(
        result["stdout"], "started\n",
        "output before the timeout is kept"
    );
    assert_eq!(result["error"], "timed out after 1 s");
    let pid = read_pid(&bg);
    wait_until("the background child to be gone", || !alive(pid));
}

#[test]
fn a_job_ignoring_sigterm_is_killed_after_the_grace() {
    let q = TestQueue::new();
    q.add(
        "stubborn.json",
        &shell_job("trap '' TERM; echo armed; while :; do sleep 1; done"),
    );
    q.drain(&["--timeout", "1"]).success();
    let result = q.result("failed/stubborn.json");
    assert_eq!(result["status"], "timeout");
    assert_eq!(result["signal"], libc::SIGKILL);
}

#[test]
fn a_per_job_timeout_overrides_the_default() {
    let q = TestQueue::new();
    q.add(
        "quick.json",
        &json!({"command": "sleep 30", "timeout": 0.5}).to_string(),
    );
    q.drain(&[]).success();
    let result = q.result("failed/quick.json");
    assert_eq!(result["status"], "timeout");
    assert_eq!(result["error"], "timed out after 0.5 s");
}

#[test]
fn background_children_are_ended_when_the_job_exits() {
    let q = TestQueue::new();
    let bg = q.scratch("bg.pid");
    q.add(
        "leaves-child.json",
        &shell_job(&format!(
            "sleep 60 & echo $! > '{}'; echo done",
            bg.display()
        )),
    );
    q.drain(&[]).success();
    let result = q.result("completed/leaves-child.json");
    assert_eq!(result["stdout"], "done\n");
    assert!(
        result["notes"][0]
            .as_str()
            .unwrap()
            .contains("left running in its group were ended"),
        "{result}"
    );
    let pid = read_pid(&bg);
    wait_until("the background child to be gone", || !alive(pid));
}

#[test]
fn an_escaped_process_holding_stdout_does_not_make_drain_wait() {
    let q = TestQueue::new();
    let escaped = q.scratch("escaped.pid");
    // perl's setsid moves the child out of the job's group, still holding stdout.
    let script = format!(
        "echo hi; perl -e 'use POSIX; fork and exit; POSIX::setsid(); open F, \">\", \"{0}\"; print F $$; close F; sleep 60' &
         while [ ! -s '{0}' ]; do sleep 0.01; done",
        escaped.display()
    );
    q.add("escape.json", &shell_job(&script));
    q.drain(&[]).success();
    let pid = read_pid(&escaped);
    let result = q.result("completed/escape.json");
    assert_eq!(result["stdout"], "hi\n");
    assert!(
        result["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("stdout was still held open")),
        "{result}"
    );
    kill(pid, libc::SIGKILL);
    assert!(fs::read_dir(q.path("running")).unwrap().next().is_none());
}

#[test]
fn a_child_left_unwaited_is_not_reported_as_left_running() {
    let q = TestQueue::new();
    let result = q.run_job(
        "zombie.json",
        r#"{"command": "perl", "args": ["-e", "if (fork() == 0) { exit 0 } select(undef, undef, undef, 0.3); print qq(parent done\n)"]}"#,
    );
    assert_eq!(result["stdout"], "parent done\n");
    assert!(
        result.get("notes").is_none(),
        "no note about leftovers: {result}"
    );
}

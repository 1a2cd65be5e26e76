//! `cancel`, `wait` and `submit --wait`.

use std::fs;

use serde_json::{Value, json};

use crate::util::*;

fn later() -> String {
    (chrono::Local::now() + chrono::Duration::hours(1)).to_rfc3339()
}

#[test]
fn cancelling_a_pending_job_files_it_without_running_it() {
    let q = TestQueue::new();
    let marker = q.scratch("ran");
    q.add(
        "held.json",
        &json!({"command": format!("touch '{}'", marker.display()), "task_id": "held", "not_before": later()})
            .to_string(),
    );
    q.add_aged("script.sh", "touch /nonexistent/never\n", 10);
    let out = run(q.execq(&["cancel", "held", "script.sh"]));
    out.success();
    assert!(
        out.stdout.contains("held.json\tcancelled"),
        "{}",
        out.stdout
    );
    let result = q.result("failed/held.json");
    assert_eq!(result["status"], "cancelled");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("before it started")
    );
    assert_eq!(
        q.result("failed/script.sh.result.json")["status"],
        "cancelled"
    );
    assert!(q.names("pending").is_empty());
    q.drain(&[]).success();
    assert!(!marker.exists(), "a cancelled job never runs");
    assert_fails_with(
        &run(q.execq(&["cancel", "held"])),
        1,
        "has already finished (cancelled)",
    );
}

#[test]
fn cancelling_a_running_job_ends_its_whole_group_and_keeps_its_output() {
    let q = TestQueue::new();
    let pids = q.scratch("pids");
    q.add(
        "busy.json",
        &json!({
            "task_id": "busy",
            "command": format!("echo started; sleep 60 & echo $$ $! > '{}'; wait", pids.display()),
        })
        .to_string(),
    );
    let drain = q.spawn_drain(&["--grace", "5"]);
    wait_until("the job to start", || {
        fs::read_to_string(&pids).is_ok_and(|p| p.split_whitespace().count() == 2)
    });
    let out = run(q.execq(&["cancel", "busy"]));
    out.success();
    assert!(
        out.stdout.contains("\tcancelled\t(was running)"),
        "{}",
        out.stdout
    );
    finish(drain).success();
    let result = q.result("failed/busy.json");
    assert_eq!(result["status"], "cancelled");
    assert_eq!(result["stdout"], "started\n");
    for pid in fs::read_to_string(&pids).unwrap().split_whitespace() {
        let pid: u32 = pid.parse().unwrap();
        wait_until("the job's processes to be gone", || !alive(pid));
    }
    assert!(
        q.names("running").is_empty(),
        "the cancel request is cleaned up: {:?}",
        q.names("running")
    );
}

#[test]
fn wait_reports_each_job_and_exits_by_how_they_ended() {
    let q = TestQueue::new();
    q.add(
        "good.json",
        &json!({"command": "true", "task_id": "good"}).to_string(),
    );
    q.add(
        "bad.json",
        &json!({"command": "exit 4", "task_id": "bad"}).to_string(),
    );
    let waiter = q
        .execq(&["wait", "good", "bad"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    q.drain(&[]).success();
    let out = finish(waiter);
    assert_eq!(out.code(), 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("good.json\tcompleted\t0"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("bad.json\tfailed\t4"), "{}", out.stdout);
    assert_eq!(run(q.execq(&["wait", "good"])).code(), 0);

    q.add(
        "tomorrow.json",
        &json!({"command": "true", "not_before": later()}).to_string(),
    );
    let out = run(q.execq(&["wait", "tomorrow", "--timeout", "0.2"]));
    assert_fails_with(&out, 124, "`tomorrow` has not finished");
}

fn submit_wait(q: &TestQueue, args: &[&str]) -> Output {
    let mut full = vec!["submit", "--wait"];
    full.extend_from_slice(args);
    run(q.execq(&full))
}

#[test]
fn submit_wait_runs_the_job_and_exits_with_its_code() {
    let q = TestQueue::new();
    let out = submit_wait(
        &q,
        &["--shell", "echo to-stdout; echo to-stderr >&2; exit 7"],
    );
    assert_eq!(out.code(), 7);
    assert_eq!(out.stdout, "to-stdout\n");
    assert!(out.stderr.starts_with("to-stderr\n"), "{}", out.stderr);

    assert_eq!(submit_wait(&q, &["--", "true"]).code(), 0);
    assert_eq!(
        submit_wait(&q, &["--timeout", "0.2", "--", "sleep", "10"]).code(),
        124
    );
    let missing = submit_wait(&q, &["--", "/no/such/program"]);
    assert_fails_with(&missing, 125, "not found");
    assert_eq!(submit_wait(&q, &["--shell", "kill -9 $$"]).code(), 128 + 9);
}

#[test]
fn submit_wait_exits_121_when_the_job_is_cancelled() {
    let q = TestQueue::new();
    let started = q.scratch("started");
    let job = format!("touch '{}'; sleep 60", started.display());
    let waiter = q
        .execq(&["submit", "--wait", "--id", "victim", "--shell", &job])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the job to start", || started.exists());
    run(q.execq(&["cancel", "victim"])).success();
    let out = finish(waiter);
    assert_eq!(out.code(), 121, "{}", out.stderr);
    let listed: Vec<Value> =
        serde_json::from_str(&run(q.execq(&["list", "--json"])).stdout).unwrap();
    assert_eq!(listed[0]["status"], "cancelled");
}

#[test]
fn follow_prints_a_running_jobs_output_as_it_comes_then_its_status() {
    use std::io::{BufRead, BufReader};
    let q = TestQueue::new();
    let go = q.scratch("go");
    let job = format!(
        "echo first; echo oops >&2; while [ ! -e '{}' ]; do sleep 0.01; done; echo second; exit 3",
        go.display()
    );
    q.add(
        "slow.json",
        &json!({"command": job, "task_id": "slow"}).to_string(),
    );
    let drain = q.spawn_drain(&[]);
    let mut follow = q
        .execq(&["follow", "slow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "first\n", "printed while the job still runs");
    assert!(!q.path("completed/slow.json").exists() && !q.path("failed/slow.json").exists());
    fs::write(&go, "").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "second\n");
    let out = finish(follow);
    assert_eq!(out.code(), 3);
    assert!(out.stderr.contains("oops\n"), "{}", out.stderr);
    assert!(
        out.stderr.contains("slow.json failed (returncode 3)"),
        "{}",
        out.stderr
    );
    finish(drain).success();
    assert!(
        q.names("running").is_empty(),
        "the live copies are removed: {:?}",
        q.names("running")
    );
    assert_eq!(q.result("failed/slow.json")["stdout"], "first\nsecond\n");

    let again = run(q.execq(&["follow", "slow"]));
    assert_eq!(again.code(), 3);
    assert_eq!(
        again.stdout, "first\nsecond\n",
        "a finished job's recorded output"
    );
}

#[test]
fn a_cancel_or_retry_cut_short_is_finished_by_the_next_drain_that_works() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    // What a cancel killed after taking its job, and a retry killed after taking its, leave:
    // pid 999999999 cannot exist.
    fs::write(
        q.path("failed/.cancelling-gone.json.999999999"),
        json!({"command": "true", "task_id": "gone"}).to_string(),
    )
    .unwrap();
    fs::write(
        q.path("failed/.retrying-again.json.999999999"),
        json!({"command": "false", "result": {"status": "failed"}}).to_string(),
    )
    .unwrap();
    q.drain(&[]).success();
    assert_eq!(
        q.names("failed").len(),
        2,
        "an idle drain leaves them (it must cost next to nothing)"
    );
    q.run_job("work.json", &shell_job("true"));
    let failed = q.names("failed");
    assert_eq!(failed, ["again.json", "gone.json"], "{failed:?}");
    assert_eq!(q.result("failed/gone.json")["status"], "cancelled");
    assert_eq!(q.json("failed/again.json")["command"], "false");
}

#[test]
fn follow_and_wait_report_todays_run_not_an_older_namesakes_record() {
    let q = TestQueue::new();
    q.add("my_job.json", &shell_job("echo yesterday"));
    q.drain(&[]).success();
    let yesterday = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
    set_mtime(&q.path("completed/my_job.json"), yesterday);

    q.add("my_job.json", &shell_job("echo today"));
    let spawn = |args: &[&str]| {
        q.execq(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let follower = spawn(&["follow", "my_job"]);
    let waiter = spawn(&["wait", "my_job"]);
    q.drain(&[]).success();
    assert_eq!(q.names("completed"), ["my_job.1.json", "my_job.json"]);
    let followed = finish(follower);
    assert_eq!(followed.stdout, "today\n", "{}", followed.stderr);
    let waited = finish(waiter);
    assert_eq!(waited.stdout, "my_job.1.json\tcompleted\t0\n");

    // Both finished: the newest run is the one meant.
    let again = run(q.execq(&["wait", "my_job"]));
    assert_eq!(again.stdout, "my_job.1.json\tcompleted\t0\n");
    let followed = run(q.execq(&["follow", "my_job"]));
    assert_eq!(followed.stdout, "today\n");
}

#[test]
fn a_waiter_watches_the_queue_without_writing_to_it() {
    let q = TestQueue::new();
    // A drain makes the queue's folders (and leaves the job pending), so the waiter below watches
    // all four rather than polling a queue that has only `pending/`.
    q.add(
        "tomorrow.json",
        &json!({"command": "true", "task_id": "tomorrow", "not_before": later()}).to_string(),
    );
    q.drain(&[]).success();
    let before = tree(&q.root);
    let out = run(q.execq(&["wait", "tomorrow", "--timeout", "0.5"]));
    assert_fails_with(&out, 124, "`tomorrow` has not finished");
    assert_eq!(tree(&q.root), before);
}

#[test]
fn waiters_started_before_the_queue_has_its_folders_still_see_the_record() {
    // Only `pending/` until the drain opens the queue: the waiters poll until they can watch.
    let q = TestQueue::new();
    q.add("early.json", &shell_job("echo early"));
    let spawn = |args: &[&str]| {
        q.execq(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let waiter = spawn(&["wait", "early"]);
    let follower = spawn(&["follow", "early"]);
    assert!(!q.path("running").exists());
    q.drain(&[]).success();
    let waited = finish(waiter);
    assert_eq!(
        waited.stdout, "early.json\tcompleted\t0\n",
        "{}",
        waited.stderr
    );
    let followed = finish(follower);
    assert_eq!(followed.stdout, "early\n", "{}", followed.stderr);
}

//! How waiters (`wait`, `submit --wait`, MCP `get_job` with `wait_seconds`) learn that a job has
//! finished: woken by its record landing, or, when no change is reported to them, at their next
//! look anyway (the fallback). `EXECQ_WAIT_FALLBACK` and `EXECQ_FAULT=deaf-watch` are the test
//! hooks of `src/fault.rs`.

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::mcp::Client;
use crate::util::*;

/// A fallback far past the test's deadline: a wait that ends in time was woken by the record.
const AN_HOUR: (&str, &str) = ("EXECQ_WAIT_FALLBACK", "3600");

/// Long enough for a waiter to be past its first quick looks and waiting on its watch (a wait
/// that is not yet would end as soon, by looking: the tests pass either way).
const SETTLE: Duration = Duration::from_millis(300);

/// A shell job that runs until `gate` exists, then prints `done`.
fn gated(gate: &Path) -> String {
    format!(
        "while [ ! -e '{}' ]; do sleep 0.02; done; echo done",
        gate.display()
    )
}

fn spawn(q: &TestQueue, args: &[&str], env: &[(&str, &str)]) -> Child {
    q.execq(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn running(q: &TestQueue) -> usize {
    q.names("running")
        .iter()
        .filter(|n| !n.starts_with('.'))
        .count()
}

#[test]
fn waiters_wake_when_the_record_lands_not_at_their_fallback() {
    let q = TestQueue::new();
    let gate = q.scratch("gate");
    let submitter = spawn(
        &q,
        &[
            "submit",
            "--wait",
            "--id",
            "gated",
            "--shell",
            &gated(&gate),
        ],
        &[AN_HOUR],
    );
    wait_until("the job to start", || running(&q) == 1);
    let waiter = spawn(&q, &["wait", "gated"], &[AN_HOUR]);
    std::thread::sleep(SETTLE);
    fs::write(&gate, "").unwrap();
    let submitted = finish(submitter);
    assert_eq!(submitted.stdout, "done\n", "{}", submitted.stderr);
    assert_eq!(submitted.code(), 0);
    let waited = finish(waiter);
    assert!(
        waited.stdout.ends_with("-gated.json\tcompleted\t0\n"),
        "{}{}",
        waited.stdout,
        waited.stderr
    );
}

#[test]
fn a_waiter_told_of_no_change_still_sees_the_record_at_its_fallback() {
    // A watch that hears of nothing, as when the kernel drops events or a network share sends
    // none: the wait ends at the look its fallback (0.2 s here) brings, not never.
    let q = TestQueue::new();
    let gate = q.scratch("gate");
    q.add(
        "gated.json",
        &json!({"command": gated(&gate), "task_id": "gated"}).to_string(),
    );
    let drain = q.spawn_drain(&[]);
    wait_until("the job to start", || running(&q) == 1);
    let deaf = [
        ("EXECQ_FAULT", "deaf-watch"),
        ("EXECQ_WAIT_FALLBACK", "0.2"),
    ];
    let waiter = spawn(&q, &["wait", "gated"], &deaf);
    std::thread::sleep(SETTLE);
    fs::write(&gate, "").unwrap();
    let waited = finish(waiter);
    assert_eq!(
        waited.stdout, "gated.json\tcompleted\t0\n",
        "{}",
        waited.stderr
    );
    finish(drain).success();
}

#[test]
fn get_job_with_wait_seconds_answers_when_the_record_lands() {
    let q = TestQueue::new();
    let gate = q.scratch("gate");
    q.add(
        "gated.json",
        &json!({"command": gated(&gate), "task_id": "gated"}).to_string(),
    );
    let drain = q.spawn_drain(&[]);
    wait_until("the job to start", || running(&q) == 1);
    let mut client = Client::ready_with(&q, &[], &[AN_HOUR]);
    let opener = std::thread::spawn(move || {
        std::thread::sleep(SETTLE);
        fs::write(&gate, "").unwrap();
    });
    // Answered within the client's deadline only if the record woke the wait: the fallback is an
    // hour, and the wait up to the server's cap (50 s).
    let (failed, text, job) =
        client.call_full("get_job", json!({"job": "gated", "wait_seconds": 600}));
    assert!(!failed, "{text}");
    assert_eq!(job["status"], "completed", "{text}");
    assert_eq!(job["done"], true, "{text}");
    opener.join().unwrap();
    finish(drain).success();
}

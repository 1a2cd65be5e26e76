//! One operation, every door: submit, cancel, retry, status and a job's view through the command
//! line, `execq mcp` and the served dashboard's API give the same outcome (they share `ops`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::dashboard::{http, serve};
use crate::mcp::Client;
use crate::util::*;

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn post(port: u16, path: &str, token: &str) -> (u16, Value) {
    let (status, body) = http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Execq-Token: {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or(json!({ "body": body })),
    )
}

fn api(port: u16, path: &str) -> Value {
    let (status, body) = http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_submission_is_the_same_job_from_the_command_line_and_from_mcp() {
    let q = TestQueue::new();
    let _held = hold_drain_lock(&q);
    run(q.execq(&[
        "submit",
        "--id",
        "cli",
        "--cwd",
        "/tmp",
        "--priority",
        "3",
        "--env",
        "A=1",
        "--",
        "echo",
        "hi",
    ]))
    .success();
    let mut mcp = Client::ready(&q, &[]);
    let (failed, text, view) = mcp.call_full(
        "submit_job",
        json!({"task_id": "mcp", "cwd": "/tmp", "priority": 3, "env": {"A": "1"},
               "command": "echo", "args": ["hi"]}),
    );
    assert!(!failed, "{text}");
    assert_eq!(view["state"], "pending", "a drain holds the queue: {view}");
    let jobs: Vec<Value> = q
        .names("pending")
        .iter()
        .map(|n| q.json(&format!("pending/{n}")))
        .collect();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    // The same job but for who submitted it: the door is written down, for its sandbox floor.
    let mut origins: Vec<&str> = jobs.iter().map(|j| j["origin"].as_str().unwrap()).collect();
    origins.sort();
    assert_eq!(origins, ["cli", "mcp"]);
    let strip = |job: &Value| {
        let mut job = job.clone();
        let object = job.as_object_mut().unwrap();
        object.remove("task_id");
        object.remove("submitted_at");
        object.remove("origin");
        job
    };
    assert_eq!(strip(&jobs[0]), strip(&jobs[1]));
}

#[test]
fn cancel_retry_status_and_a_jobs_view_agree_at_every_door() {
    let q = TestQueue::new();
    for name in ["r1", "r2", "r3"] {
        q.add(&format!("{name}.json"), &shell_job("exit 4"));
    }
    q.add("done.json", &shell_job("echo done"));
    q.drain(&[]).success();
    for name in ["c1", "c2", "c3"] {
        q.add(&format!("{name}.json"), &shell_job("sleep 0"));
    }
    // Jobs waiting to be cancelled; a drain holds the queue so retried jobs stay pending.
    let held = hold_drain_lock(&q);
    let mut mcp = Client::ready(&q, &[]);
    let (server, port, token) = serve(&q);

    // Cancel: the same words and the same record.
    let cli = run(q.execq(&["cancel", "c1"]));
    let cli_line = cli.success().stdout.replace('\t', " ");
    let (failed, mcp_text) = mcp.call("cancel_job", json!({"job": "c2"}));
    assert!(!failed, "{mcp_text}");
    let (status, web) = post(port, "/api/jobs/c3/cancel", &token);
    assert_eq!(status, 200, "{web}");
    for (door, said, name) in [
        ("cli", cli_line.trim(), "c1"),
        ("mcp", mcp_text.lines().next().unwrap(), "c2"),
        ("web", web["message"].as_str().unwrap(), "c3"),
    ] {
        assert!(
            said.starts_with(&format!("{name}.json cancelled (was pending; recorded in ")),
            "{door}: {said}"
        );
        let record = q.json(&format!("failed/{name}.json"));
        assert_eq!(record["result"]["status"], "cancelled", "{door}");
    }

    // Retry: each failed job pending again, its first result in its history.
    run(q.execq(&["retry", "r1"])).success();
    let (failed, text) = mcp.call("retry_job", json!({"job": "r2"}));
    assert!(!failed, "{text}");
    let (status, web) = post(port, "/api/jobs/r3/retry", &token);
    assert_eq!(status, 200, "{web}");
    for name in ["r1", "r2", "r3"] {
        let job = q.json(&format!("pending/{name}.json"));
        assert_eq!(job["history"][0]["status"], "failed", "{name}: {job}");
        assert!(job.get("result").is_none(), "{name}: {job}");
    }

    // Status: one report, whoever asks.
    let cli: Value = serde_json::from_str(&run(q.execq(&["status", "--json"])).stdout).unwrap();
    let (_, _, mcp_status) = mcp.call_full("queue_status", json!({}));
    let web_status = api(port, "/api/status");
    for other in [&mcp_status, &web_status] {
        assert_eq!(keys(&cli), keys(other));
        assert_eq!(cli["counts"], other["counts"]);
        assert_eq!(cli["service"]["files"], other["service"]["files"]);
        assert_eq!(cli["drain"]["pid"], other["drain"]["pid"]);
    }

    // A job's view: the same fields from show --json, get_job and /api/jobs/REF.
    let shown: Value =
        serde_json::from_str(&run(q.execq(&["show", "--json", "done"])).stdout).unwrap();
    let (_, _, got) = mcp.call_full("get_job", json!({"job": "done"}));
    let web_job = api(port, "/api/jobs/done");
    let mut without_record = keys(&shown);
    without_record.remove("record");
    assert_eq!(without_record, keys(&got));
    assert_eq!(keys(&shown), keys(&web_job));
    for field in [
        "job",
        "state",
        "status",
        "returncode",
        "command",
        "stdout_tail",
    ] {
        assert_eq!(shown[field], got[field], "{field}");
        assert_eq!(shown[field], web_job[field], "{field}");
    }
    assert_eq!(shown["stdout_tail"], "done\n");
    let listed: Vec<Value> =
        serde_json::from_str(&run(q.execq(&["list", "--json", "--state", "completed"])).stdout)
            .unwrap();
    assert_eq!(
        keys(&listed[0]),
        keys(&got),
        "a list row has the same fields"
    );

    drop(held);
    kill(server.id(), libc::SIGTERM);
    finish(server);
}

#[test]
fn a_retry_from_the_served_dashboard_starts_a_drain_as_mcp_does() {
    let q = TestQueue::new();
    let log = q.scratch("runs");
    q.add(
        "again.json",
        &json!({"command": "sh", "args": ["-c", format!("echo run >> '{}'; exit 1", log.display())]})
            .to_string(),
    );
    q.drain(&[]).success();
    let (server, port, token) = serve(&q);
    let (status, web) = post(port, "/api/jobs/again/retry", &token);
    assert_eq!(status, 200, "{web}");
    wait_until("the retried job's second run", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 2)
            && q.names("pending").is_empty()
            && q.names("running").is_empty()
    });
    kill(server.id(), libc::SIGTERM);
    finish(server);
}

//! What pueue and task-spooler users reach for: pause and resume, groups with their own slots,
//! hold and release, rerun, edit — from the command line and through `execq mcp`. (Their crash
//! points are in `crash.rs`.)

use std::fs;

use serde_json::{Value, json};

use crate::mcp::Client;
use crate::util::*;

/// A job that logs its start and end (with times) to `SCRATCH/runs.log`, taking `secs`.
fn logged(q: &TestQueue, id: &str, group: Option<&str>, secs: f64) -> String {
    let log = q.scratch("runs.log");
    let mut job = json!({
        "command": format!(
            "echo start {id} $(date +%s.%N) >> '{l}'; sleep {secs}; echo end {id} $(date +%s.%N) >> '{l}'",
            l = log.display()
        ),
        "task_id": id,
    });
    if let Some(group) = group {
        job["group"] = json!(group);
    }
    job.to_string()
}

/// The most jobs of each prefix (`a1` → `a`) that ran at once, from `runs.log`.
fn most_at_once(q: &TestQueue) -> std::collections::BTreeMap<String, i32> {
    let text = fs::read_to_string(q.scratch("runs.log")).unwrap_or_default();
    let mut events: Vec<(f64, i32, String)> = text
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            let group = parts[1].trim_end_matches(char::is_numeric).to_owned();
            (
                parts[2].parse().unwrap(),
                if parts[0] == "start" { 1 } else { -1 },
                group,
            )
        })
        .collect();
    events.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (mut now, mut most) = (
        std::collections::BTreeMap::new(),
        std::collections::BTreeMap::new(),
    );
    for (_, delta, group) in events {
        let n = now.entry(group.clone()).or_insert(0);
        *n += delta;
        let m = most.entry(group).or_insert(0);
        *m = (*m).max(*n);
    }
    most
}

fn ran(q: &TestQueue, id: &str) -> bool {
    fs::read_to_string(q.scratch("runs.log"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(&format!("start {id} ")))
}

#[test]
fn a_pause_holds_across_drains_and_a_kill_and_resume_runs_the_jobs() {
    let q = TestQueue::new();
    run(q.execq(&["pause"])).success();
    assert!(
        run(q.execq(&["pause"]))
            .success()
            .stdout
            .contains("already")
    );
    q.add_aged("p.json", &logged(&q, "p1", None, 0.0), 10);
    q.drain(&[]).success();
    assert!(!ran(&q, "p1"), "a paused queue ran a job");
    // A drain killed mid-pass, and a new one: still paused.
    let mut killed = q.spawn_drain(&[]);
    killed.kill().unwrap();
    killed.wait().unwrap();
    q.drain(&[]).success();
    assert!(!ran(&q, "p1"));
    let status = run(q.execq(&["status", "--json"]));
    let report: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(report["paused"], true, "{report}");
    assert!(run(q.execq(&["status"])).stdout.contains("paused"));
    // A paused queue's drain writes nothing (launchd starts one every 2 s).
    let before = tree(&q.root);
    q.drain(&[]).success();
    assert_eq!(before, tree(&q.root), "a paused drain wrote");
    run(q.execq(&["resume"])).success();
    // `resume` starts a drain of its own; a drain run here may find it holding the queue.
    q.drain(&[]).success();
    crate::util::wait_until("p1 to run", || ran(&q, "p1"));
    let report: Value = serde_json::from_str(&run(q.execq(&["status", "--json"])).stdout).unwrap();
    assert_eq!(report["paused"], false);
}

#[test]
fn a_paused_group_waits_while_the_others_run() {
    let q = TestQueue::new();
    run(q.execq(&["pause", "--group", "gpu"])).success();
    q.add_aged("g.json", &logged(&q, "g1", Some("gpu"), 0.0), 10);
    q.add_aged("c.json", &logged(&q, "c1", None, 0.0), 10);
    q.drain(&[]).success();
    assert!(ran(&q, "c1") && !ran(&q, "g1"));
    let groups: Value =
        serde_json::from_str(&run(q.execq(&["group", "list", "--json"])).stdout).unwrap();
    let gpu = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "gpu")
        .unwrap()
        .clone();
    assert_eq!(
        (gpu["paused"].clone(), gpu["pending"].clone()),
        (json!(true), json!(1)),
        "{groups}"
    );
    run(q.execq(&["resume", "--group", "gpu"])).success();
    q.drain(&[]).success();
    crate::util::wait_until("g1 to run", || ran(&q, "g1"));
}

#[test]
fn two_groups_with_one_and_two_slots_run_at_most_one_and_two_at_once() {
    let q = TestQueue::new();
    fs::write(
        q.path("config.toml"),
        "[groups.a]\njobs = 1\n[groups.b]\njobs = 2\n",
    )
    .unwrap();
    for i in 1..=3 {
        q.add_aged(
            &format!("a{i}.json"),
            &logged(&q, &format!("a{i}"), Some("a"), 0.6),
            10,
        );
        q.add_aged(
            &format!("b{i}.json"),
            &logged(&q, &format!("b{i}"), Some("b"), 0.6),
            10,
        );
    }
    q.add_aged("b4.json", &logged(&q, "b4", Some("b"), 0.6), 10);
    q.drain(&[]).success();
    let most = most_at_once(&q);
    assert_eq!(most.get("a"), Some(&1), "{most:?}");
    assert_eq!(most.get("b"), Some(&2), "{most:?}");
    assert_eq!(q.names("completed").len(), 7);
}

#[test]
fn a_held_job_survives_drains_and_runs_after_release() {
    let q = TestQueue::new();
    let out = run(q.execq(&[
        "submit",
        "--hold",
        "--id",
        "h",
        "--",
        "sh",
        "-c",
        &format!("echo start h 0 >> '{}'", q.scratch("runs.log").display()),
    ]));
    out.success();
    for _ in 0..2 {
        q.drain(&[]).success();
    }
    assert!(!ran(&q, "h"));
    let list = run(q.execq(&["list"])).stdout;
    assert!(list.contains("held"), "{list}");
    assert!(run(q.execq(&["show", "h"])).stdout.contains("held"));
    // A held job is not edited into running by accident, and cannot be rerun while waiting.
    assert!(!run(q.execq(&["rerun", "h"])).status.success());
    run(q.execq(&["release", "h"])).success();
    q.drain(&[]).success();
    assert!(ran(&q, "h"));
    let hold_done = run(q.execq(&["hold", "h"]));
    assert!(!hold_done.status.success());
    assert!(
        hold_done.stderr.contains("only a job waiting in pending/"),
        "{}",
        hold_done.stderr
    );
}

#[test]
fn a_rerun_of_a_completed_job_runs_again_with_rerun_of() {
    let q = TestQueue::new();
    q.add_aged("y.json", &logged(&q, "y1", None, 0.0), 10);
    q.drain(&[]).success();
    let path = run(q.execq(&["rerun", "y1"]))
        .success()
        .stdout
        .trim()
        .to_owned();
    assert!(path.contains("/pending/"), "{path}");
    q.drain(&[]).success();
    let runs = fs::read_to_string(q.scratch("runs.log")).unwrap();
    assert_eq!(
        runs.lines().filter(|l| l.starts_with("start y1")).count(),
        2,
        "{runs}"
    );
    let name = std::path::Path::new(&path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let record = q.json(&format!("completed/{name}"));
    assert_eq!(record["rerun_of"], "y.json");
    assert!(record.get("history").is_none());
    // The original's record is as it was.
    assert!(q.json("completed/y.json").get("rerun_of").is_none());
}

#[test]
fn an_edit_applies_whole_or_is_refused_when_a_drain_claimed_the_job() {
    let q = TestQueue::new();
    q.add_aged("e.json", &logged(&q, "e1", None, 0.0), 10);
    run(q.execq(&[
        "edit",
        "e1",
        "--set",
        "description=edited",
        "--set",
        "timeout=30",
    ]))
    .success();
    let job = q.json("pending/e.json");
    assert_eq!(
        (job["description"].clone(), job["timeout"].clone()),
        (json!("edited"), json!(30))
    );
    // An invalid edit is refused, naming the field; the job is as it was.
    let bad = run(q.execq(&["edit", "e1", "--set", "timeout=-1"]));
    assert!(
        !bad.status.success() && bad.stderr.contains("timeout"),
        "{}",
        bad.stderr
    );
    assert_eq!(q.json("pending/e.json")["timeout"], 30);
    // In $EDITOR.
    let mut edit = q.execq(&["edit", "e1"]);
    edit.env("EDITOR", "sed -i s/edited/by-editor/");
    run(edit).success();
    assert_eq!(q.json("pending/e.json")["description"], "by-editor");
    // Racing claims: each edit is applied before the claim, or refused; never half, never twice.
    for i in 0..20 {
        let q = TestQueue::new();
        q.add_aged("r.json", &logged(&q, "r1", None, 0.0), 10);
        let mut drain = q.spawn_drain(&[]);
        let edit = run(q.execq(&["edit", "r1", "--set", &format!("description=race{i}")]));
        assert!(drain.wait().unwrap().success());
        q.drain(&[]).success();
        let record = q.json("completed/r.json");
        let runs = fs::read_to_string(q.scratch("runs.log")).unwrap();
        assert_eq!(
            runs.lines().filter(|l| l.starts_with("start r1")).count(),
            1,
            "{runs}"
        );
        if edit.status.success() {
            assert_eq!(
                record["description"],
                format!("race{i}"),
                "applied, so run as edited"
            );
        } else {
            assert!(
                edit.stderr.contains("left pending/")
                    || edit.stderr.contains("is running")
                    || edit.stderr.contains("is completed"),
                "{}",
                edit.stderr
            );
            assert!(
                record.get("description").is_none(),
                "refused, so run as it was"
            );
        }
        assert!(q.names("pending").is_empty(), "{:?}", q.names("pending"));
    }
}

#[test]
fn mcp_pauses_holds_releases_and_reruns_behind_the_server_s_policy() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &[]);
    let (failed, text) = client.call("pause_queue", json!({}));
    assert!(!failed && text.contains("paused"), "{text}");
    let (_, status, content) = client.call_full("queue_status", json!({}));
    assert_eq!(content["paused"], true, "{status}");
    let (failed, _) = client.call("resume_queue", json!({}));
    assert!(!failed);
    let (_, _, job) = client.call_full(
        "submit_job",
        json!({"shell": "true", "hold": true, "task_id": "held"}),
    );
    assert!(
        job["waiting"].as_str().unwrap_or_default().contains("held"),
        "{job}"
    );
    let (failed, text) = client.call("release_job", json!({"job": "held"}));
    assert!(!failed, "{text}");
    let (_, _, done) = client.call_full("get_job", json!({"job": "held", "wait_seconds": 20}));
    assert_eq!(done["status"], "completed", "{done}");
    let (failed, text) = client.call("rerun_job", json!({"job": "held"}));
    assert!(!failed && text.contains("rerun_of"), "{text}");

    // Read-only: every one refused.
    let mut reader = Client::ready(&q, &["--read-only"]);
    for (tool, args) in [
        ("pause_queue", json!({})),
        ("resume_queue", json!({})),
        ("hold_job", json!({"job": "held"})),
        ("release_job", json!({"job": "held"})),
        ("rerun_job", json!({"job": "held"})),
    ] {
        let (failed, text) = reader.call(tool, args);
        assert!(failed && text.contains("read-only"), "{tool}: {text}");
    }
    assert!(!q.path("paused/queue").exists());

    // Under an allowlist, a held job it would refuse is not released, nor a finished one rerun.
    run(q.execq(&[
        "submit",
        "--hold",
        "--id",
        "rm",
        "--shell",
        "echo not allowed",
    ]))
    .success();
    let mut allowlisted = Client::ready(&q, &["--allow", "echo"]);
    let (failed, text) = allowlisted.call("release_job", json!({"job": "rm"}));
    assert!(failed && text.contains("not released"), "{text}");
    assert_eq!(
        q.json(&format!("pending/{}", q.names("pending")[0]))["hold"],
        true
    );
    let (failed, text) = allowlisted.call("rerun_job", json!({"job": "held"}));
    assert!(failed && text.contains("not rerun"), "{text}");
    let (failed, _) = allowlisted.call("hold_job", json!({"job": "rm"}));
    assert!(!failed, "holding is always allowed (it only stops a job)");
}

/// The served dashboard pauses and resumes, holds and releases, reruns — each with the token
/// only, and the page shows the pause and the buttons.
#[test]
fn the_served_dashboard_pauses_holds_releases_and_reruns_with_its_token() {
    let q = TestQueue::new();
    q.add_aged("done.json", &logged(&q, "d1", None, 0.0), 10);
    q.drain(&[]).success();
    let (server, port, token) = crate::dashboard::serve(&q);
    let post = |path: &str| {
        crate::dashboard::http(
            port,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    // A drain holds the queue, so what the actions queue stays where the test can see it.
    let lock = hold_drain_lock(&q);
    for path in [
        "/api/queue/pause",
        "/api/queue/resume",
        "/api/jobs/d1/rerun",
        "/api/jobs/d1/hold",
    ] {
        assert_eq!(post(path).0, 403, "{path} without the token");
    }
    assert!(!q.path("paused/queue").exists());
    let (status, body) = post(&format!("/api/queue/pause?token={token}"));
    assert_eq!(status, 200, "{body}");
    assert!(q.path("paused/queue").exists());
    let page = crate::dashboard::http(
        port,
        &format!("GET /partial HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    )
    .1;
    assert!(
        page.contains("id=\"paused\"") && page.contains("data-act=\"resume\""),
        "{page}"
    );
    let (status, body) = post(&format!("/api/jobs/d1/rerun?token={token}"));
    assert_eq!(status, 200, "{body}");
    let copy = q.names("pending")[0].clone();
    let (status, body) = post(&format!("/api/jobs/{copy}/hold?token={token}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(q.json(&format!("pending/{copy}"))["hold"], true);
    let page = crate::dashboard::http(
        port,
        &format!("GET /partial HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    )
    .1;
    assert!(page.contains("data-act=\"release\""), "{page}");
    let (status, body) = post(&format!("/api/jobs/{copy}/release?token={token}"));
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&format!("/api/queue/resume?token={token}"));
    assert_eq!(status, 200, "{body}");
    drop(lock);
    q.drain(&[]).success();
    assert_eq!(
        q.json(&format!("completed/{copy}"))["rerun_of"],
        "done.json"
    );
    kill(server.id(), libc::SIGINT);
    finish(server);
}

/// A job edited while a drain is busy is judged again on what it says now: moved into a paused
/// group, or given a time to come, it waits.
#[test]
fn an_edit_during_a_drain_is_judged_on_its_new_content() {
    let q = TestQueue::new();
    run(q.execq(&["pause", "--group", "pg"])).success();
    q.add_aged("a.json", &logged(&q, "a1", None, 1.5), 10);
    q.add_aged("b.json", &logged(&q, "b1", None, 0.0), 9);
    q.add_aged("c.json", &logged(&q, "c1", None, 0.0), 8);
    let drain = q.spawn_drain(&[]);
    crate::util::wait_until("a1 to start", || ran(&q, "a1"));
    run(q.execq(&["edit", "b1", "--set", "group=pg"])).success();
    run(q.execq(&["edit", "c1", "--set", "not_before=2099-01-01T00:00:00Z"])).success();
    assert!(finish(drain).status.success());
    assert!(!ran(&q, "b1"), "ran in a paused group");
    assert!(!ran(&q, "c1"), "ran before its time");
    assert_eq!(q.names("pending"), ["b.json", "c.json"]);
}

/// A held job found in running/ (a drain died putting it back) goes back to pending/, held.
#[test]
fn a_held_job_a_dead_drain_left_claimed_is_put_back_not_failed() {
    let q = TestQueue::new();
    fs::create_dir_all(q.path("running")).unwrap();
    fs::write(
        q.path("running/h.json"),
        r#"{"command": "true", "hold": true}"#,
    )
    .unwrap();
    q.drain(&[]).success();
    assert_eq!(q.names("pending"), ["h.json"]);
    assert_eq!(q.json("pending/h.json")["hold"], true);
    assert!(q.names("failed").is_empty());
}

/// Many holds sent at once through one server all succeed (each its own temporary file).
#[test]
fn concurrent_holds_through_one_server_all_succeed() {
    let q = TestQueue::new();
    let _lock = hold_drain_lock(&q);
    for i in 0..20 {
        q.add(
            &format!("h{i}.json"),
            &json!({"command": "true", "task_id": format!("h{i}")}).to_string(),
        );
    }
    let mut client = Client::ready(&q, &[]);
    let holds: Vec<(&str, Value)> = (0..20)
        .map(|i| {
            (
                "tools/call",
                json!({"name": "hold_job", "arguments": {"job": format!("h{i}")}}),
            )
        })
        .collect();
    for answer in client.requests(&holds) {
        assert_eq!(answer["result"]["isError"], false, "{answer}");
    }
    for i in 0..20 {
        assert_eq!(q.json(&format!("pending/h{i}.json"))["hold"], true);
    }
}

#[test]
fn edit_refuses_fields_a_job_does_not_have_and_execq_s_own() {
    let q = TestQueue::new();
    q.add("e.json", r#"{"command": "true", "task_id": "e"}"#);
    for (set, says) in [
        ("at=tomorrow", "not a field of a job"),
        ("origin=mcp", "execq's own"),
    ] {
        let out = run(q.execq(&["edit", "e", "--set", set]));
        assert!(
            !out.status.success() && out.stderr.contains(says),
            "{set}: {}",
            out.stderr
        );
    }
    assert!(q.json("pending/e.json").get("origin").is_none());
}

#[test]
fn a_rerun_of_a_job_cancelled_while_held_runs_and_resume_starts_a_drain() {
    let q = TestQueue::new();
    let log = q.scratch("runs.log");
    let line = format!("echo start c1 0 >> '{}'", log.display());
    run(q.execq(&["submit", "--hold", "--id", "c1", "--shell", &line])).success();
    run(q.execq(&["cancel", "c1"])).success();
    run(q.execq(&["pause"])).success();
    run(q.execq(&["rerun", "c1"])).success();
    run(q.execq(&["resume"])).success();
    // No drain run by the test: `resume` starts one.
    crate::util::wait_until("the rerun to run", || ran(&q, "c1"));
}

#[test]
fn pause_wait_returns_when_the_jobs_left_in_running_have_no_drain() {
    let q = TestQueue::new();
    fs::create_dir_all(q.path("running")).unwrap();
    fs::write(q.path("running/left.json"), r#"{"command": "sleep 100"}"#).unwrap();
    let out = finish_within(
        q.execq(&["pause", "--wait"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        std::time::Duration::from_secs(20),
    );
    assert!(out.status.success());
    assert!(out.stderr.contains("left in running/"), "{}", out.stderr);
}

/// An edit's taken job is put back only when no process holds its lock: a stalled edit keeps it
/// (it would apply its change after the drain ran the old job otherwise); a dead one does not.
#[test]
fn a_taken_job_is_put_back_only_when_its_edit_is_gone() {
    let q = TestQueue::new();
    fs::create_dir_all(q.path("pending")).unwrap();
    let taken = q.path("pending/.editing-t.json.1");
    fs::write(&taken, r#"{"command": "true", "task_id": "t"}"#).unwrap();
    let file = fs::File::open(&taken).unwrap();
    fs2::FileExt::lock_exclusive(&file).unwrap();
    q.drain(&[]).success();
    assert!(taken.exists(), "put back while its edit was alive");
    assert!(q.names("completed").is_empty());
    drop(file);
    q.drain(&[]).success();
    assert!(!taken.exists());
    assert_eq!(q.names("completed"), ["t.json"]);
}

#[test]
fn a_retried_job_cancelled_while_held_runs_and_a_paused_job_says_so() {
    let q = TestQueue::new();
    run(q.execq(&["submit", "--hold", "--id", "r", "--", "true"])).success();
    run(q.execq(&["cancel", "r"])).success();
    run(q.execq(&["retry", "r"])).success();
    let pending = q.names("pending");
    assert!(
        q.json(&format!("pending/{}", pending[0]))
            .get("hold")
            .is_none()
    );
    run(q.execq(&["pause"])).success();
    let list = run(q.execq(&["list"])).stdout;
    assert!(list.contains("paused"), "{list}");
    let shown = run(q.execq(&["show", "r"])).stdout;
    assert!(shown.contains("paused (execq resume starts it)"), "{shown}");
}

/// Under an allowlist, resuming is refused while a job the agent could not submit waits.
#[test]
fn mcp_resume_under_an_allowlist_checks_what_would_start() {
    let q = TestQueue::new();
    run(q.execq(&["pause", "--group", "pg"])).success();
    run(q.execq(&["submit", "--group", "pg", "--shell", "echo not allowed"])).success();
    let mut client = Client::ready(&q, &["--allow", "echo"]);
    let (failed, text) = client.call("resume_queue", json!({"group": "pg"}));
    assert!(failed && text.contains("not resumed"), "{text}");
    assert!(q.path("paused/group.pg").exists());
}

/// A job waiting for another pending job says so (not "no such job yet"), in `show` and MCP.
#[test]
fn a_dependency_on_a_pending_job_is_named_as_pending() {
    let q = TestQueue::new();
    run(q.execq(&["submit", "--id", "a", "--delay", "1h", "--", "true"])).success();
    run(q.execq(&["submit", "--id", "b", "--after", "a", "--", "true"])).success();
    let shown = run(q.execq(&["show", "b"])).stdout;
    assert!(
        shown.contains("(pending)") && !shown.contains("no such job"),
        "{shown}"
    );
    let mut client = Client::ready(&q, &["--read-only"]);
    let (_, _, view) = client.call_full("get_job", json!({"job": "b"}));
    let waiting = view["waiting"].as_str().unwrap_or_default();
    assert!(waiting.contains("(pending)"), "{view}");
}

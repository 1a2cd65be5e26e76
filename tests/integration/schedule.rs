//! Scheduling: priorities, dependencies (`after`), `not_before`, `env`, and the rule that a waiting
//! job never blocks the jobs behind it nor makes a drain write anything.

use std::fs;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::util::*;

/// A job that appends `tag` to `log` (so order is read from what jobs wrote, not from timing).
fn logging_job(log: &std::path::Path, tag: &str, extra: Value) -> String {
    let mut job = json!({ "command": format!("echo {tag} >> '{}'", log.display()) });
    for (k, v) in extra.as_object().unwrap() {
        job[k] = v.clone();
    }
    job.to_string()
}

fn lines(path: &std::path::Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn higher_priority_runs_first_and_ties_keep_age_order() {
    let q = TestQueue::new();
    let log = q.scratch("order");
    q.add_aged("a-old.json", &logging_job(&log, "old", json!({})), 30);
    q.add_aged(
        "b-urgent.json",
        &logging_job(&log, "urgent", json!({"priority": 10})),
        10,
    );
    q.add_aged("c-new.json", &logging_job(&log, "new", json!({})), 20);
    q.add_aged(
        "d-low.json",
        &logging_job(&log, "low", json!({"priority": -1})),
        40,
    );
    q.drain(&[]).success();
    assert_eq!(lines(&log), ["urgent", "old", "new", "low"]);
}

#[test]
fn a_chain_whose_middle_fails_fails_the_rest_without_running_them() {
    let q = TestQueue::new();
    let log = q.scratch("ran");
    q.add_aged(
        "first.json",
        &logging_job(&log, "first", json!({"task_id": "first"})),
        30,
    );
    q.add_aged(
        "middle.json",
        &json!({"command": "exit 3", "task_id": "middle", "after": ["first"]}).to_string(),
        20,
    );
    q.add_aged(
        "last.json",
        &logging_job(&log, "last", json!({"after": "middle"})),
        10,
    );
    q.drain(&[]).success();
    assert_eq!(lines(&log), ["first"], "the last job never ran");
    assert_eq!(q.result("failed/middle.json")["status"], "failed");
    let last = q.result("failed/last.json");
    assert_eq!(last["status"], "dependency_failed");
    assert!(
        last["error"].as_str().unwrap().contains("`middle`"),
        "{last}"
    );
    assert!(q.names("pending").is_empty());
}

#[test]
fn a_cycle_fails_every_job_in_it_and_the_others_run() {
    let q = TestQueue::new();
    q.add(
        "x.json",
        &json!({"command": "true", "after": ["y"]}).to_string(),
    );
    q.add(
        "y.json",
        &json!({"command": "true", "after": ["x.json"]}).to_string(),
    );
    q.add("free.json", &shell_job("true"));
    q.drain(&[]).success();
    for name in ["x.json", "y.json"] {
        let result = q.result(&format!("failed/{name}"));
        assert_eq!(result["status"], "error");
        assert!(
            result["error"]
                .as_str()
                .unwrap()
                .contains("dependency cycle: "),
            "{result}"
        );
    }
    assert_eq!(q.names("completed"), ["free.json"]);
}

#[test]
fn a_dependent_submitted_first_waits_for_its_dependency_and_the_drain_writes_nothing() {
    let q = TestQueue::new();
    let log = q.scratch("ran");
    q.add(
        "deploy.json",
        &logging_job(&log, "deploy", json!({"after": ["build"]})),
    );
    let out = q.drain(&[]);
    out.success();
    assert_eq!(q.names("pending"), ["deploy.json"]);
    assert!(
        !q.path("daemon.log").exists(),
        "a drain that only finds waiting jobs logs nothing"
    );
    assert!(!q.path("last-drain.json").exists());
    assert!(q.names("running").is_empty() && q.names("completed").is_empty());

    let listed = run(q.execq(&["list", "--json"]));
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows[0]["waiting"], "after `build` (no such job yet)");

    q.add("build.json", &logging_job(&log, "build", json!({})));
    q.drain(&[]).success();
    assert_eq!(lines(&log), ["build", "deploy"]);
}

#[test]
fn a_reference_to_no_job_fails_after_the_grace() {
    let q = TestQueue::new();
    q.add_aged(
        "orphan.json",
        &json!({"command": "true", "after": ["ghost"]}).to_string(),
        120,
    );
    q.drain(&[]).success();
    let result = q.result("failed/orphan.json");
    assert_eq!(result["status"], "error");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("`ghost` matches no job"),
        "{result}"
    );
}

#[test]
fn not_before_holds_a_job_and_never_blocks_the_others() {
    let q = TestQueue::new();
    let later = chrono::Local::now() + chrono::Duration::hours(1);
    let earlier = chrono::Local::now() - chrono::Duration::minutes(1);
    q.add(
        "later.json",
        &json!({"command": "true", "not_before": later.to_rfc3339()}).to_string(),
    );
    q.add(
        "due.json",
        &json!({"command": "true", "not_before": earlier.to_rfc3339()}).to_string(),
    );
    q.add("plain.json", &shell_job("true"));
    q.drain(&[]).success();
    assert_eq!(q.names("pending"), ["later.json"]);
    assert_eq!(q.names("completed"), ["due.json", "plain.json"]);
    let shown = run(q.execq(&["show", "later"]));
    assert!(shown.stdout.contains("not before"), "{}", shown.stdout);
}

#[test]
fn submit_flags_write_the_scheduling_fields() {
    let q = TestQueue::new();
    let out = run(q.execq(&[
        "submit",
        "--json",
        "--priority",
        "-2",
        "--after",
        "a",
        "--after",
        "b.json",
        "--delay",
        "10m",
        "--env",
        "GREETING=hi",
        "--",
        "true",
    ]));
    out.success();
    let submitted: Value = serde_json::from_str(&out.stdout).unwrap();
    let job: Value =
        serde_json::from_str(&fs::read_to_string(submitted["path"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(job["priority"], -2);
    assert_eq!(job["after"], json!(["a", "b.json"]));
    let at = chrono::DateTime::parse_from_rfc3339(job["not_before"].as_str().unwrap()).unwrap();
    let wait = at.signed_duration_since(chrono::Local::now()).num_seconds();
    assert!((500..=600).contains(&wait), "{wait}");
    assert_eq!(job["env"]["GREETING"], "hi");
    assert_eq!(job["env"]["PATH"], std::env::var("PATH").unwrap());
    assert!(job["cwd"].as_str().unwrap().starts_with('/'));

    let bad = run(q.execq(&["submit", "--at", "tomorrow", "--", "true"]));
    assert_fails_with(&bad, 2, "not an RFC 3339 time");
    let mut unset = q.execq(&["submit", "--env", "EXECQ_TEST_UNSET", "--", "true"]);
    unset.env_remove("EXECQ_TEST_UNSET");
    assert_fails_with(&run(unset), 1, "`EXECQ_TEST_UNSET` is not set");
}

#[test]
fn a_job_runs_with_its_env_and_submit_passes_path_and_named_variables() {
    let q = TestQueue::new();
    let result = q.run_job(
        "env.json",
        &json!({"command": "echo \"$ONE-$TWO\"", "env": {"ONE": "1", "TWO": "two words"}})
            .to_string(),
    );
    assert_eq!(result["stdout"], "1-two words\n");

    let mut submit = q.execq(&[
        "submit",
        "--env",
        "SECRETLESS",
        "--shell",
        "echo $SECRETLESS; pwd",
    ]);
    submit.env("SECRETLESS", "copied").current_dir(&q.scratch);
    run(submit).success();
    q.drain(&[]).success();
    let name = q
        .names("completed")
        .into_iter()
        .find(|n| n != "env.json")
        .unwrap();
    assert_eq!(
        q.result(&format!("completed/{name}"))["stdout"],
        format!("copied\n{}\n", q.scratch.display())
    );
}

#[test]
fn scheduling_fields_with_wrong_values_are_named() {
    let q = TestQueue::new();
    for (name, job, message) in [
        (
            "p.json",
            json!({"command": "true", "priority": "high"}),
            "`priority` must be a whole number",
        ),
        (
            "a.json",
            json!({"command": "true", "after": 7}),
            "`after` must be a job reference",
        ),
        (
            "n.json",
            json!({"command": "true", "not_before": "soon"}),
            "`not_before` must be an RFC 3339 time",
        ),
        (
            "e.json",
            json!({"command": "true", "env": {"X": 1}}),
            "`env.X` must be a string",
        ),
    ] {
        let result = q.run_job(name, &job.to_string());
        assert_eq!(result["status"], "error");
        assert!(
            result["error"].as_str().unwrap().contains(message),
            "{result}"
        );
    }
}

#[test]
fn a_ready_job_does_not_wait_while_another_file_settles() {
    let q = TestQueue::new();
    q.add("slow.sh", "echo settled\n");
    let drain = q.spawn_drain(&["--settle", "5"]);
    wait_until("the drain to start", || q.path("running").exists());
    std::thread::sleep(Duration::from_millis(200));
    q.add("quick.json", &shell_job("echo quick"));
    finish(drain).success();
    let quick = q.result("completed/quick.json");
    let slow = q.result("completed/slow.sh.result.json");
    let time = |r: &Value, key: &str| {
        chrono::DateTime::parse_from_rfc3339(r[key].as_str().unwrap()).unwrap()
    };
    assert!(
        time(&quick, "completed_at") < time(&slow, "started_at"),
        "the JSON job ran while the script settled: {quick} {slow}"
    );
    let _ = SystemTime::now();
}

#[test]
fn status_counts_waiting_jobs_and_does_not_call_them_stale() {
    let q = TestQueue::new();
    let later = chrono::Local::now() + chrono::Duration::hours(2);
    q.add_aged(
        "tonight.json",
        &json!({"command": "true", "not_before": later.to_rfc3339()}).to_string(),
        3600,
    );
    q.drain(&[]).success();
    let out = run(q.execq(&["status", "--json"]));
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["counts"]["pending"], 1);
    assert_eq!(report["counts"]["waiting"], 1);
    assert_eq!(report["oldest_pending"], Value::Null);
    assert_eq!(
        out.code(),
        0,
        "a job waiting for its time is not a problem: {report}"
    );
    let table = run(q.execq(&["list"]));
    assert!(table.stdout.contains("waiting"), "{}", table.stdout);
}

/// A job that touches `started`, then waits for `go` before appending `tag` to `log`.
fn gated_job(q: &TestQueue, log: &std::path::Path, tag: &str, extra: Value) -> String {
    let gate = format!(
        "touch '{}'; while [ ! -e '{}' ]; do sleep 0.02; done; ",
        q.scratch(&format!("{tag}-started")).display(),
        q.scratch("go").display()
    );
    let mut job: Value = serde_json::from_str(&logging_job(log, tag, extra)).unwrap();
    job["command"] = Value::String(gate + job["command"].as_str().unwrap());
    job.to_string()
}

#[test]
fn a_dependent_waits_for_a_dependency_this_drain_runs_instead_of_calling_it_missing() {
    let q = TestQueue::new();
    let log = q.scratch("ran");
    q.add_aged("build.json", &logging_job(&log, "build", json!({})), 300);
    // Older than the grace for unknown references: judged "no such job", it would fail at once.
    q.add_aged(
        "deploy.json",
        &logging_job(&log, "deploy", json!({"after": "build"})),
        200,
    );
    q.drain(&["--jobs", "2"]).success();
    assert_eq!(lines(&log), ["build", "deploy"]);
    assert_eq!(q.result("completed/deploy.json")["status"], "completed");
}

#[test]
fn a_dependent_whose_dependency_finishes_in_the_same_drain_runs_in_it() {
    let q = TestQueue::new();
    let log = q.scratch("ran");
    q.add("build.json", &gated_job(&q, &log, "build", json!({})));
    let drain = q.spawn_drain(&["--jobs", "2"]);
    wait_until("build to start", || q.scratch("build-started").exists());
    q.add(
        "deploy.json",
        &logging_job(&log, "deploy", json!({"after": "build"})),
    );
    // Run in the same pass that first judges deploy: once it has run, deploy was judged while
    // build was running.
    let probe = q.scratch("probed");
    q.add(
        "probe.json",
        &shell_job(&format!("touch '{}'", probe.display())),
    );
    wait_until("the probe to run", || probe.exists());
    fs::write(q.scratch("go"), "").unwrap();
    finish(drain).success();
    assert_eq!(lines(&log), ["build", "deploy"]);
    assert!(q.names("pending").is_empty(), "{:?}", q.names("pending"));
}

#[test]
fn a_dependency_cancelled_while_a_drain_runs_fails_its_dependent_as_dependency_failed() {
    let q = TestQueue::new();
    let log = q.scratch("ran");
    q.add_aged("first.json", &gated_job(&q, &log, "first", json!({})), 300);
    let later = (chrono::Local::now() + chrono::Duration::hours(1)).to_rfc3339();
    q.add_aged(
        "held.json",
        &logging_job(&log, "held", json!({"not_before": later})),
        200,
    );
    q.add_aged(
        "dependent.json",
        &logging_job(&log, "dependent", json!({"after": "held"})),
        100,
    );
    let drain = q.spawn_drain(&[]);
    wait_until("the first job to start", || {
        q.scratch("first-started").exists()
    });
    run(q.execq(&["cancel", "held"])).success();
    fs::write(q.scratch("go"), "").unwrap();
    finish(drain).success();
    let dependent = q.result("failed/dependent.json");
    assert_eq!(dependent["status"], "dependency_failed", "{dependent}");
    assert!(
        dependent["error"].as_str().unwrap().contains("`held`"),
        "{dependent}"
    );
    assert_eq!(lines(&log), ["first"]);
}

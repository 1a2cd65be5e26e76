use std::fs;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::util::*;

fn aged(q: &TestQueue, rel: &str, days: u64) {
    set_mtime(
        &q.path(rel),
        SystemTime::now() - Duration::from_secs(days * 86_400),
    );
}

/// Two old and two recent finished jobs, one of each kind, plus a pending job that is old.
fn fixture() -> TestQueue {
    let q = TestQueue::new();
    q.add("old-ok.json", &shell_job("true"));
    q.add("old-bad.json", &shell_job("exit 1"));
    q.add_aged("old-script.sh", "echo\n", 10);
    q.add("new-ok.json", &shell_job("true"));
    q.drain(&[]).success();
    for rel in [
        "completed/old-ok.json",
        "failed/old-bad.json",
        "completed/old-script.sh",
        "completed/old-script.sh.result.json",
    ] {
        aged(&q, rel, 40);
    }
    fs::write(q.path("results/kept.txt"), "a job's own output").unwrap();
    aged(&q, "results/kept.txt", 40);
    q.add("waiting.json", &shell_job("true"));
    aged(&q, "pending/waiting.json", 40);
    q
}

#[test]
fn prune_removes_old_records_and_their_sidecars_only() {
    let q = fixture();
    let out = run(q.execq(&["prune", "--older-than", "30d"]));
    out.success();
    assert_eq!(out.stdout, "removed 3 jobs (4 files)\n");
    assert_eq!(q.names("completed"), ["new-ok.json"]);
    assert!(q.names("failed").is_empty());
    assert_eq!(
        q.names("pending"),
        ["waiting.json"],
        "pending jobs are never pruned"
    );
    assert!(
        q.path("results/kept.txt").exists(),
        "files jobs wrote are the user's"
    );
    assert!(q.log().contains("pruned old records jobs=3"));
}

#[test]
fn prune_dry_run_lists_and_keeps_everything() {
    let q = fixture();
    let out = run(q.execq(&["prune", "--older-than", "30d", "--dry-run", "--json"]));
    out.success();
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["jobs"], 3);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["files"].as_array().unwrap().len(), 4);
    assert_eq!(q.names("completed").len(), 4);
    assert_eq!(q.names("failed").len(), 1);
}

#[test]
fn prune_can_keep_failures_for_longer() {
    let q = fixture();
    run(q.execq(&["prune", "--older-than", "30d", "--state", "completed"])).success();
    assert_eq!(q.names("failed"), ["old-bad.json"]);
    assert_eq!(q.names("completed"), ["new-ok.json"]);
    let out = run(q.execq(&["prune", "--older-than", "1d", "--state", "pending"]));
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains("only completed and failed jobs are pruned")
    );
    let out = run(q.execq(&["prune", "--older-than", "soon"]));
    assert_eq!(out.code(), 2, "an unreadable age is a usage error");
}

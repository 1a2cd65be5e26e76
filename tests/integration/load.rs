//! Load: many drains at once, a producer racing them, a very long queue.

use std::fs;
use std::time::Duration;

use crate::util::*;

#[test]
fn eight_drains_started_at_once_on_300_jobs_run_each_exactly_once() {
    let q = TestQueue::new();
    let log = q.scratch("runs.log");
    for i in 0..300 {
        q.add(&format!("job{i:04}.json"), &serde_json::json!({"command": "sh", "args": ["-c", format!("echo {i} >> '{}'", log.display())]}).to_string());
    }
    let drains: Vec<_> = (0..8).map(|_| q.spawn_drain(&[])).collect();
    for drain in drains {
        finish(drain).success();
    }
    q.drain(&[]).success();
    assert_each_ran_once(&q, &log, 300);
}

#[test]
fn ten_thousand_pending_jobs_drain_completely() {
    let q = TestQueue::new();
    let pending = q.path("pending");
    let job = r#"{"command": "/bin/true", "args": []}"#;
    for i in 0..10_000 {
        fs::write(pending.join(format!("job{i:05}.json")), job).unwrap();
    }
    // Ten thousand jobs take about 15 s on two cores; the guard only has to catch a hang.
    finish_within(q.spawn_drain(&[]), Duration::from_secs(300)).success();
    assert_eq!(q.names("completed").len(), 10_000);
    assert!(q.names("pending").is_empty() && q.names("failed").is_empty());
    assert!(q.log().contains("drain finished completed=10000 failed=0"));
}

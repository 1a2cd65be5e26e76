use std::fs;
use std::time::{Duration, SystemTime};

use crate::util::*;

#[test]
fn jobs_run_oldest_first_with_ties_broken_by_name() {
    let q = TestQueue::new();
    let log = q.scratch("order.log");
    let now = SystemTime::now();
    let jobs = [
        ("c.json", 30),
        ("a.json", 10),
        ("b.json", 10),
        ("d.json", 50),
        ("e.json", 1),
    ];
    for (name, age) in jobs {
        let path = q.add(
            name,
            &shell_job(&format!("echo {name} >> '{}'", log.display())),
        );
        set_mtime(&path, now - Duration::from_secs(age));
    }
    q.drain(&[]).success();
    let ran = fs::read_to_string(&log).unwrap();
    assert_eq!(
        ran.lines().collect::<Vec<_>>(),
        ["d.json", "c.json", "a.json", "b.json", "e.json"]
    );
}

#[test]
fn jobs_added_during_a_drain_run_in_that_drain() {
    let q = TestQueue::new();
    let follow_up = shell_job("echo second");
    let first = serde_json::json!({
        "command": format!(
            "printf '%s' '{}' > '{}/pending/.next' && mv '{}/pending/.next' '{}/pending/next.json'",
            follow_up,
            q.root.display(),
            q.root.display(),
            q.root.display()
        )
    });
    q.add("first.json", &first.to_string());
    q.drain(&[]).success();
    assert_eq!(q.result("completed/first.json")["status"], "completed");
    assert_eq!(q.result("completed/next.json")["stdout"], "second\n");
}

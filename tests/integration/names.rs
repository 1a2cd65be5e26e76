use std::fs;

use crate::util::*;

#[test]
fn a_name_already_in_completed_gets_a_numbered_variant() {
    let q = TestQueue::new();
    for round in 0..3 {
        q.add("same.json", &shell_job(&format!("echo round{round}")));
        q.add_aged("same.sh", &format!("echo script{round}\n"), 10);
        q.drain(&[]).success();
    }
    assert_eq!(
        q.names("completed"),
        [
            "same.1.json",
            "same.1.sh",
            "same.1.sh.result.json",
            "same.2.json",
            "same.2.sh",
            "same.2.sh.result.json",
            "same.json",
            "same.sh",
            "same.sh.result.json"
        ]
    );
    assert_eq!(q.result("completed/same.json")["stdout"], "round0\n");
    assert_eq!(q.result("completed/same.2.json")["stdout"], "round2\n");
    assert_eq!(
        q.json("completed/same.1.sh.result.json")["job"],
        "same.1.sh"
    );
    assert_eq!(
        fs::read_to_string(q.path("completed/same.2.sh")).unwrap(),
        "echo script2\n"
    );
}

#[test]
fn odd_file_names_work() {
    let q = TestQueue::new();
    let long = format!("{}.json", "l".repeat(250));
    let names = [
        "with space.json",
        "ünïcødé-作业.json",
        "-leading-dash.json",
        "new\nline.json",
        long.as_str(),
    ];
    for name in names {
        q.add(name, &shell_job("echo ok"));
    }
    q.add_aged("-dash script.sh", "echo script ok\n", 10);
    q.drain(&[]).success();
    for name in names {
        assert_eq!(
            q.result(&format!("completed/{name}"))["stdout"],
            "ok\n",
            "{name:?}"
        );
    }
    assert_eq!(
        q.result("completed/-dash script.sh.result.json")["stdout"],
        "script ok\n"
    );
    assert!(q.names("pending").is_empty() && q.names("running").is_empty());
}

#[test]
fn a_long_name_collision_still_fits() {
    let q = TestQueue::new();
    let long = format!("{}.json", "x".repeat(250));
    for _ in 0..2 {
        q.add(&long, &shell_job("true"));
        q.drain(&[]).success();
    }
    let completed = q.names("completed");
    assert_eq!(completed.len(), 2);
    assert!(completed.iter().all(|n| n.len() <= 255));
}

/// A job that prints `text`, then holds its place in running/ until `go` exists.
fn held_script(text: &str, started: &std::path::Path, go: &std::path::Path) -> String {
    format!(
        "echo {text}; touch '{}'; while [ ! -e '{}' ]; do sleep 0.01; done\n",
        started.display(),
        go.display()
    )
}

/// A drain running a job that holds its place in running/ until released.
struct Held {
    drain: std::process::Child,
    go: std::path::PathBuf,
}

impl Held {
    /// Queues (with `add`) a job whose script is [`held_script`] printing `text`, starts a drain,
    /// and returns once the job runs.
    fn start(q: &TestQueue, text: &str, add: impl FnOnce(&str)) -> Self {
        let (started, go) = (q.scratch("started"), q.scratch("go"));
        add(&held_script(text, &started, &go));
        let drain = q.spawn_drain(&[]);
        wait_until("the held job to start", || started.exists());
        Self { drain, go }
    }

    /// Lets the job end and waits for the drain.
    fn release(self) {
        fs::write(&self.go, "").unwrap();
        finish(self.drain).success();
    }
}

#[test]
fn a_json_job_queued_under_the_running_jobs_name_runs_and_is_recorded() {
    let q = TestQueue::new();
    let held = Held::start(&q, "first", |job| {
        q.add("same.json", &shell_job(job));
    });
    q.add("same.json", &shell_job("echo second"));
    held.release();
    assert_eq!(q.names("completed"), ["same.1.json", "same.json"]);
    assert_eq!(q.result("completed/same.json")["stdout"], "first\n");
    assert_eq!(q.result("completed/same.1.json")["stdout"], "second\n");
    assert!(q.names("running").is_empty() && q.names("pending").is_empty());
}

#[test]
fn a_script_queued_under_the_running_scripts_name_keeps_its_own_bytes_and_result() {
    let q = TestQueue::new();
    let mut first = String::new();
    let held = Held::start(&q, "first", |job| {
        first = job.to_owned();
        q.add_aged("same.sh", job, 10);
    });
    q.add_aged("same.sh", "echo second\n", 10);
    held.release();
    assert_eq!(
        q.names("completed"),
        [
            "same.1.sh",
            "same.1.sh.result.json",
            "same.sh",
            "same.sh.result.json"
        ]
    );
    assert_eq!(
        fs::read_to_string(q.path("completed/same.sh")).unwrap(),
        first
    );
    assert_eq!(
        q.result("completed/same.sh.result.json")["stdout"],
        "first\n"
    );
    assert_eq!(
        fs::read_to_string(q.path("completed/same.1.sh")).unwrap(),
        "echo second\n"
    );
    assert_eq!(
        q.result("completed/same.1.sh.result.json")["stdout"],
        "second\n"
    );
}

#[test]
fn a_retry_while_a_namesake_runs_loses_neither_job() {
    let q = TestQueue::new();
    let flag = q.scratch("flag");
    let failing = serde_json::json!({
        "command": format!("test -e '{}' && echo retried", flag.display()),
        "task_id": "flaky",
    });
    q.add("first.json", &failing.to_string());
    q.drain(&[]).success();
    assert_eq!(q.names("failed"), ["first.json"]);

    let held = Held::start(&q, "namesake", |job| {
        q.add("first.json", &shell_job(job));
    });
    fs::write(&flag, "").unwrap();
    q.execq(&["retry", "flaky"]).output().unwrap();
    held.release();
    q.drain(&[]).success();

    let completed = q.names("completed");
    assert_eq!(completed.len(), 2, "{completed:?}");
    let records: Vec<serde_json::Value> = completed
        .iter()
        .map(|n| q.json(&format!("completed/{n}")))
        .collect();
    let retried = records
        .iter()
        .find(|r| r["task_id"] == "flaky")
        .expect("the retried job has a record");
    assert_eq!(retried["result"]["stdout"], "retried\n");
    assert_eq!(retried["history"][0]["status"], "failed");
    assert!(
        records
            .iter()
            .any(|r| r["result"]["stdout"] == "namesake\n")
    );
    assert!(q.names("failed").is_empty() && q.names("running").is_empty());
}

#[test]
fn names_near_the_length_limit_are_numbered_at_once() {
    let q = TestQueue::new();
    for len in [244, 250, 255] {
        let bare = "b".repeat(len);
        let script = format!("{}.sh", "s".repeat(len - 3));
        for _ in 0..3 {
            q.add_aged(&bare, "echo unsupported\n", 10);
            q.add_aged(&script, "echo ok\n", 10);
            q.drain(&[]).success();
        }
    }
    let failed = q.names("failed");
    let completed = q.names("completed");
    assert_eq!(failed.len(), 3 * 3 * 2, "{failed:?}");
    assert_eq!(completed.len(), 3 * 3 * 2, "{completed:?}");
    for name in failed.iter().chain(&completed) {
        assert!(name.len() <= 255);
    }
    for name in completed.iter().filter(|n| n.ends_with(".sh")) {
        let sidecar = format!("completed/{name}.result.json");
        assert_eq!(q.result(&sidecar)["stdout"], "ok\n", "{name}");
    }
}

#[test]
fn recovery_of_a_job_with_a_name_at_the_limit_finishes_at_once() {
    let q = TestQueue::new();
    let name = format!("{}.sh", "r".repeat(252));
    for _ in 0..3 {
        fs::create_dir_all(q.path("running")).unwrap();
        fs::write(q.path("running").join(&name), "echo never\n").unwrap();
        q.drain(&[]).success();
    }
    assert_eq!(q.names("failed").len(), 6);
    assert!(q.names("running").is_empty());
}

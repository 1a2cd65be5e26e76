use std::fs;

use crate::util::*;

fn counting_jobs(q: &TestQueue, n: usize) -> std::path::PathBuf {
    let log = q.scratch("runs.log");
    for i in 0..n {
        q.add(
            &format!("job{i:03}.json"),
            &shell_job(&format!("echo {i} >> '{}'", log.display())),
        );
    }
    log
}

#[test]
fn drains_started_together_run_each_job_exactly_once() {
    let q = TestQueue::new();
    let log = counting_jobs(&q, 40);
    let drains: Vec<_> = (0..4).map(|_| q.spawn_drain(&["--wait"])).collect();
    for drain in drains {
        finish(drain).success();
    }
    assert_each_ran_once(&q, &log, 40);
}

#[test]
fn a_drain_finding_the_queue_locked_exits_0_at_once_and_touches_nothing() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    q.add("waiting.json", &shell_job("true"));
    let lock = fs::File::open(q.path("drain.lock")).unwrap();
    fs2::FileExt::lock_exclusive(&lock).unwrap();
    q.drain(&[]).success();
    assert_eq!(q.names("pending"), ["waiting.json"]);
    drop(lock);
    // --wait: another test thread's child, forked but not yet exec'd, may hold a copy of the
    // lock's descriptor for a moment after the drop.
    q.drain(&["--wait"]).success();
    assert_eq!(q.names("completed"), ["waiting.json"]);
}

#[test]
fn drain_wait_waits_for_the_holder() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    q.add("waiting.json", &shell_job("true"));
    let lock = fs::File::open(q.path("drain.lock")).unwrap();
    fs2::FileExt::lock_exclusive(&lock).unwrap();
    let waiting = q.spawn_drain(&["--wait"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        q.names("pending"),
        ["waiting.json"],
        "nothing runs while the lock is held"
    );
    drop(lock);
    finish(waiting).success();
    assert_eq!(q.names("completed"), ["waiting.json"]);
}

#[test]
fn the_lock_is_not_inherited_by_jobs() {
    let q = TestQueue::new();
    q.add(
        "holder.json",
        &shell_job("ls -l /proc/$$/fd 2>/dev/null || lsof -p $$"),
    );
    q.drain(&[]).success();
    let listing = q.result("completed/holder.json")["stdout"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!listing.contains("drain.lock"), "{listing}");
}

#[test]
fn a_producer_racing_looping_drains_loses_nothing() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    let log = q.scratch("runs.log");
    let n = 60;
    let producer = {
        let pending = q.path("pending");
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..n {
                let tmp = pending.join(format!(".job{i}"));
                fs::write(&tmp, shell_job(&format!("echo {i} >> '{}'", log.display()))).unwrap();
                fs::rename(&tmp, pending.join(format!("job{i:03}.json"))).unwrap();
            }
        })
    };
    let drainers: Vec<_> = (0..2)
        .map(|_| {
            let root = q.root.clone();
            std::thread::spawn(move || {
                for _ in 0..15 {
                    let status = std::process::Command::new(env!("CARGO_BIN_EXE_execq"))
                        .args(["--queue", root.to_str().unwrap(), "drain"])
                        .status()
                        .unwrap();
                    assert!(status.success());
                }
            })
        })
        .collect();
    producer.join().unwrap();
    for d in drainers {
        d.join().unwrap();
    }
    q.drain(&[]).success();
    assert_each_ran_once(&q, &log, n);
}

/// What launchd does with a producer that always writes `pending/agent-task.json`: each write
/// triggers a drain; the new job lands while its namesake still runs.
#[test]
fn a_fixed_name_resubmitted_while_its_namesake_runs_is_never_lost() {
    let q = TestQueue::new();
    let log = q.scratch("runs.log");
    let n = 8;
    let mut triggers = Vec::new();
    for i in 0..n {
        let release = q.scratch(&format!("release{i}"));
        let job = format!(
            "echo {i} >> '{}'; while [ ! -e '{}' ]; do sleep 0.01; done",
            log.display(),
            release.display()
        );
        q.add("agent-task.json", &shell_job(&job));
        triggers.push(q.spawn_drain(&[]));
        if i > 0 {
            fs::write(q.scratch(&format!("release{}", i - 1)), "").unwrap();
        }
        wait_until(&format!("job {i} to start"), || {
            fs::read_to_string(&log).is_ok_and(|l| l.lines().any(|l| l == i.to_string()))
        });
    }
    fs::write(q.scratch(&format!("release{}", n - 1)), "").unwrap();
    for trigger in triggers {
        finish(trigger).success();
    }
    q.drain(&[]).success();
    assert_each_ran_once(&q, &log, n);
    assert!(q.names("failed").is_empty(), "{:?}", q.names("failed"));
}

/// Each job writes `start N` when it starts and `end N` when it ends, into one trace.
fn traced_sleepers(q: &TestQueue, n: usize) -> std::path::PathBuf {
    let trace = q.scratch("trace");
    for i in 0..n {
        let job = format!(
            "echo start {i} >> '{0}'; sleep 1; echo end {i} >> '{0}'",
            trace.display()
        );
        q.add(&format!("sleep{i}.json"), &shell_job(&job));
    }
    trace
}

#[test]
fn jobs_3_runs_three_sleeps_at_once_each_claimed_once() {
    let q = TestQueue::new();
    let trace = traced_sleepers(&q, 3);
    q.drain(&["--jobs", "3"]).success();
    let events: Vec<String> = fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(events.len(), 6, "{events:?}");
    let first_end = events.iter().position(|e| e.starts_with("end")).unwrap();
    assert_eq!(
        first_end, 3,
        "all three started before any ended: {events:?}"
    );
    assert_eq!(
        q.names("completed"),
        ["sleep0.json", "sleep1.json", "sleep2.json"]
    );
    let log = q.log();
    for i in 0..3 {
        let started = format!("job started file=\"sleep{i}.json\"");
        assert_eq!(log.matches(&started).count(), 1, "claimed once: {log}");
    }
}

#[test]
fn a_stop_signal_interrupts_every_running_job_and_records_each() {
    let q = TestQueue::new();
    let trace = traced_sleepers(&q, 2);
    q.add("waits.json", &shell_job("true"));
    let drain = q.spawn_drain(&["--jobs", "2"]);
    wait_until("both jobs to start", || {
        fs::read_to_string(&trace).is_ok_and(|t| t.matches("start").count() == 2)
    });
    kill(drain.id(), libc::SIGTERM);
    let out = finish(drain);
    assert_eq!(out.code(), 143, "{}", out.stderr);
    for i in 0..2 {
        let result = q.result(&format!("failed/sleep{i}.json"));
        assert_eq!(result["status"], "interrupted", "{result}");
    }
    assert_eq!(q.names("pending"), ["waits.json"]);
    assert!(q.names("running").is_empty());
}

#[test]
fn a_free_slot_takes_a_new_job_while_a_long_one_runs() {
    let q = TestQueue::new();
    let (started, go) = (q.scratch("started"), q.scratch("go"));
    q.add(
        "long.json",
        &shell_job(&format!(
            "touch '{}'; while [ ! -e '{}' ]; do sleep 0.01; done",
            started.display(),
            go.display()
        )),
    );
    let drain = q.spawn_drain(&["--jobs", "2"]);
    wait_until("the long job to start", || started.exists());
    q.add("short.json", &shell_job("echo short"));
    wait_until("the short job's record while the long one runs", || {
        q.path("completed/short.json").exists()
    });
    // The drain removes the short job's live output copies just after filing its record.
    wait_until("only the long job left in running/", || {
        q.names("running") == ["long.json"]
    });
    fs::write(&go, "").unwrap();
    finish(drain).success();
    assert_eq!(q.names("completed"), ["long.json", "short.json"]);
}

#[test]
fn a_queue_removed_and_made_again_under_a_lingering_drain_is_left_to_its_own_drain() {
    // A drain lingering on a queue someone then removes and makes again (`rm -rf`, then a new
    // `submit`) used to take the new queue's jobs while holding only the old folder's lock: the
    // new queue's own drain, finding its lock free, recorded the job it found in running/ as
    // interrupted while the old drain ran it.
    let q = TestQueue::new();
    q.add("first.json", &shell_job("true"));
    let old = q.spawn_drain(&["--linger", "60"]);
    wait_until("the drain to run its job and linger", || {
        q.path("completed/first.json").exists()
            && fs::File::open(q.path("drain.lock"))
                .is_ok_and(|lock| fs2::FileExt::try_lock_exclusive(&lock).is_err())
    });
    fs::remove_dir_all(&q.root).unwrap();
    let out = run(q.execq(&["submit", "--", "true"]));
    out.success();
    let old = finish(old);
    old.success();
    assert_eq!(
        q.names("pending").len(),
        1,
        "the old drain took the new queue's job"
    );
    assert!(
        !q.path("last-drain.json").exists(),
        "the old drain reported itself as the new queue's last drain"
    );
    q.drain(&[]).success();
    assert_eq!(q.names("completed").len(), 1);
    assert!(q.names("failed").is_empty(), "{}", q.log());
}

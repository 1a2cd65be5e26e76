//! Crash points, enumerated: every operation that moves a job or a record is run once to list its
//! durable steps (`EXECQ_CRASH_TRACE`: each create, write, sync, link, rename and unlink, all of
//! which go through `fsutil`), then killed with SIGKILL before each step in turn
//! (`EXECQ_CRASH_AT=N`) on a fresh copy of the same queue. The next drain then recovers, and the
//! invariants are checked: every job in exactly one place (pending/, completed/, failed/ or the
//! archive; nothing left in running/ or under a dot-name), no job run more often than the user
//! asked, every record whole JSON, no other job's result file touched.
//!
//! Operations with more steps than [`MAX_POINTS`] are sampled: the first and last steps always,
//! the rest drawn with a seed printed for replay (`EXECQ_CRASH_SEED=N`). Each test prints how
//! many of its operation's crash points it ran.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::util::*;

/// The most crash points one operation runs in `cargo test`.
const MAX_POINTS: usize = 60;

/// The moment the schedule and retention operations pretend it is.
const NOW: &str = "2026-11-24T10:00:30-05:00";

/// What a result file of a job outside the operation holds; it must never change.
const BYSTANDER: &str = "a result another job wrote\n";

/// One operation to crash at every step.
struct Operation {
    name: &'static str,
    /// Makes the queue the operation starts from.
    setup: fn(&TestQueue),
    /// The operation itself.
    command: fn(&TestQueue) -> Command,
    /// The jobs (task_ids) that must each be in exactly one place afterwards, with the most times
    /// each may have run in all.
    jobs: &'static [(&'static str, usize)],
    /// Jobs that may be missing afterwards: the submission the crash interrupted.
    optional: &'static [&'static str],
    /// Checks of this operation's own beyond the common ones.
    check: fn(&TestQueue, &str),
}

fn no_check(_: &TestQueue, _: &str) {}

/// `hold h`, killed anywhere: h is held in pending/ (never run), or it was not held and ran.
fn held_or_run(q: &TestQueue, at: &str) {
    let ran = fs::read_to_string(q.scratch("ran.log")).unwrap_or_default();
    let pending = q.names("pending");
    if ran.lines().any(|l| l == "h") {
        assert!(
            pending.is_empty(),
            "{at}: ran and still pending: {pending:?}"
        );
    } else {
        assert_eq!(pending, ["h.json"], "{at}");
        assert_eq!(
            q.json("pending/h.json")["hold"],
            true,
            "{at}: not run and not held"
        );
    }
}

/// `edit e --set ...`, killed anywhere: e ran once, with either all of the edit or none of it.
fn edited_whole(q: &TestQueue, at: &str) {
    let record = q.json("completed/e.json");
    let edited = (record["description"].clone(), record["timeout"].clone());
    assert!(
        edited == (json!("before"), Value::Null) || edited == (json!("after"), json!(30)),
        "{at}: half an edit: {edited:?}"
    );
}

/// A JSON job that appends its task_id to `ran.log`, the scratch file counting runs.
fn job(q: &TestQueue, id: &str, extra: Value) -> String {
    let log = q.scratch("ran.log");
    let mut job = json!({
        "command": format!("echo {id} >> '{}'", log.display()),
        "task_id": id,
    });
    for (k, v) in extra.as_object().unwrap() {
        job[k] = v.clone();
    }
    job.to_string()
}

/// A queue with a result file that belongs to no job of the operation.
fn base(q: &TestQueue) {
    fs::create_dir_all(q.path("results")).unwrap();
    fs::write(q.path("results/bystander.txt"), BYSTANDER).unwrap();
}

/// Three jobs: one with a result file, one that fails, one plain.
fn three_pending(q: &TestQueue) {
    base(q);
    q.add("a.json", &job(q, "a", json!({"result_file": "a.txt"})));
    q.add("b.json", &job(q, "b", json!({"command": "exit 3"})));
    q.add("c.json", &job(q, "c", json!({})));
}

fn drain(q: &TestQueue) -> Command {
    let mut cmd = q.execq(&["drain", "--grace", "1"]);
    cmd.env("EXECQ_NOW", NOW)
        .env("TZ", "EST5EDT,M3.2.0,M11.1.0");
    cmd
}

fn ops() -> Vec<Operation> {
    vec![
        Operation {
            name: "submit",
            setup: base,
            command: |q| {
                let log = q.scratch("ran.log");
                q.execq(&[
                    "submit",
                    "--id",
                    "s",
                    "--",
                    "sh",
                    "-c",
                    &format!("echo s >> '{}'", log.display()),
                ])
            },
            jobs: &[("s", 1)],
            optional: &["s"],
            check: no_check,
        },
        Operation {
            name: "claim and filing (drain)",
            setup: three_pending,
            command: drain,
            jobs: &[("a", 1), ("b", 1), ("c", 1)],
            optional: &[],
            check: no_check,
        },
        Operation {
            name: "recovery of a killed drain's job",
            setup: |q| {
                three_pending(q);
                // A drain killed just after claiming its first job leaves it in running/.
                let steps = steps_of(q, drain(q));
                reset_to(q, three_pending);
                let claim = steps
                    .iter()
                    .find(|s| s.1 == "rename" && s.2.contains("/running/"))
                    .expect("a claim into running/");
                let mut killed = drain(q);
                killed.env("EXECQ_CRASH_AT", (claim.0 + 1).to_string());
                run(killed);
                assert!(!q.names("running").is_empty(), "no job left in running/");
            },
            command: drain,
            jobs: &[("a", 1), ("b", 1), ("c", 1)],
            optional: &[],
            check: no_check,
        },
        Operation {
            name: "cancel",
            setup: |q| {
                base(q);
                q.add("x.json", &job(q, "x", json!({})));
            },
            command: |q| q.execq(&["cancel", "x"]),
            jobs: &[("x", 1)],
            optional: &[],
            check: no_check,
        },
        Operation {
            name: "hold",
            setup: |q| {
                base(q);
                q.add_aged("h.json", &job(q, "h", json!({})), 10);
            },
            command: |q| q.execq(&["hold", "h"]),
            jobs: &[("h", 1)],
            optional: &[],
            check: held_or_run,
        },
        Operation {
            name: "edit",
            setup: |q| {
                base(q);
                q.add_aged("e.json", &job(q, "e", json!({"description": "before"})), 10);
            },
            command: |q| {
                q.execq(&[
                    "edit",
                    "e",
                    "--set",
                    "description=after",
                    "--set",
                    "timeout=30",
                ])
            },
            jobs: &[("e", 1)],
            optional: &[],
            check: edited_whole,
        },
        Operation {
            name: "retry",
            setup: |q| {
                base(q);
                q.add("f.json", &job(q, "f", json!({"command": "exit 1"})));
                q.drain(&[]).success();
                // Its second run succeeds.
                let log = q.scratch("ran.log");
                let path = q.path("failed/f.json");
                let mut record = q.json("failed/f.json");
                record["command"] = json!(format!("echo f >> '{}'", log.display()));
                fs::write(path, record.to_string()).unwrap();
            },
            command: |q| q.execq(&["retry", "f"]),
            jobs: &[("f", 1)],
            optional: &[],
            check: no_check,
        },
        Operation {
            name: "retry of a script",
            setup: |q| {
                base(q);
                q.add_aged("g.sh", "exit 1\n", 10);
                q.drain(&[]).success();
                // Its second run succeeds.
                let log = q.scratch("ran.log");
                fs::write(
                    q.path("failed/g.sh"),
                    format!("echo g.sh >> '{}'\n", log.display()),
                )
                .unwrap();
            },
            command: |q| q.execq(&["retry", "g.sh"]),
            jobs: &[("g.sh", 1)],
            optional: &[],
            check: |q, at| {
                let record = q.path("failed/g.sh.result.json");
                assert!(record.is_file(), "{at}: the first run's record is gone");
            },
        },
        Operation {
            name: "schedule firing",
            setup: |q| {
                base(q);
                fs::create_dir_all(q.path("schedules")).unwrap();
                let log = q.scratch("ran.log");
                fs::write(
                    q.path("schedules/tick.toml"),
                    format!(
                        "cron = \"* * * * *\"\n[job]\ncommand = \"sh\"\nargs = [\"-c\", \"echo tick >> '{}'\"]\n",
                        log.display()
                    ),
                )
                .unwrap();
                // The schedule's first drain only notes its start; the occurrence is then due.
                let mut first = drain(q);
                first.env("EXECQ_NOW", "2026-11-24T09:58:30-05:00");
                run(first).success();
            },
            command: drain,
            jobs: &[],
            optional: &[],
            check: |q, at| {
                let fired: Vec<String> = all_jobs(q)
                    .into_iter()
                    .filter(|(id, _)| id.starts_with("tick."))
                    .map(|(id, _)| id)
                    .collect();
                let mut unique = fired.clone();
                unique.dedup();
                assert_eq!(fired, unique, "{at}: an occurrence fired twice");
                assert!(!fired.is_empty(), "{at}: the due occurrence never fired");
            },
        },
        Operation {
            name: "archiving",
            setup: |q| {
                base(q);
                for id in ARCHIVED {
                    q.add(
                        &format!("{id}.json"),
                        &job(q, id, json!({"result_file": format!("{id}.txt")})),
                    );
                }
                q.drain(&[]).success();
                fs::write(q.path("config.toml"), "[retention]\ncompleted = \"1d\"\n").unwrap();
                q.add("t.json", &job(q, "t", json!({})));
            },
            command: |q| {
                let mut cmd = drain(q);
                cmd.env("EXECQ_NOW", "2099-01-01T00:00:00Z");
                cmd
            },
            jobs: &[
                ("r0", 1),
                ("r1", 1),
                ("r2", 1),
                ("r3", 1),
                ("r4", 1),
                ("r5", 1),
                ("t", 1),
            ],
            optional: &[],
            check: |q, at| {
                for id in ARCHIVED {
                    let file = q.path(&format!("results/{id}.txt"));
                    let archived = archive_lines(q)
                        .iter()
                        .any(|l| l["record"]["task_id"] == id);
                    if !archived {
                        assert!(
                            file.is_file(),
                            "{at}: {id}'s result file went before its record"
                        );
                    }
                }
            },
        },
        Operation {
            name: "outbox delivery",
            setup: |q| {
                base(q);
                fs::create_dir_all(q.path("outbox")).unwrap();
                let url = receiver(q);
                let kept = json!({
                    "delivery": {"url": url, "body": "{\"hello\":1}", "timeout_ms": 5000},
                    "first_failed_at": 0, "attempts": 1, "next_at": 0, "last_error": "500",
                });
                fs::write(q.path("outbox/1-1-00000001.json"), kept.to_string()).unwrap();
            },
            command: drain,
            jobs: &[],
            optional: &[],
            check: |q, at| {
                assert!(
                    !q.names("outbox").iter().any(|n| n.ends_with(".json")),
                    "{at}: still in the outbox: {:?}",
                    q.names("outbox")
                );
                let posts = received(q);
                assert!((1..=2).contains(&posts), "{at}: POSTed {posts} times");
            },
        },
    ]
}

const ARCHIVED: [&str; 6] = ["r0", "r1", "r2", "r3", "r4", "r5"];

/// Removes everything and makes the queue again with `setup`.
fn reset_to(q: &TestQueue, setup: fn(&TestQueue)) {
    fs::remove_dir_all(&q.root).unwrap();
    fs::create_dir_all(q.path("pending")).unwrap();
    let _ = fs::remove_file(q.scratch("ran.log"));
    setup(q);
}

/// The durable steps `cmd` takes: (number, kind, path).
fn steps_of(q: &TestQueue, mut cmd: Command) -> Vec<(u64, String, String)> {
    let trace = q.scratch("steps.trace");
    let _ = fs::remove_file(&trace);
    cmd.env("EXECQ_CRASH_TRACE", &trace);
    run(cmd).success();
    let text = fs::read_to_string(&trace).unwrap_or_default();
    let _ = fs::remove_file(&trace);
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let n = parts.next().unwrap().parse().unwrap();
            (
                n,
                parts.next().unwrap().into(),
                parts.next().unwrap_or("").into(),
            )
        })
        .collect()
}

/// Every job in the queue, by task_id (or file name), with where it is.
fn all_jobs(q: &TestQueue) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for folder in ["pending", "running", "completed", "failed"] {
        for name in q.names(folder) {
            if name.ends_with(".result.json") || name.starts_with('.') {
                continue;
            }
            let path = format!("{folder}/{name}");
            if !name.ends_with(".json") {
                // A script: known by its name (its record is its sidecar).
                found.push((name.clone(), path));
                continue;
            }
            let bytes = fs::read(q.path(&path)).unwrap();
            let value: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("`{path}` is not whole JSON ({e}): {bytes:?}"));
            let id = value["task_id"]
                .as_str()
                .map_or(name.clone(), str::to_owned);
            found.push((id, path));
        }
    }
    for line in archive_lines(q) {
        let id = line["record"]["task_id"].as_str().unwrap_or("?").to_owned();
        found.push((id, "archive".into()));
    }
    found.sort();
    found
}

/// The invariants every operation keeps, checked after the recovering drain.
fn check_invariants(q: &TestQueue, op: &Operation, at: &str) {
    for folder in ["pending", "running", "completed", "failed"] {
        let stray: Vec<String> = q
            .names(folder)
            .into_iter()
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(
            stray.is_empty(),
            "{at}: left under a dot-name in {folder}/: {stray:?}"
        );
    }
    assert!(
        q.names("running").is_empty(),
        "{at}: left in running/: {:?}",
        q.names("running")
    );
    let jobs = all_jobs(q);
    let mut places: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, place) in &jobs {
        places.entry(id).or_default().push(place);
    }
    let ran = fs::read_to_string(q.scratch("ran.log")).unwrap_or_default();
    for (id, most) in op.jobs {
        let at_places = places.get(id).cloned().unwrap_or_default();
        let allowed = if op.optional.contains(id) {
            0..=1
        } else {
            1..=1
        };
        assert!(
            allowed.contains(&at_places.len()),
            "{at}: job `{id}` is in {} places: {at_places:?} (all: {jobs:?})",
            at_places.len()
        );
        let runs = ran.lines().filter(|l| l == id).count();
        assert!(runs <= *most, "{at}: job `{id}` ran {runs} times");
    }
    assert_eq!(
        fs::read_to_string(q.path("results/bystander.txt")).unwrap(),
        BYSTANDER,
        "{at}: another job's result file was touched"
    );
    let index = run(q.execq(&["reindex", "--check"]));
    assert!(
        index.status.success(),
        "{at}: the index disagrees with the records: {}{}",
        index.stdout,
        index.stderr
    );
    (op.check)(q, at);
}

/// The crash points to run of `total`: all of them, or a sample with the first and the last.
fn chosen(total: u64, name: &str) -> Vec<u64> {
    if total as usize <= MAX_POINTS {
        return (1..=total).collect();
    }
    let seed = std::env::var("EXECQ_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("{name}: {total} crash points, sampling {MAX_POINTS}: EXECQ_CRASH_SEED={seed}");
    let mut state = seed;
    let mut picked = vec![1, total];
    while picked.len() < MAX_POINTS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = 1 + state % total;
        if !picked.contains(&n) {
            picked.push(n);
        }
    }
    picked.sort();
    picked
}

/// Runs `op` killed before each of its steps, recovers, and checks. Returns (points run, steps).
fn crash_at_every_step(op: &Operation) -> (usize, u64) {
    let q = TestQueue::new();
    (op.setup)(&q);
    let steps = steps_of(&q, (op.command)(&q));
    assert!(!steps.is_empty(), "{}: took no durable step", op.name);
    recover(&q);
    check_invariants(&q, op, &format!("{}, not killed", op.name));
    let total = steps.len() as u64;
    let points = chosen(total, op.name);
    for &n in &points {
        reset_to(&q, op.setup);
        let mut cmd = (op.command)(&q);
        cmd.env("EXECQ_CRASH_AT", n.to_string());
        let out = run(cmd);
        let step = &steps[n as usize - 1];
        let at = format!(
            "{}, killed before step {n}/{total} ({} `{}`)",
            op.name, step.1, step.2
        );
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{at}: not killed: {}",
            out.stderr
        );
        recover(&q);
        check_invariants(&q, op, &at);
    }
    eprintln!("{}: {} of {total} crash points run", op.name, points.len());
    (points.len(), total)
}

/// What a user does after a crash: the next drain, with work to do so that it tidies up too.
fn recover(q: &TestQueue) {
    q.add(
        "zz-after.json",
        r#"{"command": "true", "task_id": "zz-after"}"#,
    );
    run(drain(q)).success();
}

fn run_op(name: &str) {
    test_deps();
    let op = ops().into_iter().find(|o| o.name == name).unwrap();
    let (run, total) = crash_at_every_step(&op);
    assert!(run as u64 == total || run == MAX_POINTS);
}

/// A webhook receiver for the outbox operation: answers 200 to every POST and counts them in
/// `SCRATCH/posts`.
fn receiver(q: &TestQueue) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let posts = q.scratch("posts");
    fs::write(&posts, "0").unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim_end() != "" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = fs::write(&posts, n.to_string());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    url
}

fn received(q: &TestQueue) -> usize {
    fs::read_to_string(q.scratch("posts"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn crash_points_of_submit() {
    run_op("submit");
}

#[test]
fn crash_points_of_a_drain_claiming_and_filing() {
    run_op("claim and filing (drain)");
}

#[test]
fn crash_points_of_recovering_a_killed_drains_job() {
    run_op("recovery of a killed drain's job");
}

#[test]
fn crash_points_of_cancel() {
    run_op("cancel");
}

#[test]
fn crash_points_of_hold() {
    run_op("hold");
}

#[test]
fn crash_points_of_edit() {
    run_op("edit");
}

#[test]
fn crash_points_of_retry() {
    run_op("retry");
}

#[test]
fn crash_points_of_retrying_a_script() {
    run_op("retry of a script");
}

#[test]
fn crash_points_of_a_schedule_firing() {
    run_op("schedule firing");
}

#[test]
fn crash_points_of_archiving() {
    run_op("archiving");
}

#[test]
fn crash_points_of_an_outbox_delivery() {
    run_op("outbox delivery");
}

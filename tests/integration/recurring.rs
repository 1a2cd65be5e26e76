//! Recurring schedules (`QUEUE/schedules/NAME.toml`, `execq schedule ...`), with "now" set by
//! `EXECQ_NOW` instead of waiting for the clock.

use std::fs;
use std::process::Stdio;

use serde_json::Value;

use crate::util::*;

/// A fixed zone with daylight saving time (US Eastern), so DST tests need no tz database.
const EASTERN: &str = "EST5EDT,M3.2.0,M11.1.0";

fn at(q: &TestQueue, now: &str, args: &[&str]) -> Output {
    let mut cmd = q.execq(args);
    cmd.env("EXECQ_NOW", now).env("TZ", EASTERN);
    run(cmd)
}

fn drain_at(q: &TestQueue, now: &str) -> Output {
    let out = at(q, now, &["drain", "--grace", "1"]);
    out.success();
    out
}

fn write_schedule(q: &TestQueue, name: &str, text: &str) {
    fs::create_dir_all(q.path("schedules")).unwrap();
    fs::write(q.path(&format!("schedules/{name}")), text).unwrap();
}

/// Every job record in completed/ and failed/ (not sidecars), sorted by name.
fn records(q: &TestQueue) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for folder in ["completed", "failed"] {
        for name in q.names(folder) {
            if name.ends_with(".json") && !name.starts_with('.') {
                all.push((name.clone(), q.json(&format!("{folder}/{name}"))));
            }
        }
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn a_schedule_fires_once_per_occurrence_across_many_drains() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-11-24T10:00:30-05:00",
        &[
            "schedule",
            "add",
            "tick",
            "--cron",
            "*/5 * * * *",
            "--",
            "echo",
            "tick",
        ],
    )
    .success();
    for now in [
        "10:01:00", "10:04:59", "10:05:01", "10:05:02", "10:07:30", "10:09:59", "10:10:00",
        "10:10:40", "10:11:00",
    ] {
        drain_at(&q, &format!("2026-11-24T{now}-05:00"));
    }
    let records = records(&q);
    let names: Vec<&str> = records.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "tick.2026-11-24T1005-0500.json",
            "tick.2026-11-24T1010-0500.json"
        ]
    );
    let (_, first) = &records[0];
    assert_eq!(first["schedule"], "tick");
    assert_eq!(first["scheduled_for"], "2026-11-24T10:05:00-05:00");
    assert_eq!(first["task_id"], "tick.2026-11-24T1005-0500");
    assert_eq!(first["result"]["stdout"], "tick\n");
    assert!(first.get("coalesced").is_none());
    assert!(q.log().contains("schedule fired"), "{}", q.log());
}

#[test]
fn an_occurrence_placed_by_a_killed_drain_is_neither_skipped_nor_duplicated() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-11-24T10:00:00-05:00",
        &[
            "schedule",
            "add",
            "job",
            "--cron",
            "0 * * * *",
            "--",
            "true",
        ],
    )
    .success();
    let marker = q.path("schedules/.state/job.json");
    let before = fs::read(&marker).unwrap();

    // Killed after placing the job, before moving the marker: the job is in pending/ (a busy
    // drain holds the queue), the marker is as it was.
    let lock = hold_drain_lock(&q);
    drain_at(&q, "2026-11-24T11:00:05-05:00");
    assert_eq!(q.names("pending"), ["job.2026-11-24T1100-0500.json"]);
    fs::write(&marker, &before).unwrap();
    drain_at(&q, "2026-11-24T11:00:10-05:00");
    assert_eq!(
        q.names("pending"),
        ["job.2026-11-24T1100-0500.json"],
        "no duplicate"
    );

    // ... and once that job has run and is filed: still no duplicate.
    drop(lock);
    drain_at(&q, "2026-11-24T11:00:20-05:00");
    fs::write(&marker, &before).unwrap();
    fs::remove_file(q.path("schedules/.state/.index.json")).unwrap();
    drain_at(&q, "2026-11-24T11:00:30-05:00");
    assert_eq!(records(&q).len(), 1, "{:?}", records(&q));

    // Killed before placing it: neither job nor marker moved, and the next drain fires it.
    drain_at(&q, "2026-11-24T12:00:01-05:00");
    assert_eq!(records(&q).len(), 2);
    let after_noon = fs::read(&marker).unwrap();
    drain_at(&q, "2026-11-24T13:00:01-05:00");
    fs::remove_file(q.path("completed/job.2026-11-24T1300-0500.json")).unwrap();
    fs::write(&marker, &after_noon).unwrap();
    // (The index of due times is written last, so it too is as it was before that drain.)
    fs::remove_file(q.path("schedules/.state/.index.json")).unwrap();
    drain_at(&q, "2026-11-24T13:00:30-05:00");
    assert!(q.path("completed/job.2026-11-24T1300-0500.json").is_file());
}

#[test]
fn three_days_asleep_coalesce_into_one_run() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-11-20T09:30:00-05:00",
        &[
            "schedule", "add", "hourly", "--cron", "@hourly", "--", "true",
        ],
    )
    .success();
    drain_at(&q, "2026-11-20T10:00:01-05:00");
    drain_at(&q, "2026-11-23T10:20:00-05:00");
    let records = records(&q);
    assert_eq!(records.len(), 2, "{records:?}");
    let (name, woke) = &records[1];
    assert_eq!(name, "hourly.2026-11-23T1000-0500.json");
    assert_eq!(woke["scheduled_for"], "2026-11-23T10:00:00-05:00");
    assert_eq!(woke["coalesced"], 72);
}

#[test]
fn without_catch_up_missed_occurrences_do_not_run_but_the_next_one_does() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-11-20T09:30:00-05:00",
        &[
            "schedule",
            "add",
            "hourly",
            "--cron",
            "@hourly",
            "--no-catch-up",
            "--",
            "true",
        ],
    )
    .success();
    drain_at(&q, "2026-11-23T10:20:00-05:00");
    assert!(records(&q).is_empty(), "{:?}", records(&q));
    assert!(q.log().contains("catch_up = false"), "{}", q.log());
    drain_at(&q, "2026-11-23T11:00:30-05:00");
    let records = records(&q);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].0, "hourly.2026-11-23T1100-0500.json");
}

#[test]
fn an_occurrence_is_skipped_while_the_previous_one_is_queued_unless_overlap_is_queue() {
    let q = TestQueue::new();
    for (name, overlap) in [("skips", "skip"), ("queues", "queue")] {
        at(
            &q,
            "2026-11-24T09:30:00-05:00",
            &[
                "schedule",
                "add",
                name,
                "--cron",
                "@hourly",
                "--overlap",
                overlap,
                "--",
                "true",
            ],
        )
        .success();
    }
    let lock = hold_drain_lock(&q);
    drain_at(&q, "2026-11-24T10:00:01-05:00");
    drain_at(&q, "2026-11-24T11:00:01-05:00");
    assert_eq!(
        q.names("pending"),
        [
            "queues.2026-11-24T1000-0500.json",
            "queues.2026-11-24T1100-0500.json",
            "skips.2026-11-24T1000-0500.json",
        ]
    );
    let log = q.log();
    assert!(
        log.contains("occurrence skipped") && log.contains("skips.2026-11-24T1000-0500.json"),
        "{log}"
    );
    // Once the previous one has run, the next occurrence fires again.
    drop(lock);
    drain_at(&q, "2026-11-24T11:30:00-05:00");
    drain_at(&q, "2026-11-24T12:00:01-05:00");
    assert!(
        q.path("completed/skips.2026-11-24T1200-0500.json")
            .is_file()
    );
}

#[test]
fn a_fixed_time_in_the_spring_gap_runs_once_just_after_it() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-03-07T12:00:00-05:00",
        &[
            "schedule",
            "add",
            "nightly",
            "--cron",
            "30 2 * * *",
            "--",
            "true",
        ],
    )
    .success();
    // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT; 02:30 does not exist that night.
    drain_at(&q, "2026-03-08T01:59:00-05:00");
    drain_at(&q, "2026-03-08T03:00:30-04:00");
    drain_at(&q, "2026-03-08T04:00:00-04:00");
    drain_at(&q, "2026-03-09T02:30:10-04:00");
    let names: Vec<String> = records(&q).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "nightly.2026-03-08T0300-0400.json",
            "nightly.2026-03-09T0230-0400.json"
        ]
    );
}

#[test]
fn a_fixed_time_in_the_repeated_autumn_hour_runs_once_and_an_interval_runs_in_both() {
    let q = TestQueue::new();
    for (name, cron) in [("fixed", "30 1 * * *"), ("every30", "*/30 * * * *")] {
        at(
            &q,
            "2026-10-31T23:50:00-04:00",
            &["schedule", "add", name, "--cron", cron, "--", "true"],
        )
        .success();
    }
    // 2026-11-01: clocks go back from 02:00 EDT to 01:00 EST; 01:00-01:59 happens twice.
    for now in [
        "2026-11-01T00:00:10-04:00",
        "2026-11-01T00:30:10-04:00",
        "2026-11-01T01:00:10-04:00",
        "2026-11-01T01:30:10-04:00",
        "2026-11-01T01:00:10-05:00",
        "2026-11-01T01:30:10-05:00",
        "2026-11-01T02:00:10-05:00",
    ] {
        drain_at(&q, now);
    }
    let names: Vec<String> = records(&q).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "every30.2026-11-01T0000-0400.json",
            "every30.2026-11-01T0030-0400.json",
            "every30.2026-11-01T0100-0400.json",
            "every30.2026-11-01T0100-0500.json",
            "every30.2026-11-01T0130-0400.json",
            "every30.2026-11-01T0130-0500.json",
            "every30.2026-11-01T0200-0500.json",
            "fixed.2026-11-01T0130-0400.json",
        ]
    );
}

#[test]
fn a_bad_schedule_is_reported_everywhere_and_the_others_keep_working() {
    let q = TestQueue::new();
    write_schedule(
        &q,
        "good.toml",
        "cron = \"*/5 * * * *\"\n[job]\ncommand = \"echo good\"\n",
    );
    write_schedule(
        &q,
        "bad.toml",
        "cron = \"*/5 * * *\"\n[job]\ncommand = \"true\"\n",
    );
    write_schedule(
        &q,
        "typo.toml",
        "cron = \"@daily\"\ncatchup = false\n[job]\ncommand = \"true\"\n",
    );
    write_schedule(
        &q,
        "nojob.json",
        "{\"cron\": \"@daily\", \"job\": {\"args\": []}}",
    );

    let check = at(&q, "2026-11-24T10:00:00-05:00", &["config", "--check"]);
    assert_eq!(check.code(), 1, "{}", check.stderr);
    for needle in [
        "bad.toml",
        "it has 4 fields",
        "typo.toml",
        "unknown field `catchup`",
        "line 2",
        "nojob.json",
        "`command` is missing",
    ] {
        assert!(check.stderr.contains(needle), "{needle}: {}", check.stderr);
    }
    assert!(!check.stderr.contains("good.toml"), "{}", check.stderr);

    for now in ["10:00:00", "10:05:01", "10:06:00", "10:10:01"] {
        drain_at(&q, &format!("2026-11-24T{now}-05:00"));
    }
    assert_eq!(records(&q).len(), 2, "the good schedule fired twice");
    let log = q.log();
    assert_eq!(
        log.matches("schedule=bad ").count(),
        1,
        "logged once, not by every drain: {log}"
    );

    let status = at(&q, "2026-11-24T10:11:00-05:00", &["status"]);
    assert_eq!(status.code(), 4, "{}", status.stdout);
    assert!(
        status.stdout.contains("schedule `bad` is invalid"),
        "{}",
        status.stdout
    );
    let list = at(&q, "2026-11-24T10:11:00-05:00", &["schedule", "list"]);
    assert!(list.stdout.contains("INVALID"), "{}", list.stdout);
}

#[test]
fn schedule_add_list_run_and_remove() {
    let q = TestQueue::new();
    let now = "2026-11-24T10:00:00-05:00";
    let bad = at(
        &q,
        now,
        &["schedule", "add", "x", "--cron", "61 * * * *", "--", "true"],
    );
    assert_fails_with(&bad, 1, "invalid cron expression `61 * * * *`");
    let fields = at(
        &q,
        now,
        &["schedule", "add", "x", "--cron", "* * *", "--", "true"],
    );
    assert_fails_with(&fields, 1, "it has 3 fields");
    let name = at(
        &q,
        now,
        &["schedule", "add", "../x", "--cron", "@daily", "--", "true"],
    );
    assert_fails_with(&name, 1, "invalid schedule name");
    assert!(!q.path("schedules/x.toml").exists());

    let added = at(
        &q,
        now,
        &[
            "schedule",
            "add",
            "report",
            "--cron",
            "0 9 * * 1-5",
            "--timeout",
            "60",
            "--nice",
            "5",
            "--shell",
            "echo report for $EXECQ_TASK_ID",
        ],
    );
    added.success();
    assert!(
        added.stdout.contains("next run 2026-11-25T09:00:00-05:00"),
        "{}",
        added.stdout
    );
    let again = at(
        &q,
        now,
        &[
            "schedule", "add", "report", "--cron", "@daily", "--", "true",
        ],
    );
    assert_fails_with(&again, 1, "already exists");

    let listed = at(&q, now, &["schedule", "list", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "report");
    assert_eq!(rows[0]["cron"], "0 9 * * 1-5");
    assert_eq!(rows[0]["next_run"], "2026-11-25T09:00:00-05:00");
    assert_eq!(rows[0]["command"], "echo report for $EXECQ_TASK_ID");

    let ran = at(
        &q,
        "2026-11-24T10:02:00-05:00",
        &["schedule", "run", "report"],
    );
    ran.success();
    assert!(
        ran.stdout
            .trim_end()
            .ends_with("pending/report.run-2026-11-24T100200-0500.json")
    );
    drain_at(&q, "2026-11-24T10:02:01-05:00");
    let (_, record) = &records(&q)[0];
    assert_eq!(
        record["result"]["stdout"],
        "report for report.run-2026-11-24T100200-0500\n"
    );
    assert_eq!(record["limits"]["nice"], 5);
    assert_eq!(record["timeout"], 60.0);

    at(&q, now, &["schedule", "remove", "report"]).success();
    assert!(!q.path("schedules/report.toml").exists());
    assert!(!q.path("schedules/.state/report.json").exists());
    let gone = at(&q, now, &["schedule", "remove", "report"]);
    assert_fails_with(&gone, 1, "no schedule named `report`");
    let missing = at(&q, now, &["schedule", "run", "report"]);
    assert_fails_with(&missing, 1, "no schedule named `report`");
}

#[test]
fn an_idle_drain_with_schedules_writes_nothing() {
    let q = TestQueue::new();
    for i in 0..20 {
        at(
            &q,
            "2026-11-24T10:00:00-05:00",
            &[
                "schedule",
                "add",
                &format!("s{i}"),
                "--cron",
                "0 3 * * *",
                "--",
                "true",
            ],
        )
        .success();
    }
    drain_at(&q, "2026-11-24T10:00:01-05:00");
    let snapshot = || {
        let mut seen = Vec::new();
        for dir in ["", "schedules", "schedules/.state", "pending", "tmp"] {
            for name in q.names(dir) {
                let meta = fs::metadata(q.path(dir).join(&name)).unwrap();
                seen.push((
                    format!("{dir}/{name}"),
                    meta.len(),
                    meta.modified().unwrap(),
                ));
            }
        }
        seen
    };
    let before = snapshot();
    for now in ["10:00:03", "11:00:00", "23:59:59"] {
        drain_at(&q, &format!("2026-11-24T{now}-05:00"));
    }
    assert_eq!(snapshot(), before, "an idle drain wrote something");
    drain_at(&q, "2026-11-25T03:00:05-05:00");
    assert_eq!(records(&q).len(), 20);
}

#[test]
fn a_drain_busy_with_a_long_job_still_fires_schedules_on_time() {
    let q = TestQueue::new();
    fs::create_dir_all(q.path("schedules")).unwrap();
    let go = q.scratch("go");
    q.add(
        "long.json",
        &shell_job(&format!(
            "while [ ! -e {} ]; do sleep 0.05; done",
            go.display()
        )),
    );
    let mut busy = q.execq(&["drain"]);
    busy.env("EXECQ_NOW", "2026-11-24T10:00:30-05:00")
        .env("TZ", EASTERN);
    let busy = busy
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the long job runs", || {
        q.names("running").contains(&"long.json".into())
    });
    // Under launchd or systemd no second drain starts while this one runs.
    at(
        &q,
        "2026-11-24T09:59:00-05:00",
        &[
            "schedule",
            "add",
            "daily",
            "--cron",
            "0 10 * * *",
            "--",
            "true",
        ],
    )
    .success();
    wait_until("the busy drain enqueues the occurrence", || {
        q.names("pending") == ["daily.2026-11-24T1000-0500.json"]
    });
    fs::write(&go, "").unwrap();
    finish(busy).success();
    assert_eq!(
        q.names("completed"),
        ["daily.2026-11-24T1000-0500.json", "long.json"]
    );
}

#[test]
fn a_schedule_owned_by_another_user_never_fires() {
    if euid() != 0 {
        eprintln!("needs root to give a file away; checked in CI, which runs as root");
        return;
    }
    let q = TestQueue::new();
    write_schedule(
        &q,
        "foreign.toml",
        "cron = \"* * * * *\"\n[job]\ncommand = \"true\"\n",
    );
    std::os::unix::fs::chown(q.path("schedules/foreign.toml"), Some(65534), None).unwrap();
    drain_at(&q, "2026-11-24T10:00:30-05:00");
    drain_at(&q, "2026-11-24T10:05:30-05:00");
    assert!(records(&q).is_empty() && q.names("pending").is_empty());
    let check = at(&q, "2026-11-24T10:05:30-05:00", &["config", "--check"]);
    assert_fails_with(&check, 1, "owned by uid 65534");
}

#[test]
fn a_schedule_run_by_hand_in_the_minute_of_an_occurrence_is_an_extra_run() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-11-24T10:30:00-05:00",
        &[
            "schedule", "add", "hourly", "--cron", "@hourly", "--", "true",
        ],
    )
    .success();
    // By hand first, then the drain that finds the 11:00 occurrence due.
    at(
        &q,
        "2026-11-24T11:00:20-05:00",
        &["schedule", "run", "hourly"],
    )
    .success();
    drain_at(&q, "2026-11-24T11:00:30-05:00");
    // The occurrence first, then by hand in the same minute.
    drain_at(&q, "2026-11-24T12:00:05-05:00");
    at(
        &q,
        "2026-11-24T12:00:20-05:00",
        &["schedule", "run", "hourly"],
    )
    .success();
    drain_at(&q, "2026-11-24T12:00:30-05:00");

    let records = records(&q);
    let names: Vec<&str> = records.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "hourly.2026-11-24T1100-0500.json",
            "hourly.2026-11-24T1200-0500.json",
            "hourly.run-2026-11-24T110020-0500.json",
            "hourly.run-2026-11-24T120020-0500.json",
        ]
    );
    let listed = at(
        &q,
        "2026-11-24T12:00:40-05:00",
        &["schedule", "list", "--json"],
    );
    let rows: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows[0]["last_job"], "hourly.2026-11-24T1200-0500.json");
}

#[test]
fn a_schedule_broken_for_a_while_still_skips_while_its_earlier_job_is_queued() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-11-24T09:30:00-05:00",
        &[
            "schedule", "add", "skips", "--cron", "@hourly", "--", "true",
        ],
    )
    .success();
    let _lock = hold_drain_lock(&q);
    drain_at(&q, "2026-11-24T10:00:01-05:00");
    assert_eq!(q.names("pending"), ["skips.2026-11-24T1000-0500.json"]);

    let file = q.path("schedules/skips.toml");
    let good = fs::read_to_string(&file).unwrap();
    fs::write(&file, good.replace("overlap", "overlapp")).unwrap();
    drain_at(&q, "2026-11-24T10:30:00-05:00");
    fs::write(&file, &good).unwrap();
    for now in ["11:00:01", "12:00:01"] {
        drain_at(&q, &format!("2026-11-24T{now}-05:00"));
    }
    assert_eq!(q.names("pending"), ["skips.2026-11-24T1000-0500.json"]);
    assert_eq!(
        q.log().matches("occurrence skipped").count(),
        2,
        "{}",
        q.log()
    );
}

#[test]
fn a_schedule_named_index_fires_like_any_other() {
    let q = TestQueue::new();
    at(
        &q,
        "2026-11-24T10:00:30-05:00",
        &[
            "schedule",
            "add",
            "index",
            "--cron",
            "*/5 * * * *",
            "--",
            "true",
        ],
    )
    .success();
    for now in ["10:01:00", "10:05:01", "10:07:00", "10:10:01"] {
        drain_at(&q, &format!("2026-11-24T{now}-05:00"));
    }
    let records = records(&q);
    let names: Vec<&str> = records.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "index.2026-11-24T1005-0500.json",
            "index.2026-11-24T1010-0500.json"
        ]
    );
}

//! Automatic archiving (`[retention]` in config.toml): old records leave completed/ and failed/
//! for `archive/YYYY-MM.jsonl.gz` (or are deleted), at most hourly, never by an idle drain, and
//! a crash in the middle neither loses nor duplicates a record. "Now" is set with `EXECQ_NOW`.

use std::fs;
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::util::*;

/// The moment the tests pretend it is: long after the records were made.
fn later(days: i64, hours: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::days(days) + chrono::Duration::hours(hours);
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn drain_at(q: &TestQueue, now: &str, fault: Option<&str>) -> Output {
    let mut cmd = q.execq(&["drain", "--grace", "1"]);
    cmd.env("EXECQ_NOW", now);
    if let Some(point) = fault {
        cmd.env("EXECQ_FAULT", point);
    }
    run(cmd)
}

fn files(lines: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = lines
        .iter()
        .map(|l| l["file"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Three finished jobs: a JSON job with a result file, a failed one, and a script (sidecar).
fn three_records(q: &TestQueue) {
    q.add(
        "kept.json",
        &serde_json::json!({"command": "echo report", "result_file": "kept.out"}).to_string(),
    );
    q.add("broke.json", &shell_job("echo oops >&2; exit 3"));
    q.add("script.sh", "echo from a script\n");
    q.drain(&[]).success();
    assert!(q.path("results/kept.out").is_file());
}

#[test]
fn old_records_are_archived_with_everything_that_belongs_to_them() {
    let q = TestQueue::new();
    three_records(&q);
    fs::write(
        q.path("config.toml"),
        "[retention]\ncompleted = \"30d\"\nfailed = \"90d\"\narchive = true\n",
    )
    .unwrap();
    // 31 days on: the completed ones go, the failed one (90 days) stays.
    q.add("trigger.json", &shell_job("true"));
    drain_at(&q, &later(31, 0), None).success();
    let lines = archive_lines(&q);
    assert_eq!(files(&lines), ["kept.json", "script.sh", "trigger.json"]);
    assert_eq!(q.names("completed"), Vec::<String>::new());
    assert_eq!(q.names("failed"), ["broke.json"]);
    assert!(
        !q.path("results/kept.out").exists(),
        "result file left behind"
    );
    let kept = lines.iter().find(|l| l["file"] == "kept.json").unwrap();
    assert_eq!(kept["state"], "completed");
    assert_eq!(kept["record"]["result"]["stdout"], "report\n");
    assert_eq!(kept["result_file"]["content"], "report\n");
    let script = lines.iter().find(|l| l["file"] == "script.sh").unwrap();
    assert_eq!(script["script"], "echo from a script\n");
    assert_eq!(script["record"]["result"]["stdout"], "from a script\n");

    // The archive reads with zcat and jq's way of one JSON value per line.
    let month = q
        .names("archive")
        .into_iter()
        .find(|n| n.ends_with(".jsonl.gz"))
        .unwrap();
    assert!(month.len() == "2026-11.jsonl.gz".len(), "{month}");
    let zcat = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zcat '{}' | wc -l",
            q.path(&format!("archive/{month}")).display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&zcat.stdout).trim(), "3");

    // list --archived and show find them.
    let listed = run(q.execq(&["list", "--archived", "--json"]));
    let rows: Vec<Value> = serde_json::from_str(&listed.success().stdout).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["state"] == "archived"));
    let shown = run(q.execq(&["show", "kept"]));
    assert!(
        shown
            .success()
            .stdout
            .contains("archived (completed before)"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("report"), "{}", shown.stdout);
    let json = run(q.execq(&["show", "--json", "script.sh"]));
    let shown: Value = serde_json::from_str(&json.success().stdout).unwrap();
    assert_eq!(shown["record"]["result"]["stdout"], "from a script\n");
}

#[test]
fn without_archive_old_records_are_deleted() {
    let q = TestQueue::new();
    three_records(&q);
    fs::write(
        q.path("config.toml"),
        "[retention]\ncompleted = \"1d\"\nfailed = \"1d\"\narchive = false\n",
    )
    .unwrap();
    q.add("trigger.json", &shell_job("true"));
    drain_at(&q, &later(2, 0), None).success();
    assert!(q.names("completed").is_empty() && q.names("failed").is_empty());
    assert!(archive_lines(&q).is_empty());
    assert!(!q.path("results/kept.out").exists());
    let last: Value =
        serde_json::from_str(&fs::read_to_string(q.path("last-retention.json")).unwrap()).unwrap();
    assert_eq!(last["deleted"], 4);
}

#[test]
fn retention_runs_at_most_hourly_and_never_on_an_idle_drain() {
    let q = TestQueue::new();
    fs::write(q.path("config.toml"), "[retention]\ncompleted = \"1d\"\n").unwrap();
    q.add("first.json", &shell_job("true"));
    q.drain(&[]).success();
    let ran = fs::read(q.path("last-retention.json")).unwrap();
    // An idle drain, days later: nothing happens.
    drain_at(&q, &later(3, 0), None).success();
    assert_eq!(q.names("completed"), ["first.json"]);
    assert_eq!(fs::read(q.path("last-retention.json")).unwrap(), ran);
    // A drain with work applies it ...
    q.add("second.json", &shell_job("true"));
    drain_at(&q, &later(3, 0), None).success();
    assert_eq!(files(&archive_lines(&q)), ["first.json", "second.json"]);
    // ... again once more than an hour has passed, but not within the hour.
    q.add("third.json", &shell_job("true"));
    drain_at(&q, &later(5, 0), None).success();
    assert_eq!(archive_lines(&q).len(), 3);
    q.add("fourth.json", &shell_job("true"));
    let last: Value =
        serde_json::from_str(&fs::read_to_string(q.path("last-retention.json")).unwrap()).unwrap();
    let half_hour_on =
        chrono::DateTime::from_timestamp(last["at_unix"].as_i64().unwrap() + 1800, 0)
            .unwrap()
            .to_rfc3339();
    drain_at(&q, &half_hour_on, None).success();
    assert_eq!(archive_lines(&q).len(), 3, "ran again within the hour");
    assert_eq!(q.names("completed"), ["fourth.json"]);
}

#[test]
fn a_crash_in_the_middle_of_archiving_neither_loses_nor_duplicates_a_record() {
    for point in ["archive:before-rename", "archive:after-rename"] {
        let q = TestQueue::new();
        three_records(&q);
        fs::write(
            q.path("config.toml"),
            "[retention]\ncompleted = \"1d\"\nfailed = \"1d\"\n",
        )
        .unwrap();
        // A first archiving run, so the crash happens while adding to an existing archive.
        q.add("early.json", &shell_job("true"));
        drain_at(&q, &later(2, 0), None).success();
        assert_eq!(archive_lines(&q).len(), 4);
        q.add("late1.json", &shell_job("true"));
        q.add("late2.json", &shell_job("true"));
        q.drain(&[]).success();

        q.add("crash.json", &shell_job("true"));
        let crashed = drain_at(&q, &later(4, 0), Some(point));
        assert!(
            !crashed.status.success(),
            "{point}: the drain should have aborted"
        );
        q.add("after.json", &shell_job("true"));
        drain_at(&q, &later(4, 0), None).success();
        assert_eq!(
            files(&archive_lines(&q)),
            [
                "after.json",
                "broke.json",
                "crash.json",
                "early.json",
                "kept.json",
                "late1.json",
                "late2.json",
                "script.sh"
            ],
            "{point}"
        );
        assert!(
            q.names("completed").is_empty(),
            "{point}: {:?}",
            q.names("completed")
        );
        let leftovers: Vec<String> = q
            .names("archive")
            .into_iter()
            .filter(|n| n.contains("journal") || n.ends_with(".next"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
    }
}

#[test]
fn config_check_catches_retention_mistakes() {
    let q = TestQueue::new();
    for (text, needle) in [
        ("[retention]\ncompleted = \"30 days\"\n", "30 days"),
        ("[retention]\nkeep = \"30d\"\n", "unknown field `keep`"),
        ("[retention]\narchive = \"yes\"\n", "archive"),
    ] {
        fs::write(q.path("config.toml"), text).unwrap();
        let check = run(q.execq(&["config", "--check"]));
        assert_fails_with(&check, 1, needle);
    }
}

/// The durable steps (`N KIND PATH`) a command takes, from `EXECQ_CRASH_TRACE`.
fn steps_of(q: &TestQueue, mut cmd: Command) -> Vec<(u64, String, String)> {
    let trace = q.scratch("steps.trace");
    let _ = fs::remove_file(&trace);
    cmd.env("EXECQ_CRASH_TRACE", &trace);
    run(cmd).success();
    fs::read_to_string(&trace)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let n = parts.next().unwrap().parse().unwrap();
            (
                n,
                parts.next().unwrap().into(),
                parts.next().unwrap().into(),
            )
        })
        .collect()
}

/// Twenty completed records, then `[retention]` that makes them all old at `later(2, 0)`.
fn twenty_old_records(q: &TestQueue) {
    for i in 0..20 {
        q.add(&format!("r{i:02}.json"), &shell_job("true"));
    }
    q.drain(&[]).success();
    fs::write(q.path("config.toml"), "[retention]\ncompleted = \"1d\"\n").unwrap();
    // Retention runs in drains that did work.
    q.add("trigger.json", &shell_job("true"));
}

#[test]
fn a_kill_at_any_step_of_archiving_loses_no_record() {
    // Count the archiving drain's steps on one queue, then kill a fresh one before each step
    // inside archive/ (where the journal and the `.next` file are written), and recover.
    let probe = TestQueue::new();
    twenty_old_records(&probe);
    let mut cmd = probe.execq(&["drain"]);
    cmd.env("EXECQ_NOW", later(2, 0));
    let steps = steps_of(&probe, cmd);
    let archive_steps: Vec<u64> = steps
        .iter()
        .filter(|(_, _, path)| path.contains("/archive/"))
        .map(|(n, _, _)| *n)
        .collect();
    assert!(archive_steps.len() >= 6, "{steps:?}");
    let mut expected: Vec<String> = (0..20).map(|i| format!("r{i:02}.json")).collect();
    expected.extend(["after.json".into(), "trigger.json".into()]);
    expected.sort();
    for n in archive_steps {
        let q = TestQueue::new();
        twenty_old_records(&q);
        let mut crashed = q.execq(&["drain"]);
        crashed
            .env("EXECQ_NOW", later(2, 0))
            .env("EXECQ_CRASH_AT", n.to_string());
        assert!(!run(crashed).status.success(), "step {n}: not killed");
        // The next drain with work to do finishes (or undoes) what the killed one began.
        q.add("after.json", &shell_job("true"));
        drain_at(&q, &later(2, 0), None).success();
        let mut present = files(&archive_lines(&q));
        present.extend(q.names("completed"));
        present.sort();
        assert_eq!(
            present,
            expected,
            "killed before step {n}: {:?}",
            steps[n as usize - 1]
        );
    }
}

#[test]
fn archiving_an_old_record_leaves_the_result_file_a_later_run_wrote() {
    let q = TestQueue::new();
    let job = |text: &str| {
        serde_json::json!({"command": format!("echo {text}"), "result_file": "report.txt"})
            .to_string()
    };
    q.add("daily.json", &job("yesterday"));
    q.drain(&[]).success();
    // Last month's run: its record is old; today's run has since written report.txt again.
    set_mtime(
        &q.path("completed/daily.json"),
        SystemTime::now() - Duration::from_secs(40 * 86_400),
    );
    q.add("daily.json", &job("today"));
    q.drain(&[]).success();
    assert_eq!(q.names("completed"), ["daily.1.json", "daily.json"]);
    fs::write(q.path("config.toml"), "[retention]\ncompleted = \"30d\"\n").unwrap();
    q.add("trigger.json", &shell_job("true"));
    q.drain(&[]).success();

    assert_eq!(files(&archive_lines(&q)), ["daily.json"]);
    assert_eq!(
        fs::read_to_string(q.path("results/report.txt")).unwrap(),
        "today\n",
        "today's result file was removed with last month's record"
    );
    let line = &archive_lines(&q)[0];
    assert!(
        line.get("result_file").is_none(),
        "the archive claims today's file as last month's: {line}"
    );
}

#[test]
fn a_drain_leaves_archiving_to_the_drain_already_archiving() {
    let q = TestQueue::new();
    three_records(&q);
    fs::write(q.path("config.toml"), "[retention]\ncompleted = \"1d\"\n").unwrap();
    fs::create_dir_all(q.path("archive")).unwrap();
    let held = fs::File::create(q.path("archive/.lock")).unwrap();
    fs2::FileExt::lock_exclusive(&held).unwrap();
    q.add("trigger.json", &shell_job("true"));
    drain_at(&q, &later(2, 0), None).success();
    assert!(
        archive_lines(&q).is_empty(),
        "archived beside another archiving drain"
    );
    assert!(!q.path("last-retention.json").exists());
    drop(held);
    q.add("trigger2.json", &shell_job("true"));
    drain_at(&q, &later(2, 0), None).success();
    assert_eq!(
        files(&archive_lines(&q)),
        ["kept.json", "script.sh", "trigger.json", "trigger2.json"]
    );
}

//! The index of records (`QUEUE/index/`): lookups by name, stem and task_id agree with a reading
//! of every record, whoever changed the folders and whatever crashed between.

use crate::util::Output;
use std::fs;

use serde_json::{Value, json};

use crate::util::{TestQueue, run};

fn check(q: &TestQueue) -> Output {
    run(q.execq(&["reindex", "--check"]))
}

fn assert_agrees(q: &TestQueue, when: &str) {
    let out = check(q);
    assert!(
        out.status.success(),
        "{when}: the index disagrees with the records:\n{}{}",
        out.stdout,
        out.stderr
    );
}

fn show(q: &TestQueue, reference: &str) -> Value {
    let out = run(q.execq(&["show", reference, "--json"]));
    assert!(out.status.success(), "show {reference}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn record(task_id: &str, status: &str) -> String {
    json!({
        "command": "true",
        "task_id": task_id,
        "result": {
            "status": status, "returncode": 0, "stdout": "", "stderr": "",
            "started_at": null, "completed_at": "2026-01-01T00:00:00.000+00:00",
            "duration_ms": 1, "error": null, "timed_out": false, "signal": null,
            "stdout_truncated": false, "stderr_truncated": false,
            "stdout_bytes": 0, "stderr_bytes": 0
        }
    })
    .to_string()
}

#[test]
fn lookups_by_name_stem_and_task_id_agree_with_every_record_after_drains_cancels_and_retries() {
    let q = TestQueue::new();
    for i in 0..12 {
        let command = if i % 3 == 0 { "false" } else { "true" };
        q.add(
            &format!("job-{i}.json"),
            &json!({"command": command, "task_id": format!("t{i}")}).to_string(),
        );
    }
    q.add("script.sh", "#!/bin/sh\necho from a script\n");
    q.drain(&[]).success();
    assert_agrees(&q, "after a drain");
    // A namesake filed as job-1.1.json, a cancelled job, a retried one.
    q.add(
        "job-1.json",
        &json!({"command": "true", "task_id": "again"}).to_string(),
    );
    q.add(
        "gone.json",
        &json!({"command": "true", "task_id": "gone"}).to_string(),
    );
    run(q.execq(&["cancel", "gone"])).success();
    run(q.execq(&["retry", "t0"])).success();
    q.drain(&[]).success();
    assert_agrees(&q, "after a cancel, a retry and a namesake");
    assert_eq!(show(&q, "t5")["job"], "job-5.json");
    assert_eq!(show(&q, "job-5")["job"], "job-5.json");
    assert_eq!(show(&q, "job-5.json")["task_id"], "t5");
    assert_eq!(show(&q, "again")["job"], "job-1.1.json");
    assert_eq!(show(&q, "gone")["state"], "failed");
    assert_eq!(show(&q, "script")["job"], "script.sh");
    let status: Value = serde_json::from_str(&run(q.execq(&["status", "--json"])).stdout).unwrap();
    assert_eq!(
        status["counts"]["completed"].as_u64(),
        Some(
            q.names("completed")
                .iter()
                .filter(|n| !n.ends_with(".result.json"))
                .count() as u64
        )
    );
}

#[test]
fn records_copied_in_by_hand_are_found_and_counted() {
    let q = TestQueue::new();
    q.add(
        "first.json",
        &json!({"command": "true", "task_id": "first"}).to_string(),
    );
    q.drain(&[]).success();
    assert_eq!(show(&q, "first")["state"], "completed");
    // Behind execq's back: a record copied in, one removed.
    fs::write(
        q.path("completed/copied.json"),
        record("by-hand", "completed"),
    )
    .unwrap();
    fs::write(q.path("failed/broken.json"), record("broke", "failed")).unwrap();
    fs::remove_file(q.path("completed/first.json")).unwrap();
    assert_eq!(show(&q, "by-hand")["job"], "copied.json");
    assert_eq!(show(&q, "broke")["job"], "broken.json");
    let out = run(q.execq(&["show", "first"]));
    assert!(!out.status.success(), "a removed record is still found");
    let status: Value = serde_json::from_str(&run(q.execq(&["status", "--json"])).stdout).unwrap();
    assert_eq!(status["counts"]["completed"], 1, "{status}");
    assert_eq!(status["counts"]["failed"], 1, "{status}");
    assert_agrees(&q, "after records were copied in and removed by hand");
}

#[test]
fn a_crash_between_filing_a_record_and_indexing_it_leaves_it_found() {
    let q = TestQueue::new();
    q.add(
        "early.json",
        &json!({"command": "true", "task_id": "early"}).to_string(),
    );
    q.drain(&[]).success();
    q.add(
        "late.json",
        &json!({"command": "true", "task_id": "late"}).to_string(),
    );
    // The steps a drain takes, to find the first one after the record is filed.
    let trace = q.scratch("trace");
    let steps = {
        let probe = TestQueue::new();
        probe.add(
            "early.json",
            &json!({"command": "true", "task_id": "early"}).to_string(),
        );
        probe.drain(&[]).success();
        probe.add(
            "late.json",
            &json!({"command": "true", "task_id": "late"}).to_string(),
        );
        let mut cmd = probe.execq(&["drain"]);
        cmd.env("EXECQ_CRASH_TRACE", &trace);
        run(cmd).success();
        fs::read_to_string(&trace).unwrap()
    };
    let index_step = steps
        .lines()
        .find(|l| l.contains(" append ") && l.contains("/index/"))
        .unwrap_or_else(|| panic!("no index step in:\n{steps}"));
    let n: u64 = index_step.split(' ').next().unwrap().parse().unwrap();
    let mut cmd = q.execq(&["drain"]);
    cmd.env("EXECQ_CRASH_AT", n.to_string());
    let out = run(cmd);
    assert!(
        !out.status.success(),
        "the drain was not killed at step {n}"
    );
    assert!(q.path("completed/late.json").exists(), "{steps}");
    assert_eq!(show(&q, "late")["state"], "completed");
    assert_agrees(&q, "after a crash before indexing");
}

#[test]
fn list_without_a_limit_prints_every_job_oldest_first_as_it_reads_them() {
    let q = TestQueue::new();
    for i in 0..30 {
        q.add(
            &format!("j{i:02}.json"),
            &json!({"command": "true", "task_id": format!("t{i:02}")}).to_string(),
        );
    }
    q.drain(&[]).success();
    q.add(
        "waiting.json",
        &json!({"command": "true", "not_before": "2099-01-01T00:00:00Z"}).to_string(),
    );
    let out = run(q.execq(&["list", "--json"]));
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows.len(), 31);
    assert_eq!(rows.last().unwrap()["job"], "waiting.json");
    let names: Vec<&str> = rows[..30]
        .iter()
        .map(|r| r["job"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "not oldest first");
    let limited: Vec<Value> =
        serde_json::from_str(&run(q.execq(&["list", "--json", "-n", "31"])).stdout).unwrap();
    assert_eq!(
        limited, rows,
        "the streamed listing differs from the limited one"
    );
    let text = run(q.execq(&["list"])).stdout;
    assert_eq!(text.lines().count(), 32, "{text}");
}

/// The stamp with its checksum made again (FNV-1a of the line before ` sum=`).
fn with_sum(text: &str) -> String {
    let body = text.trim_end().rsplit_once(" sum=").unwrap().0;
    let sum = body.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{body} sum={sum:016x}\n")
}

#[test]
fn an_index_from_another_boot_or_torn_is_rebuilt_not_believed() {
    let q = TestQueue::new();
    q.add(
        "a.json",
        &json!({"command": "true", "task_id": "ta"}).to_string(),
    );
    q.drain(&[]).success();
    let stamp = q.path("index/stamp");
    let text = fs::read_to_string(&stamp).unwrap();
    // Lines lost to a power cut while the stamp survived: the stamp names the boot it was written in.
    let generation = text
        .split(' ')
        .find_map(|f| f.strip_prefix("gen="))
        .unwrap()
        .to_owned();
    fs::remove_dir_all(q.path(&format!("index/{generation}/keys"))).unwrap();
    fs::write(&stamp, with_sum(&text.replace("boot=", "boot=earlier-"))).unwrap();
    assert_eq!(show(&q, "ta")["job"], "a.json");
    // A stamp cut short.
    fs::write(&stamp, &text[..text.len() / 2]).unwrap();
    assert_eq!(show(&q, "ta")["job"], "a.json");
    assert_agrees(&q, "after a torn stamp");
}

#[test]
fn a_rebuild_of_thousands_of_records_finds_each_and_lists_them_in_time_order() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    let now = std::time::SystemTime::now();
    // More than one chunk of a rebuild's reading, written newest name first so that neither the
    // names nor the inodes are in time order.
    for i in (0..3000).rev() {
        let path = q.path(&format!("completed/r{i:04}.json"));
        fs::write(&path, record(&format!("id{i}"), "completed")).unwrap();
        let when = now - std::time::Duration::from_secs(10_000 - i);
        crate::util::set_mtime(&path, when);
    }
    assert_agrees(&q, "after a rebuild of 3,000 records");
    let newest: Vec<Value> =
        serde_json::from_str(&run(q.execq(&["list", "--json", "-n", "3"])).stdout).unwrap();
    let names: Vec<&str> = newest.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(names, ["r2997.json", "r2998.json", "r2999.json"]);
    let all: Vec<Value> = serde_json::from_str(&run(q.execq(&["list", "--json"])).stdout).unwrap();
    assert_eq!(all.len(), 3000);
    assert_eq!(all[0]["job"], "r0000.json");
    assert_eq!(all[2999]["job"], "r2999.json");
}

#[test]
fn a_json_job_named_like_a_sidecar_is_found_by_its_name_and_can_be_depended_on() {
    let q = TestQueue::new();
    q.add("build.result.json", &json!({"command": "true"}).to_string());
    q.drain(&[]).success();
    assert_eq!(show(&q, "build.result.json")["state"], "completed");
    assert_agrees(&q, "after filing build.result.json");
    q.add(
        "dep.json",
        &json!({"command": "true", "after": ["build.result.json"]}).to_string(),
    );
    q.drain(&[]).success();
    assert_eq!(show(&q, "dep")["state"], "completed");
}

#[test]
fn a_record_touched_or_rewritten_in_place_stays_listed() {
    let q = TestQueue::new();
    q.add(
        "a.json",
        &json!({"command": "true", "task_id": "ta"}).to_string(),
    );
    q.drain(&[]).success();
    let path = q.path("completed/a.json");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("\"ta\"", "\"tb\"")).unwrap();
    crate::util::set_mtime(&path, std::time::SystemTime::now());
    let rows: Vec<Value> = serde_json::from_str(&run(q.execq(&["list", "--json"])).stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let newest: Vec<Value> =
        serde_json::from_str(&run(q.execq(&["list", "--json", "-n", "5"])).stdout).unwrap();
    assert_eq!(newest.len(), 1, "{newest:?}");
}

#[test]
fn a_rebuild_between_a_killed_filing_and_its_recovery_counts_a_script_once() {
    let q = TestQueue::new();
    q.add("first.json", &json!({"command": "true"}).to_string());
    q.drain(&[]).success();
    q.add("s.sh", "#!/bin/sh\necho side\n");
    let trace = q.scratch("trace");
    let steps = {
        let probe = TestQueue::new();
        probe.add("first.json", &json!({"command": "true"}).to_string());
        probe.drain(&[]).success();
        probe.add("s.sh", "#!/bin/sh\necho side\n");
        let mut cmd = probe.execq(&["drain"]);
        cmd.env("EXECQ_CRASH_TRACE", &trace);
        run(cmd).success();
        fs::read_to_string(&trace).unwrap()
    };
    // The step that moves the sidecar into completed/, after the job file went there.
    let step = steps
        .lines()
        .find(|l| l.contains("completed/s.sh.result.json"))
        .unwrap_or_else(|| panic!("no sidecar step in:\n{steps}"));
    let n: u64 = step.split(' ').next().unwrap().parse().unwrap();
    let mut cmd = q.execq(&["drain"]);
    cmd.env("EXECQ_CRASH_AT", n.to_string());
    assert!(!run(cmd).status.success());
    run(q.execq(&["status"]));
    q.drain(&[]).success();
    assert_agrees(&q, "after a rebuild between the kill and the recovery");
    let rows: Vec<Value> = serde_json::from_str(&run(q.execq(&["list", "--json"])).stdout).unwrap();
    let scripts = rows.iter().filter(|r| r["job"] == "s.sh").count();
    assert_eq!(scripts, 1, "{rows:?}");
}

#[test]
fn the_index_never_writes_through_a_symlink() {
    let q = TestQueue::new();
    q.add("a.json", &json!({"command": "true"}).to_string());
    q.drain(&[]).success();
    let stamp = fs::read_to_string(q.path("index/stamp")).unwrap();
    let generation = stamp
        .split(' ')
        .find_map(|f| f.strip_prefix("gen="))
        .unwrap()
        .to_owned();
    let victim = q.scratch("victim");
    fs::write(&victim, "precious").unwrap();
    let log = q.path(&format!("index/{generation}/completed"));
    fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    std::os::unix::fs::symlink(&victim, q.path("index/stamp.tmp")).unwrap();
    q.add(
        "b.json",
        &json!({"command": "true", "task_id": "tb"}).to_string(),
    );
    q.drain(&[]).success();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(show(&q, "tb")["job"], "b.json");
}

#[test]
fn check_notices_records_left_out_of_the_listing() {
    let q = TestQueue::new();
    q.add("a.json", &json!({"command": "true"}).to_string());
    q.drain(&[]).success();
    let stamp = fs::read_to_string(q.path("index/stamp")).unwrap();
    let generation = stamp
        .split(' ')
        .find_map(|f| f.strip_prefix("gen="))
        .unwrap()
        .to_owned();
    fs::write(q.path(&format!("index/{generation}/completed")), "").unwrap();
    let out = check(&q);
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(out.stdout.contains("completed/a.json"), "{}", out.stdout);
    run(q.execq(&["reindex"])).success();
    assert_agrees(&q, "after reindex");
}

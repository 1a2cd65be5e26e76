//! Faults: a drain SIGKILLed at any instant, a full disk, folders that vanish, clocks that lie.

use std::collections::HashMap;
use std::fs;
use std::time::{Duration, SystemTime};

use crate::util::*;

/// A small deterministic PRNG (xorshift), seeded from the clock and printed so a failure can be
/// replayed with EXECQ_FAULT_SEED.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::env::var("EXECQ_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("fault-injection seed: EXECQ_FAULT_SEED={seed}");
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Mixed jobs named jNN: each real run appends NN to runs.log.
fn mixed_jobs(q: &TestQueue, n: usize) {
    let log = q.scratch("runs.log");
    for i in 0..n {
        let record = format!("echo {i} >> '{}'; sleep 0.01", log.display());
        match i % 5 {
            0 => q.add(&format!("j{i:02}.json"), &serde_json::json!({"command": "sh", "args": ["-c", record]}).to_string()),
            1 => q.add(&format!("j{i:02}.json"), &shell_job(&format!("{record}; exit 1"))),
            2 => q.add_aged(&format!("j{i:02}.sh"), &format!("{record}\n"), 10),
            3 => q.add(&format!("j{i:02}.json"), r#"{"command": "echo", "args": "not a list"}"#),
            _ => q.add(
                &format!("j{i:02}.json"),
                &serde_json::json!({"command": format!("{record}; echo out"), "result_file": format!("r{i}.txt")}).to_string(),
            ),
        };
    }
}

#[test]
fn drains_killed_at_random_moments_never_run_a_job_twice_nor_lose_one() {
    killed_at_random_moments(&[], 1);
}

#[test]
fn parallel_drains_killed_at_random_moments_never_run_a_job_twice_nor_lose_one() {
    killed_at_random_moments(&["--jobs", "4"], 4);
}

/// `parallel`: how many jobs one kill can interrupt.
fn killed_at_random_moments(extra: &[&str], parallel: usize) {
    let q = TestQueue::new();
    let jobs = 60;
    mixed_jobs(&q, jobs);
    let mut rng = Rng::new();
    let mut mid_job_kills = 0;
    for _ in 0..500 {
        if q.names("pending").iter().all(|n| n.starts_with('.')) {
            break;
        }
        let mut args = vec!["--grace", "0.2"];
        args.extend_from_slice(extra);
        let drain = q.spawn_drain(&args);
        // Half the kills land at any moment after start; the other half after a job has been
        // claimed, so that mid-job kills happen however slowly the machine starts processes.
        if rng.below(2) == 0 {
            let claimed = std::time::Instant::now();
            while q.names("running").iter().all(|n| n.starts_with('.'))
                && claimed.elapsed() < Duration::from_secs(2)
            {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        kill(drain.id(), libc::SIGKILL);
        let out = finish(drain);
        assert!(
            out.status.code().is_none() || out.status.success(),
            "the drain must have been running when killed: {:?} {}",
            out.status,
            out.stderr
        );
        if q.names("running").iter().any(|n| !n.starts_with('.')) {
            mid_job_kills += 1;
        }
    }
    q.drain(&[]).success();
    let interrupted = ["completed", "failed"]
        .iter()
        .flat_map(|f| q.names(f).into_iter().map(move |n| format!("{f}/{n}")))
        .filter(|p| p.ends_with(".json"))
        .filter(|p| q.json(p)["result"]["status"] == "interrupted")
        .count();
    eprintln!("mid-job kills: {mid_job_kills}, jobs recorded as interrupted: {interrupted}");
    assert!(
        mid_job_kills >= 3,
        "the schedule must kill drains mid-job to test anything (got {mid_job_kills})"
    );
    assert!(interrupted >= 1 && interrupted <= mid_job_kills * parallel);

    let runs = fs::read_to_string(q.scratch("runs.log")).unwrap_or_default();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for line in runs.lines() {
        *seen.entry(line).or_default() += 1;
    }
    assert!(seen.values().all(|&n| n == 1), "a job ran twice: {seen:?}");

    let mut records: HashMap<String, usize> = HashMap::new();
    for folder in ["completed", "failed"] {
        for name in q.names(folder) {
            assert!(
                !name.starts_with('.'),
                "temporary file left in {folder}/: {name}"
            );
            if name.ends_with(".result.json") {
                continue;
            }
            *records.entry(name).or_default() += 1;
        }
    }
    for i in 0..jobs {
        let ext = if i % 5 == 2 { "sh" } else { "json" };
        let name = format!("j{i:02}.{ext}");
        assert_eq!(
            records.get(&name),
            Some(&1),
            "{name} must be recorded exactly once; records: {records:?}"
        );
    }
    assert_eq!(
        records.len(),
        jobs,
        "no duplicate or stray records: {records:?}"
    );
    assert!(
        q.names("running").is_empty(),
        "running/ is empty: {:?}",
        q.names("running")
    );
    assert!(q.names("pending").is_empty());
    assert!(
        q.names("tmp").is_empty(),
        "tmp/ is clean: {:?}",
        q.names("tmp")
    );
    let stray: Vec<String> = q
        .names("results")
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "no result_file temporaries: {stray:?}");
}

#[test]
fn a_full_disk_while_writing_a_record_loses_nothing() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    q.add(
        "big-output.json",
        &shell_job("head -c 200000 /dev/zero | tr '\\0' x"),
    );
    // RLIMIT_FSIZE of 16 blocks: any write past 8 KiB fails, as on a full disk.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!(
        "ulimit -f 16; exec '{}' --queue '{}' drain",
        env!("CARGO_BIN_EXE_execq"),
        q.root.display()
    ));
    let out = run(cmd);
    assert_eq!(out.code(), 1, "drain stops cleanly: {}", out.stderr);
    assert!(out.stderr.contains("failed to write"), "{}", out.stderr);
    assert_eq!(
        q.names("running")
            .iter()
            .filter(|n| !n.starts_with('.'))
            .count(),
        1,
        "the job is kept"
    );

    q.drain(&[]).success();
    let result = q.result("failed/big-output.json");
    assert_eq!(result["status"], "interrupted");
    assert!(q.names("running").is_empty());
    assert!(q.log().contains("failed to write"), "the error is logged");
}

#[test]
fn a_job_that_deletes_completed_still_gets_its_record() {
    let q = TestQueue::new();
    q.add(
        "cleaner.json",
        &shell_job(&format!(
            "rm -rf '{}/completed'; echo cleaned",
            q.root.display()
        )),
    );
    q.drain(&[]).success();
    assert_eq!(q.result("completed/cleaner.json")["stdout"], "cleaned\n");
    assert!(
        q.log()
            .contains("a queue folder was missing and has been recreated")
    );
}

#[test]
fn an_unusable_failed_folder_stops_drain_and_the_next_drain_files_the_real_result() {
    let q = TestQueue::new();
    let failed = q.path("failed");
    q.add(
        "a-breaker.json",
        &shell_job(&format!(
            "rm -rf '{0}' && touch '{0}'; echo broke; exit 7",
            failed.display()
        )),
    );
    let later = q.add("b-later.json", &shell_job("echo later"));
    set_mtime(&later, SystemTime::now() + Duration::from_secs(1));
    let out = q.drain(&[]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains(&format!("failed to recreate `{}`", failed.display())),
        "{}",
        out.stderr
    );
    assert_eq!(q.names("pending"), ["b-later.json"], "later jobs wait");

    fs::remove_file(&failed).unwrap();
    q.drain(&[]).success();
    let result = q.result("failed/a-breaker.json");
    assert_eq!(
        result["status"], "failed",
        "the real result, not 'interrupted'"
    );
    assert_eq!(result["returncode"], 7);
    assert_eq!(result["stdout"], "broke\n");
    assert_eq!(q.result("completed/b-later.json")["stdout"], "later\n");
}

#[test]
fn jobs_with_mtimes_in_the_future_still_run() {
    let q = TestQueue::new();
    let future = SystemTime::now() + Duration::from_secs(86_400);
    set_mtime(&q.add("future.json", &shell_job("echo json")), future);
    set_mtime(&q.add("future.sh", "echo script\n"), future);
    q.add("now.json", &shell_job("echo now"));
    q.drain(&["--settle", "0.3"]).success();
    assert_eq!(q.result("completed/future.json")["stdout"], "json\n");
    assert_eq!(
        q.result("completed/future.sh.result.json")["stdout"],
        "script\n"
    );
    assert_eq!(q.result("completed/now.json")["stdout"], "now\n");
}

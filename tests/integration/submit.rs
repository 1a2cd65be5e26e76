use std::fs;

use crate::util::*;

#[test]
fn submitted_argv_and_shell_jobs_run_in_order() {
    let q = TestQueue::new();
    let first = run(q.execq(&[
        "submit",
        "--id",
        "first job",
        "--description",
        "argv",
        "--",
        "echo",
        "a b",
        "$HOME",
    ]));
    first.success();
    let path = std::path::PathBuf::from(first.stdout.trim());
    assert!(path.starts_with(q.path("pending")), "{}", first.stdout);
    assert!(
        path.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("-first_job.json")
    );

    let second = run(q.execq(&["submit", "--json", "--shell", "echo $((1 + 2))"]));
    second.success();
    let printed: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert!(printed["task_id"].is_string() && printed["path"].is_string());

    let submitted = q.json(&format!(
        "pending/{}",
        path.file_name().unwrap().to_str().unwrap()
    ));
    assert_eq!(submitted["task_id"], "first job");
    assert_eq!(submitted["args"], serde_json::json!(["a b", "$HOME"]));

    q.drain(&[]).success();
    let done = q.names("completed");
    assert_eq!(done.len(), 2);
    assert_eq!(
        q.result(&format!("completed/{}", done[0]))["stdout"],
        "a b $HOME\n"
    );
    assert_eq!(q.result(&format!("completed/{}", done[1]))["stdout"], "3\n");
    assert!(q.names("tmp").is_empty(), "no staging files left behind");
}

#[test]
fn submit_without_a_command_is_a_usage_error() {
    let q = TestQueue::new();
    let out = run(q.execq(&["submit"]));
    assert_eq!(out.code(), 2);
    assert!(q.names("pending").is_empty());
}

#[test]
fn submit_creates_the_queue_on_first_use_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fresh/queue");
    let out = run({
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_execq"));
        c.args(["submit", "--", "true"]).env("EXECQ_QUEUE", &root);
        c
    });
    out.success();
    for sub in [
        "pending",
        "running",
        "completed",
        "failed",
        "results",
        "tmp",
    ] {
        let mode = std::fs::metadata(root.join(sub))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700, "{sub}");
    }
}

#[test]
fn submit_start_runs_the_job_without_a_service() {
    let q = TestQueue::new();
    for i in 0..5 {
        run(q.execq(&[
            "submit",
            "--start",
            "--id",
            &format!("bg{i}"),
            "--",
            "echo",
            "ran",
        ]))
        .success();
    }
    wait_until("the background drains to run every job", || {
        q.names("completed").len() == 5 && q.names("pending").is_empty()
    });
    wait_until("the background drain to let go of the queue", || {
        let status = run(q.execq(&["status", "--json"]));
        serde_json::from_str::<serde_json::Value>(&status.stdout).unwrap()["drain"].is_null()
    });
    for name in q.names("completed") {
        assert_eq!(q.result(&format!("completed/{name}"))["stdout"], "ran\n");
    }
}

#[test]
fn submit_start_returns_while_its_drain_runs_and_a_busy_drain_takes_later_jobs() {
    let q = TestQueue::new();
    let release = q.scratch("release");
    let ran = q.scratch("ran.log");
    let gate = format!(
        "echo first >> '{}'; {}",
        ran.display(),
        wait_for_file(&release)
    );
    // `run` reads stdout and stderr to their end: this returns only if the background drain
    // holds neither, although it is still running the job.
    run(q.execq(&["submit", "--start", "--id", "first", "--shell", &gate])).success();
    wait_until("the background drain to start the job", || ran.exists());
    let status = run(q.execq(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        !status["drain"].is_null(),
        "a drain holds the queue: {status}"
    );

    let second = format!("echo second >> '{}'", ran.display());
    run(q.execq(&["submit", "--start", "--id", "second", "--shell", &second])).success();
    assert_eq!(
        q.names("pending").len(),
        1,
        "the busy drain has not got to it yet"
    );
    std::fs::write(&release, "").unwrap();
    wait_until("the same drain to run the second job", || {
        q.names("completed").len() == 2
    });
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap(),
        "first\nsecond\n",
        "each job ran once, in order"
    );
    let log = q.log();
    assert_eq!(
        log.matches("drain started").count(),
        1,
        "one drain ran both jobs:\n{log}"
    );
}

#[test]
fn a_lingering_drain_keeps_the_queue_for_jobs_that_arrive_after_it_emptied() {
    let q = TestQueue::new();
    q.add("first.json", &shell_job("echo first"));
    let drain = q.spawn_drain(&["--linger", "600"]);
    wait_until("the first job to complete", || {
        q.names("completed").len() == 1
    });
    let status = run(q.execq(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(!status["drain"].is_null(), "still holding the queue");

    q.add("second.json", &shell_job("echo second"));
    wait_until("the lingering drain to run the second job", || {
        q.names("completed").len() == 2
    });
    kill(drain.id(), libc::SIGTERM);
    let out = finish(drain);
    assert_eq!(out.code(), 143, "stopped while lingering: {}", out.stderr);
    assert_eq!(q.result("completed/second.json")["stdout"], "second\n");
    let log = q.log();
    assert_eq!(log.matches("drain started").count(), 1, "{log}");
    assert_eq!(log.matches("drain finished").count(), 1, "{log}");
}

#[test]
fn a_lingering_drain_lets_go_when_nothing_arrives() {
    let q = TestQueue::new();
    q.add("only.json", &shell_job("echo only"));
    q.drain(&["--linger", "0.2"]).success();
    assert_eq!(q.result("completed/only.json")["stdout"], "only\n");
}

#[test]
fn the_forked_drain_keeps_none_of_the_submitters_inherited_pipes() {
    let q = TestQueue::new();
    let release = q.scratch("release");
    let gate = wait_for_file(&release);
    // fd 3 is a second copy of the captured stdout pipe, inherited (not close-on-exec): `run`
    // returns only once every copy is closed, so a drain that kept it would hang here until
    // the job ends, and the job waits for `release`.
    let script = "exec \"$0\" --queue \"$1\" submit --start --shell \"$2\" 3>&1 >/dev/null";
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_execq"))
        .arg(q.path(""))
        .arg(&gate)
        .stdin(std::process::Stdio::null());
    run(cmd).success();
    wait_until("the background drain to start the job", || {
        q.names("running").len() == 1
    });
    std::fs::write(&release, "").unwrap();
    wait_until("the job to complete", || q.names("completed").len() == 1);
}

/// A shell loop that waits for `path` to exist, giving up after about a minute so that a failed
/// test leaves no job behind for long.
fn wait_for_file(path: &std::path::Path) -> String {
    format!(
        "i=0; while [ ! -e '{}' ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i + 1)); done",
        path.display()
    )
}

#[test]
fn submit_start_that_cannot_start_a_drain_still_queues_the_job_and_says_so() {
    let q = TestQueue::new();
    run(q.execq(&["submit", "--", "true"])).success();
    let lock = q.path("drain.lock");
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir(&lock).unwrap();
    let out = run(q.execq(&["submit", "--start", "--id", "kept", "--", "true"]));
    out.success();
    assert!(out.stdout.contains("kept.json"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("the job is queued, but no drain could be started"),
        "{}",
        out.stderr
    );
    assert_eq!(q.names("pending").len(), 2, "both jobs wait for a drain");
}

#[test]
fn a_relative_cwd_is_stored_absolute() {
    let q = TestQueue::new();
    fs::create_dir_all(q.scratch("build")).unwrap();
    let mut cmd = q.execq(&["submit", "--cwd", "build", "--json", "--", "pwd"]);
    cmd.current_dir(&q.scratch);
    let out = run(cmd);
    out.success();
    let submitted: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let job: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(submitted["path"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(job["cwd"], q.scratch("build").display().to_string());
    q.drain(&[]).success();
    let name = q.names("completed").remove(0);
    assert_eq!(
        q.result(&format!("completed/{name}"))["stdout"],
        format!("{}\n", q.scratch("build").display())
    );
}

#[test]
fn an_empty_execq_queue_is_treated_as_unset() {
    let q = TestQueue::new();
    let home = q.scratch("home");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_execq"));
    cmd.args(["submit", "--", "true"])
        .env("EXECQ_QUEUE", "")
        .env("HOME", &home)
        .env_remove("XDG_DATA_HOME");
    let out = run(cmd);
    out.success();
    assert!(
        out.stdout.starts_with(&home.display().to_string()),
        "the default queue was used: {}",
        out.stdout
    );
}

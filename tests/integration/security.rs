//! Hostile and odd entries in pending/: none may run, block, or crash drain; the rest still run.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, SystemTime};

use crate::util::*;

fn aged(path: &std::path::Path) {
    let old = SystemTime::now() - Duration::from_secs(10);
    let _ = fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(old));
}

#[test]
fn a_symlinked_job_is_not_run_and_its_target_is_untouched() {
    let q = TestQueue::new();
    let marker = q.scratch("ran");
    let target = q.scratch("evil.sh");
    fs::write(&target, format!("touch '{}'\n", marker.display())).unwrap();
    std::os::unix::fs::symlink(&target, q.path("pending/link.sh")).unwrap();
    std::os::unix::fs::symlink(q.scratch("missing"), q.path("pending/dangling.json")).unwrap();
    q.add("ok.json", &shell_job("echo fine"));
    q.drain(&["--settle", "0"]).success();

    assert!(!marker.exists(), "the link's target was not run");
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        format!("touch '{}'\n", marker.display())
    );
    assert!(
        fs::symlink_metadata(q.path("failed/link.sh"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link itself moved"
    );
    let error = q.result("failed/link.sh.result.json")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        error,
        "`link.sh` is a symbolic link; execq never follows links in pending/"
    );
    assert_eq!(
        q.result("failed/dangling.json.result.json")["status"],
        "error"
    );
    assert_eq!(q.result("completed/ok.json")["stdout"], "fine\n");
}

#[test]
fn fifos_sockets_and_directories_neither_block_nor_crash_drain() {
    let q = TestQueue::new();
    let fifo = q.path("pending/pipe.json");
    mkfifo(&fifo);
    let _socket = std::os::unix::net::UnixListener::bind(q.path("pending/sock.sh")).unwrap();
    fs::create_dir(q.path("pending/dir.json")).unwrap();
    fs::write(
        q.path("pending/dir.json/inner.json"),
        shell_job("echo nested"),
    )
    .unwrap();
    q.add("ok.json", &shell_job("echo fine"));
    q.drain(&["--settle", "0"]).success();

    let reasons = [
        ("pipe.json", "`pipe.json` is a FIFO, not a regular file"),
        ("sock.sh", "`sock.sh` is a socket, not a regular file"),
        ("dir.json", "`dir.json` is a directory, not a regular file"),
    ];
    for (name, reason) in reasons {
        assert_eq!(
            q.result(&format!("failed/{name}.result.json"))["error"],
            reason
        );
    }
    assert!(
        q.path("failed/dir.json/inner.json").exists(),
        "the directory moved whole, nothing inside ran"
    );
    assert_eq!(q.result("completed/ok.json")["stdout"], "fine\n");

    let listed = run(q.execq(&["list"]));
    assert_eq!(
        listed.code(),
        0,
        "list does not open the FIFO either: {}",
        listed.stderr
    );
}

#[test]
fn an_oversized_job_file_fails_without_being_read() {
    let q = TestQueue::new();
    let big = format!(
        "{{\"command\": \"true\", \"pad\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let path = q.add("big.json", &big);
    aged(&path);
    q.drain(&[]).success();
    let result = q.result("failed/big.json.result.json");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("over the 1048576-byte limit"),
        "{result}"
    );
    assert_eq!(
        fs::metadata(q.path("failed/big.json")).unwrap().len(),
        big.len() as u64,
        "moved unchanged"
    );
}

#[test]
fn garbage_and_empty_json_files_get_clear_errors() {
    let q = TestQueue::new();
    for (name, bytes) in [
        ("empty.json", &b""[..]),
        ("garbage.json", &[0x89, b'P', b'N', b'G', 0, 0xff][..]),
        ("number.json", b"42"),
    ] {
        aged(&q.add_bytes(name, bytes));
    }
    q.drain(&[]).success();
    assert_eq!(
        q.result("failed/empty.json.result.json")["error"],
        "the job file is empty"
    );
    assert!(
        q.result("failed/garbage.json.result.json")["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON")
    );
    assert_eq!(
        q.result("failed/number.json.result.json")["error"],
        "the job is a JSON number, not an object with a `command`"
    );
}

#[test]
fn a_job_file_owned_by_another_user_is_not_run() {
    if euid() != 0 {
        eprintln!("skipping: only root can give a file to another user");
        return;
    }
    let q = TestQueue::new();
    let marker = q.scratch("ran");
    let path = q.add(
        "foreign.json",
        &shell_job(&format!("touch '{}'", marker.display())),
    );
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    aged(&path);
    q.drain(&[]).success();
    assert!(!marker.exists());
    let error = q.result("failed/foreign.json.result.json")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        error,
        "`foreign.json` is owned by uid 65534, not by the user running execq; it was not run"
    );
}

#[test]
fn a_queue_owned_by_another_user_is_refused() {
    if euid() != 0 {
        eprintln!("skipping: only root can give a folder to another user");
        return;
    }
    let q = TestQueue::new();
    q.add("job.json", &shell_job("true"));
    std::os::unix::fs::chown(q.path("pending"), Some(65534), None).unwrap();
    let out = q.drain(&[]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("is owned by uid 65534, not by you"),
        "{}",
        out.stderr
    );
    assert_eq!(q.names("pending"), ["job.json"]);
}

#[test]
fn a_world_writable_queue_root_is_refused_before_anything_runs() {
    let q = TestQueue::new();
    let marker = q.scratch("ran");
    q.add(
        "job.json",
        &shell_job(&format!("touch '{}'", marker.display())),
    );
    fs::set_permissions(&q.root, fs::Permissions::from_mode(0o757)).unwrap();
    let out = q.drain(&[]);
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("chmod go-w"), "{}", out.stderr);
    assert!(!marker.exists());
}

#[test]
fn a_result_file_may_not_replace_the_queues_own_files() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    fs::write(q.path("drain.lock"), "").unwrap();
    let lock_inode = fs::metadata(q.path("drain.lock")).unwrap().ino();
    let link = q.scratch("queue-link");
    std::os::unix::fs::symlink(&q.root, &link).unwrap();
    let targets = [
        q.path("drain.lock"),
        q.path("daemon.log"),
        q.path("pending/planted.json"),
        q.path("results/../drain.lock"),
        link.join("drain.lock"),
    ];
    for (i, target) in targets.iter().enumerate() {
        let job = serde_json::json!({
            "command": "echo '{\"command\": \"echo planted\"}'",
            "result_file": target,
        });
        q.add(&format!("job{i}.json"), &job.to_string());
    }
    q.drain(&[]).success();
    for i in 0..targets.len() {
        let result = q.result(&format!("failed/job{i}.json"));
        assert_eq!(result["status"], "error", "{result}");
        assert!(
            result["error"]
                .as_str()
                .unwrap()
                .contains("inside the queue"),
            "{result}"
        );
    }
    assert_eq!(
        fs::metadata(q.path("drain.lock")).unwrap().ino(),
        lock_inode
    );
    assert!(q.names("pending").is_empty(), "nothing was planted");
    assert!(q.names("completed").is_empty(), "nothing planted ran");

    q.add(
        "inside-results.json",
        &serde_json::json!({"command": "echo kept", "result_file": q.path("results/out.txt")})
            .to_string(),
    );
    q.drain(&[]).success();
    assert_eq!(
        fs::read_to_string(q.path("results/out.txt")).unwrap(),
        "kept\n"
    );
}

#[test]
fn replacing_the_lock_file_does_not_let_a_second_drain_in() {
    let q = TestQueue::new();
    let (started, go) = (q.scratch("started"), q.scratch("go"));
    q.add(
        "a-long.json",
        &shell_job(&format!(
            "touch '{}'; while [ ! -e '{}' ]; do sleep 0.01; done; echo done",
            started.display(),
            go.display()
        )),
    );
    let first = q.spawn_drain(&[]);
    wait_until("the first job to start", || started.exists());
    fs::remove_file(q.path("drain.lock")).unwrap();
    fs::write(q.path("drain.lock"), "").unwrap();
    q.add("b-later.json", &shell_job("echo later"));

    let second = q.drain(&[]);
    second.success();
    assert!(
        q.names("failed").is_empty(),
        "the running job was not called interrupted"
    );
    assert_eq!(
        q.names("pending"),
        ["b-later.json"],
        "the second drain ran nothing"
    );
    let status = run(q.execq(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["drain"]["job"], "a-long.json", "{status}");

    fs::write(&go, "").unwrap();
    finish(first).success();
    assert_eq!(q.result("completed/a-long.json")["stdout"], "done\n");
    assert_eq!(q.result("completed/b-later.json")["stdout"], "later\n");
}

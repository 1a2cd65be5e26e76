use std::fs;
use std::io::Write;
use std::time::Duration;

use crate::util::*;

/// Keeps running drains (as launchd would) until told to stop.
fn looping_drains(
    q: &TestQueue,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let root = q.root.clone();
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            let status = std::process::Command::new(env!("CARGO_BIN_EXE_execq"))
                .args(["--queue", root.to_str().unwrap(), "drain"])
                .status()
                .unwrap();
            assert!(status.success());
        }
    });
    (stop, handle)
}

#[test]
fn a_json_job_written_slowly_in_place_runs_once_complete() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    let (stop, drains) = looping_drains(&q);
    let mut file = fs::File::create(q.path("pending/slow.json")).unwrap();
    for piece in [
        r#"{"command": "echo","#,
        r#" "args": ["whole"], "#,
        r#""description": "slow"}"#,
    ] {
        file.write_all(piece.as_bytes()).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(600));
        assert!(
            q.names("failed").is_empty(),
            "a half-written job must not be failed"
        );
    }
    drop(file);
    wait_until("the slow job to complete", || {
        q.path("completed/slow.json").exists()
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drains.join().unwrap();
    assert_eq!(q.result("completed/slow.json")["stdout"], "whole\n");
}

#[test]
fn a_script_written_slowly_in_place_never_runs_half_written() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    let log = q.scratch("lines");
    let (stop, drains) = looping_drains(&q);
    let mut file = fs::File::create(q.path("pending/slow.sh")).unwrap();
    for line in 1..=3 {
        writeln!(file, "echo line{line} >> '{}'", log.display()).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(600));
    }
    drop(file);
    wait_until("the slow script to run", || {
        q.path("completed/slow.sh.result.json").exists()
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drains.join().unwrap();
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "line1\nline2\nline3\n",
        "ran once, whole"
    );
}

use crate::util::*;

fn stop_mid_job(signal: i32) -> (TestQueue, Output, u32) {
    let q = TestQueue::new();
    let pid_file = q.scratch("job.pid");
    let first = q.add(
        "a-long.json",
        &shell_job(&format!(
            "echo $$ > '{}'; exec sleep 60",
            pid_file.display()
        )),
    );
    set_mtime(
        &first,
        std::time::SystemTime::now() - std::time::Duration::from_secs(5),
    );
    q.add("b-later.json", &shell_job("echo ran later"));
    let drain = q.spawn_drain(&[]);
    let job_pid = read_pid(&pid_file);
    kill(drain.id(), signal);
    let out = finish(drain);
    (q, out, job_pid)
}

#[test]
fn sigterm_ends_the_job_records_it_interrupted_and_leaves_the_rest() {
    let (q, out, job_pid) = stop_mid_job(libc::SIGTERM);
    assert_eq!(out.code(), 143, "{}", out.stderr);
    let result = q.result("failed/a-long.json");
    assert_eq!(result["status"], "interrupted");
    assert_eq!(
        result["error"],
        "drain was stopped by signal 15 while the job ran"
    );
    assert_eq!(q.names("pending"), ["b-later.json"]);
    assert!(q.names("running").is_empty());
    wait_until("the job to be gone", || !alive(job_pid));
    assert!(q.log().contains("stopped_by=15"));
}

#[test]
fn sigint_exits_130() {
    let (q, out, job_pid) = stop_mid_job(libc::SIGINT);
    assert_eq!(out.code(), 130);
    assert_eq!(q.result("failed/a-long.json")["status"], "interrupted");
    wait_until("the job to be gone", || !alive(job_pid));
}

#[test]
fn the_lock_is_released_after_a_stop_so_the_next_drain_runs() {
    let (q, _, _) = stop_mid_job(libc::SIGTERM);
    q.drain(&[]).success();
    assert_eq!(q.result("completed/b-later.json")["stdout"], "ran later\n");
}

//! What only the system calls show (strace): the order of the durable steps (what a power loss
//! could undo cannot be shown by killing a process, whose writes the kernel keeps), and how jobs
//! are started.

use std::process::Command;

use crate::util::*;

/// Runs `cmd` under strace (following forks) and returns the trace's lines.
fn traced(q: &TestQueue, cmd: Command) -> Vec<String> {
    test_deps();
    let log = q.scratch("strace.log");
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "-qq", "-s", "512", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=openat,close,fsync,link,linkat,rename,renameat2,execve,clone,clone3,fork,vfork",
        ])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => traced.env(key, value),
            None => traced.env_remove(key),
        };
    }
    run(traced).success();
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The descriptor an `openat` of a path ending in `suffix` returned, and the line it is on.
fn opened(trace: &[String], suffix: &str) -> (usize, String) {
    let (i, line) = trace
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("openat(") && l.contains(&format!("{suffix}\"")))
        .unwrap_or_else(|| panic!("no openat of …{suffix} in\n{}", trace.join("\n")));
    let fd = line.rsplit("= ").next().unwrap().trim().to_owned();
    (i, fd)
}

fn first(trace: &[String], from: usize, what: impl Fn(&str) -> bool) -> Option<usize> {
    trace
        .iter()
        .skip(from)
        .position(|l| what(l))
        .map(|i| i + from)
}

/// Where the descriptor opened on line `at` is synced, after line `after` and before it is
/// closed (descriptor numbers are reused).
fn synced_while_open(trace: &[String], at: usize, fd: &str, after: usize) -> Option<usize> {
    let closed = first(trace, at, |l| l.contains(&format!("close({fd})"))).unwrap_or(trace.len());
    first(trace, after, |l| l.contains(&format!("fsync({fd})"))).filter(|&i| i < closed)
}

#[test]
fn submit_makes_the_content_durable_before_the_name_then_the_name() {
    // The content is synced before the job has a name in pending/, so no drain can ever run a job
    // whose content a power loss could take back (BENCHMARKS.md: why a one-commit submission,
    // which links first, was measured and not kept); then pending/ is synced, so the job is on
    // disk when submit returns.
    let q = TestQueue::new();
    let trace = traced(&q, q.execq(&["submit", "--", "true"]));
    let linked = first(&trace, 0, |l| is_link(l) && l.contains("/pending/"))
        .unwrap_or_else(|| panic!("no link into pending/:\n{}", trace.join("\n")));
    let (at, fd) = opened(&trace, ".tmp");
    let content = synced_while_open(&trace, at, &fd, at)
        .unwrap_or_else(|| panic!("the job's content is never synced:\n{}", trace.join("\n")));
    assert!(
        content < linked,
        "the job was linked into pending/ before its content was synced:\n{}",
        trace.join("\n")
    );
    let (dir_at, dir_fd) = opened(&trace, "/pending");
    assert!(dir_at > linked);
    assert!(
        synced_while_open(&trace, dir_at, &dir_fd, dir_at).is_some(),
        "pending/ is not synced after the link:\n{}",
        trace.join("\n")
    );
    assert_eq!(q.names("pending").len(), 1);
}

/// A `link(` or `linkat(` line (after strace's pid column).
fn is_link(line: &str) -> bool {
    let call = line
        .split_once(' ')
        .map_or(line, |(_, rest)| rest.trim_start());
    call.starts_with("link(") || call.starts_with("linkat(")
}

#[test]
fn jobs_with_a_working_folder_are_started_without_copying_the_drain() {
    // std starts a job by posix_spawn (a vfork: nothing of the drain is copied) unless it cannot;
    // with a `cwd` it needs glibc's posix_spawn_file_actions_addchdir_np, which the statically
    // linked build lacked until it was kept on purpose (see `sys::linux`), so every job that
    // `execq submit` made forked the whole drain.
    let q = TestQueue::new();
    let folder = q.scratch.display().to_string();
    q.add(
        "in-folder.json",
        &format!(r#"{{"command": "/bin/true", "args": [], "cwd": "{folder}"}}"#),
    );
    let trace = traced(&q, q.execq(&["drain"]));
    assert_eq!(q.names("completed"), ["in-folder.json"]);
    let spawns: Vec<&String> = trace
        .iter()
        .filter(|l| ["clone(", "clone3(", "fork("].iter().any(|c| l.contains(c)))
        .collect();
    assert!(
        !spawns.is_empty(),
        "no process was started:\n{}",
        trace.join("\n")
    );
    for spawn in spawns {
        assert!(
            spawn.contains("CLONE_VFORK")
                || spawn.contains("CLONE_THREAD")
                || spawn.contains("vfork("),
            "a job was started by copying the drain: {spawn}"
        );
    }
}

use std::fs;

use crate::util::*;

#[test]
fn a_sh_file_runs_in_sh_and_moves_unchanged_with_a_sidecar() {
    let q = TestQueue::new();
    let script = "cd / && echo \"in $(pwd)\"\necho to-stderr >&2\n";
    q.add_aged("job.sh", script, 10);
    q.drain(&[]).success();
    assert_eq!(
        fs::read_to_string(q.path("completed/job.sh")).unwrap(),
        script,
        "byte for byte"
    );
    let sidecar = q.json("completed/job.sh.result.json");
    assert_eq!(sidecar["job"], "job.sh");
    assert_eq!(sidecar["result"]["status"], "completed");
    assert_eq!(sidecar["result"]["stdout"], "in /\n");
    assert_eq!(sidecar["result"]["stderr"], "to-stderr\n");
}

#[test]
fn a_txt_file_is_a_shell_script_too_and_failures_go_to_failed() {
    let q = TestQueue::new();
    q.add_aged("cmd.txt", "echo before\nfalse\n", 10);
    q.drain(&[]).success();
    assert!(q.path("failed/cmd.txt").exists());
    let result = q.result("failed/cmd.txt.result.json");
    assert_eq!(result["status"], "failed");
    assert_eq!(result["returncode"], 1);
}

#[test]
fn a_shebang_line_picks_the_interpreter() {
    let q = TestQueue::new();
    q.add_aged(
        "env.sh",
        "#!/usr/bin/env bash\necho \"bash ${BASH_VERSINFO[0]}\"\n",
        10,
    );
    q.drain(&[]).success();
    let out = q.result("completed/env.sh.result.json")["stdout"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(out.starts_with("bash "), "{out}");
}

#[test]
fn unparseable_json_moves_unchanged_with_an_error_sidecar() {
    let q = TestQueue::new();
    let garbage = b"{\"command\": \"echo\", oops\xff\n";
    let path = q.add_bytes("broken.json", garbage);
    set_mtime(
        &path,
        std::time::SystemTime::now() - std::time::Duration::from_secs(10),
    );
    q.add("list.json", "[1, 2]");
    q.drain(&[]).success();
    assert_eq!(fs::read(q.path("failed/broken.json")).unwrap(), garbage);
    let result = q.result("failed/broken.json.result.json");
    assert_eq!(result["status"], "error");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON"),
        "{result}"
    );
    assert_eq!(
        q.result("failed/list.json.result.json")["error"],
        "the job is a JSON list, not an object with a `command`"
    );
}

#[test]
fn other_formats_are_failed_as_unsupported() {
    let q = TestQueue::new();
    q.add_aged("script.py", "print('no')\n", 10);
    q.drain(&[]).success();
    assert_eq!(
        fs::read_to_string(q.path("failed/script.py")).unwrap(),
        "print('no')\n"
    );
    let error = q.result("failed/script.py.result.json")["error"].clone();
    assert_eq!(
        error,
        "unsupported job format: `script.py` (use .json, .sh or .txt)"
    );
}

#[test]
fn empty_and_binary_scripts_are_refused_without_running() {
    let q = TestQueue::new();
    q.add_aged("empty.sh", "", 10);
    let bin = q.add_bytes("binary.sh", b"\x7fELF\x00\x01rm -rf x");
    set_mtime(
        &bin,
        std::time::SystemTime::now() - std::time::Duration::from_secs(10),
    );
    q.drain(&[]).success();
    assert_eq!(
        q.result("failed/empty.sh.result.json")["error"],
        "the job file is empty"
    );
    assert!(
        q.result("failed/binary.sh.result.json")["error"]
            .as_str()
            .unwrap()
            .contains("NUL bytes")
    );
}

#[test]
fn dot_files_in_pending_are_left_alone() {
    let q = TestQueue::new();
    q.add_aged(".in-progress.json", "{\"command\": \"tou", 60);
    q.drain(&[]).success();
    assert_eq!(q.names("pending"), [".in-progress.json"]);
    assert!(q.names("failed").is_empty() && q.names("completed").is_empty());
}

#[test]
fn a_script_that_deletes_itself_is_recorded_and_the_queue_goes_on() {
    let q = TestQueue::new();
    q.add_aged("selfclean.sh", "rm -- \"$0\"\necho cleaned\n", 20);
    let next = q.add_aged("next.sh", "echo next\n", 10);
    assert!(next.exists());
    q.drain(&[]).success();
    assert_eq!(
        q.result("completed/next.sh.result.json")["stdout"],
        "next\n"
    );
    let result = q.result("completed/selfclean.sh.result.json");
    assert_eq!(result["stdout"], "cleaned\n");
    assert!(
        result["notes"][0].as_str().unwrap().contains("removed"),
        "{result}"
    );
    assert!(q.names("running").is_empty());

    let listed = run(q.execq(&["list", "--json"]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed.stdout).unwrap();
    let row = rows
        .iter()
        .find(|r| r["job"] == "selfclean.sh")
        .unwrap_or_else(|| panic!("the self-deleted script is listed: {rows:?}"));
    assert_eq!(row["status"], "completed");
    let shown = run(q.execq(&["show", "selfclean"]));
    assert!(shown.stdout.contains("cleaned"), "{}", shown.stdout);
    let status = run(q.execq(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["counts"]["completed"], 2);
    run(q.execq(&["prune", "--older-than", "0"])).success();
    assert!(q.names("completed").is_empty());
}

#[test]
fn a_job_that_removes_running_is_recorded_and_the_queue_goes_on() {
    let q = TestQueue::new();
    q.add_aged(
        "a-wrecker.sh",
        "rm -rf \"$EXECQ_QUEUE/running\"\necho wrecked\n",
        20,
    );
    q.add_aged(
        "b-wrecker.json",
        &shell_job("rm -rf \"$EXECQ_QUEUE/running\"; echo again"),
        15,
    );
    q.add_aged("c-after.json", &shell_job("echo after"), 10);
    q.drain(&[]).success();
    assert_eq!(
        q.result("completed/a-wrecker.sh.result.json")["stdout"],
        "wrecked\n"
    );
    assert_eq!(q.result("completed/b-wrecker.json")["stdout"], "again\n");
    assert_eq!(q.result("completed/c-after.json")["stdout"], "after\n");
    assert!(q.names("running").is_empty());
}

#[test]
fn a_job_that_removes_pending_is_recorded_and_the_queue_recovers() {
    let q = TestQueue::new();
    q.add(
        "wipe.json",
        &shell_job("rm -rf \"$EXECQ_QUEUE/pending\"; echo wiped"),
    );
    q.drain(&[]).success();
    assert_eq!(q.result("completed/wipe.json")["stdout"], "wiped\n");
    run(q.execq(&["submit", "--id", "after", "--", "echo", "after"])).success();
    q.drain(&[]).success();
    assert_eq!(q.names("completed").len(), 2);
}

use serde_json::json;

use crate::util::*;

#[test]
fn args_job_runs_directly_and_gets_the_seeds_result_format() {
    let q = TestQueue::new();
    q.add(
        "hello.json",
        r#"{"command": "echo", "args": ["Hello", "$HOME"], "description": "Test"}"#,
    );
    q.drain(&[]).success();

    let record = q.json("completed/hello.json");
    assert_eq!(record["command"], "echo");
    assert_eq!(record["description"], "Test");
    let result = &record["result"];
    assert_eq!(result["status"], "completed");
    assert_eq!(result["returncode"], 0);
    assert_eq!(
        result["stdout"], "Hello $HOME\n",
        "no shell: $HOME is not expanded"
    );
    assert_eq!(result["stderr"], "");
    assert_eq!(result["error"], serde_json::Value::Null);
    assert_eq!(result["timed_out"], false);
    for key in ["started_at", "completed_at"] {
        let stamp = result[key].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
            "{key} = {stamp}"
        );
    }
    assert!(result["duration_ms"].is_u64());
    assert!(q.names("pending").is_empty() && q.names("running").is_empty());
}

#[test]
fn command_without_args_runs_in_the_shell() {
    let q = TestQueue::new();
    q.add(
        "pipe.json",
        &shell_job("echo hello | tr a-z A-Z; echo oops >&2"),
    );
    q.drain(&[]).success();
    let result = q.result("completed/pipe.json");
    assert_eq!(result["stdout"], "HELLO\n");
    assert_eq!(result["stderr"], "oops\n");
}

#[test]
fn a_non_zero_exit_goes_to_failed_with_its_code() {
    let q = TestQueue::new();
    q.add("exit3.json", &shell_job("echo partial; exit 3"));
    q.drain(&[]).success();
    let result = q.result("failed/exit3.json");
    assert_eq!(result["status"], "failed");
    assert_eq!(result["returncode"], 3);
    assert_eq!(result["stdout"], "partial\n");
}

#[test]
fn a_job_killed_by_a_signal_reports_it() {
    let q = TestQueue::new();
    q.add("selfkill.json", &shell_job("kill -9 $$"));
    q.drain(&[]).success();
    let result = q.result("failed/selfkill.json");
    assert_eq!(result["status"], "failed");
    assert_eq!(result["signal"], 9);
    assert_eq!(result["returncode"], -9);
}

#[test]
fn every_field_of_the_job_is_kept_in_order() {
    let q = TestQueue::new();
    q.add(
        "fields.json",
        r#"{"zeta": 1, "task_id": "t-1", "command": "true", "args": [], "purpose": "p", "nested": {"a": [1, 2]}, "alpha": null}"#,
    );
    q.drain(&[]).success();
    let record = q.json("completed/fields.json");
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "zeta", "task_id", "command", "args", "purpose", "nested", "alpha", "result"
        ]
    );
    assert_eq!(record["nested"], json!({"a": [1, 2]}));
}

#[test]
fn a_missing_program_is_an_error_not_a_crash() {
    let q = TestQueue::new();
    q.add(
        "missing.json",
        r#"{"command": "no-such-program-execq", "args": []}"#,
    );
    q.add(
        "after.json",
        r#"{"command": "echo", "args": ["still works"]}"#,
    );
    q.drain(&[]).success();
    let result = q.result("failed/missing.json");
    assert_eq!(result["status"], "error");
    assert_eq!(result["returncode"], serde_json::Value::Null);
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("`no-such-program-execq` not found"),
        "{result}"
    );
    assert_eq!(q.result("completed/after.json")["stdout"], "still works\n");
}

#[test]
fn invalid_fields_are_named_in_the_error_and_the_job_is_kept() {
    let q = TestQueue::new();
    let cases = [
        (
            "no-command.json",
            r#"{"args": ["x"]}"#,
            "`command` is missing",
        ),
        (
            "null-command.json",
            r#"{"command": null}"#,
            "`command` must be a string, found null",
        ),
        (
            "empty-command.json",
            r#"{"command": "  "}"#,
            "`command` is empty",
        ),
        (
            "args-string.json",
            r#"{"command": "echo", "args": "x"}"#,
            "`args` must be a list of strings, found a string",
        ),
        (
            "args-number.json",
            r#"{"command": "echo", "args": ["x", 2]}"#,
            "`args[1]` must be a string, found a number",
        ),
        (
            "nul.json",
            r#"{"command": "echo", "args": ["a\u0000b"]}"#,
            "`args[0]` contains a NUL byte",
        ),
        (
            "bad-id.json",
            r#"{"command": "true", "task_id": []}"#,
            "`task_id` must be a string, found a list",
        ),
    ];
    for (name, body, _) in cases {
        q.add(name, body);
    }
    q.drain(&[]).success();
    for (name, body, message) in cases {
        let record = q.json(&format!("failed/{name}"));
        assert_eq!(record["result"]["status"], "error", "{name}");
        assert_eq!(record["result"]["error"], message, "{name}");
        let original: serde_json::Value = serde_json::from_str(body).unwrap();
        for (key, value) in original.as_object().unwrap() {
            assert_eq!(&record[key], value, "{name}: field {key} kept");
        }
    }
}

#[test]
fn result_file_gets_the_full_stdout_inside_results() {
    let q = TestQueue::new();
    q.add(
        "rf.json",
        r#"{"command": "printf", "args": ["line1\\nline2\\n"], "result_file": "sub/out.txt"}"#,
    );
    q.drain(&[]).success();
    let target = q.path("results/sub/out.txt");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "line1\nline2\n");
    let result = q.result("completed/rf.json");
    assert_eq!(result["result_file"], target.display().to_string());
    assert_eq!(result["result_file_truncated"], false);
}

#[test]
fn two_jobs_writing_one_result_file_at_once_both_complete_and_one_copy_wins() {
    let q = TestQueue::new();
    for (me, other) in [("a", "b"), ("b", "a")] {
        // Each job's result file is open before it starts: both are being written at once.
        let script = format!(
            "touch '{mine}'; while [ ! -e '{theirs}' ]; do sleep 0.02; done; echo from-{me}",
            mine = q.scratch(me).display(),
            theirs = q.scratch(other).display(),
        );
        q.add(
            &format!("{me}.json"),
            &json!({"command": script, "result_file": "shared.txt"}).to_string(),
        );
    }
    q.drain(&["--jobs", "2"]).success();
    let target = q.path("results/shared.txt");
    let content = std::fs::read_to_string(&target).unwrap();
    assert!(
        content == "from-a\n" || content == "from-b\n",
        "{content:?}"
    );
    for name in ["a", "b"] {
        let result = q.result(&format!("completed/{name}.json"));
        assert_eq!(result["status"], "completed", "{result}");
        assert!(result["error"].is_null(), "{result}");
        assert_eq!(result["result_file"], target.display().to_string());
    }
    let stray: Vec<String> = q
        .names("results")
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "no temporaries left: {stray:?}");
}

#[test]
fn an_absolute_result_file_is_written_where_asked() {
    let q = TestQueue::new();
    let target = q.scratch("absolute.txt");
    q.add(
        "abs.json",
        &json!({"command": "echo", "args": ["abs"], "result_file": target}).to_string(),
    );
    q.drain(&[]).success();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "abs\n");
}

#[test]
fn a_result_file_cannot_escape_results() {
    let q = TestQueue::new();
    q.add(
        "escape.json",
        r#"{"command": "echo", "args": ["x"], "result_file": "../escaped.txt"}"#,
    );
    q.drain(&[]).success();
    let result = q.result("failed/escape.json");
    assert_eq!(result["status"], "error");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("must stay inside results/")
    );
    assert!(!q.path("escaped.txt").exists());
}

#[test]
fn a_symlink_inside_results_is_not_followed() {
    let q = TestQueue::new();
    q.drain(&[]).success();
    std::os::unix::fs::symlink(&q.scratch, q.path("results/link")).unwrap();
    q.add(
        "via-link.json",
        r#"{"command": "echo", "args": ["x"], "result_file": "link/out.txt"}"#,
    );
    q.drain(&[]).success();
    assert_eq!(q.result("failed/via-link.json")["status"], "error");
    assert!(!q.scratch("out.txt").exists());
}

#[test]
fn cwd_and_per_job_timeout_fields_are_honoured() {
    let q = TestQueue::new();
    q.add(
        "cwd.json",
        &json!({"command": "pwd", "args": [], "cwd": q.scratch}).to_string(),
    );
    q.add(
        "bad-cwd.json",
        r#"{"command": "pwd", "args": [], "cwd": "/no/such/dir"}"#,
    );
    q.drain(&[]).success();
    let here = q.scratch.canonicalize().unwrap();
    assert_eq!(
        q.result("completed/cwd.json")["stdout"],
        format!("{}\n", here.display())
    );
    let bad = q.result("failed/bad-cwd.json");
    assert_eq!(
        bad["error"],
        "working directory `/no/such/dir` does not exist"
    );
}

#[test]
fn stdin_is_empty_so_a_job_reading_it_does_not_hang() {
    let q = TestQueue::new();
    q.add("cat.json", r#"{"command": "cat", "args": []}"#);
    q.drain(&[]).success();
    assert_eq!(q.result("completed/cat.json")["stdout"], "");
}

#[test]
fn jobs_see_where_they_came_from() {
    let q = TestQueue::new();
    q.add(
        "env.json",
        r#"{"task_id": "t-42", "command": "echo $EXECQ_TASK_ID $EXECQ_JOB"}"#,
    );
    q.drain(&[]).success();
    assert_eq!(q.result("completed/env.json")["stdout"], "t-42 env.json\n");
}

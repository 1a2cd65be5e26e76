//! Tests run by real clients written in Python: the dashboard in headless Chromium (Selenium)
//! and `execq mcp` through the official MCP Python SDK. `scripts/test-deps.sh` installs what they need the first time (Debian's
//! chromium and chromium-driver, a virtual environment with tests/py/requirements.txt); when it
//! cannot, these tests fail saying why — they never skip.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{finish_within, test_deps};

/// Runs `tests/py/FILE` with unittest against this build's `execq`; fails with its report.
fn run_python_tests(file: &str, deadline: Duration) {
    let root = env!("CARGO_MANIFEST_DIR");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let child = Command::new(test_deps())
        .args(["-m", "unittest", "-v"])
        .arg(Path::new("tests/py").join(file))
        .current_dir(root)
        .env("EXECQ_BIN", env!("CARGO_BIN_EXE_execq"))
        .env("EXECQ_SHOTS", &shots)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(child, deadline);
    assert!(
        out.status.success(),
        "tests/py/{file} failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    // unittest reports on stderr; an empty run would pass vacuously.
    assert!(
        out.stderr.contains("\nOK"),
        "tests/py/{file}: no OK:\n{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("skipped"),
        "tests/py/{file} skipped tests:\n{}",
        out.stderr
    );
}

/// The file page and the served page in headless Chromium: counts, escaped hostile output,
/// retry and cancel with and without the token, live updates, non-blank screenshots, Ctrl-C.
#[test]
fn dashboard_in_a_real_browser() {
    run_python_tests("test_dashboard.py", Duration::from_secs(300));
}

/// `execq mcp` through the official MCP TypeScript SDK: its validator compiles every tool's
/// output schema when the tools are listed, and warns about anything JSON Schema does not define
/// (schemars' `uint64` formats did, about 40 times).
#[test]
fn mcp_tools_list_through_the_typescript_sdk_without_warnings() {
    let queue = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_execq");
    let report = node(
        "list_tools.mjs",
        &[bin, &queue.path().display().to_string()],
    );
    assert_eq!(report["tools"], 12, "{report}");
    assert_eq!(report["isError"], false, "{report}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
}

/// Runs `tests/js/SCRIPT` with `args` (a client of its own, so a server of its own) and returns
/// the one JSON line it printed; fails with its output unless it exits 0.
fn node(script: &str, args: &[&str]) -> serde_json::Value {
    test_deps();
    let root = env!("CARGO_MANIFEST_DIR");
    let child = Command::new("node")
        .arg(Path::new(root).join("tests/js").join(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(child, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{script} {args:?}: {}\n{}",
        out.stdout,
        out.stderr
    );
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// One step of `tests/js/tasks.mjs` (2025-11-25).
fn task_step(queue: &Path, step: &[&str]) -> serde_json::Value {
    let queue = queue.display().to_string();
    let args: Vec<&str> = [env!("CARGO_BIN_EXE_execq"), queue.as_str()]
        .into_iter()
        .chain(step.iter().copied())
        .collect();
    node("tasks.mjs", &args)
}

/// MCP tasks (2025-11-25) through the TypeScript SDK's tasks client: a task's stream to its
/// result; a task made by one server answered, waited for and cancelled by later ones (each step
/// is a new client and server); a failed job is a failed task; a call without a task as before.
#[test]
fn mcp_tasks_through_the_typescript_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue");
    let run = task_step(&queue, &["run"]);
    assert_eq!(run["taskSupport"]["submit_job"], "optional", "{run}");
    assert_eq!(
        run["taskSupport"]["get_job"],
        serde_json::Value::Null,
        "{run}"
    );
    let types = run["types"].as_array().unwrap();
    assert_eq!(types.first().unwrap(), "taskCreated", "{run}");
    assert_eq!(types.last().unwrap(), "result", "{run}");
    let id = run["task"]["taskId"].as_str().unwrap().to_owned();
    assert!(id.ends_with(".json"), "the task is the job: {id}");
    assert_eq!(run["result"]["isError"], false, "{run}");
    assert!(
        run["result"]["structuredContent"]["stdout_tail"]
            .as_str()
            .unwrap()
            .contains("done")
    );
    assert_eq!(run["get"]["status"], "completed", "{run}");
    assert_eq!(
        run["final"]["structuredContent"]["job"],
        id.as_str(),
        "{run}"
    );
    assert!(
        run["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == id.as_str()),
        "{run}"
    );

    // A task outlives its client and server, even one killed mid-task: the next ones answer.
    let killed = task_step(&queue, &["killed", "sleep 2; echo survived"]);
    assert!(killed["killed"].as_u64().is_some(), "{killed}");
    let survived = killed["task"]["taskId"].as_str().unwrap().to_owned();
    let result = task_step(&queue, &["result", &survived]);
    assert!(
        result["final"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("survived"),
        "{result}"
    );
    let later = task_step(&queue, &["start", "sleep 2; echo later"]);
    let later_id = later["task"]["taskId"].as_str().unwrap().to_owned();
    assert_eq!(later["task"]["status"], "working", "{later}");
    let result = task_step(&queue, &["result", &later_id]);
    assert_eq!(result["final"]["isError"], false, "{result}");
    assert!(
        result["final"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("later"),
        "{result}"
    );

    // Cancelled by a later server: the job's processes end, its record says cancelled.
    let pidfile = dir.path().join("pid");
    let line = format!("echo $$ > {}; exec sleep 60", pidfile.display());
    let long = task_step(&queue, &["start", &line]);
    let long_id = long["task"]["taskId"].as_str().unwrap().to_owned();
    crate::util::wait_until("the long job to start", || pidfile.exists());
    let got = task_step(&queue, &["get", &long_id]);
    assert_eq!(got["get"]["status"], "working", "{got}");
    let cancelled = task_step(&queue, &["cancel", &long_id]);
    assert_eq!(cancelled["cancel"]["status"], "cancelled", "{cancelled}");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    crate::util::wait_until("the job's process to end", || !crate::util::alive(pid));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(queue.join("failed").join(&long_id)).unwrap())
            .unwrap();
    assert_eq!(record["result"]["status"], "cancelled", "{record}");

    // A job that fails is a failed task, with why.
    let failing = task_step(&queue, &["start", "echo broken >&2; exit 3"]);
    let failing_id = failing["task"]["taskId"].as_str().unwrap().to_owned();
    let result = task_step(&queue, &["result", &failing_id]);
    assert_eq!(result["final"]["isError"], true, "{result}");
    let got = task_step(&queue, &["get", &failing_id]);
    assert_eq!(got["get"]["status"], "failed", "{got}");

    // A job's record and output as resources; a subscription says when the record lands.
    let watch = task_step(&queue, &["watch", "sleep 1; echo watched"]);
    assert_eq!(watch["templates"].as_array().unwrap().len(), 3, "{watch}");
    let uri = watch["updated"].as_str().expect("no resource update came");
    assert!(uri.starts_with("execq://job/"), "{watch}");
    assert_eq!(watch["record"]["result"]["status"], "completed", "{watch}");
    assert_eq!(watch["stdout"], "watched\n", "{watch}");

    // Without a task, a call is what it always was.
    let plain = task_step(&queue, &["plain", "echo plain"]);
    assert_eq!(
        plain["result"]["structuredContent"]["status"], "completed",
        "{plain}"
    );
}

/// `execq mcp` through the official MCP Python SDK: tools and schemas, submit and results,
/// waiting, paging 1 MiB of output, live output, cancel (processes gone), list, retry, tool
/// errors, the allowlist (flags and `[mcp]`), read-only.
#[test]
fn mcp_server_through_the_python_sdk() {
    run_python_tests("test_mcp.py", Duration::from_secs(300));
}

/// MCP tasks in protocol 2026-07-28 (the tasks extension) through the official Python SDK 2: a
/// 5 s job's task polled to completed and its result read; a failed job a completed task with an
/// error result; retry as a task; cancel (processes gone, record cancelled); a task outliving a
/// killed server; a client without tasks as before; refused calls, a sandbox that would hold the
/// queue and a failed dependency as failed tasks with why.
#[test]
fn mcp_tasks_through_the_python_sdk() {
    run_python_tests("test_mcp_tasks.py", Duration::from_secs(300));
}

/// One step of `tests/js/tasks_v2.mjs` (2026-07-28, the TypeScript SDK 2 and its tasks client).
fn task_step_v2(queue: &Path, step: &str, arg: &str) -> serde_json::Value {
    let server = serde_json::json!([env!("CARGO_BIN_EXE_execq"), "--queue", queue, "mcp"]);
    let seen = node("tasks_v2.mjs", &[&server.to_string(), step, arg]);
    assert_eq!(seen["protocolVersion"], "2026-07-28", "{seen}");
    assert_eq!(seen["error"], serde_json::Value::Null, "{seen}");
    seen
}

/// MCP tasks (2026-07-28) through the official TypeScript tasks client (`ext-tasks`): a 5 s job's
/// task followed to its result; a task made by one server followed to its end, looked at and
/// cancelled by later ones; a job that ran and failed is a completed task with an error result.
#[test]
fn mcp_tasks_2026_through_the_typescript_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue");
    let run = task_step_v2(&queue, "run", "sleep 5; echo five");
    assert_eq!(run["outcome"], "completed", "{run}");
    let polls = (run["wire"].as_array().unwrap().iter()).filter(|m| *m == "tasks/get");
    assert!(polls.count() >= 3, "polled to the end: {run}");
    assert_eq!(run["result"]["isError"], false, "{run}");
    assert_eq!(run["result"]["structuredContent"]["stdout_tail"], "five\n");
    let id = run["task"]["taskId"].as_str().unwrap();
    assert!(
        queue.join("completed").join(id).exists(),
        "the task is the job: {id}"
    );

    // Made by one server, followed by the next.
    let started = task_step_v2(&queue, "start", "sleep 2; echo later");
    assert_eq!(started["task"]["status"], "working", "{started}");
    let later = started["task"]["taskId"].as_str().unwrap();
    let result = task_step_v2(&queue, "result", later);
    assert_eq!(result["outcome"], "completed", "{result}");
    assert_eq!(
        result["result"]["structuredContent"]["stdout_tail"],
        "later\n"
    );

    // Cancelled by a later server: the job's processes end, its record says cancelled.
    let pidfile = dir.path().join("pid");
    let line = format!("echo $$ > {}; exec sleep 60", pidfile.display());
    let long = task_step_v2(&queue, "start", &line);
    let long = long["task"]["taskId"].as_str().unwrap().to_owned();
    crate::util::wait_until("the long job to start", || pidfile.exists());
    let got = task_step_v2(&queue, "get", &long);
    assert_eq!(got["task"]["status"], "working", "{got}");
    let cancelled = task_step_v2(&queue, "cancel", &long);
    assert_eq!(cancelled["cancelAcknowledged"], true, "{cancelled}");
    assert_eq!(cancelled["task"]["status"], "cancelled", "{cancelled}");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    crate::util::wait_until("the job's process to end", || !crate::util::alive(pid));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(queue.join("failed").join(&long)).unwrap()).unwrap();
    assert_eq!(record["result"]["status"], "cancelled", "{record}");

    // A job that ran and failed: a completed task whose result is an error.
    let failed = task_step_v2(&queue, "run", "echo broken >&2; exit 4");
    assert_eq!(failed["outcome"], "completed", "{failed}");
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    assert_eq!(failed["result"]["structuredContent"]["returncode"], 4);
}

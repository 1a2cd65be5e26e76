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
    test_deps();
    let root = env!("CARGO_MANIFEST_DIR");
    let queue = tempfile::tempdir().unwrap();
    let child = Command::new("node")
        .arg(Path::new(root).join("tests/js/list_tools.mjs"))
        .arg(env!("CARGO_BIN_EXE_execq"))
        .arg(queue.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(child, Duration::from_secs(60));
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(report["tools"], 7, "{report}");
    assert_eq!(report["isError"], false, "{report}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
}

/// Runs one step of `tests/js/tasks.mjs` (a client of its own, so a server of its own) and
/// returns what it printed.
fn task_step(queue: &Path, step: &[&str]) -> serde_json::Value {
    test_deps();
    let root = env!("CARGO_MANIFEST_DIR");
    let child = Command::new("node")
        .arg(Path::new(root).join("tests/js/tasks.mjs"))
        .arg(env!("CARGO_BIN_EXE_execq"))
        .arg(queue)
        .args(step)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(child, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{step:?}: {}\n{}",
        out.stdout,
        out.stderr
    );
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
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

    // A task outlives its client and server: the next ones answer for it.
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

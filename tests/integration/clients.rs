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

/// `execq mcp` through the official MCP Python SDK: tools and schemas, submit and results,
/// waiting, paging 1 MiB of output, live output, cancel (processes gone), list, retry, tool
/// errors, the allowlist (flags and `[mcp]`), read-only.
#[test]
fn mcp_server_through_the_python_sdk() {
    run_python_tests("test_mcp.py", Duration::from_secs(300));
}

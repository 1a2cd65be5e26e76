//! The seed design's own example jobs, as a user would drop them in.

use std::fs;
use std::path::Path;

use crate::util::*;

#[test]
fn the_seeds_example_jobs_produce_the_seeds_result_format() {
    let q = TestQueue::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-jobs");
    let mut names = Vec::new();
    for entry in fs::read_dir(&fixtures).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        q.add_aged(&name, &fs::read_to_string(entry.path()).unwrap(), 10);
        names.push(name);
    }
    q.drain(&[]).success();

    let echo = q.json("completed/01-echo.json");
    assert_eq!(echo["result"]["stdout"], "Hello, World!\n");
    assert_eq!(
        fs::read_to_string(q.path("results/optional_output.txt")).unwrap(),
        "Hello, World!\n"
    );
    assert_eq!(
        q.result("completed/02-alternative.json")["status"],
        "completed"
    );
    assert_eq!(
        q.result("completed/03-mcp-tool.json")["stdout"],
        "Hello from MCP tool\n"
    );
    assert_eq!(
        q.result("completed/04-script.sh.result.json")["status"],
        "completed"
    );
    assert_eq!(q.result("failed/05-fails.json")["status"], "failed");
    assert_eq!(q.result("failed/06-invalid.json")["status"], "error");
    for key in ["status", "returncode", "stdout", "stderr", "completed_at"] {
        assert!(echo["result"].get(key).is_some(), "seed key {key}");
    }
    assert_eq!(
        q.names("completed").len() + q.names("failed").len(),
        names.len() + 1,
        "all accounted for"
    );
}

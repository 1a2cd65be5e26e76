//! Numbers from outside — job fields and command-line durations — are checked before any
//! arithmetic, so none can panic a drain or wrap into a different value.

use std::fs;

use crate::util::*;

#[test]
fn a_huge_job_timeout_is_refused_and_the_queue_goes_on() {
    let q = TestQueue::new();
    q.add_aged(
        "a-huge.json",
        r#"{"command": "echo ran", "timeout": 1e19}"#,
        20,
    );
    q.add_aged("b-next.json", &shell_job("echo next"), 10);
    let out = q.drain(&[]);
    out.success();
    let result = q.result("failed/a-huge.json");
    assert_eq!(result["status"], "error");
    assert_eq!(result["stdout"], "", "the job never started");
    assert!(
        result["error"].as_str().unwrap().contains("`timeout`"),
        "{result}"
    );
    assert_eq!(q.result("completed/b-next.json")["stdout"], "next\n");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn submit_refuses_timeouts_that_are_not_finite_positive_and_bounded() {
    let q = TestQueue::new();
    for bad in ["1e19", "nan", "inf", "-5", "0"] {
        let out = run(q.execq(&["submit", "--timeout", bad, "--", "true"]));
        assert_fails_with(&out, 2, bad);
    }
    assert!(q.names("pending").is_empty());
}

#[test]
fn drain_refuses_durations_that_are_not_finite_and_bounded() {
    let q = TestQueue::new();
    for (flag, bad) in [
        ("--timeout", "1e19"),
        ("--timeout", "nan"),
        ("--grace", "inf"),
        ("--settle", "-1"),
        ("--linger", "1e300"),
    ] {
        let out = q.drain(&[&format!("{flag}={bad}")]);
        assert_fails_with(&out, 2, &format!("invalid value '{bad}' for '{flag}"));
    }
}

#[test]
fn prune_refuses_an_age_that_would_wrap() {
    let q = TestQueue::new();
    q.add("old.json", &shell_job("true"));
    q.drain(&[]).success();
    let record = q.path("completed/old.json");
    set_mtime(
        &record,
        std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400),
    );
    let out = run(q.execq(&["prune", "--older-than", "213503982334602d"]));
    assert_fails_with(&out, 2, "`213503982334602d` is more than the limit");
    assert!(record.exists(), "nothing was pruned");
}

#[test]
fn unknown_fields_keep_their_numbers_exactly() {
    let q = TestQueue::new();
    q.run_job(
        "big.json",
        r#"{"command": "true", "meta": {"id": 123456789012345678901234567890, "ratio": 0.1}}"#,
    );
    let text = fs::read_to_string(q.path("completed/big.json")).unwrap();
    assert!(
        text.contains("123456789012345678901234567890"),
        "the number is kept as written: {text}"
    );
    assert!(text.contains("0.1"), "{text}");
}

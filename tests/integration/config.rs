//! `QUEUE/config.toml`: defaults for drains, beaten by flags; mistakes named and never ignored.

use std::fs;

use serde_json::Value;

use crate::util::*;

#[test]
fn without_a_config_everything_is_as_before_and_config_says_so() {
    let q = TestQueue::new();
    let out = run(q.execq(&["config", "--json"]));
    out.success();
    let settings: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let timeout = settings.iter().find(|s| s["name"] == "timeout").unwrap();
    assert_eq!(timeout["value"], "300s");
    assert_eq!(timeout["source"], "default");
    let check = run(q.execq(&["config", "--check"]));
    check.success();
    assert!(
        check.stdout.contains("every setting has its default"),
        "{}",
        check.stdout
    );
}

#[test]
fn the_file_sets_the_defaults_and_a_flag_beats_it() {
    let q = TestQueue::new();
    fs::write(q.path("config.toml"), "timeout = 1\ngrace = \"0s\"\n").unwrap();
    let shown = run(q.execq(&["config"]));
    assert!(shown.stdout.contains("config.toml"), "{}", shown.stdout);
    assert_eq!(
        q.run_job("slow.json", &shell_job("sleep 10"))["status"],
        "timeout"
    );
    q.add("patient.json", &shell_job("sleep 1.5; echo done"));
    q.drain(&["--timeout", "20"]).success();
    assert_eq!(q.result("completed/patient.json")["stdout"], "done\n");
}

#[test]
fn an_invalid_config_stops_drains_names_the_line_and_is_logged_once() {
    let q = TestQueue::new();
    fs::write(q.path("config.toml"), "jobs = 2\ntimout = 3\n").unwrap();
    q.add("waits.json", &shell_job("true"));
    for _ in 0..3 {
        let out = q.drain(&[]);
        assert_fails_with(&out, 1, "line 2");
        assert!(
            out.stderr.contains("unknown field `timout`"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(q.names("pending"), ["waits.json"], "no job ran");
    assert_eq!(
        q.log().matches("unknown field `timout`").count(),
        1,
        "logged once, not by every drain: {}",
        q.log()
    );
    let status = run(q.execq(&["status", "--json"]));
    assert_eq!(status.code(), 4);
    let report: Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        report["problems"][0].as_str().unwrap().contains("timout"),
        "{report}"
    );
    assert_fails_with(&run(q.execq(&["config", "--check"])), 1, "line 2, column 1");

    fs::write(q.path("config.toml"), "jobs = 0\n").unwrap();
    assert_fails_with(
        &run(q.execq(&["config", "--check"])),
        1,
        "`jobs` must be from 1 to 256",
    );
    fs::write(q.path("config.toml"), "jobs = 2\n").unwrap();
    run(q.execq(&["config", "--check"])).success();
    q.drain(&[]).success();
    assert_eq!(q.names("completed"), ["waits.json"]);
}

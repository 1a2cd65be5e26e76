//! `execq dashboard` and `dashboard = PATH`: one self-contained page, with everything from jobs
//! escaped, rewritten only by drains that did work.

use std::fs;

use crate::util::*;

#[test]
fn the_page_is_self_contained_and_job_output_is_inert() {
    let q = TestQueue::new();
    q.add("fine.json", &shell_job("echo fine"));
    q.add(
        "evil.json",
        &shell_job(
            r#"echo '<script>alert(1)</script></pre><a href="javascript:alert(2)">x</a>'; exit 1"#,
        ),
    );
    q.drain(&[]).success();
    q.add(
        "later.json",
        r#"{"command": "true", "not_before": "2099-01-01T00:00:00+00:00"}"#,
    );
    let out = run(q.execq(&[
        "dashboard",
        "--out",
        q.scratch("page.html").to_str().unwrap(),
    ]));
    assert_eq!(
        out.success().stdout.trim(),
        q.scratch("page.html").display().to_string()
    );
    let page = fs::read_to_string(q.scratch("page.html")).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    for external in [
        "<script", "<a ", "<link", "<img", "src=\"", "@import", "url(",
    ] {
        assert!(!page.contains(external), "the page holds `{external}`");
    }
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;/pre&gt;"),
        "output escaped"
    );
    assert!(page.contains(
        "<div class=\"count completed\" id=\"count-completed\"><span class=\"n\">1</span>"
    ));
    assert!(
        page.contains("<div class=\"count failed\" id=\"count-failed\"><span class=\"n\">1</span>")
    );
    assert!(
        page.contains(
            "<div class=\"count pending\" id=\"count-pending\"><span class=\"n\">1</span>"
        )
    );
    assert!(
        page.contains("not before 2099-01-01T00:00:00+00:00"),
        "why it waits"
    );
    assert!(page.contains("<svg class=\"chart\""));
    assert!(page.contains("prefers-color-scheme:dark"));
}

#[test]
fn a_configured_page_is_rewritten_by_drains_that_did_work_only() {
    let q = TestQueue::new();
    fs::write(q.path("config.toml"), "dashboard = \"page.html\"\n").unwrap();
    q.drain(&[]).success();
    assert!(
        !q.path("page.html").exists(),
        "an idle drain wrote the page"
    );
    q.add("one.json", &shell_job("echo one"));
    q.drain(&[]).success();
    let first = fs::read_to_string(q.path("page.html")).unwrap();
    assert!(first.contains("one.json") && first.contains("http-equiv=\"refresh\""));
    let before = fs::metadata(q.path("page.html"))
        .unwrap()
        .modified()
        .unwrap();
    q.drain(&[]).success();
    assert_eq!(
        fs::metadata(q.path("page.html"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    q.add("two.json", &shell_job("echo two"));
    q.drain(&[]).success();
    assert!(
        fs::read_to_string(q.path("page.html"))
            .unwrap()
            .contains("two.json")
    );
}

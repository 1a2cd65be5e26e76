use std::fs;

use crate::util::*;

#[test]
fn a_name_already_in_completed_gets_a_numbered_variant() {
    let q = TestQueue::new();
    for round in 0..3 {
        q.add("same.json", &shell_job(&format!("echo round{round}")));
        q.add_aged("same.sh", &format!("echo script{round}\n"), 10);
        q.drain(&[]).success();
    }
    assert_eq!(
        q.names("completed"),
        [
            "same.1.json",
            "same.1.sh",
            "same.1.sh.result.json",
            "same.2.json",
            "same.2.sh",
            "same.2.sh.result.json",
            "same.json",
            "same.sh",
            "same.sh.result.json"
        ]
    );
    assert_eq!(q.result("completed/same.json")["stdout"], "round0\n");
    assert_eq!(q.result("completed/same.2.json")["stdout"], "round2\n");
    assert_eq!(
        q.json("completed/same.1.sh.result.json")["job"],
        "same.1.sh"
    );
    assert_eq!(
        fs::read_to_string(q.path("completed/same.2.sh")).unwrap(),
        "echo script2\n"
    );
}

#[test]
fn odd_file_names_work() {
    let q = TestQueue::new();
    let long = format!("{}.json", "l".repeat(250));
    let names = [
        "with space.json",
        "ünïcødé-作业.json",
        "-leading-dash.json",
        "new\nline.json",
        long.as_str(),
    ];
    for name in names {
        q.add(name, &shell_job("echo ok"));
    }
    q.add_aged("-dash script.sh", "echo script ok\n", 10);
    q.drain(&[]).success();
    for name in names {
        assert_eq!(
            q.result(&format!("completed/{name}"))["stdout"],
            "ok\n",
            "{name:?}"
        );
    }
    assert_eq!(
        q.result("completed/-dash script.sh.result.json")["stdout"],
        "script ok\n"
    );
    assert!(q.names("pending").is_empty() && q.names("running").is_empty());
}

#[test]
fn a_long_name_collision_still_fits() {
    let q = TestQueue::new();
    let long = format!("{}.json", "x".repeat(250));
    for _ in 0..2 {
        q.add(&long, &shell_job("true"));
        q.drain(&[]).success();
    }
    let completed = q.names("completed");
    assert_eq!(completed.len(), 2);
    assert!(completed.iter().all(|n| n.len() <= 255));
}

use super::*;
use std::time::UNIX_EPOCH;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn job(name: &str, secs: u64, priority: i64, after: &[&str]) -> Pending {
    Pending {
        name: name.into(),
        mtime: at(secs),
        task_id: None,
        schedule: Schedule {
            priority,
            after: after.iter().map(|s| (*s).to_owned()).collect(),
            ..Schedule::default()
        },
    }
}

fn known(name: &str, state: State, status: Status, secs: u64) -> Known {
    Known {
        name: name.into(),
        task_id: None,
        state,
        time: at(secs),
        status: Some(status),
    }
}

const NOW: u64 = 1_000_000;

#[test]
fn priority_first_then_oldest_then_name() {
    let pending = [
        job("c.json", 3, 0, &[]),
        job("b.json", 2, 5, &[]),
        job("a.json", 3, 0, &[]),
        job("d.json", 1, -1, &[]),
    ];
    let names: Vec<_> = run_order(&pending)
        .into_iter()
        .map(|i| pending[i].name.clone())
        .collect();
    assert_eq!(names, ["b.json", "a.json", "c.json", "d.json"]);
}

#[test]
fn a_job_waits_for_a_pending_or_running_dependency_and_runs_after_a_completed_one() {
    let pending = [
        job("build.json", 1, 0, &[]),
        job("test.json", 2, 0, &["build"]),
        job("ship.json", 3, 0, &["deploy.json"]),
        job("docs.json", 4, 0, &["lint"]),
    ];
    let known = [
        known("deploy.json", State::Running, Status::Completed, 5),
        known("lint.json", State::Completed, Status::Completed, 5),
    ];
    let v = verdicts(&pending, &known, at(NOW));
    assert_eq!(v[0], Verdict::Ready);
    assert_eq!(
        v[1].to_string_wait(),
        "after build.json (pending)".to_owned()
    );
    assert_eq!(v[2].to_string_wait(), "after deploy.json (running)");
    assert_eq!(v[3], Verdict::Ready);
}

#[test]
fn a_failed_dependency_fails_the_dependent_naming_it() {
    let pending = [job("test.json", 2, 0, &["build"])];
    let known = [
        known("build.json", State::Completed, Status::Completed, 1),
        known("build.1.json", State::Failed, Status::Timeout, 2),
    ];
    let mut with_task = known.clone();
    with_task[1].task_id = Some("build".into());
    match &verdicts(&pending, &with_task, at(NOW))[0] {
        Verdict::Fail(Status::DependencyFailed, message) => {
            assert!(
                message.contains("failed/build.1.json (timeout)"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unknown_reference_waits_its_grace_then_fails() {
    let young = job("early.json", NOW - 10, 0, &["not-yet"]);
    let old = job(
        "late.json",
        NOW - UNKNOWN_GRACE.as_secs() - 1,
        0,
        &["never"],
    );
    let v = verdicts(&[young, old], &[], at(NOW));
    assert_eq!(v[0].to_string_wait(), "after `not-yet` (no such job yet)");
    match &v[1] {
        Verdict::Fail(Status::Error, message) => {
            assert!(message.contains("`never` matches no job"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_job_in_a_cycle_fails_naming_it_and_the_rest_wait_or_run() {
    let pending = [
        job("a.json", 1, 0, &["b"]),
        job("b.json", 2, 0, &["a"]),
        job("c.json", 3, 0, &["a"]),
        job("self.json", 4, 0, &["self"]),
        job("free.json", 5, 0, &[]),
    ];
    let v = verdicts(&pending, &[], at(NOW));
    for i in [0, 1] {
        match &v[i] {
            Verdict::Fail(Status::Error, m) => assert!(m.contains("dependency cycle: "), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(v[2].to_string_wait(), "after a.json (pending)");
    assert!(
        matches!(&v[3], Verdict::Fail(Status::Error, m) if m.contains("`self.json` → `self.json`"))
    );
    assert_eq!(v[4], Verdict::Ready);
}

#[test]
fn not_before_waits_until_its_time() {
    let mut later = job("later.json", 1, 0, &[]);
    later.schedule.not_before = Some(DateTime::<chrono::Utc>::from(at(NOW + 60)).fixed_offset());
    let mut due = job("due.json", 1, 0, &[]);
    due.schedule.not_before = Some(DateTime::<chrono::Utc>::from(at(NOW - 1)).fixed_offset());
    let v = verdicts(&[later, due], &[], at(NOW));
    assert!(v[0].to_string_wait().starts_with("not before "));
    assert_eq!(v[1], Verdict::Ready);
}

#[test]
fn a_long_chain_is_walked_without_deep_recursion() {
    let names: Vec<String> = (0..20_000).map(|i| format!("j{i}.json")).collect();
    let pending: Vec<Pending> = (0..20_000)
        .map(|i| {
            let after: Vec<&str> = if i + 1 < 20_000 {
                vec![&names[i + 1]]
            } else {
                vec![]
            };
            job(&names[i], 1, 0, &after)
        })
        .collect();
    let v = verdicts(&pending, &[], at(NOW));
    assert_eq!(v[19_999], Verdict::Ready);
    assert_eq!(v[0].to_string_wait(), "after j1.json (pending)");
}

impl Verdict {
    fn to_string_wait(&self) -> String {
        match self {
            Verdict::Wait(w) => w.to_string(),
            other => panic!("not waiting: {other:?}"),
        }
    }
}

#[test]
fn every_job_on_a_cycle_names_one_through_itself_even_off_the_first_cycle_found() {
    // a → b → c → a is found first; d sits on a → d → c → a, which a depth-first walk that skips
    // finished nodes never reports.
    let pending = [
        job("a.json", 1, 0, &["b", "d"]),
        job("b.json", 2, 0, &["c"]),
        job("c.json", 3, 0, &["a"]),
        job("d.json", 4, 0, &["c"]),
        job("outside.json", 5, 0, &["d"]),
    ];
    let v = verdicts(&pending, &[], at(NOW));
    for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
        match &v[i] {
            Verdict::Fail(Status::Error, m) => {
                assert!(m.starts_with("dependency cycle: "), "{m}");
                assert!(m.contains(&format!("`{name}.json` → ")), "{name}: {m}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(v[4].to_string_wait(), "after d.json (pending)");
}

#[test]
fn a_held_job_waits_even_on_a_cycle_and_its_dependents_wait_for_it() {
    let mut held = job("h.json", 1, 0, &["c.json"]);
    held.schedule.hold = true;
    let cycle = job("c.json", 2, 0, &["h.json"]);
    let after = job("d.json", 3, 0, &["h.json"]);
    let verdicts = verdicts(&[held, cycle, after], &[], at(100));
    assert_eq!(verdicts[0], Verdict::Wait(Wait::Held));
    assert!(
        matches!(verdicts[2], Verdict::Wait(Wait::After { .. })),
        "{:?}",
        verdicts[2]
    );
}

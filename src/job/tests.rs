use super::*;
use serde_json::json;

fn spec(value: Value) -> Result<JobSpec, JobError> {
    from_json(value.as_object().unwrap())
}

#[test]
fn args_run_directly_and_a_lone_command_uses_the_shell() {
    let direct = spec(json!({"command": "echo", "args": ["hi"]})).unwrap();
    assert_eq!(
        direct.program,
        Program::Argv {
            program: "echo".into(),
            args: vec!["hi".into()]
        }
    );
    let shell = spec(json!({"command": "echo hi | tr a-z A-Z", "task_id": "t1"})).unwrap();
    assert_eq!(shell.program, Program::Shell("echo hi | tr a-z A-Z".into()));
    assert_eq!(shell.task_id.as_deref(), Some("t1"));
}

#[test]
fn every_malformed_field_is_named() {
    let cases = [
        (json!({}), "`command` is missing"),
        (
            json!({"command": null}),
            "`command` must be a string, found null",
        ),
        (json!({"command": ""}), "`command` is empty"),
        (
            json!({"command": 3}),
            "`command` must be a string, found a number",
        ),
        (
            json!({"command": "echo", "args": "hi"}),
            "`args` must be a list of strings, found a string",
        ),
        (
            json!({"command": "echo", "args": ["a", 1]}),
            "`args[1]` must be a string, found a number",
        ),
        (
            json!({"command": "echo", "args": ["a\u{0}b"]}),
            "`args[0]` contains a NUL byte",
        ),
        (
            json!({"command": "echo", "task_id": 7}),
            "`task_id` must be a string, found a number",
        ),
        (
            json!({"command": "echo", "timeout": -1}),
            "`timeout` must be a positive number of seconds up to 3155760000 (100 years), found -1",
        ),
        (
            serde_json::from_str(r#"{"command": "echo", "timeout": 1e19}"#).unwrap(),
            "`timeout` must be a positive number of seconds up to 3155760000 (100 years), found 1e+19",
        ),
        (
            json!({"command": "echo", "result_file": ""}),
            "`result_file` is empty",
        ),
    ];
    for (job, message) in cases {
        assert_eq!(
            spec(job.clone()).unwrap_err().to_string(),
            message,
            "for {job}"
        );
    }
}

#[test]
fn non_objects_and_garbage_are_refused() {
    assert_eq!(
        parse_object(b"[1]").unwrap_err(),
        JobError::NotAnObject("list")
    );
    assert_eq!(parse_object(b"  \n").unwrap_err(), JobError::Empty);
    assert!(matches!(
        parse_object(b"{\"command\": \"ec").unwrap_err(),
        JobError::InvalidJson(_)
    ));
    assert!(matches!(
        parse_object(&[0xff, 0xfe, 0x00]).unwrap_err(),
        JobError::InvalidJson(_)
    ));
}

#[test]
fn a_shebang_picks_the_interpreter() {
    let spec = from_script(b"#!/usr/bin/env python3 -u\nprint(1)\n").unwrap();
    assert_eq!(
        spec.program,
        Program::Script {
            interpreter: vec!["/usr/bin/env".into(), "python3".into(), "-u".into()]
        }
    );
    let plain = from_script(b"echo hi\n").unwrap();
    assert_eq!(
        plain.program,
        Program::Script {
            interpreter: vec!["/bin/sh".into()]
        }
    );
    assert_eq!(
        from_script(b"#!\necho").unwrap_err(),
        JobError::EmptyShebang
    );
    assert_eq!(from_script(b"echo \0").unwrap_err(), JobError::BinaryScript);
}

#[test]
fn formats_follow_the_extension() {
    assert_eq!(Format::of(OsStr::new("a.json")), Format::Json);
    assert_eq!(Format::of(OsStr::new("a.sh")), Format::Script);
    assert_eq!(Format::of(OsStr::new("a.txt")), Format::Script);
    assert_eq!(Format::of(OsStr::new("a.py")), Format::Unsupported);
}

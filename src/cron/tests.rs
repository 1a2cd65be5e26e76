use super::*;

#[test]
fn five_fields_and_nicknames_parse_and_mistakes_are_named() {
    for ok in [
        "*/5 * * * *",
        "30 3 * * 1-5",
        "@hourly",
        "@daily",
        "@weekly",
        "0 9 * * MON",
    ] {
        assert!(parse_cron(ok).is_ok(), "{ok}");
    }
    assert!(parse_cron("0 0 * * * *").unwrap_err().contains("6 fields"));
    assert!(
        parse_cron("61 * * * *")
            .unwrap_err()
            .contains("`61 * * * *`")
    );
    assert!(
        parse_cron("0 0 31 2 *")
            .unwrap_err()
            .contains("never matches")
    );
    assert!(parse_cron("@sometimes").is_err());
}

#[test]
fn names_are_safe_file_stems() {
    for ok in ["backup", "db-dump_2", "a.b"] {
        assert!(check_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(NAME_MAX + 1)] {
        assert!(check_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_template_is_a_job_without_the_fields_each_occurrence_sets() {
    let job = |v: serde_json::Value| v.as_object().unwrap().clone();
    assert!(check_template(&job(serde_json::json!({"command": "true"}))).is_ok());
    let fixed_id = check_template(&job(serde_json::json!({"command": "true", "task_id": "x"})));
    assert!(fixed_id.unwrap_err().contains("`task_id` cannot be set"));
    let broken = check_template(&job(serde_json::json!({"args": []})));
    assert!(broken.unwrap_err().contains("`command` is missing"));
}

#[test]
fn toml_and_json_files_read_alike() {
    let toml = parse("t", b"cron = \"@daily\"\n[job]\ncommand = \"true\"\n", true).unwrap();
    let json = parse(
        "t",
        br#"{"cron": "@daily", "job": {"command": "true"}}"#,
        false,
    )
    .unwrap();
    assert_eq!(toml.spec.job, json.spec.job);
    assert!(toml.spec.catch_up && toml.spec.overlap == Overlap::Skip);
    let typo = parse(
        "t",
        b"cron = \"@daily\"\ncatchup = 1\n[job]\ncommand = \"true\"\n",
        true,
    );
    assert!(typo.unwrap_err().contains("unknown field `catchup`"));
}

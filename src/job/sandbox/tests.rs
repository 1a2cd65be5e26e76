use super::*;
use serde_json::json;

fn parse(value: Value) -> Result<Sandbox, String> {
    Sandbox::parse(&value, false)
}

#[test]
fn a_mode_by_name_or_as_an_object() {
    assert_eq!(
        parse(json!("read-only")).unwrap(),
        Sandbox::of_mode(Mode::ReadOnly)
    );
    let policy =
        parse(json!({"mode": "workspace", "writable": ["~/.cache/go-build"], "network": true}))
            .unwrap();
    assert_eq!(policy.mode, Mode::Workspace);
    assert_eq!(policy.writable, ["~/.cache/go-build"]);
    assert!(policy.network);
    assert!(
        !parse(json!("workspace")).unwrap().network,
        "network is off by default"
    );
    assert!(parse(json!("none")).unwrap().network);
}

#[test]
fn every_mistake_is_named() {
    for (value, expected) in [
        (json!("readonly"), "unknown mode `readonly`"),
        (json!(true), "must be a mode"),
        (json!({"writable": []}), "`mode` is missing"),
        (
            json!({"mode": "workspace", "write": []}),
            "unknown key `write`",
        ),
        (
            json!({"mode": "workspace", "writable": "/tmp"}),
            "must be a list of folders",
        ),
        (
            json!({"mode": "workspace", "writable": ["build"]}),
            "absolute path",
        ),
        (
            json!({"mode": "workspace", "writable": ["/a/../b"]}),
            "`..`",
        ),
        (
            json!({"mode": "workspace", "network": "no"}),
            "true or false",
        ),
        (
            json!({"mode": "read-only", "writable": ["/tmp"]}),
            "goes with mode `workspace`",
        ),
        (
            json!({"mode": "none", "network": false}),
            "takes no other keys",
        ),
        (
            json!({"mode": "workspace", "workspaces": ["/src"]}),
            "unknown key `workspaces`",
        ),
    ] {
        let error = parse(value.clone()).unwrap_err();
        assert!(error.contains(expected), "{value}: {error}");
    }
    assert!(Sandbox::parse(&json!({"mode": "workspace", "workspaces": ["/src"]}), true).is_ok());
}

#[test]
fn stricter_passes_a_floor_and_looser_is_named() {
    let floor = parse(json!({"mode": "workspace", "writable": ["/cache"]})).unwrap();
    for ok in [
        json!("workspace"),
        json!("read-only"),
        json!({"mode": "workspace", "writable": ["/cache/go"]}),
    ] {
        assert_eq!(parse(ok.clone()).unwrap().within(&floor), Ok(()), "{ok}");
    }
    for (looser, expected) in [
        (json!("none"), "mode `none` is looser than `workspace`"),
        (json!({"mode": "workspace", "network": true}), "network"),
        (
            json!({"mode": "workspace", "writable": ["/cachet"]}),
            "`/cachet` is not among",
        ),
    ] {
        let error = parse(looser.clone()).unwrap().within(&floor).unwrap_err();
        assert!(error.contains(expected), "{looser}: {error}");
    }
    let reading = parse(json!({"mode": "read-only", "readable": ["/src"]})).unwrap();
    assert!(parse(json!("read-only")).unwrap().within(&reading).is_err());
    assert!(
        parse(json!({"mode": "read-only", "readable": ["/src/a"]}))
            .unwrap()
            .within(&reading)
            .is_ok()
    );
    assert!(parse(json!("workspace")).unwrap().within(&reading).is_err());
}

#[test]
fn a_floor_s_workspaces_bound_the_working_folder() {
    let floor =
        Sandbox::parse(&json!({"mode": "workspace", "workspaces": ["/src"]}), true).unwrap();
    assert!(floor.allows_cwd(Path::new("/src/app")).is_ok());
    let error = floor.allows_cwd(Path::new("/srcs")).unwrap_err();
    assert!(
        error.contains("not beneath the floor's workspaces (`/src`)"),
        "{error}"
    );
    assert!(
        Sandbox::of_mode(Mode::Workspace)
            .allows_cwd(Path::new("/"))
            .is_ok()
    );
}

#[test]
fn a_policy_is_written_back_as_it_reads() {
    for value in [
        json!("none"),
        json!("workspace"),
        json!({"mode": "workspace", "writable": ["/x"], "network": false}),
        json!({"mode": "read-only", "readable": ["/y"], "network": true}),
    ] {
        assert_eq!(parse(value.clone()).unwrap().to_json(), value);
    }
}

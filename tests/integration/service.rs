use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

const LABEL: &str = "com.example.execq-test";

fn service(q: &TestQueue, home: &Path, args: &[&str]) -> Output {
    let mut full = vec!["service"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--label", LABEL, "--bin", env!("CARGO_BIN_EXE_execq")]);
    let mut cmd = q.execq(&full);
    cmd.env("HOME", home).env_remove("XDG_CONFIG_HOME");
    run(cmd)
}

/// Runs `execq service ARGS --dry-run` and returns its output with the temporary queue and home
/// folders replaced by `QUEUE` and `HOME`, so it can be compared as text.
fn dry_run(q: &TestQueue, home: &Path, args: &[&str]) -> String {
    let mut full = args.to_vec();
    full.push("--dry-run");
    let out = service(q, home, &full);
    out.success();
    out.stdout
        .replace(&q.root.display().to_string(), "QUEUE")
        .replace(&home.display().to_string(), "HOME")
}

/// Parses a plist into JSON: with `plutil` on macOS, with Python's plistlib elsewhere (.ci/run
/// installs python3).
fn plistlib(path: &Path) -> Value {
    let out = if cfg!(target_os = "macos") {
        Command::new("plutil")
            .args(["-convert", "json", "-o", "-"])
            .arg(path)
            .output()
            .expect("plutil runs")
    } else {
        Command::new("python3")
            .args([
                "-c",
                "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
            ])
            .arg(path)
            .output()
            .expect("python3 runs")
    };
    assert!(
        out.status.success(),
        "the plist parser rejected {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_plist_template_in_the_repo_parses() {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("launchd/execq.plist.in");
    let plist = plistlib(&template);
    assert_eq!(plist["Label"], "@LABEL@");
    assert!(
        plist.get("KeepAlive").is_none(),
        "a one-shot job must not be kept alive"
    );
}

#[test]
fn service_print_renders_a_plist_with_absolute_paths_and_the_right_types() {
    let q = TestQueue::new();
    let home = q.scratch("home");
    let out = service(&q, &home, &["print", "--platform", "launchd"]);
    out.success();
    let file = q.scratch("rendered.plist");
    fs::write(&file, &out.stdout).unwrap();
    let plist = plistlib(&file);
    let queue = q.root.display().to_string();

    assert_eq!(plist["Label"], LABEL);
    assert_eq!(
        plist["ProgramArguments"],
        serde_json::json!([
            env!("CARGO_BIN_EXE_execq"),
            "drain",
            "--quiet",
            "--queue",
            queue
        ])
    );
    assert_eq!(
        plist["WatchPaths"],
        serde_json::json!([format!("{queue}/pending")])
    );
    assert_eq!(plist["StartInterval"], 2);
    assert_eq!(plist["RunAtLoad"], true);
    assert!(plist["ThrottleInterval"].is_u64());
    assert!(plist["ExitTimeOut"].as_u64().unwrap() >= 20);
    assert!(plist.get("KeepAlive").is_none());
    assert_eq!(plist["StandardOutPath"], format!("{queue}/server.log"));
    assert_eq!(
        plist["StandardErrorPath"],
        format!("{queue}/server.error.log")
    );
    assert_eq!(plist["WorkingDirectory"], home.display().to_string());
    let path = plist["EnvironmentVariables"]["PATH"].as_str().unwrap();
    for dir in [
        "/opt/homebrew/bin",
        "/usr/local/bin",
        "/usr/local/sbin",
        "/opt/local/bin",
        "/usr/bin",
    ] {
        assert!(path.split(':').any(|p| p == dir), "{dir} in {path}");
    }
    assert_eq!(plist["EnvironmentVariables"]["LANG"], "en_US.UTF-8");
    for (key, value) in plist.as_object().unwrap() {
        if let Some(text) = value.as_str() {
            assert!(
                key == "Label" || text.starts_with('/'),
                "{key} is an absolute path: {text}"
            );
        }
    }
    let values = plist.to_string();
    assert!(
        !values.contains('~') && !values.contains('@'),
        "every placeholder filled, no ~: {values}"
    );
}

#[test]
fn a_queue_path_with_xml_characters_is_escaped() {
    let q = TestQueue::new();
    let home = q.scratch("home");
    let odd = q.scratch("a&b <c>");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_execq"));
    cmd.args(["service", "print", "--platform", "launchd", "--queue"])
        .arg(&odd)
        .env("HOME", &home);
    let out = run(cmd);
    out.success();
    let file = q.scratch("odd.plist");
    fs::write(&file, &out.stdout).unwrap();
    assert_eq!(
        plistlib(&file)["WatchPaths"][0],
        format!("{}/pending", odd.display())
    );
}

#[test]
fn launchd_install_dry_run_uses_the_modern_launchctl_verbs() {
    let q = TestQueue::new();
    let home = q.scratch("home");
    let uid = euid();
    let text = dry_run(&q, &home, &["install", "--platform", "launchd"]);
    let expected = format!(
        "mkdir -p -m 0700 QUEUE/{{pending,running,completed,failed,results,tmp}}
touch QUEUE/server.log
touch QUEUE/server.error.log
write HOME/Library/LaunchAgents/{LABEL}.plist (mode 0644)
# wait up to 60 s for a job running in QUEUE to finish, and lock the queue
launchctl bootout gui/{uid}/{LABEL} || true
while launchctl print gui/{uid}/{LABEL} >/dev/null 2>&1; do sleep 0.1; done
# unlock the queue
launchctl enable gui/{uid}/{LABEL}
launchctl bootstrap gui/{uid} HOME/Library/LaunchAgents/{LABEL}.plist # tried up to 5 times
"
    );
    assert_eq!(text, expected);
    assert!(!home.join("Library").exists(), "a dry run writes nothing");

    let text = dry_run(&q, &home, &["uninstall", "--platform", "launchd"]);
    assert_eq!(
        text,
        format!(
            "# wait up to 60 s for a job running in QUEUE to finish, and lock the queue
launchctl bootout gui/{uid}/{LABEL} || true
while launchctl print gui/{uid}/{LABEL} >/dev/null 2>&1; do sleep 0.1; done
# unlock the queue
rm -f HOME/Library/LaunchAgents/{LABEL}.plist
"
        )
    );
}

#[test]
fn every_path_in_a_dry_run_is_quoted() {
    let q = TestQueue::new();
    let home = q.scratch("home dir");
    let queue = q.scratch("Application Support/execq/queue");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_execq"));
    cmd.args(["--queue"])
        .arg(&queue)
        .args(["service", "install", "--dry-run", "--platform", "launchd"])
        .args(["--label", LABEL, "--bin", env!("CARGO_BIN_EXE_execq")])
        .env("HOME", &home);
    let out = run(cmd);
    out.success();
    for line in out.stdout.lines() {
        for (at, _) in line.match_indices("Application Support") {
            let quotes = line[..at].matches('\'').count();
            assert!(quotes % 2 == 1, "unquoted path: {line}");
        }
    }
    let quoted = format!("'{}'", queue.display());
    assert!(
        out.stdout
            .starts_with(&format!("mkdir -p -m 0700 {quoted}/{{pending,"))
    );
}

#[test]
fn systemd_install_dry_run_enables_the_path_and_timer_units() {
    let q = TestQueue::new();
    let home = q.scratch("home");
    let text = dry_run(&q, &home, &["install", "--platform", "systemd"]);
    let expected = format!(
        "mkdir -p -m 0700 QUEUE/{{pending,running,completed,failed,results,tmp}}
write HOME/.config/systemd/user/{LABEL}.service (mode 0644)
write HOME/.config/systemd/user/{LABEL}.path (mode 0644)
write HOME/.config/systemd/user/{LABEL}.timer (mode 0644)
systemctl --user daemon-reload
systemctl --user enable {LABEL}.path {LABEL}.timer
systemctl --user restart {LABEL}.path {LABEL}.timer
"
    );
    assert_eq!(text, expected);
}

/// Splits `service print --platform systemd` output into its files, named by their `# path` lines.
fn write_units(stdout: &str, dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<(std::path::PathBuf, String)> = Vec::new();
    for line in stdout.lines() {
        match line.strip_prefix("# /") {
            Some(path)
                if [".service", ".path", ".timer"]
                    .iter()
                    .any(|s| path.ends_with(s)) =>
            {
                let name = Path::new(path).file_name().unwrap();
                files.push((dir.join(name), String::new()));
            }
            _ => {
                let (_, text) = files.last_mut().expect("output starts with a file marker");
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    files
        .iter()
        .map(|(p, t)| fs::write(p, t).map(|()| p.clone()).unwrap())
        .collect()
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    if cfg!(target_os = "macos") {
        eprintln!("skipping: systemd units are verified on Linux, where systemd-analyze exists");
        return;
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have systemd-analyze (.ci/run installs it)"
        );
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    }
    let q = TestQueue::new();
    q.drain(&[]).success();
    let home = q.scratch("home");
    let out = service(&q, &home, &["print", "--platform", "systemd"]);
    out.success();
    let dir = q.scratch("units");
    fs::create_dir_all(&dir).unwrap();
    let files = write_units(&out.stdout, &dir);
    assert_eq!(files.len(), 3);
    let unit = fs::read_to_string(dir.join(format!("{LABEL}.service"))).unwrap();
    assert!(unit.contains("drain --wait --queue"), "{unit}");
    assert!(unit.contains("StartLimitIntervalSec=0"));
    let path_unit = fs::read_to_string(dir.join(format!("{LABEL}.path"))).unwrap();
    assert!(path_unit.contains(&format!("PathChanged={}/pending", q.root.display())));

    let runtime = q.scratch("runtime");
    fs::create_dir_all(&runtime).unwrap();
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .args(&files)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("HOME", &home)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify complained:\n{stderr}"
    );
}

#[test]
fn an_unsafe_label_is_refused() {
    let q = TestQueue::new();
    let out = run(q.execq(&["service", "print", "--label", "../evil"]));
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("invalid label"));
}

/// A `systemctl` and a `launchctl` that cannot reach their manager, as over ssh or from cron.
fn unreachable_managers(dir: &Path) -> String {
    fs::create_dir_all(dir).unwrap();
    for (tool, message, code) in [
        ("systemctl", "Failed to connect to bus: No medium found", 1),
        ("launchctl", "Bad request.", 5),
    ] {
        let path = dir.join(tool);
        fs::write(
            &path,
            format!("#!/bin/sh\necho '{message}' >&2\nexit {code}\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

#[test]
fn an_unreachable_service_manager_is_unknown_not_unloaded() {
    let q = TestQueue::new();
    let home = q.scratch("home");
    q.drain(&[]).success();
    let path = unreachable_managers(&q.scratch("bin"));
    let files: Value = serde_json::from_str(&service(&q, &home, &["status"]).stdout).unwrap();
    for file in files["files"].as_array().unwrap() {
        let file = Path::new(file.as_str().unwrap());
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, "").unwrap();
    }

    let mut cmd = q.execq(&["status", "--json", "--label", LABEL]);
    cmd.env("HOME", &home).env("PATH", &path);
    let out = run(cmd);
    assert_eq!(out.code(), 0, "unknown is not a problem: {}", out.stdout);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["service"]["installed"], true);
    assert_eq!(report["service"]["loaded"], Value::Null);
    let why = report["service"]["unknown_because"].as_str().unwrap();
    assert!(
        why.contains("Failed to connect to bus") || why.contains("Bad request"),
        "{why}"
    );

    let mut cmd = q.execq(&["status", "--label", LABEL]);
    cmd.env("HOME", &home).env("PATH", &path);
    let text = run(cmd).stdout;
    assert!(text.contains("installed, unknown ("), "{text}");
    assert!(!text.contains("not loaded"), "{text}");
}

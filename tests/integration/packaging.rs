//! What an installed execq offers beyond its verbs: shell completions and the manual page, both
//! generated from the one clap definition, and `--version` naming the commit.

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn execq(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_execq"));
    cmd.args(args);
    run(cmd)
}

/// bash loads the script and completes `execq sub<TAB>` to `submit` (driven as bash's
/// completion machinery calls the function: COMP_WORDS, COMP_CWORD).
#[test]
fn bash_completes_execq_sub_to_submit() {
    let q = TestQueue::new();
    let script = q.scratch("execq.bash");
    let out = execq(&["completions", "bash"]);
    assert!(out.status.success(), "{}", out.stderr);
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let driver = format!(
            "source {script}\n\
             fn=$(complete -p execq | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')\n\
             COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
             \"$fn\" execq '{last}' '{prev}'\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            script = script.display(),
            words = words.join(" "),
            cword = words.len() - 1,
            last = words[words.len() - 1],
            prev = words[words.len().saturating_sub(2)],
        );
        let mut bash = Command::new("bash");
        bash.args(["--norc", "--noprofile", "-c", &driver]);
        let out = run(bash);
        assert!(out.status.success(), "{}", out.stderr);
        out.stdout.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(complete("execq sub"), ["submit"]);
    let verbs = complete("execq s");
    for verb in ["submit", "status", "show", "schedule", "service"] {
        assert!(
            verbs.iter().any(|v| v == verb),
            "{verb} missing from {verbs:?}"
        );
    }
    let flags = complete("execq submit --pri");
    assert_eq!(flags, ["--priority"]);
}

#[test]
fn zsh_and_fish_scripts_know_the_verbs() {
    let zsh = execq(&["completions", "zsh"]);
    assert!(zsh.stdout.starts_with("#compdef execq"), "{}", zsh.stdout);
    assert!(zsh.stdout.contains("'submit:"));
    let fish = execq(&["completions", "fish"]);
    assert!(fish.stdout.contains("complete -c execq"));
    assert!(fish.stdout.contains("-a \"submit\""), "{}", fish.stdout);
    let bad = execq(&["completions", "tcsh"]);
    assert_fails_with(&bad, 2, "invalid value 'tcsh'");
}

/// `man -l` renders the page without a warning, and it covers every command.
#[test]
fn the_manual_page_renders_without_warnings() {
    let q = TestQueue::new();
    let page = q.scratch("execq.1");
    let out = execq(&["man"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.starts_with(".ie \\n(.g") || out.stdout.contains(".TH execq 1"));
    std::fs::write(&page, &out.stdout).unwrap();
    test_deps(); // installs man when missing
    let mut man = Command::new("man");
    man.args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat");
    let rendered = run(man);
    assert!(rendered.status.success(), "{}", rendered.stderr);
    assert_eq!(rendered.stderr, "", "man warned");
    for text in [
        "NAME",
        "SYNOPSIS",
        "COMMANDS",
        "execq submit",
        "--priority",
        "execq mcp",
        "--allow-shell",
        "execq schedule add",
    ] {
        assert!(rendered.stdout.contains(text), "`{text}` not in the page");
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = execq(&["--version"]);
    assert!(out.status.success());
    let line = out.stdout.trim();
    assert!(
        line.starts_with(concat!("execq ", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    if Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.git")).exists() {
        let head = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        assert!(
            line.contains(&format!("(commit {head}")),
            "{line} does not name {head}"
        );
    }
}

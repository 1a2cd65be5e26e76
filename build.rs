//! Puts the git commit execq is built from into `execq --version`: from `EXECQ_COMMIT` (release
//! builds from a source tarball), from `git` in a checkout, from `.cargo_vcs_info.json` in a
//! crate downloaded from crates.io, else nothing.

use std::path::Path;
use std::process::Command;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&root);
    // A release build from a source tarball is told its commit (scripts/release.sh).
    println!("cargo:rerun-if-env-changed=EXECQ_COMMIT");
    let commit = std::env::var("EXECQ_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| from_git(root))
        .or_else(|| from_vcs_info(root));
    let suffix = commit.map_or_else(String::new, |c| format!(" (commit {c})"));
    println!("cargo:rustc-env=EXECQ_VERSION_SUFFIX={suffix}");
    println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
}

fn from_git(root: &Path) -> Option<String> {
    let git = root.join(".git");
    if !git.exists() {
        return None;
    }
    // Rebuild when HEAD moves (a commit, a checkout) or the work tree's index changes.
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(reference) = head.strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{}", reference.trim());
    }
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let sha = run(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{sha}-modified")
    } else {
        sha
    })
}

/// `cargo package` records the commit it packaged in `.cargo_vcs_info.json`.
fn from_vcs_info(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(".cargo_vcs_info.json")).ok()?;
    let start = text.find("\"sha1\"")?;
    let rest = &text[start + 6..];
    let open = rest.find('"')? + 1;
    let len = rest[open..].find('"')?;
    let sha = &rest[open..open + len];
    (sha.len() >= 12 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha[..12].to_owned())
}

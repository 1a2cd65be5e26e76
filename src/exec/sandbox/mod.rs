//! A job's sandbox, from its policy to the rules the kernel enforces (`sys::sandbox`).
//!
//! The drain decides here, for each job as it starts: which policy applies (the job's own, else
//! `[sandbox] default`, never looser than the floor of the door it came through), which folders
//! that makes writable and readable, and whether they are safe to give. It refuses — the job is
//! recorded as `error` and never runs — when:
//!
//! - this system cannot enforce a sandbox (no Landlock or too old an ABI; no `sandbox-exec`);
//! - a `writable` or `readable` folder does not exist, or is not a folder;
//! - a writable folder (its `cwd` under `workspace` included) holds the queue or lies inside it.
//!   Landlock can only grant, never carve an exception out of a grant, so a queue inside a
//!   writable folder would be writable; a sandboxed job that can write `pending/` can queue an
//!   unsandboxed job. Refusing is the same on both systems and says why, rather than making a
//!   home folder half-writable in ways nobody could predict.
//! - a writable folder is the home folder or holds it: shell startup files and LaunchAgents there
//!   run whatever a job leaves in them, outside any sandbox.
//!
//! Every sandboxed job gets a private temporary folder (mode 0700, `TMPDIR`), removed when the
//! job is done. With `readable`, the job reads beneath those folders only, plus its working
//! folder, its temporary and writable folders, the folders on its `PATH`, its program's folder,
//! its script, and the system folders programs need (`sys::sandbox`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::exec::StartError;
use crate::job::result::{JobResult, Status};
use crate::job::sandbox::{self, Applied, Mode, Policies};
use crate::job::{JobSpec, Program};
use crate::queue::Queue;
use crate::sys::sandbox::{self as sys, Folder, Prepared, Rules};

mod guard;

pub use guard::holds_the_queue;
use guard::{Guarded, Held, result_file_within};

/// A job's sandbox, ready to apply.
pub struct Sandboxed {
    pub prepared: Prepared,
    /// Its private temporary folder, removed when this is dropped.
    pub temp: tempfile::TempDir,
}

/// What `spec` (whose file is `script`) runs under: `Ok(None)` unsandboxed. `record` receives
/// the policy for the record as soon as it is known, so that a refused job's record says what
/// was asked.
pub fn plan(
    policies: &Policies,
    spec: &JobSpec,
    script: &Path,
    queue: &Queue,
    record: &mut Option<Value>,
) -> Result<Option<Sandboxed>, StartError> {
    let applied = policies
        .resolve(spec.sandbox.as_ref(), spec.origin)
        .map_err(StartError::Sandbox)?;
    if applied.policy.mode == Mode::None {
        *record = (applied.source == sandbox::Source::Job).then(|| describe(&applied, None));
        return Ok(None);
    }
    *record = Some(describe(&applied, None));
    let fail = StartError::Sandbox;
    let enforced_by = sys::availability().map_err(|why| {
        fail(format!(
            "{} cannot be enforced here, so the job was not run: {why}",
            applied.policy.mode
        ))
    })?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let queue = Guarded::cached(&queue.root, home.as_deref()).map_err(fail)?;
    let cwd = match &spec.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| fail(format!("cannot tell the drain's working folder: {e}")))?,
    };
    let cwd = canonical(&cwd, "the working folder").map_err(fail)?;
    let temp = tempfile::Builder::new()
        .prefix("execq-job-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|e| fail(format!("cannot make the job's temporary folder: {e}")))?;
    let (writable, extra) = writable(&applied, temp.path(), &cwd, home.as_deref())?;
    let temp_path = writable[0].path.clone();
    for folder in &writable {
        queue.check(folder).map_err(fail)?;
    }
    let asked_readable = match &applied.policy.readable {
        Some(list) => Some(folders(list, home.as_deref(), "readable").map_err(fail)?),
        None => None,
    };
    if let Some((origin, floor)) = &applied.floor {
        let working = writable.get(1).map(|f| f.path.as_path());
        let held = Held {
            cwd: working.filter(|_| applied.policy.mode == Mode::Workspace),
            writable: &extra,
            readable: asked_readable.as_deref(),
        };
        held.within(floor, home.as_deref())
            .map_err(|why| fail(format!("refused by [sandbox] {}: {why}", origin.as_str())))?;
    }
    if let Some(requested) = spec.result_file.as_deref() {
        result_file_within(requested, &writable).map_err(fail)?;
    }
    let readable = asked_readable.map(|mut readable| {
        readable.push(cwd.clone());
        readable.extend(needed_to_run(spec, script));
        readable.sort();
        readable.dedup();
        readable
    });
    let rules = Rules {
        writable,
        readable,
        network: applied.policy.network,
        denied: vec![queue.path.clone()],
    };
    let prepared = sys::prepare(&rules).map_err(fail)?;
    let described = describe(&applied, Some((&rules, &temp_path, &enforced_by)));
    *record = Some(described);
    Ok(Some(Sandboxed { prepared, temp }))
}

/// The folders a job may write, each opened once: its temporary folder, then (for `workspace`)
/// its working folder and its `writable` ones; and those last, apart, to hold to its floor.
fn writable(
    applied: &Applied,
    temp: &Path,
    cwd: &Path,
    home: Option<&Path>,
) -> Result<(Vec<Folder>, Vec<PathBuf>), StartError> {
    let open = |path: &Path, what: &str| {
        Folder::open(path).map_err(|e| {
            StartError::Sandbox(format!("cannot open {what} `{}`: {e}", path.display()))
        })
    };
    let mut writable = vec![open(temp, "the temporary folder")?];
    if applied.policy.mode != Mode::Workspace {
        return Ok((writable, Vec::new()));
    }
    writable.push(open(cwd, "the working folder")?);
    for path in folders(&applied.policy.writable, home, "writable").map_err(StartError::Sandbox)? {
        writable.push(open(&path, "the writable folder")?);
    }
    let extra = writable[2..].iter().map(|f| f.path.clone()).collect();
    Ok((writable, extra))
}

/// The policy's folders (`~` expanded), made canonical.
fn folders(list: &[String], home: Option<&Path>, key: &str) -> Result<Vec<PathBuf>, String> {
    list.iter().map(|f| folder_of(f, home, key)).collect()
}

/// The record's `sandbox`: the policy, where it came from, and (once planned) the folders it
/// gave and what enforced it.
fn describe(applied: &Applied, planned: Option<(&Rules, &Path, &str)>) -> Value {
    let mut value = json!({
        "mode": applied.policy.mode,
        "network": applied.policy.network,
        "source": applied.source.to_string(),
    });
    let Some((rules, temp, enforced_by)) = planned else {
        return value;
    };
    value["writable"] = json!(rules.writable.iter().map(|f| &f.path).collect::<Vec<_>>());
    if let Some(readable) = &rules.readable {
        value["readable"] = json!(readable);
    }
    value["temp"] = json!(temp);
    value["enforced_by"] = json!(enforced_by);
    value
}

/// A folder of the policy (`~` expanded), made canonical; it must exist and be a folder.
fn folder_of(given: &str, home: Option<&Path>, key: &str) -> Result<PathBuf, String> {
    let path = sandbox::expand(given, home)
        .ok_or_else(|| format!("{key} folder `{given}`: the home folder (`HOME`) is not set"))?;
    let canonical = canonical(&path, &format!("{key} folder `{given}`"))?;
    if !canonical.is_dir() {
        return Err(format!("{key} folder `{given}` is not a folder"));
    }
    Ok(canonical)
}

fn canonical(path: &Path, what: &str) -> Result<PathBuf, String> {
    std::fs::canonicalize(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{what} (`{}`) does not exist", path.display()),
        _ => format!("cannot resolve {what} (`{}`): {e}", path.display()),
    })
}

/// What a job reads to start at all: the folders on its `PATH`, its program's folder, its script.
fn needed_to_run(spec: &JobSpec, script: &Path) -> Vec<PathBuf> {
    let path = spec
        .env
        .iter()
        .rev()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.clone())
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let mut needed: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|p| p.is_absolute())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let program = match &spec.program {
        Program::Argv { program, .. } => Some(program.as_str()),
        Program::Script { interpreter } => interpreter.first().map(String::as_str),
        Program::Shell(_) => None,
    };
    if let Some(folder) = program
        .map(Path::new)
        .filter(|p| p.is_absolute())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_owned))
    {
        needed.push(folder);
    }
    if matches!(spec.program, Program::Script { .. })
        && let Ok(script) = std::fs::canonicalize(script)
    {
        needed.push(script);
    }
    needed
}

/// What a process prints when the kernel refuses it something.
const REFUSALS: [&str; 4] = [
    "Permission denied",
    "Operation not permitted",
    "Read-only file system",
    "EACCES",
];

/// When a sandboxed job failed and its output speaks of a refusal, says that its sandbox may be
/// why (`limit: "sandbox"`, as for a resource limit), and what the sandbox allowed.
pub fn hint(result: &mut JobResult) {
    let Some(sandbox) = &result.sandbox else {
        return;
    };
    // A system call the seccomp filter does not know how to refuse (a 32-bit one) ends the
    // process with SIGSYS.
    let refused = result.signal == Some(libc::SIGSYS)
        || REFUSALS
            .iter()
            .any(|r| result.stderr.contains(r) || result.stdout.contains(r));
    if result.status != Status::Failed
        || result.limit.is_some()
        || sandbox["mode"] == "none"
        || !refused
    {
        return;
    }
    let writes = match sandbox["mode"].as_str() {
        Some("read-only") => "writes only in its temporary folder".to_owned(),
        _ => format!(
            "writes only beneath {}",
            sandbox["writable"]
                .as_array()
                .map(|w| w
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
    };
    let network = if sandbox["network"] == true {
        ""
    } else {
        ", no network"
    };
    let how = result
        .error
        .take()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    result.limit = Some("sandbox".into());
    result.error = Some(format!(
        "a permission error under the {} sandbox, which may be why it failed: it allows {writes}{network}{how}",
        sandbox["mode"].as_str().unwrap_or("?")
    ));
}

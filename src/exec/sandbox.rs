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

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::exec::StartError;
use crate::job::result::{JobResult, Status};
use crate::job::sandbox::{self, Applied, Mode, Policies};
use crate::job::{JobSpec, Program};
use crate::queue::Queue;
use crate::sys::sandbox::{self as sys, Folder, Prepared, Rules};

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
    let open = |path: &Path, what: &str| {
        Folder::open(path)
            .map_err(|e| fail(format!("cannot open {what} `{}`: {e}", path.display())))
    };
    let temp_folder = open(temp.path(), "the temporary folder")?;
    let temp_path = temp_folder.path.clone();

    let folders = |list: &[String], key| {
        list.iter()
            .map(|f| folder_of(f, home.as_deref(), key))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut writable = vec![temp_folder];
    let mut extra = Vec::new();
    if applied.policy.mode == Mode::Workspace {
        writable.push(open(&cwd, "the working folder")?);
        for path in folders(&applied.policy.writable, "writable").map_err(fail)? {
            writable.push(open(&path, "the writable folder")?);
        }
        extra = writable[2..].iter().map(|f| f.path.clone()).collect();
    }
    for folder in &writable {
        queue.check(folder).map_err(fail)?;
    }
    let asked_readable = match &applied.policy.readable {
        Some(list) => Some(folders(list, "readable").map_err(fail)?),
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

/// A sandboxed job's `result_file` is written by the drain, outside the sandbox, so it may go
/// only where the job could write itself — beneath one of its writable folders — or, given as a
/// relative path, into `QUEUE/results/` (see `exec::result_file`).
fn result_file_within(requested: &str, writable: &[Folder]) -> Result<(), String> {
    let path = Path::new(requested);
    if !path.is_absolute() {
        return Ok(());
    }
    let parent = path
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .ok_or_else(|| format!("the result file's folder (`{requested}`) does not exist"))?;
    if writable.iter().any(|f| parent.starts_with(&f.path)) {
        return Ok(());
    }
    Err(format!(
        "the result file `{requested}` is outside the job's writable folders: the drain writes it for the job, outside its sandbox, so a sandboxed job's result file goes in results/ (a relative path) or beneath a folder it may write"
    ))
}

/// The queue's folder, and the home folders, as the folders a job may write are checked against:
/// by device and inode, up each folder's ancestors, so neither a path spelled another way nor a
/// bind mount of the queue gets past it.
struct Guarded {
    path: PathBuf,
    /// The queue's folder.
    id: (u64, u64),
    /// The queue's folder and each folder above it.
    above_queue: Vec<(u64, u64)>,
    /// Each home folder (`HOME`, and the user database's) and each folder above them.
    above_home: Vec<(u64, u64)>,
}

impl Guarded {
    /// [`Guarded::new`], made once per drain (a drain serves one queue; a home folder does not
    /// move while it runs).
    fn cached(root: &Path, home: Option<&Path>) -> Result<std::sync::Arc<Self>, String> {
        static MADE: std::sync::Mutex<Option<(PathBuf, std::sync::Arc<Guarded>)>> =
            std::sync::Mutex::new(None);
        let mut made = MADE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((made_for, guarded)) = made.as_ref()
            && made_for == root
        {
            return Ok(std::sync::Arc::clone(guarded));
        }
        let guarded = std::sync::Arc::new(Self::new(root, home)?);
        *made = Some((root.to_owned(), std::sync::Arc::clone(&guarded)));
        Ok(guarded)
    }

    fn new(root: &Path, home: Option<&Path>) -> Result<Self, String> {
        let queue = Folder::open(root)
            .map_err(|e| format!("cannot open the queue folder `{}`: {e}", root.display()))?;
        let mut above_home = Vec::new();
        for home in home
            .map(Path::to_owned)
            .into_iter()
            .chain(sys::account_home())
        {
            if let Ok(home) = std::fs::canonicalize(home) {
                above_home.extend(ids_up(&home));
            }
        }
        Ok(Self {
            above_queue: ids_up(&queue.path),
            path: queue.path,
            id: queue.id,
            above_home,
        })
    }

    /// Refuses a writable folder that would let a job write the queue or a home folder.
    fn check(&self, folder: &Folder) -> Result<(), String> {
        let system = ["/proc", "/sys", "/dev"];
        if folder.kernel || system.iter().any(|s| folder.path.starts_with(s)) {
            return Err(format!(
                "the writable folder `{}` is one of the kernel's own (processes, devices, system settings): writing there changes the machine, not files",
                folder.path.display()
            ));
        }
        if self.above_queue.contains(&folder.id) {
            return Err(holds_the_queue(&folder.path, &self.path));
        }
        if ids_up(&folder.path).contains(&self.id) {
            return Err(format!(
                "the writable folder `{}` is inside the queue (`{}`), which a sandboxed job may never write",
                folder.path.display(),
                self.path.display()
            ));
        }
        if self.above_home.contains(&folder.id) {
            return Err(format!(
                "the writable folder `{}` is the home folder or holds it: shell startup files and login items there would run what a job leaves in them outside any sandbox",
                folder.path.display()
            ));
        }
        Ok(())
    }
}

/// Why a writable `folder` that holds the `queue` is refused.
pub fn holds_the_queue(folder: &Path, queue: &Path) -> String {
    format!(
        "the writable folder `{}` holds the queue (`{}`): a job that can write the queue can queue a job outside its sandbox. Give the job a working folder that does not hold the queue, or keep the queue elsewhere (EXECQ_QUEUE)",
        folder.display(),
        queue.display()
    )
}

/// The device and inode of `path` and of each folder above it.
fn ids_up(path: &Path) -> Vec<(u64, u64)> {
    path.ancestors()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// What a job's folders resolve to, held to its origin's floor once symbolic links are followed:
/// the floor was checked by name at the door, and a link beneath an allowed folder may point
/// anywhere.
struct Held<'a> {
    /// The working folder of a `workspace` job.
    cwd: Option<&'a Path>,
    writable: &'a [PathBuf],
    readable: Option<&'a [PathBuf]>,
}

impl Held<'_> {
    fn within(&self, floor: &sandbox::Sandbox, home: Option<&Path>) -> Result<(), String> {
        let resolved = |list: &[String]| -> Vec<PathBuf> {
            list.iter()
                .filter_map(|f| sandbox::expand(f, home))
                .filter_map(|f| std::fs::canonicalize(f).ok())
                .collect()
        };
        let beneath =
            |path: &Path, folders: &[PathBuf]| folders.iter().any(|f| path.starts_with(f));
        if let (Some(cwd), Some(workspaces)) = (self.cwd, &floor.workspaces)
            && !beneath(cwd, &resolved(workspaces))
        {
            return Err(format!(
                "the working folder resolves to `{}`, not beneath the floor's workspaces",
                cwd.display()
            ));
        }
        let allowed = resolved(&floor.writable);
        if let Some(folder) = self.writable.iter().find(|w| !beneath(w, &allowed)) {
            return Err(format!(
                "a writable folder resolves to `{}`, not beneath the floor's writable folders",
                folder.display()
            ));
        }
        if let (Some(readable), Some(floor_readable)) = (self.readable, &floor.readable) {
            let allowed = resolved(floor_readable);
            if let Some(folder) = readable.iter().find(|r| !beneath(r, &allowed)) {
                return Err(format!(
                    "a readable folder resolves to `{}`, not beneath the floor's readable folders",
                    folder.display()
                ));
            }
        }
        Ok(())
    }
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

/// Removes a job's private temporary folder, however deep the job made it; a note for the record
/// when it could not. (`remove_dir_all` holds a descriptor per level, so a tree deeper than the
/// open-file limit stops it; `rm -rf` walks any depth, and neither follows links.)
pub fn remove_temp(temp: tempfile::TempDir) -> Option<String> {
    let path = temp.keep();
    if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
        return None;
    }
    let _ = std::process::Command::new("rm")
        .args(["-rf", "--"])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    path.exists().then(|| {
        tracing::warn!(folder = %path.display(), "could not remove a job's temporary folder");
        format!(
            "its temporary folder `{}` could not be removed",
            path.display()
        )
    })
}

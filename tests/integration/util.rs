//! The test harness: a temporary queue, the real `execq` binary, and helpers that poll to a
//! deadline instead of sleeping.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tempfile::TempDir;

/// Generous ceiling for anything a test waits on; reaching it means a hang, not slowness.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct TestQueue {
    _dir: TempDir,
    pub root: PathBuf,
    /// A scratch folder beside the queue for files jobs write (markers, pid files).
    pub scratch: PathBuf,
}

impl TestQueue {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("queue");
        let scratch = dir.path().join("scratch");
        fs::create_dir(&scratch).unwrap();
        let queue = Self {
            _dir: dir,
            root,
            scratch,
        };
        fs::create_dir_all(queue.root.join("pending")).unwrap();
        fs::set_permissions(&queue.root, fs::Permissions::from_mode(0o700)).unwrap();
        queue
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn scratch(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    /// Adds a job the way a careful producer does: write a dot-file, then rename it into place.
    pub fn add(&self, name: &str, content: &str) -> PathBuf {
        self.add_bytes(name, content.as_bytes())
    }

    pub fn add_bytes(&self, name: &str, content: &[u8]) -> PathBuf {
        let tmp = self
            .path("pending")
            .join(format!(".{}.partial", std::process::id()));
        fs::write(&tmp, content).unwrap();
        let dest = self.path("pending").join(name);
        fs::rename(&tmp, &dest).unwrap();
        dest
    }

    /// Adds a job whose modification time is `secs_ago` in the past (written a while ago).
    pub fn add_aged(&self, name: &str, content: &str, secs_ago: u64) -> PathBuf {
        let path = self.add(name, content);
        set_mtime(&path, SystemTime::now() - Duration::from_secs(secs_ago));
        path
    }

    /// `execq --queue QUEUE ARGS...`
    pub fn execq(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_execq"));
        cmd.arg("--queue")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `execq drain ARGS` to completion (with a 1 s kill grace to keep tests quick).
    pub fn drain(&self, args: &[&str]) -> Output {
        run(self.execq(&drain_args(args)))
    }

    /// Starts `execq drain ARGS` in the background.
    pub fn spawn_drain(&self, args: &[&str]) -> Child {
        self.execq(&drain_args(args))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Names (sorted) of the entries in a queue folder, dot-files included.
    pub fn names(&self, folder: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.path(folder)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A JSON file in the queue, parsed.
    pub fn json(&self, rel: &str) -> Value {
        let path = self.path(rel);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{text}", path.display()))
    }

    /// The `result` object of a record (a merged JSON record or a sidecar).
    pub fn result(&self, rel: &str) -> Value {
        self.json(rel)["result"].clone()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    /// Adds `name`, runs a drain to completion, and returns the job's `result` (a merged record's,
    /// or a sidecar's), from `completed/` or `failed/`.
    #[track_caller]
    pub fn run_job(&self, name: &str, content: &str) -> Value {
        self.add(name, content);
        self.drain(&[]).success();
        for folder in ["completed", "failed"] {
            for record in [name.to_owned(), format!("{name}.result.json")] {
                let rel = format!("{folder}/{record}");
                if self.path(&rel).is_file() && (record != name || name.ends_with(".json")) {
                    return self.result(&rel);
                }
            }
        }
        panic!(
            "no record for {name}: completed {:?}, failed {:?}",
            self.names("completed"),
            self.names("failed")
        )
    }
}

/// `drain ARGS`, with a 1 s kill grace unless ARGS set one (keeps timeout tests quick).
fn drain_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut full = vec!["drain"];
    if !args.iter().any(|a| a.starts_with("--grace")) {
        full.extend(["--grace", "1"]);
    }
    full.extend_from_slice(args);
    full
}

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert!(
            self.status.success(),
            "execq failed: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs a command to completion, failing the test if it is still running at [`DEADLINE`].
pub fn run(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child)
}

/// Waits for a spawned child to finish (failing at [`DEADLINE`]) and collects its output.
pub fn finish(child: Child) -> Output {
    finish_within(child, DEADLINE)
}

/// [`finish`] with a longer hang guard, for the few tests that do minutes of work on a slow machine.
pub fn finish_within(child: Child, deadline: Duration) -> Output {
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let start = Instant::now();
    while !waiter.is_finished() {
        if start.elapsed() > deadline {
            kill(pid, libc::SIGKILL);
            panic!("process {pid} still running after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = waiter.join().unwrap();
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Polls `cond` until it holds, failing the test at [`DEADLINE`].
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// This test process's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// Asserts that `out` exited with `code` and said `text` on stderr.
#[track_caller]
pub fn assert_fails_with(out: &Output, code: i32, text: &str) {
    assert_eq!(out.code(), code, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains(text),
        "expected {text:?} on stderr:\n{}",
        out.stderr
    );
}

pub fn kill(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Whether `pid` is a live process (a zombie counts as dead).
pub fn alive(pid: u32) -> bool {
    let out = Command::new("ps")
        .args(["-o", "stat=", "-p", &pid.to_string()])
        .output()
        .unwrap();
    let stat = String::from_utf8_lossy(&out.stdout);
    let stat = stat.trim();
    !stat.is_empty() && !stat.starts_with('Z')
}

/// Reads a pid a job wrote to `path`, once it is there.
pub fn read_pid(path: &Path) -> u32 {
    wait_until(&format!("pid file {}", path.display()), || {
        fs::read_to_string(path).is_ok_and(|s| s.trim().parse::<u32>().is_ok())
    });
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

pub fn set_mtime(path: &Path, when: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// A JSON job running `script` with /bin/sh -c.
pub fn shell_job(script: &str) -> String {
    serde_json::json!({ "command": script }).to_string()
}

/// Each job wrote its number to `log` when it ran: every number in 0..n appears exactly once, and
/// every job has its record in completed/.
#[track_caller]
pub fn assert_each_ran_once(q: &TestQueue, log: &Path, n: usize) {
    let mut runs: Vec<usize> = fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    runs.sort_unstable();
    assert_eq!(
        runs,
        (0..n).collect::<Vec<_>>(),
        "every job ran exactly once"
    );
    assert_eq!(q.names("completed").len(), n);
    assert!(q.names("pending").is_empty() && q.names("running").is_empty());
}

/// Runs `scripts/test-deps.sh` once per test process (it installs what the real-client and
/// manual-page tests need: Chromium, man, a Python virtual environment) and returns that
/// environment's Python. Panics, saying why, if it cannot: those tests never skip.
pub fn test_deps() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let out = Command::new("bash")
            .arg(Path::new(root).join("scripts/test-deps.sh"))
            .current_dir(root)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run scripts/test-deps.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/test-deps.sh failed ({}): see its message above",
                out.status
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        Ok(PathBuf::from(last.trim()))
    });
    match found {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// Holds the queue's drain lock, as a drain busy with a long job does: a door that would start a
/// drain finds one running, and jobs stay where the test can see them.
pub fn hold_drain_lock(q: &TestQueue) -> fs::File {
    let file = fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(q.path("drain.lock"))
        .unwrap();
    fs2::FileExt::lock_exclusive(&file).unwrap();
    file
}

/// Every line of every `archive/*.jsonl.gz` of the queue, parsed.
pub fn archive_lines(q: &TestQueue) -> Vec<serde_json::Value> {
    use std::io::Read;
    let mut lines = Vec::new();
    for name in q.names("archive") {
        if !name.ends_with(".jsonl.gz") || name.starts_with('.') {
            continue;
        }
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(
            fs::File::open(q.path(&format!("archive/{name}"))).unwrap(),
        )
        .read_to_string(&mut text)
        .unwrap();
        lines.extend(text.lines().map(|l| serde_json::from_str(l).unwrap()));
    }
    lines
}

/// The queue folder and everything under it, each with its size and modification time: equal
/// before and after, nothing was created, changed, removed or touched.
pub fn tree(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let meta = fs::symlink_metadata(root).unwrap();
    let mut out = vec![(root.to_path_buf(), meta.len(), meta.modified().unwrap())];
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                folders.push(entry.path());
            }
            out.push((entry.path(), meta.len(), meta.modified().unwrap()));
        }
    }
    out.sort();
    out
}

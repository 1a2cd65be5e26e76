//! Sandboxed jobs (`sandbox`, `[sandbox]`, `submit --sandbox`): enforced for real by the kernel
//! (Landlock and seccomp on Linux), refused rather than run when they cannot be, and held to the
//! floor of the door a job came through.

use std::fs;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::mcp::Client;
use crate::util::*;

/// A home folder for the drain, inside the test's folder, so a sandbox that failed to hold
/// writes nothing in the real one.
fn home(q: &TestQueue) -> std::path::PathBuf {
    let home = q.scratch.parent().unwrap().join("home");
    fs::create_dir_all(&home).unwrap();
    home
}

/// `execq drain` with `HOME` set to the test's home folder and `env` added.
fn drain_with(q: &TestQueue, env: &[(&str, &str)]) -> Output {
    let mut cmd = q.execq(&["drain", "--grace", "1"]);
    cmd.env("HOME", home(q)).envs(env.iter().copied());
    run(cmd)
}

/// Runs one JSON job in the scratch folder and returns its record.
fn run_sandboxed(q: &TestQueue, name: &str, mut job: Value, env: &[(&str, &str)]) -> Value {
    job["cwd"].is_null().then(|| job["cwd"] = json!(q.scratch));
    q.add(name, &job.to_string());
    drain_with(q, env).success();
    record(q, name)
}

#[track_caller]
fn record(q: &TestQueue, name: &str) -> Value {
    for folder in ["completed", "failed"] {
        let path = q.path(&format!("{folder}/{name}"));
        if path.is_file() {
            return q.json(&format!("{folder}/{name}"));
        }
    }
    panic!(
        "no record of {name}: {:?} {:?}",
        q.names("completed"),
        q.names("failed")
    );
}

#[test]
fn a_workspace_job_writes_in_its_cwd_but_not_in_home_nor_in_the_queue() {
    let q = TestQueue::new();
    let line = "echo made > inside.txt; \
                touch \"$HOME/outside\" || echo home-refused; \
                echo '{\"command\": \"true\"}' > \"$EXECQ_QUEUE/pending/escape.json\" || echo queue-refused; \
                touch \"$TMPDIR/scratch\" && echo temp-ok";
    let job = run_sandboxed(
        &q,
        "ws.json",
        json!({"command": line, "sandbox": "workspace"}),
        &[],
    );
    let result = &job["result"];
    assert_eq!(result["status"], "completed", "{result:#}");
    assert_eq!(
        fs::read_to_string(q.scratch("inside.txt")).unwrap(),
        "made\n"
    );
    assert!(!home(&q).join("outside").exists());
    assert!(!q.path("pending/escape.json").exists());
    let stdout = result["stdout"].as_str().unwrap();
    for said in ["home-refused", "queue-refused", "temp-ok"] {
        assert!(stdout.contains(said), "{said}: {result:#}");
    }
    let sandbox = &result["sandbox"];
    assert_eq!(sandbox["mode"], "workspace", "{sandbox:#}");
    assert_eq!(sandbox["source"], "job", "{sandbox:#}");
    assert_eq!(sandbox["network"], false, "{sandbox:#}");
    let temp = sandbox["temp"].as_str().unwrap();
    assert!(
        !Path::new(temp).exists(),
        "the private temporary folder is removed after the job"
    );
}

#[test]
fn a_read_only_job_writes_nowhere_but_its_temporary_folder() {
    let q = TestQueue::new();
    let line = "touch here.txt || echo cwd-refused; touch \"$TMPDIR/t\" && echo temp-ok; \
                touch /tmp/execq-read-only-$$ || echo tmp-refused";
    let job = run_sandboxed(
        &q,
        "ro.json",
        json!({"command": line, "sandbox": "read-only"}),
        &[],
    );
    let stdout = job["result"]["stdout"].as_str().unwrap();
    for said in ["cwd-refused", "temp-ok", "tmp-refused"] {
        assert!(stdout.contains(said), "{said}: {job:#}");
    }
    assert!(!q.scratch("here.txt").exists());
}

#[test]
fn a_job_s_children_and_background_processes_are_sandboxed_too() {
    let q = TestQueue::new();
    let line = "sh -c 'touch \"$HOME/child\"'; (touch \"$HOME/background\") & wait; \
                python3 -c 'import os; os.system(\"touch $HOME/grandchild\")'; true";
    let job = run_sandboxed(
        &q,
        "kids.json",
        json!({"command": line, "sandbox": "workspace"}),
        &[],
    );
    assert_eq!(job["result"]["status"], "completed", "{job:#}");
    for name in ["child", "background", "grandchild"] {
        assert!(!home(&q).join(name).exists(), "{name} escaped the sandbox");
    }
}

#[test]
fn a_sandboxed_job_reaches_unix_sockets_but_not_the_network_unless_allowed() {
    let q = TestQueue::new();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let socket = q.scratch("s.sock");
    let unix = UnixListener::bind(&socket).unwrap();
    let connect = format!(
        "import socket\n\
         for family, address, name in [(socket.AF_INET, ('127.0.0.1', {port}), 'tcp'), (socket.AF_UNIX, {socket:?}, 'unix')]:\n\
         \ttry:\n\
         \t\ts = socket.socket(family, socket.SOCK_STREAM); s.connect(address); print(name, 'connected')\n\
         \texcept OSError as e:\n\
         \t\tprint(name, 'refused', e)\n\
         try:\n\
         \tsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {port})); print('udp sent')\n\
         except OSError as e:\n\
         \tprint('udp refused', e)\n"
    );
    let closed = run_sandboxed(
        &q,
        "closed.json",
        json!({"command": "python3", "args": ["-c", connect], "sandbox": "workspace"}),
        &[],
    );
    let stdout = closed["result"]["stdout"].as_str().unwrap();
    assert!(stdout.contains("tcp refused"), "{closed:#}");
    assert!(stdout.contains("udp refused"), "{closed:#}");
    assert!(stdout.contains("unix connected"), "{closed:#}");
    let open = run_sandboxed(
        &q,
        "open.json",
        json!({"command": "python3", "args": ["-c", connect],
               "sandbox": {"mode": "workspace", "network": true}}),
        &[],
    );
    let stdout = open["result"]["stdout"].as_str().unwrap();
    assert!(stdout.contains("tcp connected"), "{open:#}");
    assert_eq!(open["result"]["sandbox"]["network"], true);
    drop((tcp, unix));
}

#[test]
fn without_landlock_a_sandboxed_job_fails_as_error_and_never_runs() {
    let q = TestQueue::new();
    for (abi, expected) in [
        ("0", "Landlock is not available"),
        ("2", "ABI 2 is too old"),
    ] {
        let name = format!("abi{abi}.json");
        let marker = q.scratch(&format!("ran-{abi}"));
        let line = format!("touch {}", marker.display());
        let job = run_sandboxed(
            &q,
            &name,
            json!({"command": line, "sandbox": "read-only"}),
            &[("EXECQ_SANDBOX_ABI", abi)],
        );
        assert!(q.path(&format!("failed/{name}")).is_file());
        let result = &job["result"];
        assert_eq!(result["status"], "error", "{result:#}");
        let error = result["error"].as_str().unwrap();
        assert!(error.contains(expected), "{error}");
        assert!(error.contains("was not run"), "{error}");
        assert!(!marker.exists(), "the job ran unsandboxed");
        assert_eq!(result["sandbox"]["mode"], "read-only", "{result:#}");
    }
    let status = q
        .execq(&["status", "--json"])
        .env("EXECQ_SANDBOX_ABI", "0")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report["sandbox"]["available"], false, "{report:#}");
    let status = run(q.execq(&["status"]));
    assert!(
        status
            .stdout
            .contains("sandbox     available (Landlock ABI"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_job_without_a_sandbox_and_no_config_runs_as_before() {
    let q = TestQueue::new();
    let job = run_sandboxed(
        &q,
        "plain.json",
        json!({"command": "touch \"$HOME/plain\""}),
        &[],
    );
    assert_eq!(job["result"]["status"], "completed", "{job:#}");
    assert!(home(&q).join("plain").exists());
    assert!(job["result"].get("sandbox").is_none(), "{job:#}");
}

#[test]
fn a_writable_folder_holding_the_queue_or_home_is_refused_and_the_job_not_run() {
    let q = TestQueue::new();
    let above_queue = q.scratch.parent().unwrap().to_owned();
    let marker = q.scratch("ran");
    let line = format!("touch {}", marker.display());
    let job = run_sandboxed(
        &q,
        "holds-queue.json",
        json!({"command": line, "cwd": above_queue, "sandbox": "workspace"}),
        &[],
    );
    assert_eq!(job["result"]["status"], "error", "{job:#}");
    let error = job["result"]["error"].as_str().unwrap();
    assert!(error.contains("holds the queue"), "{error}");
    let job = run_sandboxed(
        &q,
        "holds-home.json",
        json!({"command": line, "sandbox": {"mode": "workspace", "writable": [home(&q)]}}),
        &[],
    );
    let error = job["result"]["error"].as_str().unwrap();
    assert!(error.contains("home folder"), "{error}");
    let job = run_sandboxed(
        &q,
        "missing.json",
        json!({"command": line, "sandbox": {"mode": "workspace", "writable": ["/nonexistent/cache"]}}),
        &[],
    );
    let error = job["result"]["error"].as_str().unwrap();
    assert!(
        error.contains("`/nonexistent/cache`") && error.contains("does not exist"),
        "{error}"
    );
    assert!(!marker.exists());
}

#[test]
fn a_permission_error_in_a_sandbox_is_hinted_as_the_sandbox() {
    let q = TestQueue::new();
    let job = run_sandboxed(
        &q,
        "deny.json",
        json!({"command": "touch x", "sandbox": "read-only"}),
        &[],
    );
    let result = &job["result"];
    assert_eq!(result["status"], "failed", "{result:#}");
    assert_eq!(result["limit"], "sandbox", "{result:#}");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("read-only sandbox"),
        "{result:#}"
    );
}

#[test]
fn submit_takes_the_sandbox_flags_and_refuses_a_looser_one_than_its_floor() {
    let q = TestQueue::new();
    fs::write(q.path("config.toml"), "[sandbox]\ncli = \"workspace\"\n").unwrap();
    let refused = run(q.execq(&["submit", "--sandbox", "none", "--", "true"]));
    assert_fails_with(&refused, 1, "[sandbox] cli");
    assert!(refused.stderr.contains("looser"), "{}", refused.stderr);
    let refused = run(q.execq(&[
        "submit",
        "--sandbox",
        "workspace",
        "--network",
        "--",
        "true",
    ]));
    assert_fails_with(&refused, 1, "network");
    let above = q.scratch.parent().unwrap().to_str().unwrap().to_owned();
    let refused = run(q.execq(&[
        "submit",
        "--sandbox",
        "workspace",
        "--cwd",
        &above,
        "--",
        "true",
    ]));
    assert_fails_with(&refused, 1, "holds the queue");
    assert!(q.names("pending").is_empty(), "{:?}", q.names("pending"));

    let cache = q.scratch("cache");
    fs::create_dir(&cache).unwrap();
    let mut submit = q.execq(&["submit", "--json", "--sandbox", "read-only", "--", "true"]);
    submit.current_dir(&q.scratch);
    let submitted: Value = serde_json::from_str(&run(submit).success().stdout).unwrap();
    let mut nothing_asked = q.execq(&["submit", "--json", "--", "sh", "-c", "touch \"$HOME/x\""]);
    nothing_asked.current_dir(&q.scratch);
    let floored: Value = serde_json::from_str(&run(nothing_asked).success().stdout).unwrap();
    drain_with(&q, &[]).success();
    let name = |s: &Value| {
        Path::new(s["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let ro = record(&q, &name(&submitted));
    assert_eq!(ro["sandbox"], "read-only", "{ro:#}");
    assert_eq!(ro["origin"], "cli", "{ro:#}");
    assert_eq!(ro["result"]["sandbox"]["mode"], "read-only");
    let raised = record(&q, &name(&floored));
    assert_eq!(
        raised["result"]["sandbox"]["mode"], "workspace",
        "{raised:#}"
    );
    assert_eq!(
        raised["result"]["sandbox"]["source"], "[sandbox] cli",
        "{raised:#}"
    );
    assert!(!home(&q).join("x").exists());

    // The drain holds a job file to its origin's floor too (the config may have changed since).
    q.add(
        "forged.json",
        &json!({"command": "true", "origin": "cli", "sandbox": "none", "cwd": q.scratch})
            .to_string(),
    );
    drain_with(&q, &[]).success();
    let forged = q.result("failed/forged.json");
    assert_eq!(forged["status"], "error", "{forged:#}");
    assert!(
        forged["error"].as_str().unwrap().contains("[sandbox] cli"),
        "{forged:#}"
    );
}

#[test]
fn an_agent_cannot_ask_for_less_than_the_mcp_floor() {
    let q = TestQueue::new();
    fs::write(
        q.path("config.toml"),
        format!(
            "[sandbox]\nmcp = {{ mode = \"workspace\", workspaces = [{:?}] }}\n",
            q.scratch
        ),
    )
    .unwrap();
    let home = home(&q);
    let mut client = Client::ready_with(&q, &[], &[("HOME", home.to_str().unwrap())]);
    let cwd = q.scratch.to_string_lossy().into_owned();
    for (sandbox, expected) in [
        (json!("none"), "looser than `workspace`"),
        (json!({"mode": "workspace", "network": true}), "network"),
        (
            json!({"mode": "workspace", "writable": ["/var/tmp"]}),
            "`/var/tmp` is not among",
        ),
    ] {
        let (failed, text) = client.call(
            "submit_job",
            json!({"command": "true", "cwd": cwd, "sandbox": sandbox}),
        );
        assert!(failed, "{sandbox}: {text}");
        assert!(
            text.contains("[sandbox] mcp") && text.contains(expected),
            "{text}"
        );
    }
    let (failed, text) = client.call("submit_job", json!({"shell": "true", "cwd": "/var/tmp"}));
    assert!(failed && text.contains("workspaces"), "{text}");
    assert!(q.names("pending").is_empty(), "{:?}", q.names("pending"));

    let line = "touch \"$HOME/agent\"; touch mine";
    let (failed, text, view) = client.call_full(
        "submit_job",
        json!({"shell": line, "cwd": cwd, "task_id": "agent-1"}),
    );
    assert!(!failed, "{text}");
    assert!(view.is_object());
    drain_with(&q, &[]).success();
    // The server started a drain of its own, which may hold the queue: wait for the record.
    let done = || {
        q.names("completed")
            .into_iter()
            .find(|n| n.ends_with(".json"))
    };
    wait_until("the agent's job is recorded", || done().is_some());
    let job = q.json(&format!("completed/{}", done().unwrap()));
    assert_eq!(job["origin"], "mcp", "{job:#}");
    assert_eq!(job["result"]["sandbox"]["mode"], "workspace", "{job:#}");
    assert_eq!(
        job["result"]["sandbox"]["source"], "[sandbox] mcp",
        "{job:#}"
    );
    assert!(q.scratch("mine").exists());
    assert!(!home.join("agent").exists());
}

#[test]
fn a_schedule_takes_the_sandbox_and_its_occurrences_keep_it() {
    let q = TestQueue::new();
    fs::write(
        q.path("config.toml"),
        "[sandbox]\nschedule = \"read-only\"\n",
    )
    .unwrap();
    let mut looser = q.execq(&[
        "schedule",
        "add",
        "loose",
        "--cron",
        "@daily",
        "--sandbox",
        "workspace",
        "--",
        "true",
    ]);
    looser.current_dir(&q.scratch);
    assert_fails_with(&run(looser), 1, "[sandbox] schedule");
    let mut add = q.execq(&[
        "schedule",
        "add",
        "nightly",
        "--cron",
        "@daily",
        "--",
        "sh",
        "-c",
        "touch made || echo refused",
    ]);
    add.current_dir(&q.scratch);
    run(add).success();
    run(q.execq(&["schedule", "run", "nightly"])).success();
    drain_with(&q, &[]).success();
    let name = q
        .names("completed")
        .into_iter()
        .find(|n| n.starts_with("nightly"))
        .unwrap();
    let job = q.json(&format!("completed/{name}"));
    assert_eq!(job["origin"], "schedule", "{job:#}");
    assert_eq!(job["result"]["sandbox"]["mode"], "read-only", "{job:#}");
    assert!(
        job["result"]["stdout"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{job:#}"
    );
}

#[test]
fn config_shows_the_sandbox_policy_and_where_it_comes_from() {
    let q = TestQueue::new();
    fs::write(
        q.path("config.toml"),
        "[sandbox]\ndefault = \"read-only\"\nmcp = { mode = \"workspace\", network = false }\n",
    )
    .unwrap();
    let shown = run(q.execq(&["config"]));
    let out = &shown.success().stdout;
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("sandbox.default").contains("read-only")
            && line("sandbox.default").contains("config.toml"),
        "{out}"
    );
    assert!(line("sandbox.mcp").contains("workspace"), "{out}");
    assert!(
        line("sandbox.cli").contains("no floor") && line("sandbox.cli").contains("default"),
        "{out}"
    );
    fs::write(q.path("config.toml"), "[sandbox]\nmcp = \"sandboxed\"\n").unwrap();
    let bad = run(q.execq(&["config", "--check"]));
    assert!(
        bad.code() != 0 && bad.stderr.contains("unknown mode `sandboxed`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_symbolic_link_beneath_a_floor_s_folder_does_not_take_a_job_past_it() {
    let q = TestQueue::new();
    let (cache, ws) = (q.scratch("cache"), q.scratch("ws"));
    let secret = home(&q).join(".ssh");
    for dir in [&cache, &ws, &secret] {
        fs::create_dir_all(dir).unwrap();
    }
    std::os::unix::fs::symlink(&secret, cache.join("h")).unwrap();
    std::os::unix::fs::symlink(&secret, ws.join("p")).unwrap();
    fs::write(
        q.path("config.toml"),
        format!(
            "[sandbox]\nmcp = {{ mode = \"workspace\", writable = [{cache:?}], workspaces = [{ws:?}] }}\n"
        ),
    )
    .unwrap();
    let line = "touch \"$HOME/.ssh/authorized_keys\"";
    for (name, cwd, writable, expected) in [
        (
            "writable.json",
            ws.clone(),
            vec![cache.join("h")],
            "a writable folder resolves to",
        ),
        (
            "cwd.json",
            ws.join("p"),
            vec![],
            "the working folder resolves to",
        ),
    ] {
        let job = json!({"command": line, "cwd": cwd, "origin": "mcp",
                         "sandbox": {"mode": "workspace", "writable": writable}});
        let record = run_sandboxed(&q, name, job, &[]);
        let result = &record["result"];
        assert_eq!(result["status"], "error", "{result:#}");
        let error = result["error"].as_str().unwrap();
        assert!(
            error.contains("[sandbox] mcp") && error.contains(expected),
            "{error}"
        );
    }
    assert!(!secret.join("authorized_keys").exists());
}

#[test]
fn a_sandboxed_job_cannot_make_devices_change_files_it_cannot_write_or_signal_its_drain() {
    let q = TestQueue::new();
    let outside = q.scratch("outside.txt");
    fs::write(&outside, "keep").unwrap();
    let ws = q.scratch("ws");
    fs::create_dir(&ws).unwrap();
    let script = format!(
        "import os, stat, subprocess\n\
         def attempt(name, f):\n\
         \ttry:\n\
         \t\tf(); print(name, 'done')\n\
         \texcept OSError as e:\n\
         \t\tprint(name, 'refused', e.errno)\n\
         out = {outside:?}\n\
         attempt('mknod', lambda: os.mknod('dev', 0o600 | stat.S_IFCHR, os.makedev(1, 3)))\n\
         attempt('devnull', lambda: open('/dev/null', 'w').write('x'))\n\
         attempt('random', lambda: open('/dev/random', 'w').write('x'))\n\
         attempt('setuid', lambda: os.chmod(out, 0o4755))\n\
         attempt('chown', lambda: os.chown(out, os.getuid(), os.getgid()))\n\
         attempt('xattr', lambda: os.setxattr(out, 'user.x', b'1'))\n\
         attempt('signal', lambda: os.kill(os.getppid(), 0))\n\
         attempt('suid-open', lambda: os.close(os.open('made-suid', os.O_CREAT | os.O_WRONLY, 0o6755)))\n\
         attempt('suid-mknod', lambda: os.mknod('made-suid2', 0o4755 | stat.S_IFREG))\n\
         import resource, ctypes, threading, platform\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         def sys_call(*args):\n\
         \tif libc.syscall(*args) == -1: raise OSError(ctypes.get_errno(), 'refused')\n\
         def shm():\n\
         \tif libc.shmget(0x5e5e, 4096, 0o1600) == -1: raise OSError(ctypes.get_errno(), 'refused')\n\
         attempt('sysv-shm', shm)\n\
         if platform.machine() == 'x86_64':\n\
         \tattempt('keyring', lambda: sys_call(248, b'user', b'k', b'v', 1, -4))\n\
         attempt('userns', lambda: sys_call(272, 0x10000000))\n\
         t = threading.Thread(target=lambda: print('thread ran')); t.start(); t.join()\n\
         attempt('prlimit', lambda: resource.prlimit(os.getppid(), resource.RLIMIT_FSIZE, (0, 0)))\n\
         caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapBnd'))]\n\
         print('caps', ' '.join(caps))\n\
         print('temp mode', oct(stat.S_IMODE(os.stat(os.environ['TMPDIR']).st_mode)))\n"
    );
    let job = run_sandboxed(
        &q,
        "meta.json",
        json!({"command": "python3", "args": ["-c", script], "cwd": ws, "sandbox": "workspace"}),
        &[],
    );
    let stdout = job["result"]["stdout"].as_str().unwrap();
    for said in [
        "mknod refused",
        "devnull done",
        "random refused",
        "setuid refused",
        "chown refused",
        "xattr refused",
        "signal refused",
        "temp mode 0o700",
        "suid-open refused",
        "suid-mknod refused",
        "prlimit refused",
        "sysv-shm refused",
        "userns refused",
        "thread ran",
    ] {
        assert!(stdout.contains(said), "{said}: {job:#}");
    }
    if cfg!(target_arch = "x86_64") {
        assert!(stdout.contains("keyring refused"), "{job:#}");
    }
    // No capabilities at all; and for root, none left to gain (the bounding set).
    let caps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("caps "))
        .unwrap();
    let expected = if euid() == 0 {
        "0000000000000000 0000000000000000"
    } else {
        "0000000000000000"
    };
    assert!(caps.starts_with(expected), "{caps}");
    assert!(!ws.join("dev").exists());
    let mode = fs::metadata(&outside).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7000, 0);
}

#[test]
fn the_home_folder_is_refused_even_when_the_drain_has_no_home_variable() {
    let q = TestQueue::new();
    let real_home = std::env::var("HOME").unwrap();
    let marker = Path::new(&real_home).join(".execq-sandbox-test-must-not-exist");
    let line = format!("touch {}", marker.display());
    q.add(
        "home.json",
        &json!({"command": line, "cwd": real_home, "sandbox": "workspace"}).to_string(),
    );
    let mut drain = q.execq(&["drain"]);
    drain.env_remove("HOME");
    run(drain).success();
    let result = q.result("failed/home.json");
    assert_eq!(result["status"], "error", "{result:#}");
    assert!(
        result["error"].as_str().unwrap().contains("home folder"),
        "{result:#}"
    );
    assert!(!marker.exists());
}

#[test]
fn a_sandboxed_job_s_result_file_goes_only_where_it_could_write() {
    let q = TestQueue::new();
    let target = home(&q).join(".bashrc");
    let job = run_sandboxed(
        &q,
        "rc.json",
        json!({"command": "echo evil", "result_file": target, "sandbox": "read-only"}),
        &[],
    );
    assert_eq!(job["result"]["status"], "error", "{job:#}");
    let error = job["result"]["error"].as_str().unwrap();
    assert!(
        error.contains("outside the job's writable folders"),
        "{error}"
    );
    assert!(!target.exists());
    let inside = q.scratch("out.txt");
    let job = run_sandboxed(
        &q,
        "inside.json",
        json!({"command": "echo fine", "result_file": inside, "sandbox": "workspace"}),
        &[],
    );
    assert_eq!(job["result"]["status"], "completed", "{job:#}");
    assert_eq!(fs::read_to_string(&inside).unwrap(), "fine\n");
    let job = run_sandboxed(
        &q,
        "relative.json",
        json!({"command": "echo kept", "result_file": "kept.txt", "sandbox": "read-only"}),
        &[],
    );
    assert_eq!(job["result"]["status"], "completed", "{job:#}");
    assert_eq!(
        fs::read_to_string(q.path("results/kept.txt")).unwrap(),
        "kept\n"
    );
}

#[test]
fn the_kernel_s_own_folders_are_never_writable() {
    let q = TestQueue::new();
    let marker = q.scratch("ran");
    let line = format!("touch {}", marker.display());
    for (name, job) in [
        (
            "proc.json",
            json!({"command": line, "cwd": "/proc", "sandbox": "workspace"}),
        ),
        (
            "dev.json",
            json!({"command": line, "cwd": "/dev", "sandbox": "workspace"}),
        ),
        (
            "sys.json",
            json!({"command": line, "sandbox": {"mode": "workspace", "writable": ["/sys/fs/cgroup"]}}),
        ),
    ] {
        let record = run_sandboxed(&q, name, job, &[]);
        let result = &record["result"];
        assert_eq!(result["status"], "error", "{result:#}");
        assert!(
            result["error"]
                .as_str()
                .unwrap()
                .contains("the kernel's own"),
            "{result:#}"
        );
    }
    assert!(!marker.exists());
}

#[test]
fn a_temporary_folder_deeper_than_the_drain_s_open_file_limit_is_still_removed() {
    let q = TestQueue::new();
    let script = "import os\nos.chdir(os.environ['TMPDIR'])\nfor _ in range(400):\n\tos.mkdir('d'); os.chdir('d')\n";
    q.add(
        "deep.json",
        &json!({"command": "python3", "args": ["-c", script], "cwd": q.scratch, "sandbox": "read-only"})
            .to_string(),
    );
    let mut drain = Command::new("sh");
    drain
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" --queue \"$1\" drain")
        .arg(env!("CARGO_BIN_EXE_execq"))
        .arg(&q.root);
    run(drain).success();
    let result = q.result("completed/deep.json");
    let temp = result["sandbox"]["temp"].as_str().unwrap();
    assert!(!Path::new(temp).exists(), "{result:#}");
}

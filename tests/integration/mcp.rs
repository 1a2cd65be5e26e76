//! `execq mcp` over raw pipes: what a client that speaks JSON-RPC line by line gets back, and
//! what the allowlist lets an agent do. (The Python SDK's view is in `clients.rs`.)

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver};

use serde_json::{Value, json};

use crate::util::*;

/// A raw client: lines in, lines out, each answer awaited to [`DEADLINE`].
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl Client {
    fn start(q: &TestQueue, args: &[&str]) -> Self {
        Self::start_with(q, args, &[])
    }

    fn start_with(q: &TestQueue, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut full = vec!["mcp"];
        full.extend_from_slice(args);
        let mut child = q
            .execq(&full)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
            next_id: 1,
        }
    }

    /// Starts `execq mcp ARGS` and completes the MCP handshake.
    pub fn ready(q: &TestQueue, args: &[&str]) -> Self {
        Self::ready_with(q, args, &[])
    }

    /// [`Client::ready`] with these variables set for the server.
    pub fn ready_with(q: &TestQueue, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut client = Self::start_with(q, args, env);
        client.initialize();
        client
    }

    fn initialize(&mut self) {
        let answer = self.request(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"}
            }),
        );
        assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string());
    }

    fn send(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
    }

    fn send_bytes(&mut self, line: &[u8]) {
        self.stdin.write_all(line).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line the server writes, parsed.
    pub fn answer(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("an answer from execq mcp before the deadline");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        loop {
            let answer = self.answer();
            if answer["id"] == id {
                return answer;
            }
        }
    }

    /// Sends every request at once, then returns their answers in the same order.
    pub fn requests(&mut self, requests: &[(&str, Value)]) -> Vec<Value> {
        let ids: Vec<u64> = (requests.iter())
            .map(|(method, params)| {
                let id = self.next_id;
                self.next_id += 1;
                let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
                self.send(&line.to_string());
                id
            })
            .collect();
        let mut answers = std::collections::HashMap::new();
        while answers.len() < ids.len() {
            let answer = self.answer();
            if let Some(id) = answer["id"].as_u64() {
                answers.insert(id, answer);
            }
        }
        ids.iter().map(|id| answers.remove(id).unwrap()).collect()
    }

    /// Calls `tool`; returns whether it failed, and its text.
    pub fn call(&mut self, tool: &str, arguments: Value) -> (bool, String) {
        let (failed, text, _) = self.call_full(tool, arguments);
        (failed, text)
    }

    /// Calls `tool`; returns whether it failed, its text and its structured content.
    pub fn call_full(&mut self, tool: &str, arguments: Value) -> (bool, String, Value) {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let result = &answer["result"];
        assert!(result.is_object(), "a tool result: {answer}");
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (
            result["isError"] == true,
            text,
            result["structuredContent"].clone(),
        )
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every job file and record in the queue, by folder.
fn jobs(q: &TestQueue) -> Vec<String> {
    ["pending", "running", "completed", "failed"]
        .iter()
        .flat_map(|folder| {
            q.names(folder)
                .into_iter()
                .filter(|n| !n.starts_with('.'))
                .map(move |n| format!("{folder}/{n}"))
        })
        .collect()
}

#[test]
fn an_env_name_carrying_path_cannot_slip_past_the_allowlist() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &["--allow", "echo"]);
    let evil = format!("PATH={}:", q.scratch.display());
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "echo", "args": ["hi"], "env": {evil.clone(): "/usr/bin:/bin"}}),
    );
    assert!(failed, "refused: {text}");
    assert!(
        text.contains(&format!("`{evil}`")),
        "names the entry: {text}"
    );
    assert_eq!(jobs(&q), Vec::<String>::new(), "nothing was queued");
}

#[test]
fn variables_that_make_a_shell_or_interpreter_load_code_are_refused_under_an_allowlist() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &["--allow", "true"]);
    for name in [
        "BASH_ENV",
        "ENV",
        "BASH_FUNC_echo%%",
        "PYTHONPATH",
        "NODE_OPTIONS",
        "PERL5OPT",
        "GIT_SSH_COMMAND",
        "LD_PRELOAD",
        "DYLD_INSERT_LIBRARIES",
        "bash_env",
    ] {
        let (failed, text) = client.call(
            "submit_job",
            json!({"command": "true", "env": {name: "/tmp/evil"}}),
        );
        assert!(failed, "`{name}` refused: {text}");
        assert!(
            text.contains(&format!("`{name}`")),
            "names `{name}`: {text}"
        );
    }
    assert_eq!(jobs(&q), Vec::<String>::new(), "nothing was queued");
}

#[test]
fn under_an_allowlist_env_may_set_only_the_variables_the_user_allowed() {
    let q = TestQueue::new();
    let mut client = Client::ready(
        &q,
        &[
            "--allow",
            "true",
            "--allow-env",
            "GREETING",
            "--allow-env",
            "LC_*",
        ],
    );
    // Code and configuration loaders of common programs that no list of names caught.
    for name in [
        "OPENSSL_CONF",
        "OPENSSL_MODULES",
        "MAKEFILES",
        "CURL_HOME",
        "WGETRC",
        "RUSTC_WRAPPER",
        "CARGO_HOME",
        "DOTNET_STARTUP_HOOKS",
        "GTK_MODULES",
        "VIMINIT",
        "KUBECONFIG",
        "greeting",
        "GREETINGS",
        "LC",
    ] {
        let (failed, text) = client.call(
            "submit_job",
            json!({"command": "true", "env": {name: "/tmp/evil"}}),
        );
        assert!(failed, "`{name}` refused: {text}");
        assert!(
            text.contains(&format!("`{name}` may not be set"))
                && text.contains(&format!("--allow-env {name}")),
            "names `{name}` and how to allow it: {text}"
        );
    }
    // Listed by the user, it still cannot load code.
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "true", "env": {"LD_PRELOAD": "/tmp/evil.so"}}),
    );
    assert!(failed && text.contains("`LD_PRELOAD`"), "{text}");
    assert_eq!(jobs(&q), Vec::<String>::new(), "nothing was queued");
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "true", "env": {"GREETING": "hello", "LC_ALL": "C"}, "wait_seconds": 20}),
    );
    assert!(!failed, "the allowed variables are fine: {text}");
}

#[test]
fn allow_env_comes_from_config_toml_and_a_code_loader_in_it_is_an_error() {
    let q = TestQueue::new();
    std::fs::write(
        q.path("config.toml"),
        "[mcp]\nallow = [\"true\"]\nallow_env = [\"GREETING\"]\n",
    )
    .unwrap();
    let mut client = Client::ready(&q, &[]);
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "true", "env": {"GREETING": "hi"}}),
    );
    assert!(!failed, "{text}");
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "true", "env": {"OPENSSL_CONF": "/tmp/evil.cnf"}}),
    );
    assert!(failed && text.contains("`OPENSSL_CONF`"), "{text}");
    drop(client);
    // --allow-env replaces the file's list, as --allow replaces `allow`.
    let mut client = Client::ready(&q, &["--allow-env", "OTHER"]);
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "true", "env": {"GREETING": "hi"}}),
    );
    assert!(failed && text.contains("`GREETING`"), "{text}");
    drop(client);

    let out = q
        .execq(&["mcp", "--allow", "true", "--allow-env", "LD_PRELOAD"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LD_PRELOAD"), "{stderr}");
}

#[test]
fn retry_through_mcp_checks_the_jobs_env_as_a_submission_would() {
    let q = TestQueue::new();
    q.add(
        "loader.json",
        &json!({"command": "false", "args": [], "env": {"OPENSSL_CONF": "/tmp/evil.cnf"}})
            .to_string(),
    );
    // `execq submit` records the submitter's PATH, here not the server's.
    let submitted = q
        .execq(&["submit", "--", "false"])
        .env("PATH", format!("{}:/usr/bin:/bin", q.scratch.display()))
        .output()
        .unwrap();
    assert!(submitted.status.success());
    q.drain(&[]).success();

    let mut client = Client::ready(&q, &["--allow", "false"]);
    let (failed, text) = client.call("retry_job", json!({"job": "loader"}));
    assert!(failed, "refused: {text}");
    assert!(text.contains("`OPENSSL_CONF` may not be set"), "{text}");
    let other = q
        .names("failed")
        .into_iter()
        .find(|n| n.ends_with(".json") && !n.starts_with("loader") && !n.starts_with('.'))
        .expect("the submitted job failed");
    let (failed, text) = client.call("retry_job", json!({"job": other}));
    assert!(failed, "a PATH that is not the server's is refused: {text}");
    assert!(text.contains("`PATH`"), "{text}");

    // A job this server submitted carries this server's PATH: it may be retried.
    let (failed, text, view) = client.call_full(
        "submit_job",
        json!({"command": "false", "wait_seconds": 20}),
    );
    assert!(!failed && view["state"] == "failed", "{text}");
    let job = view["job"].as_str().unwrap().to_owned();
    let (failed, text) = client.call("retry_job", json!({"job": job}));
    assert!(!failed, "retried: {text}");
}

#[test]
fn retry_through_mcp_refuses_a_job_the_allowlist_would_refuse() {
    let q = TestQueue::new();
    q.add("mine.json", &shell_job("exit 3"));
    q.add(
        "allowed.json",
        &json!({"command": "false", "args": []}).to_string(),
    );
    q.drain(&[]).success();
    assert!(q.path("failed/mine.json").is_file());
    assert!(q.path("failed/allowed.json").is_file());

    let mut client = Client::ready(&q, &["--allow", "true", "--allow", "false"]);
    let (failed, text) = client.call("retry_job", json!({"job": "mine"}));
    assert!(failed, "refused: {text}");
    assert!(text.contains("shell commands are not allowed"), "{text}");
    assert!(q.path("failed/mine.json").is_file(), "still failed");
    assert!(!q.path("pending/mine.json").exists(), "not requeued");
    assert_eq!(
        q.names("failed")
            .iter()
            .filter(|n| n.starts_with('.'))
            .count(),
        0,
        "nothing left half-taken"
    );

    let (failed, text) = client.call("retry_job", json!({"job": "allowed"}));
    assert!(!failed, "an allowed program is retried: {text}");
}

#[test]
fn an_unparsable_line_gets_a_parse_error_and_the_server_keeps_serving() {
    let q = TestQueue::new();
    let mut client = Client::start(&q, &[]);
    client.send("this is not json");
    let answer = client.answer();
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
    assert!(answer["id"].is_null(), "{answer}");
    client.initialize();
    let (failed, text) = client.call("queue_status", json!({}));
    assert!(!failed, "{text}");
}

#[test]
fn a_line_that_is_not_utf8_gets_a_parse_error_and_the_server_keeps_serving() {
    let q = TestQueue::new();
    let mut client = Client::start(&q, &[]);
    for line in [
        &b"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"\xff\"}"[..],
        b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{\"\xc3\":1}}",
        b"\xff",
        // UTF-8 throughout, but a string that decodes to no text.
        b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"\\ud800\"}",
    ] {
        client.send_bytes(line);
        let answer = client.answer();
        assert_eq!(answer["error"]["code"], -32700, "{answer}");
        assert!(answer["id"].is_null(), "{answer}");
    }
    client.initialize();
    let (failed, text) = client.call("queue_status", json!({}));
    assert!(!failed, "{text}");
}

#[test]
fn an_oversized_request_gets_an_error_naming_the_limit_and_the_server_keeps_serving() {
    let q = TestQueue::new();
    let mut client = Client::start(&q, &[]);
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(20 * 1024 * 1024)
    );
    client.send(&huge);
    let answer = client.answer();
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("16777216-byte limit"), "{answer}");
    client.initialize();
    let (failed, text) = client.call("queue_status", json!({}));
    assert!(!failed, "{text}");
}

#[test]
fn a_job_file_with_an_invalid_env_name_is_filed_as_failed_naming_it() {
    let q = TestQueue::new();
    let marker = q.scratch("ran");
    q.add(
        "bad.json",
        &json!({"command": format!("touch '{}'", marker.display()), "env": {"PATH=/evil:": "x"}})
            .to_string(),
    );
    q.drain(&[]).success();
    assert!(!marker.exists(), "not run");
    let error = q.result("failed/bad.json")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("`PATH=/evil:`"), "{error}");
}

#[test]
fn retry_through_mcp_refuses_a_job_with_a_hook_or_result_file_an_agent_could_not_submit() {
    let q = TestQueue::new();
    let marker = q.scratch("hook-ran");
    q.add(
        "hooked.json",
        &json!({"command": "false", "notify": {"on": ["failed", "completed"],
                "command": format!("touch '{}'", marker.display())}})
        .to_string(),
    );
    q.add(
        "writes.json",
        &json!({"command": "false", "result_file": "elsewhere.txt"}).to_string(),
    );
    q.drain(&[]).success();
    std::fs::remove_file(&marker).ok();
    let mut client = Client::ready(&q, &["--allow", "false"]);
    for job in ["hooked", "writes"] {
        let (failed, text) = client.call("retry_job", json!({"job": job}));
        assert!(failed, "{job}: {text}");
        assert!(
            text.contains("`notify`") || text.contains("`result_file`"),
            "{job}: {text}"
        );
    }
    assert!(q.names("pending").is_empty(), "{:?}", q.names("pending"));
    assert!(!marker.exists(), "the hook ran");
}

#[test]
fn a_refused_retry_leaves_a_script_beside_its_record() {
    let q = TestQueue::new();
    q.add_aged("s.sh", "exit 1\n", 10);
    q.drain(&[]).success();
    let before = q.names("failed");
    let mut client = Client::ready(&q, &["--allow", "echo"]);
    let (failed, text) = client.call("retry_job", json!({"job": "s.sh"}));
    assert!(failed, "{text}");
    assert_eq!(q.names("failed"), before, "the refusal moved the script");
    assert!(q.log().contains("retry refused"), "{}", q.log());
}

#[test]
fn a_retry_through_mcp_of_a_job_whose_name_is_not_utf8_says_what_it_did() {
    use std::os::unix::ffi::OsStrExt;
    let q = TestQueue::new();
    let name = std::ffi::OsStr::from_bytes(b"c\xffd.json");
    std::fs::write(q.path("pending").join(name), r#"{"command": "false"}"#).unwrap();
    q.drain(&[]).success();
    let mut client = Client::ready(&q, &[]);
    let _held = hold_drain_lock(&q);
    let (failed, text) = client.call("retry_job", json!({"job": "c\\xffd.json"}));
    assert!(!failed, "{text}");
    assert!(text.contains("pending again, as c\\xffd.json"), "{text}");
    let (failed, text) = client.call("get_job", json!({"job": "c\\xffd"}));
    assert!(!failed, "{text}");
}

#[test]
fn an_infinite_timeout_is_refused_not_turned_into_the_default() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &[]);
    let _held = hold_drain_lock(&q);
    let answer = client.request(
        "tools/call",
        serde_json::from_str(
            r#"{"name": "submit_job", "arguments": {"command": "true", "timeout": 1e400}}"#,
        )
        .unwrap(),
    );
    let result = &answer["result"];
    assert_eq!(result["isError"], true, "{answer}");
    assert!(q.names("pending").is_empty());
}

#[test]
fn a_task_made_here_says_when_its_job_ends() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &[]);
    let task_tools = {
        // The answer to initialize is gone; a tools/list shows what a task client reads.
        let tools = client.request("tools/list", json!({}));
        tools["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["execution"]["taskSupport"] == "optional")
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(
        task_tools.contains(&"submit_job".to_owned()),
        "{task_tools:?}"
    );
    let created = client.request(
        "tools/call",
        json!({"name": "submit_job", "arguments": {"shell": "sleep 1; echo finished"},
               "task": {"ttl": 60000}}),
    );
    let task = &created["result"]["task"];
    assert_eq!(task["status"], "working", "{created}");
    let id = task["taskId"].as_str().unwrap().to_owned();
    // Then, unasked, the notification that it ended.
    let notification = loop {
        let line = client.answer();
        if line["method"] == "notifications/tasks/status" {
            break line;
        }
    };
    assert_eq!(
        notification["params"]["taskId"],
        id.as_str(),
        "{notification}"
    );
    assert_eq!(
        notification["params"]["status"], "completed",
        "{notification}"
    );
    assert!(q.path(&format!("completed/{id}")).is_file());
}

/// A task is its job for good: a job submitted later with the task's id as its task_id (by any
/// door) does not take the task over.
#[test]
fn a_job_named_like_a_task_does_not_take_it_over() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &[]);
    let created = client.request(
        "tools/call",
        json!({"name": "submit_job", "arguments": {"shell": "echo real"}, "task": {}}),
    );
    let id = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = client.request("tasks/result", json!({"taskId": id}));
    assert!(
        result["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("real")
    );
    let impostor = q.execq(&["submit", "--id", &id, "--wait", "--shell", "echo forged"]);
    assert!(run(impostor).success().stdout.contains("forged"));
    let got = client.request("tasks/get", json!({"taskId": id}));
    assert_eq!(got["result"]["taskId"], id.as_str(), "{got}");
    assert_eq!(got["result"]["status"], "completed", "{got}");
    let result = client.request("tasks/result", json!({"taskId": id}));
    let text = result["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("real") && !text.contains("forged"), "{text}");
}

/// A task whose drain died with its job in running/ is not left `working` for good: asking
/// about it starts a drain, which records the job as interrupted.
#[test]
fn a_task_whose_drain_died_ends() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &[]);
    // What a drain killed mid-job leaves: the job in running/, no drain.
    std::fs::create_dir_all(q.path("running")).unwrap();
    std::fs::write(
        q.path("running/left.json"),
        r#"{"command": "sleep 100", "task_id": "left", "mcp_task": true}"#,
    )
    .unwrap();
    let mut status = Value::Null;
    crate::util::wait_until("the task to end", || {
        let got = client.request("tasks/get", json!({"taskId": "left.json"}));
        status = got["result"]["status"].clone();
        status != "working"
    });
    assert_eq!(status, "failed");
    let record: Value =
        serde_json::from_slice(&std::fs::read(q.path("failed/left.json")).unwrap()).unwrap();
    assert_eq!(record["result"]["status"], "interrupted");
}

#[test]
fn a_max_wait_under_a_second_is_refused() {
    let q = TestQueue::new();
    std::fs::write(q.path("config.toml"), "[mcp]\nmax_wait = 0\n").unwrap();
    let check = run(q.execq(&["config", "--check"]));
    assert!(!check.status.success());
    assert!(
        check.stderr.contains("at least 1 second"),
        "{}",
        check.stderr
    );
}

/// In 2025-11-25 too, a task whose job cannot start (a refused call, a dependency that failed)
/// reaches `failed` with the reason, never hangs in `working`.
#[test]
fn a_task_that_cannot_start_fails_with_why() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &["--allow", "false", "--allow", "echo"]);
    let refused = client.request(
        "tools/call",
        json!({"name": "submit_job", "arguments": {"command": "rm", "args": ["-rf", "/"]}, "task": {}}),
    );
    let task = &refused["result"]["task"];
    assert_eq!(task["status"], "failed", "{refused}");
    assert!(
        task["statusMessage"]
            .as_str()
            .unwrap()
            .contains("not an allowed program"),
        "{refused}"
    );
    let id = task["taskId"].as_str().unwrap().to_owned();
    let got = client.request("tasks/get", json!({"taskId": id}));
    assert_eq!(got["result"]["status"], "failed", "{got}");
    let result = client.request("tasks/result", json!({"taskId": id}));
    assert_eq!(result["result"]["isError"], true, "{result}");
    assert!(
        q.names("pending").is_empty(),
        "a refused call queued nothing"
    );

    let first = client.request(
        "tools/call",
        json!({"name": "submit_job", "arguments": {"command": "false", "task_id": "first"}, "task": {}}),
    );
    let first = first["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = client.request(
        "tools/call",
        json!({"name": "submit_job", "arguments": {"command": "echo", "args": ["never"], "after": "first"}, "task": {}}),
    );
    let second = second["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = client.request("tasks/result", json!({"taskId": first}));
    assert_eq!(result["result"]["isError"], true, "{result}");
    let mut got = Value::Null;
    crate::util::wait_until("the dependent task to end", || {
        got = client.request("tasks/get", json!({"taskId": second}));
        got["result"]["status"] != "working"
    });
    assert_eq!(got["result"]["status"], "failed", "{got}");
    assert!(
        got["result"]["statusMessage"]
            .as_str()
            .unwrap()
            .contains("first"),
        "{got}"
    );
}

/// A task is one run of its job: retried afterwards, the job runs again, and its first task
/// still says how the first run ended; the retry's own task follows the new run.
#[test]
fn a_finished_task_stays_as_it_ended_when_its_job_is_retried() {
    let q = TestQueue::new();
    let mut client = Client::ready(&q, &[]);
    let flag = q.scratch("second");
    let line = format!(
        "if [ -e '{f}' ]; then echo second; else touch '{f}'; echo first; exit 1; fi",
        f = flag.display()
    );
    let created = client.request(
        "tools/call",
        json!({"name": "submit_job", "arguments": {"shell": line}, "task": {}}),
    );
    let id = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = client.request("tasks/result", json!({"taskId": id}));
    assert_eq!(first["result"]["isError"], true, "{first}");
    let retried = client.request(
        "tools/call",
        json!({"name": "retry_job", "arguments": {"job": id}, "task": {}}),
    );
    let retry_id = retried["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(retry_id, format!("{id}#retry-1"));
    let second = client.request("tasks/result", json!({"taskId": retry_id}));
    assert_eq!(second["result"]["isError"], false, "{second}");
    assert_eq!(
        second["result"]["structuredContent"]["job"]["stdout_tail"], "second\n",
        "{second}"
    );
    let again = client.request("tasks/get", json!({"taskId": id}));
    assert_eq!(
        again["result"]["status"], "failed",
        "the first task changed: {again}"
    );
    let result = client.request("tasks/result", json!({"taskId": id}));
    assert_eq!(
        result["result"]["structuredContent"]["stdout_tail"], "first\n",
        "{result}"
    );
    // An ended run's task cannot be cancelled (nor, through it, the job's later runs).
    let cancel = client.request("tasks/cancel", json!({"taskId": id}));
    assert_eq!(cancel["error"]["code"], -32602, "{cancel}");
    let listed = client.request("tasks/list", json!({}));
    let ids: Vec<&str> = (listed["result"]["tasks"].as_array().unwrap().iter())
        .map(|t| t["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [retry_id.as_str()], "the job's current run: {listed}");
}

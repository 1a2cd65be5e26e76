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
        let mut full = vec!["mcp"];
        full.extend_from_slice(args);
        let mut child = q
            .execq(&full)
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
        let mut client = Self::start(q, args);
        client.initialize();
        client
    }

    fn initialize(&mut self) {
        let answer = self.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
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
    fn answer(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("an answer from execq mcp before the deadline");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
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
    let (failed, text) = client.call(
        "submit_job",
        json!({"command": "true", "env": {"GREETING": "hello"}}),
    );
    assert!(!failed, "an ordinary variable is fine: {text}");
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

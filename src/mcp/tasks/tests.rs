use super::*;

fn parsed(route: Route) -> Value {
    match route {
        Route::Server(bytes) | Route::Client(bytes) | Route::Both(bytes, _) => {
            serde_json::from_slice(&bytes).unwrap()
        }
        Route::Nowhere => Value::Null,
    }
}

fn inbound(tasks: &Tasks, message: Value) -> Value {
    parsed(tasks.inbound(message.to_string().as_bytes()).unwrap())
}

fn outbound(tasks: &Tasks, message: Value) -> Value {
    parsed(tasks.outbound(message.to_string().as_bytes()).unwrap())
}

/// The `_meta` a 2026-07-28 client sends with each request, declaring the tasks extension.
fn modern() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientCapabilities":
               {"extensions": {"io.modelcontextprotocol/tasks": {}}}})
}

#[test]
fn a_task_call_submits_without_waiting_and_answers_with_the_job_as_a_task() {
    let tasks = Tasks::new(Some(60_000), 50.0);
    let sent = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "submit_job", "arguments": {"shell": "true", "wait_seconds": 9},
                       "task": {"ttl": 1000}}}),
    );
    assert_eq!(sent["params"]["arguments"]["wait_seconds"], 0);
    assert_eq!(sent["params"]["arguments"]["mcp_task"], true);
    assert!(sent["params"].get("task").is_none());
    let reply = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 7, "result": {"content": [],
            "structuredContent": {"job": "j.json", "state": "pending", "status": null,
                                  "waiting": "after `x`", "time": "2026-12-02T10:00:00+00:00"}}}),
    );
    let task = &reply["result"]["task"];
    assert_eq!(task["taskId"], "j.json");
    assert_eq!(task["status"], "working");
    assert_eq!(task["statusMessage"], "after `x`");
    assert_eq!(task["ttl"], 60_000);
    assert_eq!(reply["id"], 7);
}

#[test]
fn a_result_asks_again_until_the_job_has_finished_and_a_failed_job_is_an_error() {
    let tasks = Tasks::new(None, 50.0);
    let first = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": "r", "method": "tasks/result", "params": {"taskId": "j.json"}}),
    );
    assert_eq!(first["params"]["name"], "get_job");
    let again = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": first["id"], "result": {
            "structuredContent": {"job": "j.json", "state": "running", "done": false}}}),
    );
    assert_eq!(again["method"], "tools/call", "asked again: {again}");
    let reply = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": again["id"], "result": {
            "content": [{"type": "text", "text": "failed"}],
            "structuredContent": {"job": "j.json", "state": "failed", "status": "timeout", "done": true}}}),
    );
    assert_eq!(reply["id"], "r");
    assert_eq!(reply["result"]["isError"], true);
    assert_eq!(
        reply["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        "j.json"
    );
}

#[test]
fn in_2026_07_28_a_declared_client_gets_tasks_with_the_outcome_inline() {
    let tasks = Tasks::new(None, 50.0);
    let sent = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "submit_job", "arguments": {"shell": "exit 3"}, "_meta": modern()}}),
    );
    assert_eq!(sent["params"]["arguments"]["wait_seconds"], 0);
    let created = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [],
            "structuredContent": {"job": "j.json", "state": "pending", "time": "2026-12-02T10:00:00+00:00"}}}),
    );
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    assert_eq!(created["result"]["taskId"], "j.json");
    assert_eq!(created["result"]["ttlMs"], Value::Null);
    assert_eq!(created["result"]["pollIntervalMs"], 1000);
    assert!(created["result"].get("task").is_none());

    // A job that ran and failed: a completed task whose result is an error.
    let ask = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tasks/get",
               "params": {"taskId": "j.json", "_meta": modern()}}),
    );
    let got = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"content": [{"type": "text", "text": "exit 3"}],
            "structuredContent": {"job": "j.json", "state": "failed", "status": "failed",
                                  "returncode": 3, "done": true}}}),
    );
    assert_eq!(got["id"], 2);
    assert_eq!(got["result"]["status"], "completed", "{got}");
    assert_eq!(got["result"]["resultType"], "complete");
    assert_eq!(got["result"]["result"]["isError"], true);
    assert_eq!(got["result"]["statusMessage"], "exited with code 3");

    // A job that never ran: a failed task, with a JSON-RPC error saying why.
    let ask = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/get",
               "params": {"taskId": "k.json", "_meta": modern()}}),
    );
    let got = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"content": [],
            "structuredContent": {"job": "k.json", "state": "failed", "status": "dependency_failed",
                                  "error": "`j.json` did not complete", "done": true}}}),
    );
    assert_eq!(got["result"]["status"], "failed", "{got}");
    assert_eq!(
        got["result"]["error"]["message"],
        "`j.json` did not complete"
    );
    assert!(got["result"].get("result").is_none());
}

#[test]
fn a_refused_task_call_is_a_failed_task_any_server_answers_for() {
    for (rev_meta, status_path) in [(Value::Null, "/result/task"), (modern(), "/result")] {
        let tasks = Tasks::new(None, 50.0);
        let mut params = json!({"name": "submit_job", "arguments": {"shell": "rm -rf ~"},
                                "task": {}});
        if !rev_meta.is_null() {
            params["_meta"] = rev_meta.clone();
        }
        inbound(
            &tasks,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}),
        );
        let created = outbound(
            &tasks,
            json!({"jsonrpc": "2.0", "id": 1, "result": {"isError": true,
                "content": [{"type": "text", "text": "shell commands are not allowed here"}]}}),
        );
        let task = created.pointer(status_path).unwrap();
        assert_eq!(task["status"], "failed", "{created}");
        assert_eq!(task["statusMessage"], "shell commands are not allowed here");
        let id = task["taskId"].as_str().unwrap().to_owned();

        // Another server (nothing in memory) answers from the id alone.
        let other = Tasks::new(None, 50.0);
        let mut params = json!({"taskId": id});
        if !rev_meta.is_null() {
            params["_meta"] = rev_meta.clone();
        }
        let got = inbound(
            &other,
            json!({"jsonrpc": "2.0", "id": 5, "method": "tasks/get", "params": params}),
        );
        assert_eq!(got["result"]["status"], "failed", "{got}");
        assert_eq!(
            got["result"]["statusMessage"],
            "shell commands are not allowed here"
        );
        let cancel = inbound(
            &other,
            json!({"jsonrpc": "2.0", "id": 6, "method": "tasks/cancel", "params": params}),
        );
        assert_eq!(cancel["error"]["code"], -32602, "{cancel}");
    }
    // An id that only looks like one is not found by the tools, not trusted.
    let tasks = Tasks::new(None, 50.0);
    let sent = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"taskId": "refused-zz"}}),
    );
    assert_eq!(sent["params"]["name"], "get_job");
}

#[test]
fn capabilities_are_advertised_in_each_revision_s_words() {
    let tasks = Tasks::new(None, 50.0);
    let asked = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
    assert_eq!(tasks.inbound(asked.to_string().as_bytes()), None);
    let init = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}}}),
    );
    assert_eq!(
        init["result"]["capabilities"]["tasks"]["requests"]["tools"]["call"],
        json!({})
    );
    let asked = json!({"jsonrpc": "2.0", "id": 2, "method": "server/discover", "params": {"_meta": modern()}});
    assert_eq!(tasks.inbound(asked.to_string().as_bytes()), None);
    let discover = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 2, "result": {"capabilities": {"tools": {}}}}),
    );
    assert_eq!(
        discover["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({})
    );
    // tasks/list and tasks/result are not in 2026-07-28: rmcp says so (method not found).
    let list =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/list", "params": {"_meta": modern()}});
    assert_eq!(tasks.inbound(list.to_string().as_bytes()), None);
}

#[test]
fn lines_that_are_not_about_tasks_pass_unchanged() {
    let tasks = Tasks::new(None, 50.0);
    for line in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_job", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "submit_job", "arguments": {}}}),
        // A 2026-07-28 client that did not declare the extension gets results, as before.
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "submit_job", "arguments": {},
               "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                         "io.modelcontextprotocol/clientCapabilities": {}}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ] {
        assert_eq!(tasks.inbound(line.to_string().as_bytes()), None, "{line}");
    }
    let answer = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
    assert_eq!(tasks.outbound(answer.to_string().as_bytes()), None);
}

#[test]
fn a_session_of_an_older_revision_gets_no_tasks_and_an_error_answer_is_left_whole() {
    let tasks = Tasks::new(None, 50.0);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
    assert_eq!(tasks.inbound(init.to_string().as_bytes()), None);
    let old = json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-06-18",
                      "capabilities": {"tools": {}}}});
    assert_eq!(
        tasks.outbound(old.to_string().as_bytes()),
        None,
        "passed on unchanged"
    );
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "submit_job", "arguments": {"shell": "true"}, "task": {}}});
    assert_eq!(
        tasks.inbound(call.to_string().as_bytes()),
        None,
        "a plain call"
    );

    let tasks = Tasks::new(None, 50.0);
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}});
    assert_eq!(tasks.inbound(list.to_string().as_bytes()), None);
    let failed = json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32603, "message": "x"}});
    let reply = outbound(&tasks, failed.clone());
    assert_eq!(reply, failed, "no `result` grown on an error");
}

#[test]
fn a_task_asked_of_a_tool_without_task_support_is_refused_and_our_ids_cannot_be_guessed() {
    let tasks = Tasks::new(None, 50.0);
    let reply = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
               "params": {"name": "get_job", "arguments": {"job": "x"}, "task": {}}}),
    );
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    let ours = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 5, "method": "tasks/get", "params": {"taskId": "j.json"}}),
    );
    let id = ours["id"].as_str().unwrap();
    assert!(
        id.starts_with("execq-task-") && id.len() > "execq-task-1".len() + 10,
        "{id}"
    );
    let other = Tasks::new(None, 50.0);
    let theirs = inbound(
        &other,
        json!({"jsonrpc": "2.0", "id": 5, "method": "tasks/get", "params": {"taskId": "j.json"}}),
    );
    assert_ne!(ours["id"], theirs["id"], "each server its own ids");
}

#[test]
fn a_retry_task_has_an_id_of_its_own_and_its_result_has_retry_job_s_shape() {
    let tasks = Tasks::new(None, 50.0);
    inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "retry_job", "arguments": {"job": "j.json"}, "task": {}}}),
    );
    let view = json!({"job": "j.json", "state": "pending", "time": "2026-12-02T10:00:00+00:00"});
    let created = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [],
               "structuredContent": {"message": "retried", "job": view}}}),
    );
    let id = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(id, "j.json#retry-1");
    let ask = inbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tasks/result", "params": {"taskId": id}}),
    );
    assert_eq!(ask["params"]["arguments"]["job"], "j.json");
    let done = outbound(
        &tasks,
        json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"content": [{"type": "text", "text": "ok"}],
               "structuredContent": {"job": "j.json", "state": "completed", "status": "completed", "done": true}}}),
    );
    let content = &done["result"]["structuredContent"];
    assert_eq!(content["job"]["status"], "completed", "{done}");
    assert!(content["message"].as_str().unwrap().contains("retried"));
    assert_eq!(
        done["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        "j.json#retry-1"
    );
}

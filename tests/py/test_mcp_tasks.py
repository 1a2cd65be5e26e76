"""MCP tasks and jobs as resources in protocol revision 2026-07-28 (the tasks extension, `io.modelcontextprotocol/tasks`)
through the official MCP Python SDK (`mcp` 2.x, which speaks only that revision).

The SDK ships no tasks client of its own; it offers the extension API (`ClientExtension`,
`ResultClaim`) for one, so `Tasks` below is that client: it declares the extension, claims the
`resultType: "task"` answer, and follows it with `tasks/get` — exactly what the extension's
specification says a requester does.

Run by tests/integration/clients.rs (`cargo test`), or by hand:
    EXECQ_BIN=target/debug/execq target/pyenv/bin/python -m unittest -v tests/py/test_mcp_tasks.py
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.extension import ClientExtension, ResultClaim
from mcp.shared.exceptions import MCPError
from pydantic import ConfigDict, Field

sys.path.insert(0, str(Path(__file__).parent))
from test_mcp import alive  # noqa: E402

EXECQ = os.path.abspath(os.environ.get("EXECQ_BIN", "target/debug/execq"))
DEADLINE = 60
EXTENSION = "io.modelcontextprotocol/tasks"


class TaskCreated(types.Result):
    """`CreateTaskResult`: what a tool call answers with when it made a task."""

    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    status_message: str | None = Field(alias="statusMessage", default=None)
    created_at: str = Field(alias="createdAt")
    last_updated_at: str = Field(alias="lastUpdatedAt")
    ttl_ms: int | None = Field(alias="ttlMs")
    poll_interval_ms: int | None = Field(alias="pollIntervalMs", default=None)


class TaskState(types.Result):
    """`GetTaskResult`: the task, with its `result` or `error` once it has ended."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["complete"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: Literal["working", "input_required", "completed", "failed", "cancelled"]
    status_message: str | None = Field(alias="statusMessage", default=None)
    ttl_ms: int | None = Field(alias="ttlMs")
    poll_interval_ms: int | None = Field(alias="pollIntervalMs", default=None)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Ack(types.Result):
    result_type: Literal["complete"] = Field(alias="resultType")


class TaskRequest(types.Request[dict[str, Any], str]):
    name_param = "taskId"


async def get_task(session, task_id):
    return await session.send_request(TaskRequest(method="tasks/get", params={"taskId": task_id}), TaskState)


async def cancel_task(session, task_id):
    return await session.send_request(TaskRequest(method="tasks/cancel", params={"taskId": task_id}), Ack)


async def settle(session, task_id, seen=None):
    """Polls a task until it ends, as often as it asks."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        state = await get_task(session, task_id)
        if seen is not None:
            seen.append(state.status)
        if state.status != "working":
            return state
        await anyio.sleep((state.poll_interval_ms or 1000) / 1000)
    raise AssertionError(f"task {task_id} still working after {DEADLINE}s")


async def resolve(created, ctx):
    state = await settle(ctx.session, created.task_id)
    if state.status == "completed":
        return types.CallToolResult.model_validate(state.result)
    raise MCPError(code=(state.error or {}).get("code", -32603), message=state.status_message or state.status)


class Tasks(ClientExtension):
    identifier = EXTENSION

    def claims(self):
        return [ResultClaim(result_type="task", model=TaskCreated, resolve=resolve)]


class Server(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="execq-mcp-tasks-"))
        self.queue = self.tmp / "queue"
        self.server_pid = self.tmp / "server.pid"

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @asynccontextmanager
    async def client(self, tasks=True, *flags):
        params = StdioServerParameters(
            # Through sh, which says the server's pid, so that a test can kill it.
            command="/bin/sh",
            args=["-c", 'echo $$ > "$0"; exe=$1; shift; exec "$exe" mcp "$@"', str(self.server_pid), EXECQ, *flags],
            env={"EXECQ_QUEUE": str(self.queue), "PATH": os.environ["PATH"], "HOME": str(self.tmp)},
            cwd=str(self.tmp),
        )
        async with Client(params, read_timeout_seconds=DEADLINE, extensions=[Tasks()] if tasks else None) as client:
            yield client

    async def create(self, client, tool, args):
        created = await client.session.call_tool(tool, args, allow_claimed=True)
        self.assertIsInstance(created, TaskCreated, f"{tool}({args}) made no task: {created}")
        return created


class TasksTest(Server):
    async def test_a_task_for_a_5s_job_is_polled_to_completed_and_its_result_read(self):
        async with self.client() as client:
            self.assertIn(EXTENSION, client.session.server_capabilities.extensions or {})
            start = time.monotonic()
            created = await self.create(client, "submit_job", {"shell": "sleep 5; echo five"})
            self.assertLess(time.monotonic() - start, 3, "the call waited for the job")
            self.assertEqual(created.status, "working")
            self.assertTrue(created.task_id.endswith(".json"), created.task_id)
            self.assertEqual(created.poll_interval_ms, 1000)
            self.assertTrue((self.queue / "pending" / created.task_id).exists()
                            or (self.queue / "running" / created.task_id).exists())
            seen = []
            state = await settle(client.session, created.task_id, seen)
            self.assertGreaterEqual(seen.count("working"), 2, seen)
            self.assertEqual(state.status, "completed", state)
            self.assertIs(state.result["isError"], False)
            self.assertEqual(state.result["structuredContent"]["stdout_tail"], "five\n")
            self.assertIn("five", state.result["content"][0]["text"])
            # The SDK's ordinary call_tool, with the extension: the task is followed for the caller.
            result = await client.call_tool("submit_job", {"shell": "echo plain"})
            self.assertFalse(result.is_error)
            self.assertEqual(result.structured_content["stdout_tail"], "plain\n")

    async def test_a_job_that_fails_is_a_completed_task_whose_result_is_an_error(self):
        async with self.client() as client:
            created = await self.create(client, "submit_job", {"shell": "echo broken >&2; exit 3"})
            state = await settle(client.session, created.task_id)
            self.assertEqual(state.status, "completed", state)
            self.assertIs(state.result["isError"], True)
            self.assertEqual(state.result["structuredContent"]["returncode"], 3)
            self.assertIn("3", state.status_message)
            # retry_job as a task: the same job, pending again.
            retried = await self.create(client, "retry_job", {"job": created.task_id})
            self.assertEqual(retried.task_id, created.task_id + "#retry-1")
            self.assertEqual((await settle(client.session, retried.task_id)).status, "completed")

    async def test_cancel_a_task_its_processes_end_and_its_record_says_cancelled(self):
        pidfile = self.tmp / "job.pid"
        async with self.client() as client:
            created = await self.create(client, "submit_job",
                                        {"shell": f"sh -c 'sleep 60' & echo $! > {pidfile}; wait"})
            deadline = time.monotonic() + DEADLINE
            while not pidfile.exists() or not pidfile.read_text().strip():
                self.assertLess(time.monotonic(), deadline, "the job did not start")
                await anyio.sleep(0.05)
            child = int(pidfile.read_text())
            ack = await cancel_task(client.session, created.task_id)
            self.assertEqual(ack.result_type, "complete")
            while alive(child):
                self.assertLess(time.monotonic(), deadline, "the job's child outlived the cancel")
                await anyio.sleep(0.05)
            state = await settle(client.session, created.task_id)
            self.assertEqual(state.status, "cancelled", state)
        record = json.loads((self.queue / "failed" / created.task_id).read_text())
        self.assertEqual(record["result"]["status"], "cancelled")

    async def test_a_task_outlives_a_killed_server(self):
        async with self.client() as client:
            created = await self.create(client, "submit_job", {"shell": "sleep 3; echo survived"})
            os.kill(int(self.server_pid.read_text()), signal.SIGKILL)
            with self.assertRaises(Exception):
                await get_task(client.session, created.task_id)
        async with self.client() as client:
            state = await settle(client.session, created.task_id)
            self.assertEqual(state.status, "completed", state)
            self.assertEqual(state.result["structuredContent"]["stdout_tail"], "survived\n")

    async def test_a_client_without_tasks_gets_today_s_results(self):
        async with self.client(tasks=False) as client:
            result = await client.call_tool("submit_job", {"shell": "echo as before", "wait_seconds": 20})
            self.assertFalse(result.is_error)
            self.assertEqual(result.structured_content["status"], "completed")
            self.assertEqual(result.structured_content["stdout_tail"], "as before\n")
            self.assertFalse(result.structured_content.get("mcp_task"))

    async def test_a_task_that_cannot_start_fails_with_why(self):
        (self.tmp / "queue").mkdir()
        (self.queue / "config.toml").write_text('[sandbox]\nmcp = "workspace"\n')
        async with self.client() as client:
            # Bad arguments, and a sandbox below the floor: refused, failed from the start.
            for args, words in [
                ({"shell": "true", "timeout": -1}, ["timeout"]),
                ({"shell": "true", "sandbox": "none"}, ["sandbox", "workspace"]),
            ]:
                created = await self.create(client, "submit_job", args)
                self.assertEqual(created.status, "failed", created)
                state = await get_task(client.session, created.task_id)
                self.assertEqual(state.status, "failed", state)
                for word in words:
                    self.assertIn(word, state.error["message"])
                    self.assertIn(word, state.status_message)
                with self.assertRaises(MCPError) as raised:
                    await client.call_tool("submit_job", args)
                self.assertIn(words[0], str(raised.exception))
            # A sandbox that would hold the queue (the server's folder, the default cwd): refused.
            created = await self.create(client, "submit_job", {"shell": "true"})
            state = await get_task(client.session, created.task_id)
            self.assertEqual(state.status, "failed", state)
            self.assertIn("holds the queue", state.error["message"])
            # A dependency that did not complete: queued, never run, failed with why.
            work = self.tmp / "work"
            work.mkdir()
            first = await self.create(client, "submit_job", {"shell": "exit 1", "cwd": str(work)})
            self.assertIs((await settle(client.session, first.task_id)).result["isError"], True)
            second = await self.create(client, "submit_job",
                                       {"shell": "echo never", "cwd": str(work), "after": first.task_id})
            self.assertEqual(second.status, "working")
            state = await settle(client.session, second.task_id)
            self.assertEqual(state.status, "failed", state)
            self.assertIn(first.task_id.removesuffix(".json"), state.error["message"])


class ResourcesTest(Server):
    async def test_a_job_s_record_and_output_are_resources_and_a_subscription_says_when_it_lands(self):
        async with self.client() as client:
            templates = {t.uri_template: t for t in (await client.list_resource_templates()).resource_templates}
            self.assertEqual(set(templates), {"execq://job/{job}", "execq://job/{job}/stdout",
                                               "execq://job/{job}/stderr"})
            self.assertEqual(templates["execq://job/{job}"].mime_type, "application/json")
            created = await self.create(client, "submit_job",
                                        {"shell": "echo started; sleep 2; echo out; echo err >&2"})
            uri = f"execq://job/{created.task_id}"
            async with client.listen(resource_subscriptions=[uri, uri + "/stdout"]) as sub:
                self.assertIn(uri, sub.honored.resource_subscriptions or [])
                with anyio.fail_after(DEADLINE):
                    event = await sub.__anext__()
            self.assertIn(event.uri, (uri, uri + "/stdout"))
            record = json.loads((await client.read_resource(uri)).contents[0].text)
            self.assertEqual(record["result"]["status"], "completed")
            self.assertEqual(record["command"], "echo started; sleep 2; echo out; echo err >&2")
            stdout = (await client.read_resource(uri + "/stdout")).contents[0]
            self.assertEqual((stdout.text, stdout.mime_type), ("started\nout\n", "text/plain"))
            stderr = (await client.read_resource(uri + "/stderr")).contents[0]
            self.assertEqual(stderr.text, "err\n")
            # By task_id too, and listed among the newest jobs.
            by_id = await client.read_resource("execq://job/" + created.task_id.removesuffix(".json"))
            self.assertEqual(json.loads(by_id.contents[0].text)["task_id"], record["task_id"])
            listed = [r.uri for r in (await client.list_resources()).resources]
            self.assertIn(uri, listed)
            for bad in ["execq://job/no-such-job", "file:///etc/passwd", "execq://job/..%2F..%2Fetc%2Fpasswd"]:
                with self.assertRaises(MCPError, msg=bad):
                    await client.read_resource(bad)


if __name__ == "__main__":
    unittest.main()

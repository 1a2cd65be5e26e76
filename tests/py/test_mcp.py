"""`execq mcp` driven by the official MCP Python SDK (`mcp`), as an agent's client drives it.

Run by tests/integration/clients.rs (`cargo test`), or by hand:
    EXECQ_BIN=target/debug/execq target/pyenv/bin/python -m unittest -v tests/py/test_mcp.py

Each test starts the server on a queue of its own, over stdio, with the few environment
variables clients pass, and talks to it only through MCP.
"""

import os
import shutil
import tempfile
import time
import unittest
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

EXECQ = os.path.abspath(os.environ.get("EXECQ_BIN", "target/debug/execq"))
DEADLINE = 60
TOOLS = {"submit_job", "get_job", "list_jobs", "job_output", "cancel_job", "retry_job", "queue_status",
         "pause_queue", "resume_queue", "hold_job", "release_job", "rerun_job"}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended; only its parent has not reaped it yet.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return True


class McpTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="execq-mcp-"))
        self.queue = self.tmp / "queue"

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @asynccontextmanager
    async def server(self, *flags):
        params = StdioServerParameters(
            command=EXECQ,
            args=["mcp", *flags],
            # What clients pass: little. The queue and PATH must be set in their config.
            env={"EXECQ_QUEUE": str(self.queue), "PATH": os.environ["PATH"], "HOME": str(self.tmp)},
            cwd=str(self.tmp),
        )
        async with Client(params, read_timeout_seconds=DEADLINE) as client:
            yield client

    async def call(self, client, tool, args, **kw):
        result = await client.call_tool(tool, args, **kw)
        self.assertFalse(result.is_error, f"{tool}({args}) failed: {result.content[0].text}")
        self.assertTrue(result.content[0].text, f"{tool} gave no readable text")
        return result.structured_content

    async def refused(self, client, tool, args, *words):
        result = await client.call_tool(tool, args)
        self.assertTrue(result.is_error, f"{tool}({args}) was not refused: {result.content}")
        text = result.content[0].text
        for word in words:
            self.assertIn(word, text)
        return text

    async def until_done(self, client, job):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            view = await self.call(client, "get_job", {"job": job, "wait_seconds": 1})
            if view["done"]:
                return view
        self.fail(f"{job} did not finish")


class Tools(McpTest):
    async def test_tools_and_their_schemas(self):
        async with self.server() as client:
            self.assertEqual(client.server_info.name, "execq")
            tools = {t.name: t for t in (await client.list_tools()).tools}
            self.assertEqual(set(tools), TOOLS)
            submit = tools["submit_job"].input_schema
            self.assertEqual(submit["type"], "object")
            for field in ("command", "args", "shell", "cwd", "env", "timeout", "priority", "after",
                          "not_before", "description", "task_id", "wait_seconds"):
                self.assertIn(field, submit["properties"], field)
            self.assertEqual(tools["get_job"].input_schema["required"], ["job"])
            self.assertEqual(tools["job_output"].input_schema["properties"]["stream"]["$ref"].split("/")[-1], "Stream")
            for name in TOOLS - {"queue_status"}:
                self.assertEqual(tools[name].output_schema["type"], "object", name)
                self.assertTrue(tools[name].description, name)
            self.assertIn("done", tools["get_job"].output_schema["properties"])

    async def test_submit_an_echo_and_read_its_result(self):
        async with self.server() as client:
            view = await self.call(client, "submit_job",
                                   {"command": "echo", "args": ["hello", "world"], "wait_seconds": 20})
            self.assertTrue(view["done"], view)
            self.assertEqual(view["status"], "completed")
            self.assertEqual(view["returncode"], 0)
            self.assertEqual(view["stdout_tail"], "hello world\n")
            again = await self.call(client, "get_job", {"job": view["job"]})
            self.assertEqual(again["stdout_tail"], "hello world\n")
            shell = await self.call(client, "submit_job", {
                "shell": "echo $GREETING | tr a-z A-Z; exit 3", "env": {"GREETING": "hi"},
                "task_id": "shouting", "wait_seconds": 20})
            self.assertEqual((shell["status"], shell["returncode"], shell["stdout_tail"]), ("failed", 3, "HI\n"))
            status = await self.call(client, "queue_status", {})
            self.assertEqual(status["counts"]["completed"], 1)
            self.assertEqual(status["counts"]["failed"], 1)

    async def test_a_long_job_returns_at_once_then_get_job_waits(self):
        async with self.server() as client:
            start = time.monotonic()
            view = await self.call(client, "submit_job",
                                   {"command": "sh", "args": ["-c", "sleep 3; echo slept"], "wait_seconds": 1})
            self.assertLess(time.monotonic() - start, 2.5, "submit_job waited past wait_seconds")
            self.assertFalse(view["done"])
            self.assertIn(view["state"], ("pending", "running"))
            progress = []

            async def on_progress(value, total, message):
                progress.append((value, total, message))

            # Progress while waiting, when the client asks for it.
            waited = await self.call(client, "get_job", {"job": view["job"], "wait_seconds": 2.5},
                                     progress_callback=on_progress)
            self.assertTrue(progress, "no progress notification while waiting")
            done = waited if waited["done"] else await self.until_done(client, view["job"])
            self.assertEqual(done["status"], "completed")
            self.assertEqual(done["stdout_tail"], "slept\n")
            self.assertGreaterEqual(done["duration_ms"], 2900)

    async def test_page_through_a_mebibyte_of_output(self):
        lines = "".join(f"{i:07d}\n" for i in range(131072))  # 1 MiB
        script = "import sys; sys.stdout.write(''.join(f'{i:07d}\\n' for i in range(131072)))"
        async with self.server() as client:
            view = await self.call(client, "submit_job",
                                   {"command": "python3", "args": ["-c", script], "wait_seconds": 30})
            self.assertEqual(view["status"], "completed")
            self.assertEqual(view["stdout_bytes"], len(lines))
            self.assertEqual(view["stdout_tail"], lines[-4096:])
            pages, offset, got = 0, 0, []
            while True:
                page = await self.call(client, "job_output",
                                       {"job": view["job"], "offset": offset, "length": 100_000})
                self.assertEqual(page["offset"], offset)
                got.append(page["data"])
                offset = page["next_offset"]
                pages += 1
                if page["eof"]:
                    break
                self.assertLess(pages, 20)
            self.assertEqual(pages, 11)
            self.assertEqual("".join(got), lines)
            self.assertFalse(page["truncated"])
            past = await self.call(client, "job_output", {"job": view["job"], "offset": 5_000_000})
            self.assertEqual((past["data"], past["eof"]), ("", True))

    async def test_output_of_a_running_job_then_cancel_it(self):
        pids = self.tmp / "pids"
        script = f"sleep 60 & echo $! > {pids}; echo $$ >> {pids}; echo started; wait"
        async with self.server() as client:
            view = await self.call(client, "submit_job", {"shell": script, "task_id": "sleeper"})
            deadline = time.monotonic() + DEADLINE
            while True:
                page = await self.call(client, "job_output", {"job": "sleeper"})
                if page["data"]:
                    break
                self.assertLess(time.monotonic(), deadline, "no live output")
                await anyio.sleep(0.1)
            self.assertEqual((page["data"], page["running"], page["eof"]), ("started\n", True, False))
            running = await self.call(client, "get_job", {"job": "sleeper"})
            self.assertEqual(running["state"], "running")
            self.assertEqual(running["stdout_tail"], "started\n")
            listed = await self.call(client, "list_jobs", {"state": "running"})
            self.assertEqual([j["task_id"] for j in listed["jobs"]], ["sleeper"])

            done = await self.call(client, "cancel_job", {"job": view["job"]})
            self.assertIn("cancelled", done["message"])
            self.assertEqual(done["job"]["status"], "cancelled")
            for pid in map(int, pids.read_text().split()):
                self.assertFalse(alive(pid), f"process {pid} outlived its cancelled job")
            await self.refused(client, "cancel_job", {"job": "sleeper"}, "already finished")

    async def test_list_and_retry(self):
        async with self.server() as client:
            for name, code in (("first", 0), ("second", 1), ("third", 0)):
                await self.call(client, "submit_job",
                                {"shell": f"exit {code}", "task_id": name, "wait_seconds": 20})
                await anyio.sleep(0.02)
            newest = await self.call(client, "list_jobs", {"limit": 2})
            self.assertEqual([j["task_id"] for j in newest["jobs"]], ["third", "second"])
            self.assertEqual(newest["total"], 3)
            oldest = await self.call(client, "list_jobs", {"order": "oldest", "state": "completed"})
            self.assertEqual([j["task_id"] for j in oldest["jobs"]], ["first", "third"])
            failed = await self.call(client, "list_jobs", {"state": "failed"})
            self.assertEqual([(j["task_id"], j["returncode"]) for j in failed["jobs"]], [("second", 1)])
            await self.refused(client, "retry_job", {"job": "first"}, "completed")
            retried = await self.call(client, "retry_job", {"job": "second"})
            self.assertIn("pending again", retried["message"])
            again = await self.until_done(client, "second")
            self.assertEqual(again["status"], "failed")


class Errors(McpTest):
    async def test_bad_input_is_a_tool_error_saying_what_to_do(self):
        async with self.server() as client:
            await self.refused(client, "submit_job", {"comand": "echo"}, "unknown field `comand`")
            await self.refused(client, "submit_job", {}, "give `command`")
            await self.refused(client, "submit_job", {"command": "echo", "shell": "echo"}, "not both")
            await self.refused(client, "submit_job", {"command": "echo", "wait_seconds": "soon"}, "wait_seconds")
            await self.refused(client, "submit_job", {"command": "echo", "wait_seconds": -1}, "0 or more")
            await self.refused(client, "submit_job", {"command": "echo", "not_before": "tomorrow"}, "RFC 3339")
            await self.refused(client, "submit_job", {"command": "echo", "timeout": -5}, "timeout")
            await self.refused(client, "get_job", {"job": "no-such-job"}, "no job matches")
            await self.refused(client, "get_job", {}, "missing field `job`")
            await self.refused(client, "list_jobs", {"state": "sideways"}, "unknown variant")
            await self.refused(client, "list_jobs", {"limit": 0}, "limit")
            await self.refused(client, "job_output", {"job": "no-such-job"}, "no job matches")
            # The server is still there and working.
            view = await self.call(client, "submit_job", {"command": "true", "wait_seconds": 20})
            self.assertEqual(view["status"], "completed")

    async def test_allowlist(self):
        async with self.server("--allow", "echo") as client:
            text = await self.refused(client, "submit_job", {"command": "ls"}, "`ls` is not an allowed program", "echo")
            await self.refused(client, "submit_job", {"shell": "echo hi"}, "--allow-shell")
            await self.refused(client, "submit_job", {"command": "echo", "env": {"PATH": "/tmp"}}, "PATH")
            view = await self.call(client, "submit_job", {"command": "echo", "args": ["ok"], "wait_seconds": 20})
            self.assertEqual(view["stdout_tail"], "ok\n")
        log = (self.queue / "daemon.log").read_text()
        self.assertIn("refused to submit `ls`", log)
        self.assertIn("refused to submit a shell command", log)
        self.assertIn("refused to submit `echo`: `PATH` may not be set", log)
        self.assertEqual(log.count("refused"), 3, log)
        self.assertIn("allowed: echo", text)
        async with self.server("--allow", "echo", "--allow-shell") as client:
            view = await self.call(client, "submit_job", {"shell": "echo from sh", "wait_seconds": 20})
            self.assertEqual(view["stdout_tail"], "from sh\n")

    async def test_the_allowlist_from_config_toml(self):
        self.queue.mkdir(parents=True)
        (self.queue / "config.toml").write_text('[mcp]\nallow = ["echo"]\nmax_wait = 1\n')
        async with self.server() as client:
            await self.refused(client, "submit_job", {"command": "ls"}, "not an allowed program")
            start = time.monotonic()
            view = await self.call(client, "submit_job",
                                   {"command": "echo", "args": ["x"], "not_before": "2999-01-01T00:00:00Z",
                                    "wait_seconds": 30})
            self.assertLess(time.monotonic() - start, 10, "max_wait did not cap wait_seconds")
            self.assertEqual(view["state"], "pending")
            self.assertIn("not before", view["waiting"])

    async def test_read_only(self):
        async with self.server() as client:
            done = await self.call(client, "submit_job", {"command": "echo", "args": ["x"], "wait_seconds": 20})
        async with self.server("--read-only") as client:
            await self.refused(client, "submit_job", {"command": "echo"}, "read-only")
            await self.refused(client, "cancel_job", {"job": done["job"]}, "read-only")
            await self.refused(client, "retry_job", {"job": done["job"]}, "read-only")
            view = await self.call(client, "get_job", {"job": done["job"]})
            self.assertEqual(view["stdout_tail"], "x\n")
            status = await self.call(client, "queue_status", {})
            self.assertEqual(status["counts"]["completed"], 1)
            listed = await self.call(client, "list_jobs", {})
            self.assertEqual(len(listed["jobs"]), 1)


if __name__ == "__main__":
    unittest.main()

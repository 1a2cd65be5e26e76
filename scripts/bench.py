#!/usr/bin/env python3
"""execq's benchmark: whole processes, timed side by side in one run, medians and ratios.

    python3 scripts/bench.py            # everything (about 12 minutes with the peers installed)
    python3 scripts/bench.py --quick    # fewer jobs and repetitions, for a smoke check
    python3 scripts/bench.py --json     # also print the raw medians as one JSON line

Cases (see BENCHMARKS.md): idle drain against /bin/true; drain throughput against a C floor that
spawns the same process as the jobs (/bin/true, or /bin/sh -c true) and writes one fsync'd record
per job; scaling from 1,000 to 10,000 pending jobs;
drain's peak memory (10,000 jobs; one job printing 1 GiB, of text or of NUL bytes); `execq submit`,
against /bin/true and against the submit half of the durable
floor (scripts/bench/durable_floor.c: per job, in one process, exactly the durable steps execq
promises); submit --start against that floor; one job's submit --wait round trip (against
task-spooler's submit and `tsp -w` when installed); MCP submit_job with wait_seconds against a
queue_status call on the same connection; how soon `wait` exits after a record lands; and
submit + drain end to end against task-spooler, nq and pueue through their own front doors, when
they are installed (apt-get install nq task-spooler; cargo install pueue); and, with eatmydata
installed, submit --start with fsync made a no-op, which shows what durability costs end to end.
Each timed case starts after os.sync(), so that none pays for the write-back of what the one
before it (or its own fixture) left dirty.
"""
import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXECQ = None  # set by build(): the binary scripts/build.sh makes
DEVNULL = subprocess.DEVNULL


def build():
    """Builds execq as scripts/install.sh installs it, and the C helpers; returns the helpers'
    paths and sets EXECQ (and DURABLE_FLOOR)."""
    global EXECQ
    out = subprocess.run([os.path.join(ROOT, "scripts", "build.sh")], check=True, capture_output=True, text=True)
    EXECQ = out.stdout.strip().splitlines()[-1]
    global DURABLE_FLOOR
    helpers = []
    for name in ("floor", "maxrss", "durable_floor"):
        exe = os.path.join(tempfile.gettempdir(), f"execq-bench-{name}-{os.getuid()}")
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(ROOT, "scripts", "bench", f"{name}.c")], check=True)
        helpers.append(exe)
    DURABLE_FLOOR = helpers.pop()
    return helpers


DURABLE_FLOOR = None  # set by build(): scripts/bench/durable_floor.c


MAXRSS = None


def drain_peak_rss_mib(q):
    """Peak RSS of a drain of q (and of its jobs), measured by the C helper."""
    out = subprocess.run([MAXRSS, EXECQ, "--queue", q, "drain"], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def run(argv, env=None):
    """Runs argv to completion; returns (seconds, rusage of that process and what it waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=DEVNULL, stderr=DEVNULL, stdin=DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} exited {proc.returncode}")
    return elapsed, usage


def settle_disk():
    """Writes out what earlier cases left dirty (os.sync) before a timed case starts: ext4's commit
    waits for the data of blocks allocated in its transaction, so the first syncs of a case could
    otherwise pay for the previous case's 10,000 records or for the fixture's job files."""
    os.sync()


def new_queue(base, n, shell=False, scheduled=False, waiting=False, command=None, extra=None):
    """A queue with n jobs. scheduled: priorities from -3 to 3, and every tenth job after the one
    before it (by task_id); waiting: every job not before next year; command: a shell command;
    extra: more fields for every job."""
    q = tempfile.mkdtemp(dir=base)
    pending = os.path.join(q, "pending")
    os.makedirs(pending)
    for i in range(n):
        if command:
            job = {"command": command}
        else:
            job = {"command": "true"} if shell else {"command": "/bin/true", "args": []}
        if scheduled:
            job.update(task_id=f"t{i}", priority=i % 7 - 3)
            if i % 10 == 0 and i > 0:
                job["after"] = [f"t{i - 1}"]
        if waiting:
            job["not_before"] = "2099-01-01T00:00:00+00:00"
        job.update(extra or {})
        tmp = os.path.join(pending, ".job")
        with open(tmp, "w") as f:
            f.write(json.dumps(job))
        os.rename(tmp, os.path.join(pending, f"job{i:06d}.json"))
    settle_disk()
    return q


def drain(q, *args):
    return run([EXECQ, "--queue", q, "drain", *args])


def check_drained(q, n):
    done = len(os.listdir(os.path.join(q, "completed")))
    if done != n:
        sys.exit(f"bench: expected {n} completed jobs in {q}, found {done}")


def snapshot(path):
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    return sorted(out)


def median(xs):
    return statistics.median(xs)


class Report:
    def __init__(self):
        self.rows = []
        self.raw = {}

    def add(self, case, value, unit, baseline, baseline_name, target=None):
        ratio = value / baseline if baseline else None
        verdict = ""
        if target is not None and ratio is not None:
            verdict = "met" if ratio <= target else f"missed (target {target}x)"
        self.rows.append((case, f"{value:.3f} {unit}", f"{baseline:.3f} {unit}" if baseline else "-",
                          baseline_name, f"{ratio:.2f}x" if ratio else "-", verdict))
        self.raw[case] = {"value": round(value, 4), "unit": unit, "baseline": baseline and round(baseline, 4),
                          "ratio": ratio and round(ratio, 3)}

    def note(self, case, text, verdict=""):
        self.rows.append((case, text, "-", "-", "-", verdict))
        self.raw[case] = text

    def print(self):
        head = ("case", "execq", "baseline", "baseline is", "ratio", "target")
        widths = [max(len(str(r[i])) for r in self.rows + [head]) for i in range(len(head))]
        for row in [head] + self.rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def bench_idle(rep, base, runs):
    q = new_queue(base, 0)
    drain(q)
    before = snapshot(q)
    true_t, drain_t, blocks = [], [], 0
    for _ in range(runs):
        true_t.append(run(["/bin/true"])[0])
        t, usage = drain(q)
        drain_t.append(t)
        blocks += usage.ru_oublock
    written = "nothing" if snapshot(q) == before and blocks == 0 else f"{blocks} blocks, tree changed"
    rep.add("idle drain", median(drain_t) * 1e3, "ms", median(true_t) * 1e3, "/bin/true", target=2.0)
    rep.note("idle drain writes", written, "met" if written == "nothing" else "MISSED")
    q = new_queue(base, 0)
    with open(os.path.join(q, "config.toml"), "w") as f:
        f.write('timeout = "10m"\ngrace = 5\nsettle = 2\nlinger = 0\njobs = 2\n')
    drain(q)
    before = snapshot(q)
    config_t = [drain(q)[0] for _ in range(runs)]
    rep.add("idle drain with config.toml", median(config_t) * 1e3, "ms", median(drain_t) * 1e3,
            "idle drain, no config", target=1.3)
    rep.note("idle drain with config.toml writes", "nothing" if snapshot(q) == before else "tree changed",
             "met" if snapshot(q) == before else "MISSED")
    os.makedirs(os.path.join(q, "schedules"))
    for i in range(100):
        with open(os.path.join(q, "schedules", f"s{i:03}.toml"), "w") as f:
            f.write(f'cron = "{i % 60} 3 * * *"\n[job]\ncommand = "echo {i}"\nargs = []\n')
    drain(q)
    before = snapshot(q)
    sched_t, blocks = [], 0
    for _ in range(runs):
        t, usage = drain(q)
        sched_t.append(t)
        blocks += usage.ru_oublock
    written = "nothing" if snapshot(q) == before and blocks == 0 else f"{blocks} blocks, tree changed"
    rep.add("idle drain with config.toml + 100 schedules", median(sched_t) * 1e3, "ms", median(drain_t) * 1e3,
            "idle drain, no config", target=1.3)
    rep.note("idle drain with 100 schedules writes", written, "met" if written == "nothing" else "MISSED")
    q = new_queue(base, 1000, waiting=True)
    drain(q)
    before = snapshot(q)
    waiting_t, blocks = [], 0
    for _ in range(max(10, runs // 10)):
        t, usage = drain(q)
        waiting_t.append(t)
        blocks += usage.ru_oublock
    written = "nothing" if snapshot(q) == before and blocks == 0 else f"{blocks} blocks, tree changed"
    rep.add("idle drain, 1000 jobs waiting", median(waiting_t) * 1e3, "ms", median(drain_t) * 1e3, "idle drain, empty queue")
    rep.note("idle drain with waiting jobs writes", written, "met" if written == "nothing" else "MISSED")


def bench_throughput(rep, base, floor, n, reps, n_large):
    floor_t, floor_sh_t, args_t, shell_t, large_t, rss_large = [], [], [], [], [], []
    for _ in range(reps):
        d = tempfile.mkdtemp(dir=base)
        settle_disk()
        floor_t.append(run([floor, str(n), d])[0] / n)
        d = tempfile.mkdtemp(dir=base)
        settle_disk()
        floor_sh_t.append(run([floor, str(n), d, "/bin/sh", "-c", "true"])[0] / n)
        q = new_queue(base, n)
        args_t.append(drain(q)[0] / n)
        check_drained(q, n)
        q = new_queue(base, n, shell=True)
        shell_t.append(drain(q)[0] / n)
        check_drained(q, n)
    bare = median([run([floor, str(n), "-"])[0] / n for _ in range(reps)])
    for _ in range(max(1, reps // 2)):
        q = new_queue(base, n_large)
        t, _ = drain(q)
        check_drained(q, n_large)
        large_t.append(t / n_large)
        shutil.rmtree(q)
    sched_t = []
    for _ in range(max(1, reps // 2)):
        q = new_queue(base, n_large, scheduled=True)
        t, _ = drain(q)
        check_drained(q, n_large)
        sched_t.append(t / n_large)
        shutil.rmtree(q)
    rep.add(f"per job, {n_large} pending with priorities and dependencies", median(sched_t) * 1e3, "ms",
            median(args_t) * 1e3, f"per job, {n} plain pending", target=1.10)
    q = new_queue(base, n_large)
    rss_large.append(drain_peak_rss_mib(q))
    check_drained(q, n_large)
    shutil.rmtree(q)
    fl = median(floor_t) * 1e3
    rep.add(f"per job, {n} x /bin/true (args)", median(args_t) * 1e3, "ms", fl, "floor: spawn + fsync'd record", target=1.25)
    rep.add(f"per job, {n} x true (shell)", median(shell_t) * 1e3, "ms", median(floor_sh_t) * 1e3,
            "floor: spawn sh -c true + record", target=1.25)
    rep.add("floor without records", bare * 1e3, "ms", fl, "floor: spawn + fsync'd record")
    rep.add(f"per job, {n_large} pending", median(large_t) * 1e3, "ms", median(args_t) * 1e3, f"per job, {n} pending", target=1.10)
    rep.add(f"peak RSS, draining {n_large}", max(rss_large), "MiB", 16.0, "16 MiB target", target=1.0)


def bench_sandbox(rep, base, n, reps):
    """Per job in a `workspace` sandbox (Landlock + seccomp on Linux, sandbox-exec on macOS)
    against the same jobs unsandboxed, alternating, each in a folder of its own."""
    work = tempfile.mkdtemp(dir=base)
    plain, boxed = [], []
    for _ in range(reps):
        for times, extra in ((plain, {"cwd": work}), (boxed, {"cwd": work, "sandbox": "workspace"})):
            q = new_queue(base, n, extra=extra)
            times.append(drain(q)[0] / n)
            check_drained(q, n)
            shutil.rmtree(q)
    rep.add(f"per job, {n} x /bin/true in a workspace sandbox", median(boxed) * 1e3, "ms",
            median(plain) * 1e3, "per job, the same unsandboxed", target=1.3)


def one_job_peak_rss_mib(base, command):
    """Peak RSS of a drain running one job, `command` (a shell command)."""
    q = tempfile.mkdtemp(dir=base)
    os.makedirs(os.path.join(q, "pending"))
    with open(os.path.join(q, "pending", "flood.json"), "w") as f:
        json.dump({"command": command}, f)
    rss = drain_peak_rss_mib(q)
    check_drained(q, 1)
    shutil.rmtree(q)
    return rss


def bench_big_output(rep, base):
    rss = one_job_peak_rss_mib(base, "yes 0123456789abcdef | head -c 1073741824")
    rep.add("peak RSS, one job printing 1 GiB", rss, "MiB", 16.0, "16 MiB target", target=1.0)


def bench_nul_output(rep, base):
    """The same with NUL bytes, the output whose JSON is largest: each kept byte is a 6-byte
    `\\u0000` in the record, so the 1 MiB kept makes 6 MiB of record."""
    rss = one_job_peak_rss_mib(base, "head -c 1073741824 /dev/zero")
    rep.add("peak RSS, one job printing 1 GiB of NUL bytes", rss, "MiB", 8.0, "8 MiB target", target=1.0)


def finished_queue(base, n):
    """A queue whose completed/ holds n records, each 40 days old."""
    q = new_queue(base, 0)
    done = os.path.join(q, "completed")
    os.makedirs(done)
    old = time.time() - 40 * 86400
    for i in range(n):
        path = os.path.join(done, f"job{i:06d}.json")
        with open(path, "w") as f:
            f.write(json.dumps({"command": "/bin/true", "args": [], "task_id": f"t{i}", "result": {
                "status": "completed", "returncode": 0, "stdout": f"line {i}\n", "stderr": "",
                "started_at": "2026-10-01T10:00:00+00:00", "completed_at": "2026-10-01T10:00:00+00:00",
                "duration_ms": 1, "error": None, "timed_out": False, "signal": None,
                "stdout_truncated": False, "stderr_truncated": False, "stdout_bytes": 7, "stderr_bytes": 0}}))
        os.utime(path, (old, old))
    return q


def bench_archiving(rep, base, n):
    """A drain that did work archiving n old records, against `prune` deleting them."""
    prune_t = []
    archive_t = []
    for _ in range(3):
        q = finished_queue(base, n)
        prune_t.append(run([EXECQ, "--queue", q, "prune", "--older-than", "30d"])[0])
        q = finished_queue(base, n)
        with open(os.path.join(q, "config.toml"), "w") as f:
            f.write('[retention]\ncompleted = "30d"\n')
        with open(os.path.join(q, "pending", "trigger.json"), "w") as f:
            f.write('{"command": "/bin/true", "args": []}')
        archive_t.append(drain(q)[0])
        if os.listdir(os.path.join(q, "completed")) != ["trigger.json"]:
            sys.exit("bench: archiving left records in completed/")
    rep.add(f"archive {n} records (drain, [retention])", median(archive_t) * 1e3, "ms",
            median(prune_t) * 1e3, f"prune {n} records")


def bench_dashboard(rep, base, n, runs):
    """Writing the dashboard page of a queue with n finished records, against an idle drain."""
    q = finished_queue(base, n)
    page = os.path.join(q, "page.html")
    t = [run([EXECQ, "--queue", q, "dashboard", "--out", page])[0] for _ in range(runs)]
    idle = new_queue(base, 0)
    drain(idle)
    idle_t = [drain(idle)[0] for _ in range(runs)]
    rep.add(f"dashboard page, {n} records", median(t) * 1e3, "ms", median(idle_t) * 1e3, "idle drain")
    rep.note(f"dashboard page, {n} records: within 20 ms", f"{median(t) * 1e3:.1f} ms",
             "met" if median(t) < 0.020 else "MISSED")


def bench_submit(rep, base, runs):
    q = new_queue(base, 0)
    settle_disk()
    true_t, submit_t = [], []
    for _ in range(runs):
        true_t.append(run(["/bin/true"])[0])
        submit_t.append(run([EXECQ, "--queue", q, "submit", "--", "/bin/true"])[0])
    rep.add("execq submit, per call", median(submit_t) * 1e3, "ms", median(true_t) * 1e3, "/bin/true", target=2.0)
    # The durable floor's submit half (write + sync, link, sync pending/), per job, plus the start
    # of a process: what a submission must cost at least.
    half = []
    for _ in range(3):
        d = os.path.join(tempfile.mkdtemp(dir=base), "q")
        settle_disk()
        half.append(run([DURABLE_FLOOR, str(runs), d, "submit"])[0] / runs)
    floor = median(half) + median(true_t)
    rep.add("execq submit vs durable submit half + process start", median(submit_t) * 1e3, "ms",
            floor * 1e3, "durable_floor submit + /bin/true", target=1.3)


def bench_round_trip(rep, base, runs, peers=True):
    """One short job's round trip as a caller waiting for it sees it: `execq submit --wait` (which
    starts a drain, then wakes on the record landing), against task-spooler's `tsp true; tsp -w`.
    Back to back, each submission finds the drain the one before started still lingering (0.2 s)
    and is run by it; 0.3 s apart, each starts its own."""
    q = new_queue(base, 0)
    settle_disk()
    argv = [EXECQ, "--queue", q, "submit", "--wait", "--", "/bin/true"]
    execq_t = [run(argv)[0] for _ in range(runs)]
    fresh_t = []
    for _ in range(runs):
        time.sleep(0.3)
        fresh_t.append(run(argv)[0])
    tsp_t = []
    if peers and shutil.which("tsp"):
        d = tempfile.mkdtemp(dir=base)
        env = dict(os.environ, TS_SOCKET=os.path.join(d, "ts.sock"), TMPDIR=d, TS_MAXFINISHED=str(runs + 10))
        try:
            for _ in range(runs):
                start = time.perf_counter()
                subprocess.run(["tsp", "true"], check=True, env=env, stdout=DEVNULL)
                subprocess.run(["tsp", "-w"], env=env, stdout=DEVNULL, stderr=DEVNULL)
                tsp_t.append(time.perf_counter() - start)
        finally:
            subprocess.run(["tsp", "-K"], env=env, stdout=DEVNULL, stderr=DEVNULL)
    baseline = median(tsp_t) * 1e3 if tsp_t else None
    rep.add("submit --wait round trip, /bin/true", median(execq_t) * 1e3, "ms",
            baseline, "tsp true; tsp -w" if tsp_t else "-", target=2.0)
    rep.add("submit --wait round trip, own drain", median(fresh_t) * 1e3, "ms",
            baseline, "tsp true; tsp -w" if tsp_t else "-", target=2.0)


def record_landing(folder):
    """Starts timing the next entry to land in `folder`, through inotify (Linux only, by ctypes);
    returns a function giving its perf_counter time, or None elsewhere."""
    if sys.platform != "linux":
        return None
    import ctypes
    import threading
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0)
    if fd < 0 or libc.inotify_add_watch(fd, folder.encode(), 0x80 | 0x100) < 0:  # MOVED_TO | CREATE
        sys.exit(f"bench: cannot watch {folder}")
    landed = []
    thread = threading.Thread(target=lambda: (os.read(fd, 4096), landed.append(time.perf_counter())),
                              daemon=True)
    thread.start()

    def when():
        thread.join(5)
        os.close(fd)
        return landed[0]
    return when


def bench_wait_wake(rep, base, runs):
    """How soon `execq wait` on a job that runs 0.2 s (long enough for the waiter to be watching
    the folders, not looking every millisecond or two) exits after the job's record lands in
    `completed/` (seen by inotify in this process)."""
    q = new_queue(base, 0)
    drain(q)
    settle_disk()
    late = []
    for i in range(runs):
        when = record_landing(os.path.join(q, "completed"))
        if when is None:
            rep.note("wait on a 0.2 s job: record to wait's exit", "Linux only")
            return
        run([EXECQ, "--queue", q, "submit", "--start", "--id", f"w{i}", "--", "sleep", "0.2"])
        run([EXECQ, "--queue", q, "wait", f"w{i}"])
        late.append(time.perf_counter() - when())
    rep.add("wait on a 0.2 s job: record to wait's exit", median(late) * 1e3, "ms", None, "-")


class McpClient:
    """A raw MCP client over stdio: newline-delimited JSON-RPC, one request at a time (stdlib
    only, as a client library would add its own overhead to every call)."""

    def __init__(self, q):
        self.proc = subprocess.Popen([EXECQ, "--queue", q, "mcp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=DEVNULL, bufsize=0)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message):
        self.proc.stdin.write((json.dumps(message) + "\n").encode())

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            answer = json.loads(self.proc.stdout.readline())
            if answer.get("id") == self.next_id:
                return answer

    def call(self, tool, arguments):
        """Calls `tool`; returns the seconds the answer took and its structured content."""
        start = time.perf_counter()
        answer = self.request("tools/call", {"name": tool, "arguments": arguments})
        elapsed = time.perf_counter() - start
        result = answer.get("result") or {}
        if result.get("isError") or "error" in answer:
            sys.exit(f"bench: {tool} failed: {answer}")
        return elapsed, result.get("structuredContent") or {}

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def bench_mcp_round_trip(rep, base, runs):
    """MCP `submit_job` of `true` with wait_seconds, against a `queue_status` call, alternated on
    one connection to one `execq mcp` (which starts a drain per submission, as `submit --wait`
    does, unless the last one still lingers)."""
    q = new_queue(base, 0)
    settle_disk()
    client = McpClient(q)
    status_t, submit_t = [], []
    try:
        for _ in range(runs):
            status_t.append(client.call("queue_status", {})[0])
            elapsed, job = client.call("submit_job", {"command": "true", "wait_seconds": 10})
            if not job.get("done"):
                sys.exit(f"bench: submit_job answered before the job was done: {job}")
            submit_t.append(elapsed)
    finally:
        client.close()
    rep.add("MCP submit_job true, wait_seconds", median(submit_t) * 1e3, "ms",
            median(status_t) * 1e3, "MCP queue_status", target=3.0)


def durable_floor_per_job(base, n):
    settle_disk()
    d = os.path.join(tempfile.mkdtemp(dir=base), "q")
    return run([DURABLE_FLOOR, str(n), d])[0] / n


def end_to_end_execq(base, n):
    settle_disk()
    q = new_queue(base, 0)
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run([EXECQ, "--queue", q, "submit", "--", "/bin/true"], check=True, stdout=DEVNULL)
    subprocess.run([EXECQ, "--queue", q, "drain"], check=True)
    elapsed = time.perf_counter() - start
    check_drained(q, n)
    return elapsed


def end_to_end_execq_start(base, n):
    """N x `execq submit --start`: drains run while submissions continue, as nq's runners do."""
    settle_disk()
    q = new_queue(base, 0)
    completed = os.path.join(q, "completed")
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run([EXECQ, "--queue", q, "submit", "--start", "--", "/bin/true"], check=True, stdout=DEVNULL)
    while len(os.listdir(completed)) < n:
        time.sleep(0.0005)
    elapsed = time.perf_counter() - start
    subprocess.run([EXECQ, "--queue", q, "drain", "--wait"], check=True)
    return elapsed


def end_to_end_nq(base, n):
    settle_disk()
    d = tempfile.mkdtemp(dir=base)
    env = dict(os.environ, NQDIR=d)
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(["nq", "-q", "true"], check=True, env=env, stdout=DEVNULL)
    subprocess.run(["nq", "-w"], check=True, env=env, stdout=DEVNULL, stderr=DEVNULL)
    return time.perf_counter() - start


def end_to_end_tsp(base, n):
    settle_disk()
    d = tempfile.mkdtemp(dir=base)
    env = dict(os.environ, TS_SOCKET=os.path.join(d, "ts.sock"), TMPDIR=d, TS_MAXFINISHED=str(n + 10))
    try:
        start = time.perf_counter()
        for _ in range(n):
            subprocess.run(["tsp", "true"], check=True, env=env, stdout=DEVNULL)
        subprocess.run(["tsp", "-w"], env=env, stdout=DEVNULL, stderr=DEVNULL)
        return time.perf_counter() - start
    finally:
        subprocess.run(["tsp", "-K"], env=env, stdout=DEVNULL, stderr=DEVNULL)


def pueue_bin():
    found = shutil.which("pueue")
    home = os.path.expanduser("~/.cargo/bin/pueue")
    return found or (home if os.path.exists(home) else None)


@contextlib.contextmanager
def pueue_daemon(base):
    """A pueue daemon of its own in a temporary folder; yields the client's argv prefix."""
    exe = pueue_bin()
    d = tempfile.mkdtemp(dir=base)
    cfg = os.path.join(d, "pueue.yml")
    with open(cfg, "w") as f:
        f.write(f"shared:\n  pueue_directory: {d}\n  runtime_directory: {d}\n"
                f"  use_unix_socket: true\n  unix_socket_path: {d}/pueue.sock\n")
    daemon = subprocess.Popen([exe + "d", "-c", cfg], stdout=DEVNULL, stderr=DEVNULL)
    try:
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(d, "pueue.sock")) and time.time() < deadline:
            time.sleep(0.02)
        yield [exe, "-c", cfg]
    finally:
        daemon.terminate()
        daemon.wait()


def end_to_end_pueue(base, n):
    settle_disk()
    with pueue_daemon(base) as pueue:
        start = time.perf_counter()
        for _ in range(n):
            subprocess.run([*pueue, "add", "--", "true"], check=True, stdout=DEVNULL)
        subprocess.run([*pueue, "wait"], check=True, stdout=DEVNULL)
        return time.perf_counter() - start


PARALLEL_JOB = "sleep 0.01"


def parallel_execq(base, n):
    settle_disk()
    q = new_queue(base, n, command=PARALLEL_JOB)
    t = drain(q, "--jobs", "2")[0]
    check_drained(q, n)
    return t


def parallel_xargs(base, n):
    settle_disk()
    start = time.perf_counter()
    subprocess.run(["xargs", "-P", "2", "-n", "1", "sh", "-c", PARALLEL_JOB, "job"], input="x\n" * n,
                   text=True, check=True)
    return time.perf_counter() - start


def parallel_tsp(base, n):
    settle_disk()
    d = tempfile.mkdtemp(dir=base)
    env = dict(os.environ, TS_SOCKET=os.path.join(d, "ts.sock"), TMPDIR=d, TS_MAXFINISHED=str(n + 10))
    try:
        subprocess.run(["tsp", "-S", "2"], check=True, env=env, stdout=DEVNULL)
        start = time.perf_counter()
        for _ in range(n):
            subprocess.run(["tsp", "sh", "-c", PARALLEL_JOB], check=True, env=env, stdout=DEVNULL)
        subprocess.run(["tsp", "-w"], env=env, stdout=DEVNULL, stderr=DEVNULL)
        while subprocess.run(["tsp"], env=env, capture_output=True, text=True).stdout.count("running"):
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        subprocess.run(["tsp", "-K"], env=env, stdout=DEVNULL, stderr=DEVNULL)


def parallel_pueue(base, n):
    settle_disk()
    with pueue_daemon(base) as pueue:
        subprocess.run([*pueue, "parallel", "2"], check=True, stdout=DEVNULL)
        start = time.perf_counter()
        for _ in range(n):
            subprocess.run([*pueue, "add", "--", PARALLEL_JOB], check=True, stdout=DEVNULL)
        subprocess.run([*pueue, "wait"], check=True, stdout=DEVNULL)
        return time.perf_counter() - start


def bench_parallel(rep, base, n, reps):
    """drain --jobs 2 on n jobs of 10 ms, against xargs -P 2 (the floor: no queue at all), and
    task-spooler and pueue with two slots (whose times include their n submissions)."""
    execq_t = median([parallel_execq(base, n) for _ in range(reps)])
    serial = n * 0.01
    rep.add(f"--jobs 2, {n} x {PARALLEL_JOB}", execq_t, "s", median([parallel_xargs(base, n) for _ in range(reps)]),
            "xargs -P 2")
    rep.add(f"--jobs 2 vs serial sleep time", execq_t, "s", serial, f"{n} x 10 ms one after another")
    if shutil.which("tsp"):
        rep.add("--jobs 2 vs tsp -S 2", execq_t, "s", median([parallel_tsp(base, n) for _ in range(reps)]),
                "tsp -S 2 (incl. its submissions)", target=1.0)
    else:
        rep.note("--jobs 2 vs tsp -S 2", "not installed", "skipped")
    if pueue_bin():
        rep.add("--jobs 2 vs pueue parallel 2", execq_t, "s", median([parallel_pueue(base, n) for _ in range(reps)]),
                "pueue, parallel 2 (incl. its submissions)", target=1.0)
    else:
        rep.note("--jobs 2 vs pueue parallel 2", "not installed", "skipped")


def bench_peers(rep, base, n, reps, with_pueue=True):
    peers = [("task-spooler", "tsp", end_to_end_tsp), ("nq", "nq", end_to_end_nq)]
    if with_pueue:
        peers.append(("pueue", pueue_bin(), end_to_end_pueue))
    execq_t = median([end_to_end_execq(base, n) for _ in range(reps)])
    start_t = median([end_to_end_execq_start(base, n) for _ in range(reps)])
    floor_t = median([durable_floor_per_job(base, n) for _ in range(reps)])
    rep.add(f"submit+drain, {n} jobs, per job", execq_t / n * 1e3, "ms", None, "-")
    rep.add(f"submit --start (overlapped), {n} jobs, per job", start_t / n * 1e3, "ms", execq_t / n * 1e3, "submit, then drain")
    rep.add(f"submit --start vs durable floor, {n} jobs", start_t / n * 1e3, "ms", floor_t * 1e3,
            "durable_floor, per job", target=1.5)
    for name, exe, fn in peers:
        if not exe or not shutil.which(exe) and not os.path.exists(exe):
            rep.note(f"vs {name}", "not installed", "skipped")
            continue
        peer_t = median([fn(base, n) for _ in range(reps)])
        rep.add(f"submit+drain vs {name}, {n} jobs", execq_t / n * 1e3, "ms", peer_t / n * 1e3, f"{name}, per job", target=1.0)
        rep.add(f"submit --start vs {name}, {n} jobs", start_t / n * 1e3, "ms", peer_t / n * 1e3, f"{name}, per job", target=1.0)
    if with_pueue:
        bench_without_fsync(rep, base, n, reps, start_t)


EATMYDATA = "/usr/lib/x86_64-linux-gnu/libeatmydata.so"


def bench_without_fsync(rep, base, n, reps, start_t):
    """What durability costs end to end: submit --start again with every fsync turned into a no-op
    by libeatmydata (Debian package eatmydata). LD_PRELOAD needs the dynamically linked build."""
    global EXECQ
    if not os.path.exists(EATMYDATA):
        rep.note("submit --start, no fsync", "eatmydata not installed", "skipped")
        return
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    static, EXECQ = EXECQ, os.path.join(ROOT, "target", "release", "execq")
    os.environ["LD_PRELOAD"] = EATMYDATA
    try:
        t = median([end_to_end_execq_start(base, n) for _ in range(reps)])
    finally:
        del os.environ["LD_PRELOAD"]
        EXECQ = static
    rep.add("submit --start, fsync off (dynamic build)", t / n * 1e3, "ms", start_t / n * 1e3, "submit --start, durable")


def records_fixture(n):
    """A queue holding n finished records (a tenth of them failed), one a second back from now,
    each with a task_id: built once and kept under target/bench-fixtures (a million take minutes
    to write). Returns its path."""
    q = os.path.join(ROOT, "target", "bench-fixtures", f"records-{n}")
    if os.path.exists(os.path.join(q, ".complete")):
        return q
    shutil.rmtree(q, ignore_errors=True)
    for d in ("pending", "running", "completed", "failed", "results", "tmp"):
        os.makedirs(os.path.join(q, d))
    t0 = time.time() - n
    for i in range(n):
        failed = i % 10 == 9
        path = os.path.join(q, "failed" if failed else "completed", f"job-{i:07d}.json")
        with open(path, "w") as f:
            f.write(json.dumps({"command": f"echo {i}", "task_id": f"t{i}", "result": {
                "status": "failed" if failed else "completed", "returncode": 1 if failed else 0,
                "stdout": f"{i}\n", "stderr": "", "started_at": "2026-10-01T10:00:00.000+00:00",
                "completed_at": "2026-10-01T10:00:00.003+00:00", "duration_ms": 3, "error": None,
                "timed_out": False, "signal": None, "stdout_truncated": False,
                "stderr_truncated": False, "stdout_bytes": len(str(i)) + 1, "stderr_bytes": 0}}))
        os.utime(path, (t0 + i, t0 + i))
    open(os.path.join(q, ".complete"), "w").close()
    return q


def peak_rss_mib(argv):
    """Peak RSS of argv, measured by the C helper (a child forked by Python starts with Python's
    own peak, so the rusage Python sees is not the command's)."""
    out = subprocess.run([MAXRSS, *argv], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def timed_verb(q, args, runs):
    """Median seconds of `execq --queue q ARGS` run `runs` times, and its peak RSS (MiB)."""
    times = [run([EXECQ, "--queue", q, *args])[0] for _ in range(runs)]
    return median(times), peak_rss_mib([EXECQ, "--queue", q, *args])


def dependents(records, jobs):
    """`jobs` jobs, each after a different record of a fixture of `records`."""
    step = max(1, records // jobs)
    return [{"command": "/bin/true", "args": [], "after": [f"t{(i * step) % records}"]} for i in range(jobs)]


def drain_dependents(q, jobs, measure_rss=False):
    """Puts `jobs` in q's pending/ and drains them; returns seconds per job (or the peak RSS in
    MiB). The records they depend on are read first: a cold cache is the disk's cost, not the
    index's."""
    pending = os.path.join(q, "pending")
    for i, job in enumerate(jobs):
        ref = int(job["after"][0][1:])
        state = "failed" if ref % 10 == 9 else "completed"
        with open(os.path.join(q, state, f"job-{ref:07d}.json"), "rb") as f:
            f.read()
        with open(os.path.join(pending, f".dep{i}"), "w") as f:
            f.write(json.dumps(job))
        os.rename(os.path.join(pending, f".dep{i}"), os.path.join(pending, f"dep-{time.time_ns()}-{i:05d}.json"))
    settle_disk()
    if measure_rss:
        return peak_rss_mib([EXECQ, "--queue", q, "drain"])
    return drain(q)[0] / len(jobs)


def bench_scale(rep, base, n, runs):
    """Lookups and listings in a queue of n finished records (the fixture built once), against
    the same in a queue of 1,000; and a drain of dependents (`after`) in each."""
    big = records_fixture(n)
    if not os.path.exists(os.path.join(big, "index")):
        t, _ = run([EXECQ, "--queue", big, "reindex"])
        rep.note(f"build the index of {n:,} records (execq reindex)", f"{t:.1f} s")
    mid = f"job-{n // 2:07d}"
    cases = [
        ("show by file name", ["show", mid + ".json"], 10),
        ("show by stem", ["show", mid], 10),
        ("show by task_id", ["show", f"t{n // 2}"], 10),
        ("list -n 20", ["list", "-n", "20"], 50),
        ("status", ["status"], 200),
        ("dashboard --out", ["dashboard", "--out", os.path.join(base, "page.html")], 200),
    ]
    for name, args, target_ms in cases:
        t, rss = timed_verb(big, args, runs)
        verdict = "met" if t * 1e3 <= target_ms and rss <= 16 else "MISSED"
        rep.note(f"{n:,} records: {name}", f"{t * 1e3:.1f} ms, peak {rss:.1f} MiB",
                 f"{verdict} (<= {target_ms} ms, <= 16 MiB)")
    client = McpClient(big)
    try:
        for name, tool, arguments, target_ms in [
            ("MCP get_job by task_id", "get_job", {"job": f"t{n // 2}"}, 10),
            ("MCP list_jobs", "list_jobs", {}, 200),
        ]:
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                client.call(tool, arguments)
                times.append(time.perf_counter() - start)
            t = median(times)
            rep.note(f"{n:,} records: {name}", f"{t * 1e3:.1f} ms",
                     "met" if t * 1e3 <= target_ms else f"MISSED (<= {target_ms} ms)")
    finally:
        client.close()
    small = records_fixture(1000)
    run([EXECQ, "--queue", small, "reindex"])
    jobs_n = 200
    per_small, per_big = [], []
    for _ in range(3):
        per_small.append(drain_dependents(small, dependents(1000, jobs_n)))
        per_big.append(drain_dependents(big, dependents(n, jobs_n)))
    rss_small = drain_dependents(small, dependents(1000, jobs_n), measure_rss=True)
    rss_big = drain_dependents(big, dependents(n, jobs_n), measure_rss=True)
    rep.add(f"per job, {jobs_n} dependents (after), {n:,} records", median(per_big) * 1e3, "ms",
            median(per_small) * 1e3, "same with 1,000 records", target=1.10)
    rep.note(f"peak RSS of that drain, {n:,} records", f"{rss_big:.1f} MiB (1,000 records: {rss_small:.1f} MiB)",
             "met" if rss_big <= 16 else "MISSED (<= 16 MiB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer jobs and repetitions")
    ap.add_argument("--json", action="store_true", help="also print raw medians as JSON")
    ap.add_argument("--no-peers", action="store_true", help="skip task-spooler, nq and pueue")
    ap.add_argument("--records", type=int, default=None,
                    help="finished records for the scale rows (default 1,000,000; --quick 100,000)")
    ap.add_argument("--only-scale", action="store_true", help="only the scale rows")
    ap.add_argument("--only-sandbox", action="store_true", help="only the sandbox row")
    a = ap.parse_args()
    reps = 3 if a.quick else 5
    global MAXRSS
    floor, MAXRSS = build()
    rep = Report()
    base = tempfile.mkdtemp(prefix="execq-bench.")
    os.chmod(base, 0o700)
    try:
        print(f"machine: {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} cpus; "
              f"queue on {base}; {reps} repetitions, medians", flush=True)
        records = a.records or (100_000 if a.quick else 1_000_000)
        if a.only_scale:
            bench_scale(rep, base, records, 20)
        elif a.only_sandbox:
            bench_sandbox(rep, base, 200 if a.quick else 500, reps)
        else:
            bench_all(rep, base, a, floor, records)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rep.print()
    if a.json:
        print(json.dumps(rep.raw))


def bench_all(rep, base, a, floor, records):
    n, n_large, reps, runs, peers_n = (200, 2000, 3, 50, 50) if a.quick else (1000, 10000, 5, 300, 100)
    bench_idle(rep, base, runs)
    # Submissions and the end-to-end rows first, on a disk no earlier case has just filled
    # (the 1 GiB job, 10,000 records archived and deleted): their syncs are what they measure.
    bench_submit(rep, base, runs)
    bench_round_trip(rep, base, 50, peers=not a.no_peers)
    bench_mcp_round_trip(rep, base, 50)
    bench_wait_wake(rep, base, 20)
    if not a.no_peers:
        bench_peers(rep, base, peers_n, 3 if not a.quick else 1)
        # The second size; pueue (seconds per hundred jobs) only at the first.
        bench_peers(rep, base, 1000, 3 if not a.quick else 1, with_pueue=False)
    bench_throughput(rep, base, floor, n, reps, n_large)
    bench_parallel(rep, base, 50 if a.quick else 200, reps)
    bench_sandbox(rep, base, 200 if a.quick else 500, reps)
    bench_big_output(rep, base)
    bench_nul_output(rep, base)
    bench_archiving(rep, base, 2000 if a.quick else 10000)
    bench_dashboard(rep, base, 10000, 10 if a.quick else 30)
    bench_scale(rep, base, records, 20)


if __name__ == "__main__":
    main()

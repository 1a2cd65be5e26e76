#!/usr/bin/env python3
"""Forwarding overhead per job: execq handing N jobs to Slurm against `sbatch` alone.

Needs a Slurm cluster whose commands are on PATH and whose SLURM_CONF is set; on Linux as root,
`scripts/slurm-test-cluster.sh` starts a one-node one (this script starts it when SLURM_CONF is
unset). Prints a Markdown table (BENCHMARKS.md, "Forwarding to Slurm").

  python3 scripts/bench-slurm.py [-n 50] [--reps 3]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cluster():
    if os.environ.get("SLURM_CONF"):
        return
    out = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts/slurm-test-cluster.sh"), "start"],
        env={**os.environ, "SLURM_TEST_MSG_TIMEOUT": "3"},
        check=True, capture_output=True, text=True,
    ).stdout
    os.environ["SLURM_CONF"] = out.strip().splitlines()[-1].split("=", 1)[1]


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target/release/execq")


def sbatch_alone(n, scratch):
    """n x `sbatch --parsable` of a one-line script, one after another: seconds per job."""
    start = time.perf_counter()
    for i in range(n):
        subprocess.run(
            ["sbatch", "--parsable", "--no-requeue", f"--job-name=bench-{i}",
             f"--output={scratch}/out-{i}", "--wrap", "true"],
            check=True, capture_output=True,
        )
    return (time.perf_counter() - start) / n


def execq_forward(execq, n, scratch):
    """n jobs with "executor": "slurm" in pending/, one drain forwarding them all: seconds per
    job; then drains until every record is filed."""
    q = os.path.join(scratch, "q")
    os.makedirs(os.path.join(q, "pending"), mode=0o700)
    os.chmod(q, 0o700)
    for i in range(n):
        with open(os.path.join(q, "pending", f"j{i:04}.json"), "w") as f:
            json.dump({"command": "true", "executor": "slurm"}, f)
    start = time.perf_counter()
    subprocess.run([execq, "--queue", q, "drain"], check=True)
    per_job = (time.perf_counter() - start) / n
    deadline = time.time() + 300
    while len(os.listdir(os.path.join(q, "completed"))) < n:
        if time.time() > deadline:
            sys.exit("the forwarded jobs did not all complete within 300 s")
        time.sleep(0.5)
        subprocess.run([execq, "--queue", q, "drain"], check=True)
    return per_job


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    cluster()
    execq = build()
    alone, forwarded = [], []
    for _ in range(args.reps):
        scratch = tempfile.mkdtemp(prefix="execq-bench-slurm-")
        try:
            alone.append(sbatch_alone(args.n, scratch))
            forwarded.append(execq_forward(execq, args.n, scratch))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    a, f = statistics.median(alone), statistics.median(forwarded)
    print(f"| case ({args.n} jobs, median of {args.reps}) | per job |")
    print("|---|---|")
    print(f"| `sbatch --parsable --wrap true`, one after another | {a * 1000:.1f} ms |")
    print(f"| execq: one drain forwarding them (`sbatch` + script + durable note each) | {f * 1000:.1f} ms |")
    print(f"| forwarding overhead | {(f - a) * 1000:.1f} ms ({f / a:.2f}×) |")


if __name__ == "__main__":
    main()

"""Soak (issue 15 point 5): many executions at once while parts of the stack are killed.

    .venv/bin/python bench/soak.py [--executions 5000] [--parallel 16]

On a stack of its own (free ports, fresh state folder) it runs the test images round-robin.
At 20 % and 60 % of the run it SIGKILLs the model server (its supervisor forks a new one),
at 40 % one Lambda worker. It then checks what issue 15 asks, prints the figures and
writes bench/results/soak.json; it exits 1 when a check fails:
- every execution ends (none left RUNNING) and every failure carries a named error;
- transient endpoint failures are absorbed by the Retry (no execution ends on one);
- Data Capture records equal the endpoint's successful invocations (an execution whose
  Lambda worker was killed inside the classify step may or may not have made its call);
- the stack's memory (PSS: its forked processes share pages) grows by <= 10 % between the first
  and the last 1,000 executions;
- open file descriptors stay flat (the same bound).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed

import psutil
from figures import own_stack_settings, percentile, write_figures  # bench/ is on sys.path
from rich.console import Console
from rich.progress import Progress
from stack_roles import footprint, is_lambda_worker

from harness import clients
from harness.config import Settings
from harness.dataset import listed_images
from harness.e2e.runner import ExecutionResult, run_execution
from harness.executions.api import state_machine_arn
from harness.stack import embedded, stack
from harness.stack.processes import StackState
from harness.stack.readiness import wait_until

GROWTH_LIMIT = 0.10
# errors that end an execution without a fault of the stack: the workflow's own verdict
VERDICTS = {"THRESHOLD_CONFIDENCE_NOT_MET"}
# what a Lambda worker killed mid-invocation reports to Step Functions (Lambda's own name)
WORKER_KILLED = {"Runtime.ExitError", "Lambda.Unknown"}
TRANSIENT = {"EndpointTransientError"}


def lambda_worker(settings: Settings) -> psutil.Process:
    emulator = psutil.Process(StackState.load(settings).processes[embedded.EMULATOR])
    for proc in emulator.children(recursive=True):
        try:
            if is_lambda_worker(proc):
                return proc
        except psutil.NoSuchProcess:  # a worker the pool retired meanwhile
            continue
    raise SystemExit("no Lambda worker found under the emulator")


def kill_model_server(settings: Settings) -> dict:
    victim = embedded.supervisor_status(settings)["child_pid"]
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: embedded.supervisor_status(settings)["child_pid"] != victim,
        "the model server's replacement",
        timeout=10,
    )
    return {"killed": "model-server", "pid": victim}


def kill_lambda_worker(settings: Settings) -> dict:
    victim = lambda_worker(settings)
    victim.kill()
    return {"killed": "lambda-worker", "pid": victim.pid}


def capture_records(settings: Settings) -> int:
    s3 = clients.client(settings, "s3")
    prefix = settings.capture_destination.removeprefix(f"s3://{settings.bucket}/")
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=settings.bucket, Key=obj["Key"])["Body"].read()
            count += sum(1 for line in body.splitlines() if line.strip())
    return count


CLASSIFY, FILTER = "Classify image", "Filter low-confidence inferences"  # workflow.asl.json


def last_task(sfn, arn: str) -> str | None:
    """The Task state an execution was in when it ended (read at once: the stack keeps only
    the newest 1,000 executions)."""
    entered = [
        event["stateEnteredEventDetails"]["name"]
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        for event in page["events"]
        if event["type"] == "TaskStateEntered"
    ]
    return entered[-1] if entered else None


def invocation_bounds(results: list[ExecutionResult], killed_in: list[str | None]) -> tuple:
    """(fewest, most) successful InvokeEndpoint calls the executions made: one each for those
    that reached the filter step. One whose Lambda worker was killed made one if it died in
    the filter step, none before classify, and one or none in classify itself (killed before
    or after its endpoint call: nothing outside the worker can tell)."""
    low = sum(r.status == "SUCCEEDED" or r.error in VERDICTS for r in results)
    low += sum(state == FILTER for state in killed_in)
    return low, low + sum(state == CLASSIFY for state in killed_in)


def run(settings: Settings, keys: list[str], executions: int, parallel: int) -> dict:
    sfn = clients.client(settings, "stepfunctions", max_pool_connections=parallel + 4)
    machine = state_machine_arn(sfn, settings.state_machine_name)
    faults_at = {
        executions * 20 // 100: kill_model_server,
        executions * 40 // 100: kill_lambda_worker,
        executions * 60 // 100: kill_model_server,
    }
    samples: dict[int, dict] = {}
    faults: list[dict] = []
    results: list[ExecutionResult] = []
    killed_in: list[str | None] = []  # the Task each worker-killed execution ended in
    lock = threading.Lock()
    start = time.monotonic()
    with Progress(console=Console(stderr=True)) as progress, ThreadPoolExecutor(parallel) as pool:
        task = progress.add_task("soak", total=executions)
        futures = [
            pool.submit(
                run_execution, sfn, machine, settings.bucket, keys[i % len(keys)], f"soak-{i:05d}"
            )
            for i in range(executions)
        ]
        for done in as_completed(futures):
            with lock:
                results.append(done.result())
                n = len(results)
            if results[-1].error in WORKER_KILLED:
                killed_in.append(last_task(sfn, results[-1].arn))
            progress.advance(task)
            # sampled before a fault at the same count: a new server still loading would make
            # the model server look smaller than it runs, and the growth larger than it is
            if n % 1000 == 0 or n == executions:
                samples[n] = footprint(settings)
            if n in faults_at:
                faults.append({"after": n, **faults_at[n](settings)})
    wall = time.monotonic() - start
    running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
    invocations = invocation_bounds(results, killed_in)
    wait_until(
        lambda: capture_records(settings) >= invocations[0],
        "Data Capture to be flushed",
        timeout=settings.capture_flush_seconds + 30,
    )
    return {
        "invocations": invocations,
        "wall": wall,
        "results": results,
        "running": len(running),
        "samples": samples,
        "faults": faults,
        "captured": capture_records(settings),
    }


def verdict(run_out: dict, executions: int) -> tuple[dict, list[str]]:
    results: list[ExecutionResult] = run_out["results"]
    errors = Counter(r.error or r.status for r in results if r.status != "SUCCEEDED")
    unnamed = sum(1 for r in results if r.status != "SUCCEEDED" and not r.error)
    transient = sum(errors[e] for e in TRANSIENT)
    low, high = run_out["invocations"]
    samples = run_out["samples"]
    first = samples[min(samples)]
    last = samples[max(samples)]
    # PSS: the Lambda workers and the model servers share their template's pages, which USS
    # counts in no process, so a USS sum understates the stack and overstates its growth
    growth = (last["pss_mb"] - first["pss_mb"]) / first["pss_mb"]
    uss_growth = (last["uss_mb"] - first["uss_mb"]) / first["uss_mb"]
    fd_growth = (last["fds"] - first["fds"]) / max(1, first["fds"])
    seconds = [r.seconds for r in results]
    figures = {
        "executions": executions,
        "parallel": None,
        "wall_seconds": round(run_out["wall"], 1),
        "executions_per_s": round(executions / run_out["wall"], 1),
        "p50_ms": round(percentile(seconds, 0.5) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "statuses": dict(Counter(r.status for r in results)),
        "failures_by_error": dict(errors),
        "left_running": run_out["running"],
        "faults": run_out["faults"],
        "data_capture_records": run_out["captured"],
        "successful_invocations": low,
        "successful_invocations_at_most": high,  # a killed worker's call may have happened
        "footprint_by_executions": {str(k): v for k, v in sorted(samples.items())},
        "memory_growth": round(growth, 3),
        "memory_growth_uss": round(uss_growth, 3),
        "fd_growth": round(fd_growth, 3),
    }
    failed = []
    if run_out["running"] or len(results) != executions:
        failed.append(f"{run_out['running']} execution(s) left RUNNING")
    if unnamed:
        failed.append(f"{unnamed} failure(s) without an error name")
    if transient:
        failed.append(f"{transient} execution(s) ended on a transient endpoint error")
    if not low <= run_out["captured"] <= high:
        span = str(low) if low == high else f"{low}-{high}"
        failed.append(f"{run_out['captured']} Data Capture records for {span} invocations")
    if growth > GROWTH_LIMIT:
        failed.append(f"memory grew {growth:.1%} (limit {GROWTH_LIMIT:.0%})")
    if fd_growth > GROWTH_LIMIT:
        failed.append(f"open descriptors grew {fd_growth:.1%} (limit {GROWTH_LIMIT:.0%})")
    unexpected = set(errors) - VERDICTS - WORKER_KILLED
    if unexpected:
        failed.append(f"unexpected failures: {sorted(unexpected)}")
    figures["checks_failed"] = failed
    return figures, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=5000)
    parser.add_argument("--parallel", type=int, default=16)
    args = parser.parse_args()
    if args.executions < 2000:
        parser.error("--executions must be at least 2000 (first and last 1,000 are compared)")
    settings = own_stack_settings("soak")
    stack.up(settings, Console(quiet=True))
    try:
        keys = [image.key for image in listed_images(settings.data_dir)]
        out = run(settings, keys, args.executions, args.parallel)
    finally:
        stack.down(settings, Console(quiet=True))
    figures, failed = verdict(out, args.executions)
    figures["parallel"] = args.parallel
    write_figures("soak", figures)
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    print(json.dumps({"passed": not failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

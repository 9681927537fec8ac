"""Embedded stack benchmark (issues 4, 17): local-up time, warm execution latency against the
floor, throughput with the CPU each process role spends per execution, idle memory by role,
and a py-spy profile of the stack under the throughput load.

Prints its figures and writes bench/results/stack.json (the profile's collapsed stacks to
bench/results/stack-profile.txt, for a flame graph tool). Starts its own stack on free
ports (packages already installed), so run it with no stack up or any stack up alike:
    .venv/bin/python bench/bench_stack.py [--executions 50] [--parallel 16] [--no-profile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambdas"))

import profiling  # bench/profiling.py, bench/stack_roles.py, bench/figures.py (on sys.path)
import psutil
import stack_roles
from figures import RESULTS_DIR, own_stack_settings, percentile, write_figures

from harness import clients
from harness.config import Settings
from harness.dataset import listed_images
from harness.e2e.runner import run_execution, run_many
from harness.executions.api import state_machine_arn
from harness.stack import embedded, stack
from harness.stack.processes import StackState

# issue 17: p50 <= 25 ms and <= 2x the floor of the same run, >= 50 executions/s at 16 in
# parallel, ready (first execution included) in <= 3 s
GOALS = {
    "execution_p50_ms": 25,
    "end_to_end_over_floor": 2.0,
    "throughput_executions_per_s": 50,
    "local_up_with_first_execution_seconds": 3,
}
# idle memory of the warm stack (issue 17): the whole stack as PSS, since its Lambda workers
# share their template's pages, which USS counts in no process; the emulator alone as USS
MEMORY_GOALS_MB = {"whole_pss": 250, "emulator_uss": 120}
# idle as a user's stack is: the emulator hands freed memory back within ~4 s of its last
# request (the persister's last snapshot, then a quiet second: harness/c_allocator.py)
IDLE_SECONDS = 5.0


def time_local_up(settings: Settings, sample: bool = False) -> float:
    """`python -m harness up` as a user runs it (`make local-up`), in a fresh process; with
    `sample` it includes up's sample execution, the first one on fresh workers."""
    env = {**os.environ, **settings.as_environ()}
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "harness", "up", *([] if sample else ["--no-sample"])],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - start


def floor_latencies(settings: Settings, keys: list[str]) -> list[float]:
    """The three handlers called directly in this process against the same S3 and endpoint."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": settings.model_server_url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": settings.region,
            "ENDPOINT_NAME": settings.endpoint_name,
            "THRESHOLD": str(settings.threshold),
            "LOG_LEVEL": "ERROR",  # the handlers log JSON per call; keep the figures readable
        }
    )
    import importlib.util

    def load(name: str):
        path = Path(__file__).resolve().parent.parent / "lambdas" / name / "handler.py"
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.handler

    from shared.errors import THRESHOLD_CONFIDENCE_NOT_MET

    serialize, classify, filt = (
        load(n) for n in ("serialize_image_data", "classify_image", "filter_inferences")
    )
    out = []
    for key in keys:
        start = time.monotonic()
        event = serialize({"s3_bucket": settings.bucket, "s3_key": key}, None)
        event = classify(event.get("body", event), None)
        try:
            filt(event.get("body", event), None)
        except THRESHOLD_CONFIDENCE_NOT_MET:  # below threshold: still all three steps ran
            pass
        out.append(time.monotonic() - start)
    return out


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent (guest time is already inside user and nice)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def cpu_snapshot(settings: Settings) -> dict[str, float]:
    own = psutil.Process().cpu_times()  # all the client's threads (boto3 start + poll)
    return {
        **stack_roles.cpu_seconds(settings),
        "bench-client": own.user + own.system,
        "machine": machine_busy_seconds(),
    }


def cpu_figures(before: dict, after: dict, executions: int, wall: float) -> dict:
    """CPU per execution by role, and the throughput the cores could give at best: with every
    core busy, executions/s <= cores / CPU-seconds per execution."""
    spent = {role: after[role] - before[role] for role in before}
    machine = spent.pop("machine")
    total = sum(spent.values())
    cores = os.cpu_count() or 1
    per_ms = {role: round(s * 1000 / executions, 1) for role, s in spent.items()}
    return {
        "cpu_ms_per_execution": {**per_ms, "total": round(total * 1000 / executions, 1)},
        "throughput_ceiling_executions_per_s": round(cores / (total / executions), 1),
        "cpu_count": cores,
        # the rest of the machine meanwhile (other benchmarks): how noisy this run was
        "other_processes_cpu_ms_per_execution": round(
            max(0.0, machine - total) * 1000 / executions, 1
        ),
        "machine_cpu_busy_share": round(machine / (wall * cores), 2),
        "cpu_not_counted": stack_roles.NOT_COUNTED,
    }


def idle_memory(settings: Settings) -> dict:
    time.sleep(IDLE_SECONDS)  # let the last executions' garbage go and the stack settle
    mem = stack_roles.memory(settings)
    mem["goals_met"] = {
        "whole_pss": mem["pss_mb"] <= MEMORY_GOALS_MB["whole_pss"],
        "emulator_uss": mem["emulator"]["uss_mb"] <= MEMORY_GOALS_MB["emulator_uss"],
    }
    return mem


def profile_role(cmdline: str) -> str | None:
    """A profiled subprocess's role: the emulator's children are Lambda workers (started
    fresh: `-m awslambdaric`; forked: their template's command line, worker_template.py);
    the model server's children stay in its role."""
    worker = "awslambdaric" in cmdline or "worker_template.py" in cmdline
    return "lambda-workers" if worker else None


def profiled_pass(settings: Settings, sfn, machine: str, keys: list[str], args) -> dict:
    """The throughput phase once more under py-spy. Not the measured pass: py-spy's own CPU,
    on the same few cores and counted in no role, would lower the throughput it watches."""
    raw = RESULTS_DIR / "stack-profile.txt"
    raw.unlink(missing_ok=True)  # never leave a previous run's stacks beside this run's JSON
    roots = {
        "emulator" if name == embedded.EMULATOR else "model-server": pid
        for name, pid in StackState.load(settings).processes.items()
    }
    roots["bench-client"] = os.getpid()
    handle = profiling.start(roots, rate=args.profile_rate, classify=profile_role)
    start = time.monotonic()
    try:
        results = run_many(sfn, machine, settings.bucket, keys, args.parallel, prefix="prof")
        wall = time.monotonic() - start
    finally:
        summary = profiling.stop(handle, raw)
    return {
        "phase": f"a second pass of the throughput phase ({len(keys)} images, parallel "
        f"{args.parallel}) under py-spy",
        "throughput_executions_per_s_profiled": round(len(results) / wall, 1),
        "raw_stacks": f"bench/results/{raw.name}" if raw.exists() else None,
        # awslambdaric's runtime_client.so releases the GIL in next() only (its disassembly)
        "reading": "samples follow each process's GIL, i.e. its Python CPU time, except that "
        "awslambdaric's native post_invocation_result/post_error hold the GIL through their "
        "HTTP POST: the workers' samples there are waiting for the emulator's Runtime API to "
        "answer. cpu_ms_per_execution is the CPU split by role; this says where within a role",
        **summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=50, help="sequential warm executions")
    parser.add_argument(
        "--parallel", type=int, default=16, help="parallel executions for throughput"
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="profile the stack with py-spy during a second throughput pass",
    )
    parser.add_argument("--profile-rate", type=int, default=profiling.DEFAULT_RATE, help="Hz")
    args = parser.parse_args()
    settings = own_stack_settings("stack")
    # first run pays cold imports and the first S3 upload; the measured one is what a user sees after it
    up_seconds = time_local_up(settings)
    stack.down(settings, Console(quiet=True))
    up_seconds_warm = time_local_up(settings)
    stack.down(settings, Console(quiet=True))
    up_with_first_execution = time_local_up(settings, sample=True)
    try:
        sfn = clients.client(settings, "stepfunctions", max_pool_connections=args.parallel + 4)
        machine = state_machine_arn(sfn, settings.state_machine_name)
        keys = [image.key for image in listed_images(settings.data_dir)]
        for i in range(3):  # warm the workers
            run_execution(sfn, machine, settings.bucket, keys[i], name=f"warm-{i}")
        settle_seconds = stack_roles.wait_until_quiet(settings)
        latencies = [
            run_execution(
                sfn, machine, settings.bucket, keys[i % len(keys)], name=f"seq-{i}"
            ).seconds
            for i in range(args.executions)
        ]
        memory_warm = idle_memory(settings)
        # the first burst grows each Lambda pool from its one warm worker (a cold start per
        # new worker, as on Lambda); the figure the goal reads is the steady state after it
        start = time.monotonic()
        run_many(sfn, machine, settings.bucket, keys, parallel=args.parallel, prefix="burst")
        first_burst_wall = time.monotonic() - start
        before = cpu_snapshot(settings)
        start = time.monotonic()
        results = run_many(
            sfn, machine, settings.bucket, keys, parallel=args.parallel, prefix="all"
        )
        wall = time.monotonic() - start
        cpu = cpu_figures(before, cpu_snapshot(settings), len(results), wall)
        profile = (
            profiled_pass(settings, sfn, machine, keys, args)
            if args.profile
            else {"skipped": "--no-profile"}
        )
        memory_after = idle_memory(settings)  # the Lambda pools grew for the parallel load
        floor = floor_latencies(settings, keys[: args.executions])
    finally:
        stack.down(settings, Console(quiet=True))
    figures = {
        "local_up_seconds_first": round(up_seconds, 2),
        "local_up_seconds": round(up_seconds_warm, 2),
        "local_up_with_first_execution_seconds": round(up_with_first_execution, 2),
        "settle_seconds_before_latency": settle_seconds,
        "execution_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "execution_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "throughput_executions_per_s": round(len(keys) / wall, 1),
        "throughput_first_burst_executions_per_s": round(len(keys) / first_burst_wall, 1),
        "throughput_images": len(keys),
        "throughput_parallel": args.parallel,
        "throughput_statuses": {
            s: sum(r.status == s for r in results) for s in {r.status for r in results}
        },
        **cpu,
        "floor_p50_ms": round(statistics.median(floor) * 1000, 2),
        "end_to_end_over_floor": round(statistics.median(latencies) / statistics.median(floor), 1),
        "idle_memory_warm": memory_warm,
        "idle_memory_after_throughput": memory_after,
        "goals": {**GOALS, **{f"idle_mb_{k}": v for k, v in MEMORY_GOALS_MB.items()}},
    }
    # smaller is better but for throughput
    met = {
        name: figures[name] >= goal if name.startswith("throughput") else figures[name] <= goal
        for name, goal in GOALS.items()
    }
    figures["goals_met"] = met | {f"idle_mb_{k}": v for k, v in memory_warm["goals_met"].items()}
    figures["profile"] = profile  # last: the long part
    write_figures("stack", figures)


if __name__ == "__main__":
    main()

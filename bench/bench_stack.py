"""Embedded stack benchmark (issue 4): local-up time, warm execution latency, throughput, floor.

Prints its figures and writes bench/results/stack.json. Starts its own stack on free
ports (packages already installed), so run it with no stack up or any stack up alike:
    .venv/bin/python bench/bench_stack.py [--executions 50] [--parallel 8]
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

from figures import (  # bench/figures.py (this folder is on sys.path)
    own_stack_settings,
    percentile,
    write_figures,
)

from harness import clients
from harness.config import Settings
from harness.dataset import listed_images
from harness.e2e.runner import run_execution, run_many
from harness.executions.api import state_machine_arn
from harness.stack import stack


def time_local_up(settings: Settings) -> float:
    """`python -m harness up` as a user runs it (without the sample run), in a fresh process."""
    env = {**os.environ, **settings.as_environ()}
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "harness", "up", "--no-sample"],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=50, help="sequential warm executions")
    parser.add_argument(
        "--parallel", type=int, default=8, help="parallel executions for throughput"
    )
    args = parser.parse_args()
    settings = own_stack_settings("stack")
    # first run pays cold imports and the first S3 upload; the measured one is what a user sees after it
    up_seconds = time_local_up(settings)
    stack.down(settings, Console(quiet=True))
    up_seconds_warm = time_local_up(settings)
    try:
        sfn = clients.client(settings, "stepfunctions")
        machine = state_machine_arn(sfn, settings.state_machine_name)
        keys = [image.key for image in listed_images(settings.data_dir)]
        for i in range(3):  # warm the workers
            run_execution(sfn, machine, settings.bucket, keys[i], name=f"warm-{i}")
        latencies = [
            run_execution(
                sfn, machine, settings.bucket, keys[i % len(keys)], name=f"seq-{i}"
            ).seconds
            for i in range(args.executions)
        ]
        start = time.monotonic()
        results = run_many(
            sfn, machine, settings.bucket, keys, parallel=args.parallel, prefix="all"
        )
        wall = time.monotonic() - start
        floor = floor_latencies(settings, keys[: args.executions])
    finally:
        stack.down(settings, Console(quiet=True))
    figures = {
        "local_up_seconds_first": round(up_seconds, 2),
        "local_up_seconds": round(up_seconds_warm, 2),
        "execution_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "execution_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "throughput_executions_per_s": round(len(keys) / wall, 1),
        "throughput_images": len(keys),
        "throughput_parallel": args.parallel,
        "throughput_statuses": {
            s: sum(r.status == s for r in results) for s in {r.status for r in results}
        },
        "floor_p50_ms": round(statistics.median(floor) * 1000, 2),
        "end_to_end_over_floor": round(statistics.median(latencies) / statistics.median(floor), 1),
        "goals": {
            "execution_p50_ms": 100,
            "local_up_seconds": 5,
            "throughput_executions_per_s": 15,
        },
    }
    write_figures("stack", figures)


if __name__ == "__main__":
    main()

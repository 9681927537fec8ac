"""Embedded and docker mode side by side on this machine (issue 12): `make local-up` to ready,
the first execution, warm executions p50/p95, idle memory, and the 200 test images at parallel
16 (issue 17's figures).

Each mode gets its own stack on free ports and its own state folder, brought up as a user does
(`python -m harness up` in a fresh process, the images already built) and taken down after.
Prints the figures with the docker/embedded ratios and writes bench/results/modes.json.
Docker mode needs an engine and, where nothing can be pulled, CI's images (.ci/docker-e2e sets
LOCALSTACK_IMAGE, LAMBDA_RUNTIME_IMAGE_MAPPING and the base images):
    .venv/bin/python bench/bench_modes.py [--modes embedded,docker] [--executions 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import stack_roles
from bench_stack import time_local_up  # bench/ is on sys.path when run as a script
from figures import own_stack_settings, percentile, write_figures
from rich.console import Console
from rich.table import Table

from harness import clients
from harness.dataset import listed_images
from harness.e2e.runner import run_execution, run_many
from harness.executions.api import state_machine_arn
from harness.stack import compose, stack

IDLE_SECONDS = 2.0  # let the warm-up and the first executions' work settle before sampling
# the figures where lower is better: docker mode's ratio to embedded is reported for each
TIMES = (
    "local_up_seconds",
    "first_execution_ms",
    "execution_p50_ms",
    "execution_p95_ms",
    "images_seconds",
)


def measure(mode: str, executions: int, parallel: int) -> dict:
    settings = own_stack_settings(mode, mode)
    up_seconds = time_local_up(settings)
    try:
        sfn = clients.client(settings, "stepfunctions")
        machine = state_machine_arn(sfn, settings.state_machine_name)
        keys = [image.key for image in listed_images(settings.data_dir)]
        first = run_execution(sfn, machine, settings.bucket, keys[0], name="first")
        latencies = [
            run_execution(
                sfn, machine, settings.bucket, keys[i % len(keys)], name=f"warm-{i}"
            ).seconds
            for i in range(1, executions + 1)
        ]
        memory = idle_memory(settings, mode)  # warm, before the parallel load grows pools
        start = time.monotonic()
        results = run_many(sfn, machine, settings.bucket, keys, parallel=parallel, prefix="all")
        wall = time.monotonic() - start
    finally:
        stack.down(settings, Console(quiet=True))
    return {
        "local_up_seconds": round(up_seconds, 2),
        "first_execution_ms": round(first.seconds * 1000, 1),
        "first_execution_status": first.status,
        "execution_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "execution_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "images": len(keys),
        "parallel": parallel,
        "images_seconds": round(wall, 2),
        "executions_per_s": round(len(keys) / wall, 1),
        "statuses": {
            s: sum(r.status == s for r in results) for s in sorted({r.status for r in results})
        },
        "idle_memory_mb": memory,
    }


def idle_memory(settings, mode: str) -> dict:
    """The warm stack at rest. Embedded: USS and RSS of its processes (bench_stack's figure).
    Docker: each container's memory as `docker stats` counts it (its cgroup's usage less the
    page cache), so read the two modes' figures as orders of magnitude, not a strict ratio."""
    time.sleep(IDLE_SECONDS)
    if mode == "embedded":
        found = stack_roles.memory(settings)
        return {"uss_mb": found["uss_mb"], "rss_mb": found["rss_mb"], "how": "USS/RSS"}
    stats = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    containers = {}
    for line in stats:
        name, _, usage = line.partition(" ")
        if name.startswith(f"{compose.PROJECT}-"):
            containers[name] = round(_megabytes(usage.split("/")[0].strip()), 1)
    return {
        "containers_mb": round(sum(containers.values()), 1),
        "by_container": containers,
        "how": "docker stats",
    }


def _megabytes(text: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "kB": 1 / 1000, "MB": 1, "GB": 1000, "B": 1e-6}
    for unit, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--modes", default="embedded,docker", help="comma-separated: embedded, docker"
    )
    parser.add_argument(
        "--executions", type=int, default=50, help="sequential warm executions per mode"
    )
    parser.add_argument(
        "--parallel", type=int, default=16, help="parallel executions over the 200 images"
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "docker" in modes and not compose.engine_answers():
        raise SystemExit(
            "docker mode needs a Docker engine (`docker info`); run with --modes embedded"
        )
    figures = {mode: measure(mode, args.executions, args.parallel) for mode in modes}
    if {"embedded", "docker"} <= set(figures):
        e, d = figures["embedded"], figures["docker"]
        figures["docker_over_embedded"] = {name: round(d[name] / e[name], 1) for name in TIMES}
    print_table(figures)
    write_figures("modes", figures)


def print_table(figures: dict) -> None:
    modes = [m for m in figures if m != "docker_over_embedded"]
    table = Table(title="embedded and docker mode, one run on this machine")
    table.add_column("figure")
    for mode in modes:
        table.add_column(mode, justify="right")
    if "docker_over_embedded" in figures:
        table.add_column("docker / embedded", justify="right")
    for name in (*TIMES, "executions_per_s"):
        ratio = figures.get("docker_over_embedded", {}).get(name)
        table.add_row(
            name,
            *(str(figures[m][name]) for m in modes),
            *(
                [f"{ratio}x" if ratio is not None else ""]
                if "docker_over_embedded" in figures
                else []
            ),
        )
    table.add_row(
        "idle memory MB (embedded USS; docker: docker stats)",
        *(
            str(
                figures[m]["idle_memory_mb"].get(
                    "uss_mb", figures[m]["idle_memory_mb"].get("containers_mb")
                )
            )
            for m in modes
        ),
        *([""] if "docker_over_embedded" in figures else []),
    )
    Console().print(table)


if __name__ == "__main__":
    main()

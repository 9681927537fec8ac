"""The JSONata twin against the JSONPath workflow (issue 14: warm e2e p50 within 1.2x).

One embedded stack on free ports and a state folder of its own: the JSONPath workflow as
`make local-up` deploys it, and the twin (statemachine/workflow.jsonata.asl.json) deployed
beside it by the same deployer. After a warm-up, warm executions alternate between the two on
the same images, so both see the same machine state. Prints the figures and the ratio, and
writes bench/results/jsonata.json:
    .venv/bin/python bench/bench_jsonata.py [--executions 60]
"""

from __future__ import annotations

import argparse

from figures import (  # bench/ is on sys.path when run as a script
    own_stack_settings,
    percentile,
    write_figures,
)
from rich.console import Console

from harness import clients
from harness.config import REPO_ROOT
from harness.dataset import listed_images
from harness.deploy import deploy, make_target
from harness.e2e.runner import run_execution
from harness.executions.api import state_machine_arn
from harness.stack import stack

TWIN = REPO_ROOT / "statemachine" / "workflow.jsonata.asl.json"
LIMIT = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=60, help="warm executions of each")
    args = parser.parse_args()
    settings = own_stack_settings("jsonata")
    twin = settings.replace(
        state_machine_name=f"{settings.state_machine_name}-jsonata", state_machine_file=TWIN
    )
    stack.up(settings, Console(quiet=True))
    try:
        deploy(twin, make_target(twin))
        sfn = clients.client(settings, "stepfunctions")
        machines = {
            "jsonpath": state_machine_arn(sfn, settings.state_machine_name),
            "jsonata": state_machine_arn(sfn, twin.state_machine_name),
        }
        keys = [image.key for image in listed_images(settings.data_dir)]
        seconds: dict[str, list[float]] = {flavour: [] for flavour in machines}
        statuses: dict[str, dict[str, int]] = {flavour: {} for flavour in machines}
        for i in range(-5, args.executions):  # the first five of each warm up, unmeasured
            for flavour, machine in machines.items():
                result = run_execution(
                    sfn, machine, settings.bucket, keys[i % len(keys)], name=f"{flavour}-{i + 5}"
                )
                if i >= 0:
                    seconds[flavour].append(result.seconds)
                    statuses[flavour][result.status] = statuses[flavour].get(result.status, 0) + 1
    finally:
        stack.down(settings, Console(quiet=True))
    figures = {
        flavour: {
            "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "executions": len(values),
            "statuses": statuses[flavour],
        }
        for flavour, values in seconds.items()
    }
    ratio = figures["jsonata"]["p50_ms"] / figures["jsonpath"]["p50_ms"]
    figures["p50_ratio_jsonata_over_jsonpath"] = round(ratio, 3)
    figures["within_limit"] = ratio <= LIMIT
    figures["limit"] = LIMIT
    write_figures("jsonata", figures)


if __name__ == "__main__":
    main()

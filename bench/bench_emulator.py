"""Embedded AWS benchmark (issue 4, part 3): warm Step Functions executions through real Lambda workers.

    .venv/bin/python bench/bench_emulator.py [--executions 60] [--parallel 40]

Starts `python -m harness.emulator` as its own process on a free port (as `make local-up`
does), deploys one trivial Python function and a 3-Task state machine (lambda:invoke,
Payload, OutputPath, the console's Retry), then measures from this process:
  - warm end-to-end latency: start_execution to SUCCEEDED, polling describe_execution every 5 ms
    (target p50 <= 100 ms on 2 cores);
  - a direct warm Lambda invoke (the floor of one Task);
  - throughput of parallel executions (executions/s);
  - the fixed costs the emulator removes from moto (measured in this process): ASL parse per
    execution vs the cached parse tree, boto3 client creation per Task, moto's per-request
    module listing.
Prints the figures and writes bench/results/emulator.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from figures import percentile, write_figures  # bench/figures.py (this folder is on sys.path)

from harness.stack.readiness import free_port

HANDLER = "def handler(event, context):\n    return {'value': event.get('value', 0) + 1}\n"
RETRY = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2,
    }
]


def three_tasks(arn: str) -> str:
    """The benchmarked state machine: three lambda:invoke Tasks of function `arn` in a row."""

    def task(next_state):
        state = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Retry": RETRY,
            "Parameters": {"FunctionName": arn, "Payload.$": "$"},
            "OutputPath": "$.Payload",
        }
        return {**state, **({"Next": next_state} if next_state else {"End": True})}

    return json.dumps({"StartAt": "A", "States": {"A": task("B"), "B": task("C"), "C": task(None)}})


def ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p90": round(percentile(ordered, 0.9), 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
        "n": len(ordered),
    }


def clients(url: str):
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=64, retries={"max_attempts": 0})
    make = lambda service: boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )
    return make("iam"), make("lambda"), make("stepfunctions")


def deploy(iam, lam, sfn) -> tuple[str, str]:
    role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    arn = lam.create_function(
        FunctionName="bench-add",
        Runtime="python3.11",
        Role=role,
        Timeout=10,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    machine = sfn.create_state_machine(name="bench", roleArn=role, definition=three_tasks(arn))[
        "stateMachineArn"
    ]
    return arn, machine


def execute(sfn, machine: str, name: str, poll: float = 0.005) -> float:
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input='{"value": 0}')[
        "executionArn"
    ]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(poll)
    if described["status"] != "SUCCEEDED" or json.loads(described["output"]) != {"value": 3}:
        raise SystemExit(f"execution {name} ended {described['status']}: {described}")
    return (time.perf_counter() - started) * 1000


def fixed_costs() -> dict:
    """What moto would spend per execution / per Task without the emulator's fast paths."""
    import boto3
    from moto import backends
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    definition = three_tasks("arn:aws:lambda:us-east-1:123456789012:function:bench-add")

    def timed(fn, repeat=10) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        return round((time.perf_counter() - start) / repeat * 1000, 2)

    _, tree = AmazonStateLanguageParser.parse(definition)
    return {
        "asl_parse_per_execution_ms": timed(lambda: AmazonStateLanguageParser.parse(definition)),
        "asl_program_from_cached_tree_ms": timed(lambda: Preprocessor().visit(tree)),
        "boto3_client_per_task_ms": timed(
            lambda: boto3.client(
                "lambda",
                region_name="us-east-1",
                endpoint_url="http://127.0.0.1:1",
                aws_access_key_id="a",
                aws_secret_access_key="b",
            )
        ),
        "moto_module_listing_per_request_ms": timed(
            lambda: "lambda" in list(backends.list_of_moto_modules())
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=40, help="executions in the throughput run")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HARNESS_AWS_PORT=str(port), HARNESS_STATE_DIR=tempfile.mkdtemp())
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "harness.emulator"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready_line = server.stdout.readline()
        ready_s = time.perf_counter() - started
        if not ready_line.startswith("embedded AWS ready"):
            raise SystemExit("the emulator did not start")
        iam, lam, sfn = clients(url)
        _, machine = deploy(iam, lam, sfn)

        cold_ms = execute(sfn, machine, "cold")
        warm = [execute(sfn, machine, f"warm-{i}") for i in range(args.executions)]
        direct = []
        for _ in range(50):
            t0 = time.perf_counter()
            lam.invoke(FunctionName="bench-add", Payload=b'{"value": 1}')
            direct.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            list(
                pool.map(
                    lambda i: execute(sfn, machine, f"par-{i}", poll=0.02), range(args.parallel)
                )
            )
        throughput = args.parallel / (time.perf_counter() - t0)
    finally:
        server.terminate()
        server.wait(timeout=15)

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "emulator_ready_s": round(ready_s, 2),
        "cold_execution_ms": round(cold_ms, 1),
        "warm_execution_ms": ms(warm),
        "direct_invoke_ms": ms(direct),
        "parallel_executions_per_s": round(throughput, 1),
        "moto_fixed_costs_removed": fixed_costs(),
        "target": {"warm_execution_p50_ms": 100},
    }
    result["warm_execution_ok"] = result["warm_execution_ms"]["p50"] <= 100
    write_figures("emulator", result)


if __name__ == "__main__":
    main()

"""TestState on a Pass state through boto3 against the embedded AWS (goal: p50 <= 20 ms).

One embedded AWS of its own (a free port, a fresh state folder); after a warm-up, `--calls`
TestState requests on the same Pass state (JSONPath, DEBUG, so every stage is recorded), and
the same number on a JSONata Pass state. Measures the whole round trip as a user's boto3 sees
it. Prints the figures and writes bench/results/teststate.json:
    .venv/bin/python bench/bench_teststate.py [--calls 200]
"""

from __future__ import annotations

import argparse
import json
import time

import boto3
from botocore.config import Config
from figures import own_stack_settings, percentile, write_figures  # bench/ is on sys.path

from harness.emulator import EmbeddedAWS

GOAL_P50_MS = 20.0
STATES = {
    "jsonpath": {
        "Type": "Pass",
        "InputPath": "$.payload",
        "Parameters": {"data.$": "$.foo"},
        "ResultPath": "$.result",
        "Next": "Next",
    },
    "jsonata": {
        "QueryLanguage": "JSONata",
        "Type": "Pass",
        "Output": {"data": "{% $states.input.payload.foo %}"},
        "Next": "Next",
    },
}
INPUT = json.dumps({"payload": {"foo": "bar"}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="measured calls per state")
    args = parser.parse_args()
    settings = own_stack_settings("teststate")
    aws = EmbeddedAWS(settings).start()
    try:
        aws.wait_stepfunctions()
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=aws.url,
            region_name=settings.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
        )
        figures: dict = {}
        for flavour, state in STATES.items():
            definition = json.dumps(state)
            seconds = []
            for i in range(-10, args.calls):  # the first ten warm up, unmeasured
                started = time.perf_counter()
                answer = sfn.test_state(definition=definition, input=INPUT, inspectionLevel="DEBUG")
                elapsed = time.perf_counter() - started
                if answer["status"] != "SUCCEEDED":
                    raise SystemExit(f"{flavour}: TestState answered {answer}")
                if i >= 0:
                    seconds.append(elapsed)
            figures[flavour] = {
                "p50_ms": round(percentile(seconds, 0.5) * 1000, 2),
                "p95_ms": round(percentile(seconds, 0.95) * 1000, 2),
                "calls": len(seconds),
            }
    finally:
        aws.stop()
    figures["goal_p50_ms"] = GOAL_P50_MS
    figures["within_goal"] = all(figures[flavour]["p50_ms"] <= GOAL_P50_MS for flavour in STATES)
    write_figures("teststate", figures)


if __name__ == "__main__":
    main()

"""Time the local deploy into the embedded emulator (its own process, as `make local-up` runs it):
the first deploy in a fresh process (everything created, 200 test images uploaded, boto3's
service models loaded) and redeploys with nothing changed (what every later `make local-up`
does). Prints the figures and writes bench/results/deploy_local.json."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import write_figures  # bench/figures.py (this folder is on sys.path)

from harness.config import REPO_ROOT, Settings
from harness.deploy import deploy, make_target

WARM_UP = [
    ("sts", "get_caller_identity"),
    ("s3", "list_buckets"),
    ("iam", "list_roles"),
    ("lambda", "list_functions"),
    ("stepfunctions", "list_state_machines"),
    ("sagemaker", "list_models"),
]


def start_emulator(state: str) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "HARNESS_AWS_PORT": "0", "HARNESS_STATE_DIR": state}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.emulator"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # "embedded AWS ready at http://127.0.0.1:<port>"
    if "ready at" not in line:
        proc.terminate()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, int(line.strip().rsplit(":", 1)[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        proc, port = start_emulator(state)
        try:
            settings = Settings.from_env(aws_port=port, state_dir=Path(state), target="local")
            # moto imports each service's backend on its first request: time that apart
            target, started = make_target(settings), time.perf_counter()
            for service, call in WARM_UP:
                getattr(target.client(service), call)()
            warm_up_s = time.perf_counter() - started
            started = time.perf_counter()
            first = deploy(settings, make_target(settings))
            first_s = time.perf_counter() - started
            again = []
            for _ in range(5):
                started = time.perf_counter()
                outputs = deploy(settings, make_target(settings))
                again.append(time.perf_counter() - started)
                assert not outputs.changed, [c for c in outputs.changes if c.action != "unchanged"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    result = {
        "emulator_first_touch_s": round(warm_up_s, 3),
        "first_deploy_after_first_touch_s": round(first_s, 3),
        "created": first.count("create"),
        "redeploy_unchanged_p50_s": round(statistics.median(again), 3),
        "redeploy_unchanged_max_s": round(max(again), 3),
    }
    write_figures("deploy_local", result)


if __name__ == "__main__":
    main()

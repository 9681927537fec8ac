"""What the local stack's persistence costs (issue 15 point 4, harness/emulator/persistence.py).

1. Warm execution latency on two embedded stacks of the bench's own, persistence on and off,
   executions alternating between them (snapshots must not slow executions down).
2. In-process, on moto's backends: a snapshot of 1,200 objects (the test images' bytes) and
   1,000 ended executions (copies of a real execution's summary and history from step 1),
   the same snapshot again with nothing changed (the cost every interval at rest), one with
   10 new objects and 10 new executions, and the restore of it all into a fresh moto.
Prints the figures and writes bench/results/persistence.json:
    .venv/bin/python bench/bench_persistence.py [--objects 1200] [--executions 1000] [--warm 60]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
import time
from pathlib import Path

from figures import own_stack_settings, percentile, write_figures
from rich.console import Console

from harness import clients
from harness.config import Settings
from harness.dataset import listed_images
from harness.e2e.runner import run_execution
from harness.emulator.persistence import Persister
from harness.emulator.persistence_store import Store, data_dir
from harness.executions.api import state_machine_arn
from harness.stack import stack


def warm_latency(count: int, keep: Path) -> dict:
    """Two stacks up at once, persistence on and off; executions alternate between them, so
    both see the same machine load (other work on the machine hits both alike)."""
    stacks = {
        flag: own_stack_settings("persistence").replace(persist=flag) for flag in (True, False)
    }
    seconds: dict[bool, list[float]] = {True: [], False: []}
    try:
        for settings in stacks.values():
            stack.up(settings, Console(quiet=True))
        sfn = {flag: clients.client(s, "stepfunctions") for flag, s in stacks.items()}
        machine = {
            flag: state_machine_arn(sfn[flag], s.state_machine_name) for flag, s in stacks.items()
        }
        keys = [image.key for image in listed_images(stacks[True].data_dir)]
        for i in range(-5, count):  # five unmeasured warm-up runs each
            for flag, settings in stacks.items():
                key = keys[i % len(keys)]
                result = run_execution(sfn[flag], machine[flag], settings.bucket, key, f"w{i + 5}")
                if i >= 0:
                    seconds[flag].append(result.seconds)
    finally:
        for settings in stacks.values():
            stack.down(settings, Console(quiet=True))
    shutil.copytree(data_dir(stacks[True].state_dir) / "executions", keep)
    for settings in stacks.values():
        shutil.rmtree(settings.state_dir, ignore_errors=True)
    return {
        f"warm_execution_persist_{'on' if flag else 'off'}": {
            "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        }
        for flag, values in seconds.items()
    }


class EndedExecution:
    """What the snapshot reads of one of moto's ended executions."""

    def __init__(self, summary: dict, events: list, i: int):
        self.name = f"bench-{i:05d}"
        self.execution_arn = summary["arn"].rsplit(":", 1)[0] + ":" + self.name
        self.status = summary["status"]
        self.execution_input, self.output = summary["input"], summary["output"]
        self.start_date, self.stop_date = summary["start"], summary["stop"]
        self.error, self.cause = summary.get("error"), summary.get("cause")
        self._events = events

    def to_history_output(self) -> dict:
        return {"events": self._events}


def timed(action) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def in_process(templates: Path, objects: int, executions: int) -> dict:
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.stepfunctions.models import stepfunctions_backends

    sample = min(templates.glob("*.json"))
    summary, events = Store.read_execution_summary(sample), Store.read_execution_events(sample)
    images = [image.path.read_bytes() for image in listed_images(Settings.from_env().data_dir)]
    root = Path(tempfile.mkdtemp(prefix="bench-persistence-")) / "data"
    figures: dict = {"history_events": len(events), "execution_file_bytes": sample.stat().st_size}
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        for i in range(objects):
            s3.put_object(Bucket="bench", Key=f"test/{i:05d}.png", Body=images[i % len(images)])
        backend = stepfunctions_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        machine = backend.create_state_machine(
            "scones-workflow",
            '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
            "arn:aws:iam::123456789012:role/states",
        )
        made = [EndedExecution(summary, copy.deepcopy(events), i) for i in range(executions + 10)]
        machine.executions.extend(made[:executions])
        persister = Persister(root, max_executions=executions)
        wall, cpu, wrote = timed(persister.snapshot)
        figures["first_snapshot"] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), **wrote}
        wall, cpu, _ = timed(persister.snapshot)
        figures["idle_snapshot_ms"] = {"wall": round(wall * 1000, 2), "cpu": round(cpu * 1000, 2)}
        for i in range(10):
            s3.put_object(Bucket="bench", Key=f"new/{i}.png", Body=images[i])
        machine.executions.extend(made[executions:])
        wall, cpu, wrote = timed(persister.snapshot)
        figures["snapshot_10_new_each_ms"] = {
            "wall": round(wall * 1000, 1),
            "cpu": round(cpu * 1000, 1),
            **wrote,
        }
        persister.uninstall()
    figures["data_mb"] = round(sum(p.stat().st_size for p in root.rglob("*")) / 1e6, 1)
    with mock_aws():
        restorer = Persister(root, max_executions=executions)
        wall, cpu, restored = timed(restorer.restore)
        restorer.uninstall()
    figures["restore"] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "objects": restored["objects"],
        "executions": restored["executions"],
    }
    shutil.rmtree(root.parent, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1200)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--warm", type=int, default=60, help="warm executions per stack")
    args = parser.parse_args()
    templates = Path(tempfile.mkdtemp(prefix="bench-persistence-")) / "executions"
    figures = {
        **warm_latency(args.warm, keep=templates),
        "objects": args.objects,
        "executions": args.executions,
        **in_process(templates, args.objects, args.executions),
    }
    shutil.rmtree(templates.parent, ignore_errors=True)
    write_figures("persistence", figures)


if __name__ == "__main__":
    main()

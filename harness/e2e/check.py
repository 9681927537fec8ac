"""The end-to-end check as one function (choose cases, run them in parallel, judge them), and
the one sample execution `harness up` ends with."""

from __future__ import annotations

from rich.console import Console

from harness import clients
from harness.config import Settings
from harness.dataset import listed_images
from harness.e2e import cases as cases_mod
from harness.e2e.report import Verdict, judge
from harness.e2e.runner import run_execution, run_many
from harness.executions.api import state_machine_arn


def run_e2e(settings: Settings, per_class: int = 2, parallel: int = 8) -> list[Verdict]:
    sfn = clients.client(settings, "stepfunctions")
    machine = state_machine_arn(sfn, settings.state_machine_name)
    runtime = clients.client(settings, "sagemaker-runtime")
    s3 = clients.client(settings, "s3")
    chosen = cases_mod.choose(settings, runtime, s3, per_class=per_class)
    results = run_many(sfn, machine, settings.bucket, [c.s3_key for c in chosen], parallel, "e2e")
    return [judge(case, result) for case, result in zip(chosen, results)]


def run_sample(settings: Settings, console: Console) -> None:
    """One execution on the first test image, as a quick sign that the stack works."""
    key = listed_images(settings.data_dir)[0].key
    sfn = clients.client(settings, "stepfunctions")
    result = run_execution(
        sfn, state_machine_arn(sfn, settings.state_machine_name), settings.bucket, key
    )
    colour = "green" if result.status == "SUCCEEDED" else "red"
    console.print(
        f"[{colour}]✓[/] sample execution {result.name} on {key}: [{colour}]{result.status}[/] "
        f"{result.outcome} in {result.seconds * 1000:.0f} ms"
    )

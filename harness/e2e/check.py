"""The end-to-end check as one function: choose cases, run them in parallel, judge them."""

from __future__ import annotations

from harness import clients
from harness.config import Settings
from harness.e2e import cases as cases_mod
from harness.e2e.report import Verdict, judge
from harness.e2e.runner import run_many
from harness.executions.api import state_machine_arn


def run_e2e(settings: Settings, per_class: int = 2, parallel: int = 8) -> list[Verdict]:
    sfn = clients.client(settings, "stepfunctions")
    machine = state_machine_arn(sfn, settings.state_machine_name)
    runtime = clients.client(settings, "sagemaker-runtime")
    s3 = clients.client(settings, "s3")
    chosen = cases_mod.choose(settings, runtime, s3, per_class=per_class)
    results = run_many(sfn, machine, settings.bucket, [c.s3_key for c in chosen], parallel, "e2e")
    return [judge(case, result) for case, result in zip(chosen, results)]

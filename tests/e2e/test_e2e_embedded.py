"""The whole workflow through the embedded stack, as `make local-up` + `make e2e-test` run it.

The stack is started by the same code as `harness up`, on free ports and a state folder
of its own, so it never collides with a stack the developer has running.
"""

from __future__ import annotations

import base64

import pytest
from rich.console import Console

from harness import clients
from harness.dataset import ListedImage, listed_images
from harness.e2e.cases import THRESHOLD_ERROR, invoke
from harness.e2e.check import run_e2e, run_sample
from harness.e2e.runner import run_execution
from harness.executions.api import state_machine_arn
from harness.labels import LABELS
from harness.stack import processes, stack
from harness.stack.readiness import free_port, port_in_use
from tests.support.stacks import embedded_stack


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory, settings, data_dir):
    with embedded_stack(settings, tmp_path_factory.mktemp("stack"), data_dir) as running:
        yield running


def test_e2e_cases_all_behave(running_stack):
    # GIVEN a deployed embedded stack WHEN the e2e check runs THEN every scenario behaves
    settings, _ = running_stack
    verdicts = run_e2e(settings, per_class=2, parallel=4)
    problems = [(v.case.scenario, v.problems) for v in verdicts if not v.ok]
    assert not problems, problems
    scenarios = {v.case.scenario for v in verdicts}
    assert {
        "confident bicycle",
        "confident motorcycle",
        "low confidence",
        "missing S3 object",
    } <= scenarios
    low = next(v for v in verdicts if v.case.scenario == "low confidence")
    assert low.result.error == THRESHOLD_ERROR
    assert str(settings.threshold) in low.result.cause_message


def confident_and_right(settings, data_dir) -> tuple[ListedImage, list[float]]:
    """The first test image the served model classifies right above the threshold, and its
    answer: asked of the running endpoint, so a retrained artifact picks its own image."""
    runtime = clients.client(settings, "sagemaker-runtime")
    for image in listed_images(data_dir):
        probabilities = invoke(runtime, settings, image.path.read_bytes())
        top = max(probabilities)
        if top >= settings.threshold and probabilities.index(top) == image.label:
            return image, probabilities
    pytest.fail(f"the served model is right above {settings.threshold} on no test image")


def test_passing_execution_output_keeps_objects(running_stack, data_dir):
    # GIVEN an image the model passes WHEN it runs through the workflow THEN it succeeds and the
    # output is the one object every step keeps ($.Payload.body), no JSON string inside JSON
    settings, _ = running_stack
    image, expected = confident_and_right(settings, data_dir)
    sfn = clients.client(settings, "stepfunctions")
    machine = state_machine_arn(sfn, settings.state_machine_name)
    result = run_execution(sfn, machine, settings.bucket, image.key, name="objects-check")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    body = result.output
    assert isinstance(body, dict)
    assert set(body) == {"image_data", "s3_bucket", "s3_key", "inferences"}
    assert body["s3_bucket"] == settings.bucket and body["s3_key"] == image.key
    assert base64.b64decode(body["image_data"]) == image.path.read_bytes()
    assert isinstance(body["inferences"], list)
    assert abs(sum(body["inferences"]) - 1.0) < 1e-4
    assert body["inferences"] == pytest.approx(expected, abs=1e-6)
    assert result.label == LABELS[image.label]


def test_lambda_logs_reach_cloudwatch(running_stack):
    settings, _ = running_stack
    logs = clients.client(settings, "logs")
    groups = {
        g["logGroupName"]
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    assert any("classify" in g for g in groups), groups


def test_down_leaves_nothing_behind(tmp_path, settings, data_dir):
    local = settings.replace(
        mode="embedded",
        aws_port=free_port(),
        model_server_port=free_port(),
        state_dir=tmp_path,
        data_dir=data_dir,
    )
    state = stack.up(local, Console(record=True))
    run_sample(local, Console(record=True))  # as `harness up` does: workers are running now
    pids = list(state.processes.values())
    assert all(processes.alive(pid) for pid in pids)
    stack.down(local, Console(record=True))
    assert not any(processes.alive(pid) for pid in pids)
    assert not port_in_use(local.host, local.aws_port)
    assert not port_in_use(local.host, local.model_server_port)


def test_monitor_reads_what_the_stack_captured(running_stack, tmp_path):
    # GIVEN executions ran through the stack WHEN the capture is monitored THEN every
    # record the endpoint wrote to the emulated S3 is read, with known labels and execution views
    import time

    from harness.monitoring.commands import do_monitor

    settings, _ = running_stack
    sfn = clients.client(settings, "stepfunctions")
    machine = state_machine_arn(sfn, settings.state_machine_name)
    key = listed_images(settings.data_dir)[0].key
    run_execution(sfn, machine, settings.bucket, key, name="monitored")
    deadline = time.monotonic() + 30  # capture is flushed every CAPTURE_FLUSH_SECONDS
    while True:
        result = do_monitor(
            settings, out=tmp_path / "report", console=Console(record=True), execution_views=2
        )
        if result.index is not None or time.monotonic() > deadline:
            break
        time.sleep(settings.capture_flush_seconds)
    assert result.index is not None and result.summary.records >= 1
    assert result.summary.accuracy.known >= 1  # test images are recognised by their pixels
    html = result.index.read_text()
    assert "executions/" in html and "monitored" in html

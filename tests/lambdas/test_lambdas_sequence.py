"""The three handlers in sequence on a real CIFAR-100 test image, as the state machine chains them.

Between steps the event goes through JSON (as over the wire) and through each state's
OutputPath read from statemachine/workflow.asl.json, so a change to either side shows here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from shared.errors import THRESHOLD_CONFIDENCE_NOT_MET

from harness.config import STATE_MACHINE_FILE
from harness.dataset import ListedImage, listed_images


def apply_output_path(path: str, lambda_result: Any) -> Any:
    """What Step Functions keeps of a lambda:invoke result {"Payload": ...} (simple paths only)."""
    assert path.startswith("$"), path
    value: Any = {"Payload": json.loads(json.dumps(lambda_result))}  # JSON, as on the wire
    for part in filter(None, path[1:].split(".")):
        value = value[part]
    return value


def first_test_image(data_dir, label: int) -> ListedImage:
    for image in listed_images(data_dir):
        if image.label == label:
            return image
    raise AssertionError(f"no test image with label {label} in {data_dir / 'test.lst'}")


@pytest.mark.parametrize(
    ("label", "answer_probs", "expected"),
    [(0, [0.97, 0.03], "passes"), (1, [0.12, 0.88], "fails")],
)
def test_real_image_flows_through_the_three_steps(
    data_dir,
    s3,
    runtime_stub,
    answer,
    serialize_module,
    classify_module,
    filter_module,
    lambda_context,
    monkeypatch,
    label,
    answer_probs,
    expected,
):
    # GIVEN a real test image in S3 and an endpoint that answers for exactly those bytes
    image = first_test_image(data_dir, label)
    png = image.path.read_bytes()
    s3.put_object(Bucket="scones-unlimited-local", Key=image.key, Body=png)
    client, stubber = runtime_stub
    stubber.add_response(
        "invoke_endpoint",
        answer(answer_probs),
        {
            "EndpointName": "scones-image-classifier",
            "ContentType": "image/png",
            "Accept": "application/json",
            "Body": png,
        },
    )
    monkeypatch.setattr(serialize_module, "s3", s3)
    monkeypatch.setattr(classify_module, "runtime", client)
    states = json.loads(STATE_MACHINE_FILE.read_text())["States"]
    steps = [serialize_module.handler, classify_module.handler, filter_module.handler]
    event: Any = {"s3_bucket": "scones-unlimited-local", "s3_key": image.key}

    # WHEN each handler gets what the previous state's OutputPath kept
    seen = []
    try:
        for step, state in zip(steps, states.values()):
            event = apply_output_path(state["OutputPath"], step(event, lambda_context))
            seen.append(event)
        outcome = "passes"
    except THRESHOLD_CONFIDENCE_NOT_MET as exc:
        assert str(exc) == "top confidence 0.88 (motorcycle) is below the threshold 0.93"
        outcome = "fails"

    # THEN every intermediate event is the flat object shape, image as base64 text
    assert outcome == expected
    for step_output in seen:
        assert set(step_output) == {"image_data", "s3_bucket", "s3_key", "inferences"}
        assert isinstance(step_output["image_data"], str)
        assert isinstance(step_output["inferences"], list)
        assert base64.b64decode(step_output["image_data"]) == png
    assert seen[0]["inferences"] == []
    if expected == "passes":
        assert seen[-1]["inferences"] == answer_probs and len(seen) == 3
    else:
        assert len(seen) == 2 and seen[1]["inferences"] == answer_probs

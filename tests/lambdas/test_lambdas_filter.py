"""filter_inferences: pass at or above THRESHOLD, raise THRESHOLD_CONFIDENCE_NOT_MET below it."""

from __future__ import annotations

import json

import pytest
from shared.errors import THRESHOLD_CONFIDENCE_NOT_MET, InvalidEvent


def with_inferences(load_event, inferences):
    return {**load_event("filter_input_confident"), "inferences": inferences}


@pytest.mark.parametrize("top", [0.93, 0.930001, 0.97, 1.0])
def test_passes_at_or_above_the_default_threshold(filter_module, load_event, lambda_context, top):
    # GIVEN a classified event whose top probability reaches 0.93 (0.93 exactly included)
    event = with_inferences(load_event, [1 - top, top])
    # WHEN the filter runs THEN the event goes on unchanged
    response = filter_module.handler(event, lambda_context)
    assert response == {"statusCode": 200, "body": event}


@pytest.mark.parametrize("top", [0.929999, 0.81, 0.5])
def test_fails_below_the_threshold(filter_module, load_event, lambda_context, top):
    event = with_inferences(load_event, [top, 1 - top])
    with pytest.raises(THRESHOLD_CONFIDENCE_NOT_MET):
        filter_module.handler(event, lambda_context)


def test_error_name_and_message(filter_module, load_event, lambda_context):
    # GIVEN a motorcycle at 0.81
    event = load_event("filter_input_low_confidence")
    # WHEN the filter runs
    with pytest.raises(Exception) as caught:
        filter_module.handler(event, lambda_context)
    # THEN the class name (Lambda's errorType, Step Functions' Error) is the contract's name
    assert type(caught.value).__name__ == "THRESHOLD_CONFIDENCE_NOT_MET"
    assert str(caught.value) == "top confidence 0.81 (motorcycle) is below the threshold 0.93"
    assert (caught.value.confidence, caught.value.label) == (0.81, "motorcycle")


def test_awslambdaric_reports_the_contract_error_type(filter_module, load_event, lambda_context):
    # The runtime interface client is what marshals errors on AWS and in the local workers.
    from awslambdaric.bootstrap import build_fault_result

    with pytest.raises(THRESHOLD_CONFIDENCE_NOT_MET) as caught:
        filter_module.handler(load_event("filter_input_low_confidence"), lambda_context)
    fault = build_fault_result((caught.type, caught.value, caught.tb), None)
    assert fault["errorType"] == "THRESHOLD_CONFIDENCE_NOT_MET"
    assert fault["errorMessage"] == "top confidence 0.81 (motorcycle) is below the threshold 0.93"


def test_message_never_rounds_up_to_the_threshold(filter_module, load_event, lambda_context):
    event = with_inferences(load_event, [0.92996, 0.07004])
    with pytest.raises(THRESHOLD_CONFIDENCE_NOT_MET, match=r"^top confidence 0\.92996 \(bicycle\)"):
        filter_module.handler(event, lambda_context)


def test_threshold_comes_from_the_environment(
    filter_module, load_event, lambda_context, monkeypatch
):
    monkeypatch.setenv("THRESHOLD", "0.8")
    event = load_event("filter_input_low_confidence")
    assert filter_module.handler(event, lambda_context)["body"] == event
    monkeypatch.setenv("THRESHOLD", "0.85")
    with pytest.raises(THRESHOLD_CONFIDENCE_NOT_MET, match="below the threshold 0.85"):
        filter_module.handler(event, lambda_context)


@pytest.mark.parametrize("raw", ["high", "93", "-0.1"])
def test_bad_threshold_fails_loudly(filter_module, load_event, lambda_context, monkeypatch, raw):
    monkeypatch.setenv("THRESHOLD", raw)
    with pytest.raises(ValueError, match="THRESHOLD"):
        filter_module.handler(load_event("filter_input_confident"), lambda_context)


def test_unclassified_event_is_refused(filter_module, load_event, lambda_context):
    with pytest.raises(InvalidEvent, match="run the classify step first"):
        filter_module.handler(load_event("classify_input"), lambda_context)


def test_rejection_is_logged_as_json_with_the_request_id(
    filter_module, load_event, lambda_context, capsys
):
    with pytest.raises(THRESHOLD_CONFIDENCE_NOT_MET):
        filter_module.handler(load_event("filter_input_low_confidence"), lambda_context)
    (line,) = [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]
    assert line["level"] == "WARNING"
    assert line["request_id"] == lambda_context.aws_request_id
    assert (line["label"], line["confidence"], line["threshold"]) == ("motorcycle", 0.81, 0.93)

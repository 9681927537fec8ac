"""WorkflowEvent: the one view of the event; objects in, objects out."""

from __future__ import annotations

import base64
import json

import pytest
from shared.errors import InvalidEvent
from shared.event import WorkflowEvent


def test_envelope_is_unwrapped_to_its_body(load_event):
    # GIVEN a whole {"statusCode", "body"} answer of a previous step
    envelope = load_event("classify_input_envelope")
    # WHEN it is viewed as a WorkflowEvent
    event = WorkflowEvent(envelope)
    # THEN the view reads the body and the exit is the flat body
    assert event.to_dict() == envelope["body"]


def test_a_json_string_body_is_parsed_once(load_event):
    # GIVEN a producer that json.dumps'ed its body (a public bug)
    event = WorkflowEvent(load_event("classify_input_string_body"))
    # WHEN it goes out again THEN it is an object, not a string
    out = event.to_dict()
    assert isinstance(out["inferences"], list)
    assert out == load_event("classify_input")


def test_failed_envelope_is_refused(load_event):
    envelope = {"statusCode": 400, "body": load_event("filter_input_low_confidence")}
    with pytest.raises(InvalidEvent, match="statusCode 400"):
        WorkflowEvent(envelope)


def test_with_image_stores_base64_text():
    # GIVEN the execution input WHEN an image is added
    event = WorkflowEvent({"s3_bucket": "b", "s3_key": "k.png"}).with_image(b"\x89PNG\x00\xff")
    out = event.to_dict()
    # THEN it is ASCII base64 that plain json.dumps accepts (b64encode returns bytes)
    assert isinstance(out["image_data"], str)
    assert base64.b64decode(out["image_data"]) == b"\x89PNG\x00\xff"
    assert json.loads(json.dumps(out)) == out


def test_inferences_as_a_json_string_are_read_as_a_list():
    event = WorkflowEvent({"s3_bucket": "b", "s3_key": "k", "inferences": "[0.25, 0.75]"})
    assert event.inferences == [0.25, 0.75]
    assert (event.label, event.confidence) == ("motorcycle", 0.75)


@pytest.mark.parametrize("bad", [[True, 0.5], ["0.9"], [float("nan")], {"p": 1}])
def test_inferences_must_be_numbers(bad):
    with pytest.raises(InvalidEvent, match="inferences"):
        _ = WorkflowEvent({"s3_bucket": "b", "s3_key": "k", "inferences": bad}).inferences


@pytest.mark.parametrize("missing", ["s3_bucket", "s3_key"])
def test_missing_location_names_the_field(load_event, missing):
    data = load_event("execution_input")
    del data[missing]
    with pytest.raises(InvalidEvent, match=missing):
        getattr(WorkflowEvent(data), missing)


def test_view_is_read_only(load_event):
    data = load_event("classify_input")
    event = WorkflowEvent(data)
    with pytest.raises(AttributeError):
        event.s3_key = "other"  # type: ignore[misc]
    # AND changes made through with_* leave the original untouched
    event.with_inferences([0.1, 0.9])
    assert event.inferences == [] and data["inferences"] == []


def test_extra_keys_pass_through(load_event):
    data = {**load_event("execution_input"), "request_tag": {"team": "scones"}}
    assert WorkflowEvent(data).to_dict()["request_tag"] == {"team": "scones"}


def test_bad_base64_is_reported_with_the_image(load_event):
    data = {**load_event("classify_input"), "image_data": "not base64!"}
    with pytest.raises(InvalidEvent, match="s3://scones-unlimited-local/test/bicycle"):
        _ = WorkflowEvent(data).image_bytes

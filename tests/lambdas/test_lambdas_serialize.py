"""serialize_image_data: S3 object -> base64 image_data (S3 is moto, in process)."""

from __future__ import annotations

import base64
import json

import pytest
from shared.errors import ImageNotFound, InvalidEvent

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.mark.parametrize("name", ["execution_input", "execution_input_starter"])
def test_serializes_the_object_as_base64_text(
    s3, serialize_module, load_event, lambda_context, monkeypatch, name
):
    # GIVEN the image in S3 and an execution input (plain, or the starter's with empty fields)
    event = load_event(name)
    s3.put_object(Bucket=event["s3_bucket"], Key=event["s3_key"], Body=PNG)
    monkeypatch.setattr(serialize_module, "s3", s3)
    # WHEN the handler runs
    response = serialize_module.handler(event, lambda_context)
    # THEN the body carries the image as base64 text and an empty inference list
    assert response["statusCode"] == 200
    body = response["body"]
    assert base64.b64decode(body["image_data"]) == PNG
    assert (body["s3_bucket"], body["s3_key"]) == (event["s3_bucket"], event["s3_key"])
    assert body["inferences"] == []
    assert json.loads(json.dumps(response)) == response  # objects only, JSON-safe


def test_missing_key_names_bucket_and_key(
    s3, serialize_module, load_event, lambda_context, monkeypatch
):
    # GIVEN an execution input naming an object that does not exist
    monkeypatch.setattr(serialize_module, "s3", s3)
    event = load_event("execution_input_missing_key")
    # WHEN the handler runs THEN a named error says which object was missing
    with pytest.raises(ImageNotFound) as caught:
        serialize_module.handler(event, lambda_context)
    assert str(caught.value).startswith(
        "s3://scones-unlimited-local/test/no_such_image.png could not be read: NoSuchKey"
    )
    assert type(caught.value).__name__ == "ImageNotFound"  # the Step Functions Error


def test_missing_bucket_is_reported_too(s3, serialize_module, lambda_context, monkeypatch):
    monkeypatch.setattr(serialize_module, "s3", s3)
    with pytest.raises(ImageNotFound, match="s3://no-such-bucket/a.png .*NoSuchBucket"):
        serialize_module.handler({"s3_bucket": "no-such-bucket", "s3_key": "a.png"}, lambda_context)


def test_event_without_key_is_refused_before_s3(serialize_module, lambda_context):
    # No S3 fixture: the handler must fail on the event before any call
    with pytest.raises(InvalidEvent, match="s3_key"):
        serialize_module.handler({"s3_bucket": "scones-unlimited-local"}, lambda_context)


def test_logs_one_json_line_with_the_request_id(
    s3, serialize_module, load_event, lambda_context, monkeypatch, capsys
):
    event = load_event("execution_input")
    s3.put_object(Bucket=event["s3_bucket"], Key=event["s3_key"], Body=PNG)
    monkeypatch.setattr(serialize_module, "s3", s3)
    serialize_module.handler(event, lambda_context)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1
    assert lines[0]["request_id"] == lambda_context.aws_request_id
    assert lines[0]["message"] == "image serialized"
    assert lines[0]["s3_uri"] == "s3://scones-unlimited-local/test/bicycle_s_000030.png"
    assert "image_data" not in lines[0]  # never log the image

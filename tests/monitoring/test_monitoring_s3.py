"""Round trip: the model server's Data Capture writer -> S3 (moto, in-process) -> the S3 source."""

from __future__ import annotations

import json
import time
import types
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from harness.config import Settings
from harness.errors import HarnessError
from harness.model_server import capture as capture_module
from harness.model_server.capture import CaptureConfig, DataCapture
from harness.monitoring.records import pixel_hash
from harness.monitoring.sources import parse_when, read_s3

BUCKET = "scones-monitor-test"
DESTINATION = f"s3://{BUCKET}/data_capture"
ENDPOINT = "scones-image-classifier"


@pytest.fixture
def s3(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def at(hour: int, minute: int) -> datetime:
    return datetime(2024, 10, 15, hour, minute, 7, tzinfo=UTC)


def write_with_model_server(monkeypatch, s3, variant: str, items) -> None:
    """Record through the real writer, each at a chosen wall-clock time, then flush to S3."""
    settings = Settings(capture_s3_uri=DESTINATION, endpoint_name=ENDPOINT, variant_name=variant)
    writer = DataCapture(CaptureConfig.from_settings(settings), s3_client=s3)
    for when, image, probabilities, inference_id in items:
        clock = types.SimpleNamespace(
            time=lambda w=when: w.timestamp(), strftime=time.strftime, gmtime=time.gmtime
        )
        monkeypatch.setattr(capture_module, "time", clock)
        writer.record(
            image,
            "image/png",
            json.dumps(probabilities).encode(),
            "application/json",
            inference_id=inference_id,
        )
    assert writer.flush() == len(items)


def test_round_trip_by_variant_and_time_range(monkeypatch, s3, test_images):
    images = [p.read_bytes() for p, _ in test_images[:6]]
    main = [  # AllTraffic: five records over four hours
        (at(10, 5), images[0], [0.97, 0.03], "a"),
        (at(10, 40), images[1], [0.2, 0.8], "b"),
        (at(11, 10), images[2], [0.6, 0.4], "c"),
        (at(12, 30), images[3], [0.01, 0.99], "d"),
        (at(13, 59), images[4], [0.9, 0.1], "e"),
    ]
    write_with_model_server(monkeypatch, s3, "AllTraffic", main)
    write_with_model_server(monkeypatch, s3, "Canary", [(at(11, 15), images[5], [0.5, 0.5], "f")])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert any(
        k.startswith(f"data_capture/{ENDPOINT}/AllTraffic/2024/10/15/10/05-07-") for k in keys
    )
    # not capture files: outside the layout, and a broken file inside it
    s3.put_object(Bucket=BUCKET, Key=f"data_capture/{ENDPOINT}/README.txt", Body=b"hello")
    broken = f"data_capture/{ENDPOINT}/AllTraffic/2024/10/15/11/59-00-000-x.jsonl"
    s3.put_object(Bucket=BUCKET, Key=broken, Body=b'{"captureData": {}}\n')

    window = read_s3(s3, DESTINATION, ENDPOINT, "AllTraffic", at(10, 30), at(12, 45))

    assert [r.inference_id for r in window.records] == ["b", "c", "d"]
    assert [r.probabilities for r in window.records] == [(0.2, 0.8), (0.6, 0.4), (0.01, 0.99)]
    with Image.open(test_images[1][0]) as img:
        assert window.records[0].pixel_hash == pixel_hash(img)
    assert window.records[0].time == at(10, 40)
    assert window.records[0].source.startswith(f"s3://{BUCKET}/data_capture/{ENDPOINT}/AllTraffic/")
    assert [(p.source, p.line) for p in window.problems] == [(f"s3://{BUCKET}/{broken}", 1)]
    assert window.files == 4  # the hours 10, 11, 12 and the broken file; not 13

    every_variant = read_s3(s3, DESTINATION, ENDPOINT, None, at(10, 30), at(12, 45))
    assert [r.inference_id for r in every_variant.records] == ["b", "c", "f", "d"]

    everything = read_s3(s3, DESTINATION, ENDPOINT, "AllTraffic")
    assert [r.inference_id for r in everything.records] == ["a", "b", "c", "d", "e"]

    assert read_s3(s3, DESTINATION, "other-endpoint").records == []


def test_missing_bucket_is_a_user_error(s3):
    with pytest.raises(HarnessError) as err:
        read_s3(s3, "s3://no-such-bucket/data_capture", ENDPOINT)
    assert "does not exist" in err.value.message and err.value.hint


def test_relative_and_iso_times():
    now = datetime(2024, 10, 15, 14, 0, tzinfo=UTC)
    assert parse_when("90m", now) == datetime(2024, 10, 15, 12, 30, tzinfo=UTC)
    assert parse_when("2d", now) == datetime(2024, 10, 13, 14, 0, tzinfo=UTC)
    assert parse_when("2024-10-15T14:05:12Z") == datetime(2024, 10, 15, 14, 5, 12, tzinfo=UTC)
    assert parse_when("2024-10-15") == datetime(2024, 10, 15, tzinfo=UTC)
    assert parse_when(None) is None
    with pytest.raises(HarnessError):
        parse_when("yesterday")

"""Data Capture (issue 2, point 4): records in SageMaker's format and key layout, written to
moto's S3 server through the S3 API, off the request path; exactly one record per sampled request.
In-process only (the tests start their own servers with capture settings).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.config import REPO_ROOT
from harness.errors import HarnessError
from harness.model_server import start_model_server
from harness.model_server.capture import CaptureConfig, CapturedInvocation, capture_line
from tests.model_server.ms_helpers import ENDPOINT, EXTERNAL_URL, local_settings, runtime_client
from tests.support.images import png

pytestmark = pytest.mark.skipif(bool(EXTERNAL_URL), reason="starts its own in-process servers")

KEY = re.compile(
    r"^data_capture/(?P<endpoint>[^/]+)/(?P<variant>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/"
    r"(?P<mm>\d{2})-(?P<ss>\d{2})-(?P<ms>\d{3})-[0-9a-f-]{36}\.jsonl$"
)
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def capture_settings(moto_s3: str, bucket: str, **changes):
    values = {
        "capture_enabled": True,
        "capture_s3_uri": f"s3://{bucket}/data_capture",
        "capture_s3_endpoint_url": moto_s3,
        "capture_flush_seconds": 0.2,
    }
    return local_settings(**{**values, **changes})


def read_files(s3, bucket: str) -> dict[str, list[dict]]:
    """Every capture file: key -> its records in order."""
    files = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            text = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            assert text.endswith("\n")  # JSON Lines: one record a line
            files[obj["Key"]] = [json.loads(line) for line in text.splitlines()]
    return files


def read_capture(s3, bucket: str) -> tuple[list[str], list[dict]]:
    files = read_files(s3, bucket)
    return list(files), [record for records in files.values() for record in records]


def invoke(client, body: bytes, **kwargs) -> bytes:
    resp = client.invoke_endpoint(
        EndpointName=ENDPOINT, Body=body, ContentType="image/png", **kwargs
    )
    return resp["Body"].read()


def test_burst_then_shutdown_gives_exactly_one_record_per_request(
    tiny_model_dir, moto_s3, s3, capture_bucket
):
    handle = start_model_server(
        capture_settings(moto_s3, capture_bucket, capture_flush_seconds=60), tiny_model_dir
    )
    client = runtime_client(handle.url)
    bodies = [png((i, 255 - i, 7)) for i in range(120)]

    def call(i: int) -> tuple[bytes, bytes]:
        extra = {"InferenceId": f"inf-{i}", "CustomAttributes": f"n={i}"} if i % 2 else {}
        return bodies[i], invoke(client, bodies[i], **extra)

    with ThreadPoolExecutor(max_workers=16) as pool:
        sent = list(pool.map(call, range(len(bodies))))
    handle.stop()  # right after the burst, long before the 60 s interval: stop() must flush

    keys, records = read_capture(s3, capture_bucket)
    assert len(records) == len(bodies)
    for key in keys:
        m = KEY.match(key)
        assert m, key
        assert (m["endpoint"], m["variant"]) == (ENDPOINT, "AllTraffic")
    by_input = {r["captureData"]["endpointInput"]["data"]: r for r in records}
    assert len(by_input) == len(bodies)  # no duplicates
    for i, (body, answer) in enumerate(sent):
        record = by_input[base64.b64encode(body).decode()]
        assert record["eventVersion"] == "0"
        assert record["captureData"]["endpointInput"] == {
            "observedContentType": "image/png",
            "mode": "INPUT",
            "data": base64.b64encode(body).decode(),
            "encoding": "BASE64",
        }
        assert record["captureData"]["endpointOutput"] == {
            "observedContentType": "application/json",
            "mode": "OUTPUT",
            "data": answer.decode(),
            "encoding": "JSON",
        }
        meta = record["eventMetadata"]
        assert TIME.match(meta["inferenceTime"]) and len(meta["eventId"]) == 36
        if i % 2:
            assert (meta["inferenceId"], meta["customAttributes"]) == (f"inf-{i}", f"n={i}")
        else:
            assert "inferenceId" not in meta and "customAttributes" not in meta


def test_records_are_flushed_on_the_interval_while_serving(
    tiny_model_dir, moto_s3, s3, capture_bucket
):
    with start_model_server(capture_settings(moto_s3, capture_bucket), tiny_model_dir) as handle:
        client = runtime_client(handle.url)
        for _ in range(5):
            invoke(client, png())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(read_capture(s3, capture_bucket)[1]) < 5:
            time.sleep(0.1)
        files = read_files(s3, capture_bucket)
        assert sum(len(records) for records in files.values()) == 5
        # each file sits in the hour folder of its first record and is named after its time
        for key, records in files.items():
            m = KEY.match(key)
            assert m, key
            named = f"{m['y']}-{m['m']}-{m['d']}T{m['h']}:{m['mm']}:{m['ss']}Z"
            assert named == records[0]["eventMetadata"]["inferenceTime"]


def test_the_container_path_is_not_captured(tiny_model_dir, moto_s3, s3, capture_bucket):
    """On AWS SageMaker's front end captures; /invocations is the container, which never does."""
    import http.client
    from urllib.parse import urlsplit

    handle = start_model_server(capture_settings(moto_s3, capture_bucket), tiny_model_dir)
    parts = urlsplit(handle.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    conn.request("POST", "/invocations", body=png(), headers={"Content-Type": "image/png"})
    assert conn.getresponse().status == 200
    conn.close()
    invoke(runtime_client(handle.url), png())
    handle.stop()
    assert len(read_capture(s3, capture_bucket)[1]) == 1


@pytest.mark.parametrize(("percentage", "low", "high"), [(0, 0, 0), (50, 60, 140), (100, 200, 200)])
def test_sampling_percentage(tiny_model_dir, moto_s3, s3, capture_bucket, percentage, low, high):
    settings = capture_settings(moto_s3, capture_bucket, capture_sampling_percentage=percentage)
    handle = start_model_server(settings, tiny_model_dir)
    client = runtime_client(handle.url)
    body = png()
    for _ in range(200):
        invoke(client, body)
    handle.stop()
    assert low <= len(read_capture(s3, capture_bucket)[1]) <= high


def test_capture_options_input_only(tiny_model_dir, moto_s3, s3, capture_bucket):
    handle = start_model_server(
        capture_settings(moto_s3, capture_bucket, capture_options="Input"), tiny_model_dir
    )
    invoke(runtime_client(handle.url), png())
    handle.stop()
    (record,) = read_capture(s3, capture_bucket)[1]
    assert list(record["captureData"]) == ["endpointInput"]


def test_upload_failure_is_logged_and_retried_without_loss(tiny_model_dir, moto_s3, s3, caplog):
    bucket = "capture-created-later"
    handle = start_model_server(capture_settings(moto_s3, bucket), tiny_model_dir)
    client = runtime_client(handle.url)
    with caplog.at_level(logging.ERROR, logger="harness.model_server.capture"):
        for _ in range(7):
            invoke(client, png())
        # the flusher counts the failure, then logs it: wait for both
        logged = lambda: any(
            f"s3://{bucket}/data_capture/" in r.getMessage()
            and "kept for the next flush" in r.getMessage()
            for r in caplog.records
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (handle.capture.upload_failures and logged()):
            time.sleep(0.05)
    assert handle.capture.upload_failures >= 1
    assert logged()
    s3.create_bucket(Bucket=bucket)
    handle.stop()
    assert len(read_capture(s3, bucket)[1]) == 7
    assert handle.capture.records_dropped == 0


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        ({"capture_options": "Everything"}, "Input,Output"),
        ({"capture_sampling_percentage": 101}, "0 to 100"),
        ({"capture_s3_uri": "bucket/prefix"}, "s3://"),
    ],
)
def test_bad_capture_settings_are_user_errors(changes, hint):
    with pytest.raises(HarnessError) as caught:
        CaptureConfig.from_settings(local_settings(capture_enabled=True, **changes))
    assert hint in str(caught.value)


# Real lines kept in the repository, so that the byte-for-byte check runs on any clone.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datacapture"
# The full set of real captures (docs/contracts.md section 4), on machines that have it.
SAMPLES = REPO_ROOT.parent / "shared" / "data" / "datacapture-samples"


def real_lines(folder: Path) -> list[str]:
    return [
        line
        for path in sorted(folder.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def assert_rebuilt_byte_for_byte(lines: list[str]) -> None:
    assert lines
    for line in lines:
        real = json.loads(line)
        inp, out = real["captureData"]["endpointInput"], real["captureData"]["endpointOutput"]
        meta = real["eventMetadata"]
        item = CapturedInvocation(
            0.0,
            base64.b64decode(inp["data"]),
            inp["observedContentType"],
            out["data"].encode(),
            out["observedContentType"],
            None,
            None,
        )
        assert capture_line(item, meta["eventId"], meta["inferenceTime"]) == line.strip()


def test_records_are_byte_for_byte_what_sagemaker_writes():
    """Rebuild each real captured record from its own inputs: the text must be identical."""
    lines = real_lines(FIXTURES)
    assert len(lines) == 3  # tests/fixtures/datacapture/README.md
    assert_rebuilt_byte_for_byte(lines)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no shared Data Capture samples at {SAMPLES}")
def test_every_shared_sample_is_byte_for_byte_what_sagemaker_writes():
    assert_rebuilt_byte_for_byte(real_lines(SAMPLES))

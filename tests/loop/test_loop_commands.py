"""`harness run | invoke | logs` as a user types them, against an embedded stack of their own
(free ports, own state folder), each command in a fresh `python -m harness` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from harness import clients
from harness.dataset import listed_images
from harness.loop import logs as loglib
from harness.loop.run import UPLOAD_PREFIX, read_image
from tests.support.stacks import embedded_stack


@pytest.fixture(scope="module")
def local(tmp_path_factory, settings, data_dir):
    with embedded_stack(settings, tmp_path_factory.mktemp("loop"), data_dir) as (local, _):
        yield local


def harness(local, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, **local.as_environ(), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def confidence_of(local, path) -> float:
    """What the endpoint answers for the bytes `run` uploads for this file."""
    body, content_type, _ = read_image(path)
    runtime = clients.client(local, "sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=local.endpoint_name, ContentType=content_type, Body=body
    )
    return max(json.loads(answer["Body"].read()))


def test_run_uploads_any_image_format_and_exits_by_the_outcome(local, data_dir, tmp_path):
    source = listed_images(data_dir)[0].path
    gif = tmp_path / "my bike.gif"
    Image.open(source).save(gif)  # GIF: the endpoint takes PNG/JPEG, so run converts it
    result = harness(local, "run", str(gif))
    passes = confidence_of(local, gif) >= local.threshold
    assert result.returncode == (0 if passes else 1), result.stdout + result.stderr
    assert (
        f"s3://{local.bucket}/{UPLOAD_PREFIX}/" in result.stdout and "/my bike.png" in result.stdout
    )
    assert ("SUCCEEDED" if passes else "THRESHOLD_CONFIDENCE_NOT_MET") in result.stdout
    graph = next(
        line.split(":", 1)[1].strip()
        for line in result.stdout.splitlines()
        if line.startswith("graph:")
    )
    assert graph.endswith(".svg") and os.path.isfile(graph)


def test_run_refuses_a_non_image_before_uploading(local, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    result = harness(local, "run", str(fake))
    assert result.returncode == 1
    assert "is not an image" in result.stderr and "PNG, JPEG" in result.stderr
    s3 = clients.client(local, "s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=local.bucket, Prefix=UPLOAD_PREFIX).get("Contents", [])
    ]
    assert not any(k.endswith("notes.png") for k in keys)


def test_run_names_a_missing_file_and_a_missing_object(local, tmp_path):
    missing = harness(local, "run", str(tmp_path / "nope.png"))
    assert missing.returncode == 1 and "No such file" in missing.stderr
    absent = harness(local, "run", f"s3://{local.bucket}/test/no-such-image.png")
    assert absent.returncode == 1 and "cannot be read" in absent.stderr


def test_invoke_prints_the_function_error_and_its_log_tail(local):
    event = json.dumps(
        {"image_data": "", "s3_bucket": local.bucket, "s3_key": "x.png", "inferences": [0.6, 0.4]}
    )
    result = harness(local, "invoke", "filter-inferences", "--event", "-", stdin=event)
    assert result.returncode == 1
    assert '"errorType": "THRESHOLD_CONFIDENCE_NOT_MET"' in result.stdout
    assert "function error (Unhandled)" in result.stdout
    assert "START RequestId:" in result.stdout and "END RequestId:" in result.stdout


def test_invoke_defaults_to_the_workflows_input(local, data_dir):
    result = harness(local, "invoke", "serialize_image_data")
    assert result.returncode == 0, result.stderr
    assert listed_images(data_dir)[0].key in result.stdout and '"image_data"' in result.stdout


def test_unknown_function_and_bad_event_file_are_named(local, tmp_path):
    unknown = harness(local, "invoke", "nope")
    assert unknown.returncode == 1 and "classify_image" in unknown.stderr
    bad = tmp_path / "event.json"
    bad.write_text("{not json")
    broken = harness(local, "invoke", "classify_image", "--event", str(bad))
    assert broken.returncode == 1 and "is not JSON" in broken.stderr


def test_logs_of_a_function_after_it_ran(local):
    assert harness(local, "invoke", "serialize_image_data").returncode == 0
    result = harness(local, "logs", "serialize_image_data", "--since", "5m")
    assert result.returncode == 0, result.stderr
    assert "image serialized" in result.stdout and "REPORT RequestId:" in result.stdout
    assert harness(local, "logs", "serialize_image_data", "--since", "soon").returncode == 1


def test_logs_of_the_endpoint_are_the_model_servers(local):
    result = harness(local, "logs", "endpoint", "--since", "1h")
    assert result.returncode == 0, result.stderr
    assert "model server ready" in result.stdout


def test_follow_picks_up_new_events(local):
    group = loglib.log_group(local, "filter_inferences")
    assert (
        harness(
            local,
            "invoke",
            "filter_inferences",
            "--event",
            "-",
            stdin=json.dumps({"image_data": "", "inferences": [0.99, 0.01]}),
        ).returncode
        == 0
    )
    polls = iter([False, True])  # one extra poll after the first read, then stop
    lines = list(loglib.read_cloudwatch(local, group, 300, follow=True, stop=lambda: next(polls)))
    assert any("START RequestId" in line.message for line in lines)
    assert len({(line.source, line.message) for line in lines}) == len(lines), "no event twice"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1.5m", 90)]
)
def test_since_durations(text, seconds):
    assert loglib.parse_since(text) == seconds

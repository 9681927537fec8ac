"""Loading, readiness and shutdown (issue 2, points 1 and 3): the artifact format, /ping before the
model is loaded, the `serve` entry point under SIGTERM, `harness serve` errors. In-process only.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.config import REPO_ROOT
from harness.errors import HarnessError
from harness.model_server import start_model_server
from harness.model_server.app import ModelHTTPServer, ModelServerApp
from harness.model_server.artifact import read_metadata, unpack_artifact
from harness.model_server.inference import model_fn, transform
from tests.model_server.ms_helpers import ENDPOINT, EXTERNAL_URL, local_settings, runtime_client
from tests.support.images import png
from tests.support.python_script import run_python
from tests.support.tiny_model import (
    build_tiny_artifact,
    build_tiny_model_dir,
    expected_probabilities,
    tiny_metadata,
)

pytestmark = pytest.mark.skipif(bool(EXTERNAL_URL), reason="starts its own in-process servers")
SERVE = REPO_ROOT / "harness" / "model_server" / "serve"


def get(url: str, path: str) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_ping_is_503_until_the_model_is_loaded_and_invocations_say_not_ready(tiny_model_dir):
    app = ModelServerApp(local_settings())
    server = ModelHTTPServer(("127.0.0.1", 0), app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert get(url, "/ping") == 503
        client = runtime_client(url)
        with pytest.raises(client.exceptions.ModelNotReadyException):
            client.invoke_endpoint(EndpointName=ENDPOINT, Body=png(), ContentType="image/png")
        app.model = model_fn(tiny_model_dir)
        assert get(url, "/ping") == 200
    finally:
        server.shutdown()
        server.server_close()


def test_logits_models_are_answered_as_probabilities(tmp_path):
    model = model_fn(build_tiny_model_dir(tmp_path / "logits", kind="logits"))
    body, content_type = transform(png((30, 200, 90)), "image/png", None, model)
    assert content_type == "application/json"
    assert json.loads(body) == pytest.approx(expected_probabilities((30, 200, 90)), abs=1e-5)


def test_served_from_a_model_tar_gz(tiny_artifact):
    with start_model_server(local_settings(), model_artifact=tiny_artifact) as handle:
        unpacked = handle.model_dir
        assert (unpacked / "model.onnx").is_file()
        resp = runtime_client(handle.url).invoke_endpoint(
            EndpointName=ENDPOINT, Body=png(), ContentType="image/png"
        )
        assert json.loads(resp["Body"].read()) == pytest.approx(
            expected_probabilities((200, 30, 30)), abs=1e-5
        )
    assert not unpacked.exists()  # the temporary folder goes with the server


def test_unpacking_refuses_path_traversal(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(HarnessError) as caught:
        unpack_artifact(evil, tmp_path / "model")
    assert "model.onnx" in caught.value.hint
    assert not (tmp_path / "outside.txt").exists()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m.pop("labels"), "labels"),
        (lambda m: m["output"].update(kind="scores"), "output.kind"),
        (lambda m: m["normalization"].update(std=[0.2, 0.0, 0.2]), "positive stds"),
        (lambda m: m["input"].update(layout="NHWC"), "NCHW"),
    ],
)
def test_bad_metadata_is_a_harness_error_pointing_at_the_format(tmp_path, change, problem):
    meta = tiny_metadata()
    change(meta)
    model_dir = build_tiny_model_dir(tmp_path / "model", metadata=meta)
    with pytest.raises(HarnessError) as caught:
        read_metadata(model_dir)
    assert problem in str(caught.value) and "docs/model-artifact.md" in caught.value.hint


def test_metadata_names_must_match_the_graph(tmp_path):
    meta = tiny_metadata()
    meta["input"]["name"] = "pixels"
    with pytest.raises(HarnessError, match="pixels"):
        model_fn(build_tiny_model_dir(tmp_path / "model", metadata=meta))


def test_missing_model_is_a_harness_error(tmp_path):
    settings = local_settings(model_dir=tmp_path / "empty", model_artifact=tmp_path / "none.tar.gz")
    with pytest.raises(HarnessError) as caught:
        start_model_server(settings)
    assert "make train" in caught.value.hint


def test_serve_entry_point_stops_cleanly_on_sigterm_and_flushes_capture(
    tmp_path, moto_s3, s3, capture_bucket
):
    """What `docker run IMAGE serve` then `docker stop` does: SIGTERM right after a burst."""
    model_dir = build_tiny_model_dir(tmp_path / "model")
    env = {
        **os.environ,
        "SAGEMAKER_MODEL_DIR": str(model_dir),
        "MODEL_SERVER_HOST": "127.0.0.1",
        "MODEL_SERVER_PORT": "0",
        "CAPTURE_DESTINATION_S3_URI": f"s3://{capture_bucket}/data_capture",
        "CAPTURE_S3_ENDPOINT_URL": moto_s3,
        "CAPTURE_FLUSH_SECONDS": "60",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "PYTHONPATH": str(REPO_ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, str(SERVE), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline()  # blocks until the one ready line (or EOF on failure)
        assert "model server ready on http://127.0.0.1:" in ready, proc.stderr.read()
        url = ready.split(" on ", 1)[1].split()[0]
        client = runtime_client(url)
        for _ in range(25):
            client.invoke_endpoint(EndpointName=ENDPOINT, Body=png(), ContentType="image/png")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    objects = s3.list_objects_v2(Bucket=capture_bucket).get("Contents", [])
    lines = sum(
        len(s3.get_object(Bucket=capture_bucket, Key=o["Key"])["Body"].read().splitlines())
        for o in objects
    )
    assert lines == 25


def test_serve_entry_point_refuses_other_commands():
    proc = subprocess.run(
        [sys.executable, str(SERVE), "train"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "only serves" in proc.stderr


def test_harness_serve_without_a_model_says_what_to_do(tmp_path):
    env = {
        **os.environ,
        "SAGEMAKER_MODEL_DIR": str(tmp_path / "none"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "serve",
            "--model-artifact",
            str(tmp_path / "missing.tar.gz"),
            "--port",
            "0",
            "--no-capture",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 1
    assert "missing.tar.gz does not exist" in proc.stderr and "make train" in proc.stderr


def test_tiny_artifact_is_a_valid_model_tar_gz(tmp_path):
    archive = build_tiny_artifact(tmp_path)
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "model.onnx"]
    meta = read_metadata(unpack_artifact(archive, tmp_path / "unpacked"))
    assert meta.labels == ("bicycle", "motorcycle") and (meta.height, meta.width) == (32, 32)


def test_default_host_and_port_are_the_contract():
    from harness.config import Settings

    settings = Settings.from_env({})
    assert (settings.model_server_host, settings.model_server_port) == ("127.0.0.1", 8080)
    assert settings.endpoint_name == "scones-image-classifier"
    assert settings.model_dir == Path("/opt/ml/model")


def test_the_server_imports_only_core_packages():
    """The container installs the core package only: no click, rich, moto or onnx at serving time."""
    code = (
        "import sys, harness.model_server.__main__, harness.model_server.server\n"
        "extra = {'click', 'rich', 'moto', 'onnx', 'matplotlib', 'docker', 'torch'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & extra))"
    )
    proc = run_python(code, timeout=60)
    assert proc.stdout.strip() == "[]"

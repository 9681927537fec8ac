"""The embedded stack's warm standby (issue 15 point 2): a server handed an already listening
socket (`--listen-fd`) that imports everything and checks the model's files first, and builds
the model's session, serves and starts Data Capture only when its turn comes. In-process; the
real hand-over under `kill -9` is tests/stack."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest

from harness.errors import HarnessError
from harness.model_server import server, start_model_server
from harness.model_server.inference import model_fn
from harness.stack.readiness import http_ok
from tests.model_server.ms_helpers import ENDPOINT, EXTERNAL_URL, local_settings, runtime_client
from tests.support.images import png
from tests.support.tiny_model import expected_probabilities

pytestmark = pytest.mark.skipif(bool(EXTERNAL_URL), reason="starts its own in-process servers")


def test_a_standby_loads_first_and_serves_on_the_inherited_socket_only_when_told(
    tiny_model_dir, moto_s3, s3, capture_bucket, tmp_path, monkeypatch
):
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    port = listener.getsockname()[1]
    seen = {}
    settings = local_settings(
        capture_enabled=True,
        capture_s3_uri=f"s3://{capture_bucket}/data_capture",
        capture_s3_endpoint_url=moto_s3,
        capture_spool_dir=str(tmp_path / "spool"),
    )

    def turn() -> None:
        # nothing is served and Data Capture has not started: the server this one replaces
        # may still hold the spool until it has died. The session is not built yet either:
        # idle, it would only hold memory (issue 17)
        seen["spool"] = (tmp_path / "spool").exists()
        seen["answers"] = http_ok(f"http://127.0.0.1:{port}/ping", timeout=0.3)  # queued only
        seen["onnxruntime"] = "onnxruntime" in sys.modules
        seen["sessions built"] = len(built)

    built = []
    monkeypatch.setattr(server, "model_fn", lambda *a, **k: built.append(1) or model_fn(*a, **k))

    handle = start_model_server(
        settings, tiny_model_dir, listen_fd=os.dup(listener.fileno()), wait_for_turn=turn
    )
    try:
        assert seen == {"spool": False, "answers": False, "onnxruntime": True, "sessions built": 0}
        assert built == [1]
        assert handle.port == port  # the socket it was given, not one of its own
        answer = runtime_client(handle.url).invoke_endpoint(
            EndpointName=ENDPOINT, Body=png((10, 20, 30)), ContentType="image/png"
        )
        probabilities = json.loads(answer["Body"].read())
        assert probabilities == pytest.approx(expected_probabilities((10, 20, 30)), abs=1e-5)
        assert handle.capture is not None and (tmp_path / "spool").is_dir()
    finally:
        handle.stop()
        listener.close()


def test_a_standby_told_nothing_ends_without_serving(tiny_model_dir):
    listener = socket.create_server(("127.0.0.1", 0))

    def supervisor_gone() -> None:
        raise SystemExit(0)  # what wait_for_go does when its stdin ends

    with pytest.raises(SystemExit):
        start_model_server(
            local_settings(),
            tiny_model_dir,
            listen_fd=os.dup(listener.fileno()),
            wait_for_turn=supervisor_gone,
        )
    listener.close()


def test_a_standby_with_a_broken_model_folder_fails_before_its_turn(tiny_model_dir, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.onnx").write_bytes((tiny_model_dir / "model.onnx").read_bytes())
    listener = socket.create_server(("127.0.0.1", 0))
    turns = []
    with pytest.raises(HarnessError, match="metadata.json is missing"):
        start_model_server(
            local_settings(),
            broken,
            listen_fd=os.dup(listener.fileno()),
            wait_for_turn=lambda: turns.append("go"),
        )
    assert turns == []
    listener.close()

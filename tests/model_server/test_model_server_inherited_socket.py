"""A model server handed an already listening socket (`--listen-fd`: the embedded stack's
supervisor holds the port while one server replaces another, issue 15 point 2) loads its model
first and only then accepts, so callers queued in the backlog meanwhile are answered, not told
the model is loading. In-process; the real replacement under `kill -9` is tests/stack."""

from __future__ import annotations

import json
import os
import socket

import pytest

from harness.errors import HarnessError
from harness.model_server import server, start_model_server
from harness.model_server.inference import model_fn
from tests.model_server.ms_helpers import ENDPOINT, EXTERNAL_URL, local_settings, runtime_client
from tests.support.images import png
from tests.support.tiny_model import expected_probabilities

pytestmark = pytest.mark.skipif(bool(EXTERNAL_URL), reason="starts its own in-process servers")

PING = b"GET /ping HTTP/1.1\r\nHost: model\r\nConnection: close\r\n\r\n"


def queue_a_ping(port: int) -> tuple[socket.socket, bytes | None]:
    """Connect and ask /ping: the connection waits in the backlog until the server accepts;
    what came back within 0.3 s (None: nothing)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(PING)
    conn.settimeout(0.3)
    try:
        early = conn.recv(4096)
    except TimeoutError:
        early = None
    conn.settimeout(10)
    return conn, early


def test_a_caller_queued_while_the_model_loads_is_answered_once_it_has_loaded(
    tiny_model_dir, moto_s3, s3, capture_bucket, tmp_path, monkeypatch
):
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    port = listener.getsockname()[1]
    settings = local_settings(
        capture_enabled=True,
        capture_s3_uri=f"s3://{capture_bucket}/data_capture",
        capture_s3_endpoint_url=moto_s3,
        capture_spool_dir=str(tmp_path / "spool"),
    )
    queued = {}

    def load(*args, **kwargs):
        queued["conn"], queued["early"] = queue_a_ping(port)
        return model_fn(*args, **kwargs)

    monkeypatch.setattr(server, "model_fn", load)
    handle = start_model_server(settings, tiny_model_dir, listen_fd=os.dup(listener.fileno()))
    try:
        assert queued["early"] is None  # not a 503 "loading": no answer at all yet
        with queued["conn"] as conn:
            answer = conn.recv(4096)
        assert answer.split(b"\r\n", 1)[0].endswith(b" 200 OK"), answer
        assert handle.port == port  # the socket it was given, not one of its own
        reply = runtime_client(handle.url).invoke_endpoint(
            EndpointName=ENDPOINT, Body=png((10, 20, 30)), ContentType="image/png"
        )
        probabilities = json.loads(reply["Body"].read())
        assert probabilities == pytest.approx(expected_probabilities((10, 20, 30)), abs=1e-5)
        assert handle.capture is not None and (tmp_path / "spool").is_dir()
    finally:
        handle.stop()
        listener.close()


def test_a_broken_model_folder_fails_at_once_and_no_caller_is_answered(tiny_model_dir, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.onnx").write_bytes((tiny_model_dir / "model.onnx").read_bytes())
    listener = socket.create_server(("127.0.0.1", 0))
    conn, _ = queue_a_ping(listener.getsockname()[1])
    with pytest.raises(HarnessError, match="metadata.json is missing"):
        start_model_server(local_settings(), broken, listen_fd=os.dup(listener.fileno()))
    # the queued caller waits for the next server (the supervisor's), never told a thing here
    conn.settimeout(0.3)
    with pytest.raises(TimeoutError):
        conn.recv(4096)
    conn.close()
    listener.close()

"""The console's pages without a browser or a stack: what a user sees when something is off."""

from __future__ import annotations

import base64
import io
import json
import socket

import pytest
from PIL import Image

from harness.config import Settings
from harness.console.app import create_app
from harness.console.executions import THUMB_PX, thumbnail
from harness.console.server import ConsoleServer
from harness.errors import HarnessError
from harness.stack.readiness import free_port
from tests.support.images import png


def test_a_stack_that_is_not_up_says_make_local_up(settings, tmp_path):
    down = settings.replace(target="local", aws_port=free_port(), state_dir=tmp_path)
    client = create_app(down).test_client()
    for path in ("/", f"/machines/{down.state_machine_name}", "/functions", "/endpoint", "/run"):
        answer = client.get(path)
        assert answer.status_code == 503, path
        text = answer.get_data(as_text=True)
        assert "does not answer" in text and "make local-up" in text, path


def test_aws_is_read_only_unless_allowed(settings, tmp_path):
    aws = settings.replace(target="aws", state_dir=tmp_path)
    refused = create_app(aws).test_client().post("/run", data={"key": "test/x.png"})
    assert refused.status_code == 403 and "--allow-run" in refused.get_data(as_text=True)
    assert create_app(aws).jinja_env.globals["can_run"] is False
    assert create_app(aws, allow_run=True).jinja_env.globals["can_run"] is True
    assert create_app(settings.replace(target="local")).jinja_env.globals["can_run"] is True


def test_the_port_is_a_setting_and_a_busy_port_is_named(settings):
    assert Settings.from_env({"HARNESS_CONSOLE_PORT": "9123"}).console_port == 9123
    assert Settings.from_env({}).console_port == 8900
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(HarnessError, match="already in use"):
            ConsoleServer(settings, port=busy.getsockname()[1])


def test_thumbnails_replace_image_data_and_ignore_the_rest():
    data = base64.b64encode(png(size=(32, 32))).decode()
    uri = thumbnail(json.dumps({"image_data": data, "s3_key": "test/x.png"}))
    assert uri and uri.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as small:
        assert max(small.size) == THUMB_PX
    assert thumbnail(json.dumps({"image_data": ""})) is None
    assert thumbnail(json.dumps({"image_data": "bm90IGFuIGltYWdl"})) is None  # "not an image"
    assert thumbnail("not json") is None and thumbnail(None) is None

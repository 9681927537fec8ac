"""The supervisor's preload (harness/model_server/preload.py, issue 17) builds Data Capture's
S3 client before it forks the servers, and a forked server uploads through that client as
is: the client crosses the fork unused, with no connection of its own yet."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from tests.model_server.ms_helpers import EXTERNAL_URL
from tests.support.python_script import run_python

pytestmark = pytest.mark.skipif(bool(EXTERNAL_URL), reason="forks servers of its own")

# as the supervisor: prebuild, then fork; the child starts Data Capture, records one
# invocation, flushes on stop and says which client it used
SUPERVISOR = textwrap.dedent(
    """
    import json, os, sys
    from harness.config import Settings
    from harness.model_server import capture
    from harness.model_server.server import build_capture
    capture.prebuild_s3_client()
    prebuilt = list(capture._prebuilt.values())
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            data_capture = build_capture(Settings.from_env())
            data_capture.record(b"img", "image/png", b"[0.9, 0.1]", "application/json", "fork-1")
            data_capture.stop()
            print(json.dumps({"used_prebuilt": [data_capture._s3] == prebuilt}), flush=True)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def test_a_forked_server_uploads_through_the_client_built_before_the_fork(
    moto_s3, s3, capture_bucket, tmp_path
):
    env = {
        **os.environ,
        "CAPTURE_ENABLED": "true",
        "CAPTURE_DESTINATION_S3_URI": f"s3://{capture_bucket}/dc",
        "CAPTURE_S3_ENDPOINT_URL": moto_s3,
        "CAPTURE_SPOOL_DIR": str(tmp_path / "spool"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    done = run_python(SUPERVISOR, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"used_prebuilt": True}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=capture_bucket).get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith("dc/")
    body = s3.get_object(Bucket=capture_bucket, Key=keys[0])["Body"].read().decode()
    assert json.loads(body)["eventMetadata"]["inferenceId"] == "fork-1"


def test_with_capture_off_the_preload_builds_no_client():
    script = (
        "from harness.model_server import capture\n"
        "capture.prebuild_s3_client()\n"
        "print(len(capture._prebuilt))\n"
    )
    done = run_python(script, env={**os.environ, "CAPTURE_ENABLED": "false"}, timeout=60)
    assert done.stdout.strip() == "0"

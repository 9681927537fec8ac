"""The model server's contract, with boto3's sagemaker-runtime as the client (issue 2, points 1, 2, 6).

Runs against an in-process server with the tiny model (tests/support/tiny_model.py), or against
an external one: set MODEL_SERVER_TEST_URL=http://127.0.0.1:8080 to test e.g. the container
started with the tiny model mounted at /opt/ml/model (the Docker CI stage does this;
`python tests/support/tiny_model.py DIR` writes DIR/model to mount, and DIR/model.tar.gz):

    MODEL_SERVER_TEST_URL=http://127.0.0.1:8080 .venv/bin/python -m pytest tests/model_server -k contract
"""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.model_server.ms_helpers import ENDPOINT, runtime_client
from tests.support.images import png
from tests.support.tiny_model import expected_probabilities

RED, BLUE = (200, 30, 30), (20, 40, 220)
# The server filters Pillow's warning process-wide (its own, stricter limit answers 413 first);
# pytest resets warning filters per test, so say it again here.
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def post(
    url: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """A raw HTTP POST, for the container contract (what SageMaker itself sends)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def invoke(runtime, body: bytes, content_type: str = "image/png", **kwargs) -> dict:
    return runtime.invoke_endpoint(
        EndpointName=ENDPOINT, Body=body, ContentType=content_type, **kwargs
    )


def assert_answer(raw: bytes, rgb, places: int = 4) -> list[float]:
    probs = json.loads(raw)
    assert len(probs) == 2 and sum(probs) == pytest.approx(1.0, abs=1e-6)
    assert probs == pytest.approx(expected_probabilities(rgb), abs=10**-places)
    return probs


# --- point 1: the container contract ---


def test_ping_answers_200_once_the_model_is_loaded(model_server):
    parts = urlsplit(model_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", "/ping")
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read()
    conn.close()


@pytest.mark.parametrize(
    "content_type", ["image/png", "application/x-image", "image/png; charset=binary"]
)
def test_invocations_answers_probabilities_in_label_order(model_server, content_type):
    status, headers, body = post(
        model_server.url, "/invocations", png(RED), {"Content-Type": content_type}
    )
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    probs = assert_answer(body, RED)
    assert probs[1] > probs[0]  # red is the tiny model's "motorcycle"


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
@pytest.mark.parametrize("size", [(32, 32), (7, 5), (640, 480)])
def test_any_mode_and_size_is_converted_to_the_model_input(model_server, mode, size):
    rgb = (90, 90, 90) if mode == "L" else BLUE
    status, _, body = post(
        model_server.url, "/invocations", png(rgb, size, mode), {"Content-Type": "image/png"}
    )
    assert status == 200, body
    probs = assert_answer(body, rgb, places=2)  # palette quantisation moves colours a little
    if mode != "L":
        assert probs[0] > probs[1]  # blue is the tiny model's "bicycle"


def test_jpeg_is_accepted(runtime):
    resp = invoke(runtime, png(BLUE, fmt="JPEG"), "image/jpeg")
    assert_answer(resp["Body"].read(), BLUE, places=2)


def test_custom_attributes_are_echoed_on_the_container_path(model_server):
    _, headers, _ = post(
        model_server.url,
        "/invocations",
        png(),
        {"Content-Type": "image/png", "X-Amzn-SageMaker-Custom-Attributes": "trace=42"},
    )
    assert headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=42"
    _, headers, _ = post(model_server.url, "/invocations", png(), {"Content-Type": "image/png"})
    assert "X-Amzn-SageMaker-Custom-Attributes" not in headers


@pytest.mark.parametrize(
    ("body", "content_type", "status", "hint"),
    [
        (b"", "image/png", 400, "empty"),
        (b"hello, I am text", "text/plain", 415, "image/png"),
        (b"not an image at all", "image/png", 400, "PNG or JPEG"),
    ],
)
def test_container_errors_carry_their_status_and_say_what_to_send(
    model_server, body, content_type, status, hint
):
    code, _, message = post(model_server.url, "/invocations", body, {"Content-Type": content_type})
    assert code == status
    assert hint in message.decode()


# --- point 2: InvokeEndpoint as boto3 sees it ---


def test_invoke_endpoint_returns_what_aws_returns(runtime):
    resp = invoke(runtime, png(RED), CustomAttributes="c=1", InferenceId="req-1")
    assert resp["ContentType"] == "application/json"
    assert resp["InvokedProductionVariant"] == "AllTraffic"
    assert resp["CustomAttributes"] == "c=1"
    assert_answer(resp["Body"].read(), RED)


def test_no_custom_attributes_unless_sent(runtime):
    assert "CustomAttributes" not in invoke(runtime, png())


def test_client_configured_only_through_the_environment(model_server, monkeypatch):
    """A Lambda's code is unchanged: only AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points it here."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", model_server.url)
    client = runtime_client(url=None)
    assert client.meta.endpoint_url == model_server.url
    assert_answer(invoke(client, png(BLUE))["Body"].read(), BLUE)


def test_unsupported_content_type_is_a_model_error_415(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime, b"a plain text body", "text/plain")
    err = caught.value.response
    assert err["Error"]["Code"] == "ModelError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert err["OriginalStatusCode"] == 415
    assert "image/png" in err["OriginalMessage"] and "text/plain" in err["OriginalMessage"]
    assert err["Error"]["Message"].startswith("Received client error (415) from primary")
    assert err["LogStreamArn"].startswith("arn:aws:logs:")


@pytest.mark.parametrize(
    ("make_body", "original_status", "hint"),
    [
        (lambda: b"", 400, "empty"),
        (lambda: png()[:60], 400, "complete bytes"),
        (lambda: b"just some text, no image", 400, "PNG or JPEG"),
    ],
    ids=["empty", "truncated-png", "plain-text"],
)
def test_undecodable_bodies_are_model_errors(runtime, make_body, original_status, hint):
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime, make_body())
    err = caught.value.response
    assert err["OriginalStatusCode"] == original_status
    assert hint in err["OriginalMessage"]


def test_decompression_bomb_is_refused_before_decoding(runtime, huge_png):
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime, huge_png)
    err = caught.value.response
    assert err["OriginalStatusCode"] == 413
    assert "10000x10000" in err["OriginalMessage"] and "Resize" in err["OriginalMessage"]


def test_body_over_6_mb_is_a_validation_error(runtime):
    with pytest.raises(runtime.exceptions.ValidationError) as caught:
        invoke(runtime, b"\x89PNG" + b"\0" * (7 * 1024 * 1024))
    err = caught.value.response
    assert err["Error"]["Code"] == "ValidationError"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "6,291,456" in err["Error"]["Message"]


def test_unknown_endpoint_is_a_validation_error_naming_the_right_one(runtime):
    with pytest.raises(runtime.exceptions.ValidationError) as caught:
        runtime.invoke_endpoint(
            EndpointName="no-such-endpoint", Body=png(), ContentType="image/png"
        )
    message = caught.value.response["Error"]["Message"]
    assert "no-such-endpoint" in message and ENDPOINT in message


def test_unknown_target_variant_is_a_validation_error(runtime):
    with pytest.raises(runtime.exceptions.ValidationError) as caught:
        invoke(runtime, png(), TargetVariant="Canary")
    assert "AllTraffic" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/html, application/json;q=0.9"])
def test_accept_headers_that_include_json(runtime, accept):
    assert invoke(runtime, png(), Accept=accept)["ContentType"] == "application/json"


def test_unsupported_accept_is_a_model_error_406(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime, png(), Accept="text/csv")
    assert caught.value.response["OriginalStatusCode"] == 406
    assert "application/json" in caught.value.response["OriginalMessage"]


# --- point 6: it keeps serving ---


def test_concurrent_burst_all_answered_correctly(runtime):
    colours = [RED if i % 2 else BLUE for i in range(96)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda rgb: invoke(runtime, png(rgb))["Body"].read(), colours))
    for rgb, raw in zip(colours, answers):
        assert_answer(raw, rgb)


def test_still_serving_after_every_kind_of_bad_input(runtime, huge_png):
    bad = [
        (b"", "image/png"),
        (png()[:60], "image/png"),
        (b"text", "text/plain"),
        (huge_png, "image/png"),
        (b"\0" * (7 * 1024 * 1024), "image/png"),
        (png(), "video/mp4"),
    ]
    for body, content_type in bad:
        with pytest.raises((runtime.exceptions.ModelError, runtime.exceptions.ValidationError)):
            invoke(runtime, body, content_type)
    assert_answer(invoke(runtime, png(RED))["Body"].read(), RED)


def test_chunked_bodies_are_read_like_any_other(model_server):
    parts = urlsplit(model_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = png(RED)
    chunks = iter([body[:50], body[50:]])
    conn.request(
        "POST",
        f"/endpoints/{ENDPOINT}/invocations",
        body=chunks,
        headers={"Content-Type": "image/png"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    assert resp.status == 200
    assert_answer(resp.read(), RED)
    conn.close()


def test_bad_content_length_is_a_validation_error_and_the_server_goes_on(model_server, runtime):
    parts = urlsplit(model_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("POST", f"/endpoints/{ENDPOINT}/invocations")
    conn.putheader("Content-Type", "image/png")
    conn.putheader("Content-Length", "lots")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and resp.getheader("x-amzn-ErrorType").startswith("ValidationError")
    assert "Content-Length" in json.loads(resp.read())["message"]
    conn.close()
    assert_answer(invoke(runtime, png(RED))["Body"].read(), RED)

"""classify_image: base64 image -> InvokeEndpoint -> inferences (sagemaker-runtime stubbed).

The real endpoint (the model server) is tested by its own suite; here the botocore Stubber
checks the exact request the handler sends and plays back AWS's answers and errors.
"""

from __future__ import annotations

import base64
import io
import json

import pytest
from botocore.response import StreamingBody
from shared.errors import EndpointInvocationError, EndpointTransientError, InvalidEvent


def expected_request(event, endpoint="scones-image-classifier", content_type="image/png"):
    return {
        "EndpointName": endpoint,
        "ContentType": content_type,
        "Accept": "application/json",
        "Body": base64.b64decode(event["image_data"]),
    }


def endpoint_answers_error(
    classify_module, runtime_stub, monkeypatch, event, code, status, message
):
    """The handler's runtime client, stubbed to answer this one InvokeEndpoint with an error."""
    client, stubber = runtime_stub
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params=expected_request(event),
    )
    monkeypatch.setattr(classify_module, "runtime", client)


@pytest.mark.parametrize(
    "name", ["classify_input", "classify_input_envelope", "classify_input_string_body"]
)
def test_sets_inferences_from_the_endpoint(
    classify_module, runtime_stub, answer, load_event, lambda_context, monkeypatch, name
):
    # GIVEN the serialize step's output (as a body, or a whole envelope) and an endpoint answer
    event = load_event(name)
    body_in = load_event("classify_input")
    client, stubber = runtime_stub
    stubber.add_response("invoke_endpoint", answer([0.96, 0.04]), expected_request(body_in))
    monkeypatch.setattr(classify_module, "runtime", client)
    # WHEN the handler runs
    response = classify_module.handler(event, lambda_context)
    # THEN the decoded image went to the endpoint and the probabilities come back as a list
    assert response["statusCode"] == 200
    assert response["body"] == {**body_in, "inferences": [0.96, 0.04]}
    assert json.loads(json.dumps(response)) == response


def test_endpoint_name_comes_from_the_environment(
    classify_module, runtime_stub, answer, load_event, lambda_context, monkeypatch
):
    event = load_event("classify_input")
    client, stubber = runtime_stub
    stubber.add_response(
        "invoke_endpoint", answer([0.2, 0.8]), expected_request(event, endpoint="my-endpoint")
    )
    monkeypatch.setattr(classify_module, "runtime", client)
    monkeypatch.setenv("ENDPOINT_NAME", "my-endpoint")
    assert classify_module.handler(event, lambda_context)["body"]["inferences"] == [0.2, 0.8]


@pytest.mark.parametrize(
    ("key", "content_type"),
    [
        ("test/a.png", "image/png"),
        ("test/a.jpg", "image/jpeg"),
        ("test/a.JPEG", "image/jpeg"),
        ("test/no-extension", "image/png"),
        ("test/a.txt", "image/png"),
    ],
)
def test_content_type_follows_the_key(classify_module, key, content_type):
    assert classify_module.content_type_for(key) == content_type


def test_model_error_propagates_with_endpoint_and_image(
    classify_module, runtime_stub, load_event, lambda_context, monkeypatch
):
    # GIVEN an endpoint whose container answers 415 (SageMaker turns it into ModelError 424)
    event = load_event("classify_input")
    endpoint_answers_error(
        classify_module,
        runtime_stub,
        monkeypatch,
        event,
        "ModelError",
        424,
        'Received client error (415) from primary with message "unsupported".',
    )
    # WHEN the handler runs THEN a named error says which endpoint, which image and why
    with pytest.raises(EndpointInvocationError) as caught:
        classify_module.handler(event, lambda_context)
    message = str(caught.value)
    assert "'scones-image-classifier'" in message
    assert "s3://scones-unlimited-local/test/bicycle_s_000030.png" in message
    assert "ModelError: Received client error (415)" in message
    assert caught.value.code == "ModelError"
    # AND it is not the transient kind: a bad input fails at once, nothing retries it
    assert type(caught.value) is EndpointInvocationError


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ModelNotReadyException", 429),
        ("ServiceUnavailable", 503),
        ("InternalFailure", 500),
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 429),
        ("502", 502),  # a body botocore could not read, from something in between
        ("504", 504),
    ],
)
def test_transient_endpoint_errors_get_the_retried_name(
    classify_module, runtime_stub, load_event, lambda_context, monkeypatch, code, status
):
    # GIVEN an endpoint that answers an error which passes with time (docs/contracts.md s. 3)
    event = load_event("classify_input")
    endpoint_answers_error(
        classify_module, runtime_stub, monkeypatch, event, code, status, "try again later"
    )
    # WHEN the handler runs THEN it raises the name the state machine retries, still an
    # EndpointInvocationError to code that handles every endpoint failure
    with pytest.raises(EndpointTransientError) as caught:
        classify_module.handler(event, lambda_context)
    assert type(caught.value).__name__ == "EndpointTransientError"
    assert isinstance(caught.value, EndpointInvocationError)
    assert caught.value.code == code
    assert f"{code}: try again later" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ModelError", 424),
        ("ValidationError", 400),
        ("InternalDependencyException", 530),
    ],
)
def test_lasting_endpoint_errors_fail_at_once(
    classify_module, runtime_stub, load_event, lambda_context, monkeypatch, code, status
):
    event = load_event("classify_input")
    endpoint_answers_error(classify_module, runtime_stub, monkeypatch, event, code, status, "no")
    with pytest.raises(EndpointInvocationError) as caught:
        classify_module.handler(event, lambda_context)
    assert type(caught.value) is EndpointInvocationError
    assert caught.value.code == code


def test_the_sdk_makes_a_few_quick_attempts_and_leaves_longer_waits_to_the_state_machine(
    classify_module,
):
    # botocore's standard mode, 3 attempts: a blip is absorbed in the Lambda, an outage is the
    # state machine's Retry (statemachine/README.md), not up to ~15 s of the legacy default
    retries = classify_module.runtime.meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": 3}


def test_non_json_answer_is_an_error(
    classify_module, runtime_stub, load_event, lambda_context, monkeypatch
):
    event = load_event("classify_input")
    client, stubber = runtime_stub
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(b"<html>oops</html>"), 17), "ContentType": "text/html"},
        expected_request(event),
    )
    monkeypatch.setattr(classify_module, "runtime", client)
    with pytest.raises(EndpointInvocationError, match="expected a JSON array of probabilities"):
        classify_module.handler(event, lambda_context)


def test_without_image_data_the_endpoint_is_not_called(
    classify_module, runtime_stub, load_event, lambda_context, monkeypatch
):
    # GIVEN an event that skipped the serialize step (the stub has no answer queued)
    client, _ = runtime_stub
    monkeypatch.setattr(classify_module, "runtime", client)
    with pytest.raises(InvalidEvent, match="run the serialize step first"):
        classify_module.handler(load_event("execution_input_starter"), lambda_context)

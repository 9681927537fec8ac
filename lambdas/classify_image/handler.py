"""Step 2: send the image to the SageMaker endpoint and put the class probabilities in the event.

Input  the serialize step's body {"image_data", "s3_bucket", "s3_key", "inferences"}
Output {"statusCode": 200, "body": {... same fields, "inferences": [p_bicycle, p_motorcycle]}}
Errors EndpointTransientError (the endpoint is loading, restarting, throttled or unreachable:
       the state machine retries it), EndpointInvocationError (ModelError on a bad input,
       ValidationError, a non-JSON answer, ...: fails at once), InvalidEvent (no image_data)

boto3's sagemaker-runtime client only (the sagemaker SDK is far too large for a Lambda).
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
)
from shared import env
from shared.errors import EndpointInvocationError, EndpointTransientError
from shared.event import WorkflowEvent
from shared.lambda_context import LambdaContext
from shared.logger import get_logger, inject_lambda_context

logger = get_logger("classify_image")

# Built once per sandbox; AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points it at a local endpoint.
# botocore's standard retry mode with its 3 attempts (a second or two) absorbs a blip such as a
# pooled connection to a restarted server; longer outages go back to the state machine, whose
# Retry waits without a running Lambda and shows in the execution history. (The legacy
# default, 5 attempts, could spend about 15 s in here on a refused connection alone.)
runtime = boto3.client(
    "sagemaker-runtime",
    region_name=env.region(),
    config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
)

# InvokeEndpoint errors that pass with time (docs/contracts.md section 3): the model is loading
# (429 ModelNotReadyException), the service is unavailable or failed internally (503, 500: AWS
# says try again), or the call was throttled. ModelError (424) is the container's answer to
# this input and ValidationError (400) the request's fault: the same request fails again.
TRANSIENT_CODES = frozenset(
    {
        "ModelNotReadyException",
        "ServiceUnavailable",
        "InternalFailure",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
    }
)
# A code botocore could not read (a proxy's HTML page) is judged by the HTTP status alone.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Refused (nothing listens yet: a restarting server) or dropped mid-request (it died). A read
# timeout is not here: the model took over 60 s, and would take as long again.
TRANSIENT_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError)

DEFAULT_CONTENT_TYPE = "image/png"


def content_type_for(key: str) -> str:
    """image/png unless the key's extension names another image type (e.g. .jpg)."""
    guessed, _ = mimetypes.guess_type(key)
    return guessed if guessed and guessed.startswith("image/") else DEFAULT_CONTENT_TYPE


def is_transient(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    if code in TRANSIENT_CODES:
        return True
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code != "ModelError" and status in TRANSIENT_STATUSES


def invoke_endpoint(
    image: bytes, content_type: str, endpoint_name: str, runtime_client: Any, image_name: str = ""
) -> list[float]:
    """The endpoint's answer, a JSON array of class probabilities, as a list of floats."""
    where = image_name or f"a {len(image)}-byte {content_type} image"
    try:
        response = runtime_client.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType=content_type,
            Accept="application/json",
            Body=image,
        )
    except ClientError as err:
        error = err.response.get("Error", {})
        named = EndpointTransientError if is_transient(err) else EndpointInvocationError
        raise named(
            endpoint_name, where, error.get("Message") or str(err), code=error.get("Code", "")
        ) from err
    except BotoCoreError as err:  # e.g. EndpointConnectionError: nothing listens at the URL
        named = (
            EndpointTransientError
            if isinstance(err, TRANSIENT_CONNECTION_ERRORS)
            else EndpointInvocationError
        )
        raise named(endpoint_name, where, str(err), type(err).__name__) from err
    body = response["Body"].read()
    try:
        probabilities = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        probabilities = None
    if (
        not isinstance(probabilities, list)
        or not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in probabilities)
        or not probabilities
    ):
        raise EndpointInvocationError(
            endpoint_name, where, f"expected a JSON array of probabilities, got {body[:120]!r}"
        )
    return [float(p) for p in probabilities]


def classify_image(event: WorkflowEvent, runtime_client: Any, endpoint_name: str) -> WorkflowEvent:
    probabilities = invoke_endpoint(
        event.image_bytes,
        content_type_for(event.s3_key),
        endpoint_name,
        runtime_client,
        image_name=event.s3_uri,
    )
    return event.with_inferences(probabilities)


@inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = classify_image(WorkflowEvent(event), runtime, env.endpoint_name())
    logger.info(
        "image classified",
        extra={**result.summary(), "label": result.label, "confidence": result.confidence},
    )
    return result.to_response()

"""Step 2: send the image to the SageMaker endpoint and put the class probabilities in the event.

Input  the serialize step's body {"image_data", "s3_bucket", "s3_key", "inferences"}
Output {"statusCode": 200, "body": {... same fields, "inferences": [p_bicycle, p_motorcycle]}}
Errors EndpointInvocationError (ModelError, ValidationError, a non-JSON answer, ...),
       InvalidEvent (no image_data)

boto3's sagemaker-runtime client only (the sagemaker SDK is far too large for a Lambda).
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from shared import env
from shared.errors import EndpointInvocationError
from shared.event import WorkflowEvent
from shared.lambda_context import LambdaContext
from shared.logger import get_logger, inject_lambda_context

logger = get_logger("classify_image")

# Built once per sandbox; AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points it at a local endpoint.
runtime = boto3.client("sagemaker-runtime", region_name=env.region())

DEFAULT_CONTENT_TYPE = "image/png"


def content_type_for(key: str) -> str:
    """image/png unless the key's extension names another image type (e.g. .jpg)."""
    guessed, _ = mimetypes.guess_type(key)
    return guessed if guessed and guessed.startswith("image/") else DEFAULT_CONTENT_TYPE


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
        raise EndpointInvocationError(
            endpoint_name, where, error.get("Message") or str(err), code=error.get("Code", "")
        ) from err
    except BotoCoreError as err:  # e.g. EndpointConnectionError: nothing listens at the URL
        raise EndpointInvocationError(endpoint_name, where, str(err), type(err).__name__) from err
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

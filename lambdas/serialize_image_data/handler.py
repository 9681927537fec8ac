"""Step 1: read the image named by the event from S3 and put it in the event as base64.

Input  {"s3_bucket", "s3_key"} (extra "image_data": "" and "inferences": [] tolerated)
Output {"statusCode": 200, "body": {"image_data": <base64 str>, "s3_bucket", "s3_key", "inferences": []}}
Errors ImageNotFound (missing key or bucket), InvalidEvent (no bucket/key in the event)
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError
from shared import env
from shared.errors import ImageNotFound
from shared.event import WorkflowEvent
from shared.lambda_context import LambdaContext
from shared.logger import get_logger, inject_lambda_context

logger = get_logger("serialize_image_data")

# Built once per sandbox (warm invocations reuse it); the endpoint comes from the environment.
s3 = boto3.client("s3", region_name=env.region())

_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}


def read_image(bucket: str, key: str, s3_client: Any) -> bytes:
    try:
        return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _NOT_FOUND:
            raise ImageNotFound(bucket, key, code, error.get("Message") or "not found") from err
        raise  # AccessDenied and the like: botocore's own message says what happened


def serialize_image(event: WorkflowEvent, s3_client: Any) -> WorkflowEvent:
    image = read_image(event.s3_bucket, event.s3_key, s3_client)
    return event.with_image(image).with_inferences([])


@inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = serialize_image(WorkflowEvent(event), s3)
    logger.info("image serialized", extra=result.summary())
    return result.to_response()

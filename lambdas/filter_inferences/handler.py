"""Step 3: pass the event on when the top probability reaches THRESHOLD, otherwise fail loudly.

Input  the classify step's body {"image_data", "s3_bucket", "s3_key", "inferences"}
Output {"statusCode": 200, "body": <the same fields, unchanged>} when max(inferences) >= THRESHOLD
Errors THRESHOLD_CONFIDENCE_NOT_MET (the Step Functions Error), e.g.
       "top confidence 0.81 (motorcycle) is below the threshold 0.93";
       InvalidEvent (no inferences)

The error is raised, never caught and turned into a 400: the execution must FAIL.
"""

from __future__ import annotations

from typing import Any

from shared import env
from shared.errors import THRESHOLD_CONFIDENCE_NOT_MET
from shared.event import WorkflowEvent
from shared.lambda_context import LambdaContext
from shared.logger import get_logger, inject_lambda_context

logger = get_logger("filter_inferences")


def filter_inferences(event: WorkflowEvent, threshold: float) -> WorkflowEvent:
    if event.confidence < threshold:
        raise THRESHOLD_CONFIDENCE_NOT_MET(event.confidence, event.label, threshold)
    return event


@inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    workflow_event = WorkflowEvent(event)
    threshold = env.threshold()
    fields = {
        "s3_uri": workflow_event.s3_uri,
        "label": workflow_event.label,
        "confidence": workflow_event.confidence,
        "threshold": threshold,
    }
    try:
        result = filter_inferences(workflow_event, threshold)
    except THRESHOLD_CONFIDENCE_NOT_MET:
        logger.warning("confidence below threshold", extra=fields)
        raise
    logger.info("confidence meets threshold", extra=fields)
    return result.to_response()

"""SageMaker hosting: Model, EndpointConfig (with Data Capture), Endpoint.

Models and endpoint configs are immutable in SageMaker, so their names carry a hash of what
they contain: unchanged inputs find the existing one, a changed model or config gets a new
name, and the endpoint is pointed at the new config (update in place on AWS).
"""

from __future__ import annotations

import hashlib
import json

from botocore.exceptions import ClientError

from harness.clients import not_found
from harness.deploy.base import CREATE, UNCHANGED, UPDATE, Run
from harness.deploy.compute import call_with_new_role
from harness.errors import HarnessError


def _hashed_name(base: str, content: dict) -> str:
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10]
    return f"{base[:52]}-{digest}"


def data_capture_config(run: Run) -> dict:
    s = run.settings
    modes = [m.strip() for m in s.capture_options.split(",") if m.strip()]
    return {
        "EnableCapture": s.capture_enabled,
        "InitialSamplingPercentage": s.capture_sampling_percentage,
        "DestinationS3Uri": s.capture_destination,
        "CaptureOptions": [{"CaptureMode": m} for m in modes],
        # the endpoint answers JSON: capture it as JSON, the PNG input as BASE64
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }


def _exists(describe, **name) -> bool:
    """Names are content hashes, so a resource that exists is already the right one."""
    try:
        describe(**name)
        return True
    except ClientError as exc:
        if not not_found(exc):
            raise
        return False


def ensure_model(run: Run, image_uri: str, model_data_url: str | None, role_arn: str) -> str:
    container = {"Image": image_uri, "Environment": {}}
    if model_data_url:
        container["ModelDataUrl"] = model_data_url
    name = _hashed_name(run.settings.endpoint_name, {"container": container, "role": role_arn})
    sm = run.client("sagemaker")
    if _exists(sm.describe_model, ModelName=name):
        run.record(UNCHANGED, "sagemaker model", name)
        return name
    run.record(CREATE, "sagemaker model", name, image_uri)
    if run.apply:
        call_with_new_role(
            sm.create_model,
            ModelName=name,
            PrimaryContainer=container,
            ExecutionRoleArn=role_arn,
            Tags=run.tag_list(),
        )
    return name


def ensure_endpoint_config(run: Run, model_name: str) -> str:
    s = run.settings
    variants = [
        {
            "VariantName": s.variant_name,
            "ModelName": model_name,
            "InitialInstanceCount": 1,
            "InstanceType": s.instance_type,
            "InitialVariantWeight": 1.0,
        }
    ]
    capture = data_capture_config(run)
    name = _hashed_name(s.endpoint_name, {"variants": variants, "capture": capture})
    sm = run.client("sagemaker")
    if _exists(sm.describe_endpoint_config, EndpointConfigName=name):
        run.record(UNCHANGED, "endpoint config", name)
        return name
    run.record(
        CREATE,
        "endpoint config",
        name,
        f"{s.instance_type}, capture {s.capture_sampling_percentage} % to {s.capture_destination}",
    )
    if run.apply:
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=variants,
            DataCaptureConfig=capture,
            Tags=run.tag_list(),
        )
    return name


IN_SERVICE = "InService"
_CHANGING = {"Creating", "Updating", "SystemUpdating", "RollingBack"}


def ensure_endpoint(run: Run, config_name: str) -> bool:
    """Create the endpoint or point it at config_name; returns whether to wait for InService."""
    sm, name = run.client("sagemaker"), run.settings.endpoint_name
    try:
        current = sm.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if not not_found(exc):
            raise
        run.record(CREATE, "sagemaker endpoint", name, config_name)
        if run.apply:
            sm.create_endpoint(
                EndpointName=name, EndpointConfigName=config_name, Tags=run.tag_list()
            )
        return True
    status = current["EndpointStatus"]
    if status == "Failed":
        raise HarnessError(
            f"Endpoint {name} is in state Failed ({current.get('FailureReason', 'no reason given')}).",
            "read its CloudWatch logs, then `make destroy-aws` and deploy again",
        )
    if current["EndpointConfigName"] == config_name:
        run.record(UNCHANGED, "sagemaker endpoint", name, status)
        return status != IN_SERVICE  # e.g. a previous deploy was interrupted while it started
    run.record(
        UPDATE, "sagemaker endpoint", name, f"{current['EndpointConfigName']} -> {config_name}"
    )
    if run.apply:
        if not run.target.real_endpoint:  # locally the endpoint is a record: replace it
            sm.delete_endpoint(EndpointName=name)
            sm.create_endpoint(
                EndpointName=name, EndpointConfigName=config_name, Tags=run.tag_list()
            )
            return False
        if status in _CHANGING:  # AWS refuses to update an endpoint that is still changing
            run.target.wait_for_endpoint(run, name)
        sm.update_endpoint(EndpointName=name, EndpointConfigName=config_name)
    return True

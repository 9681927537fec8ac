"""The local target, under moto's mock (independent of the embedded emulator): same deploy path,
local data (endpoint env, code-path tags, SageMaker records replaced rather than updated)."""

from __future__ import annotations

import os

import boto3
import pytest

from harness.deploy import deploy, destroy
from harness.deploy.base import CREATE, DELETE, UNCHANGED, UPDATE
from harness.deploy.local import CODE_PATHS_TAG, LOCAL_IMAGE, LocalTarget
from harness.deploy.workflow import FUNCTIONS
from tests.deploy.deploy_support import REGION, write_model


@pytest.fixture
def local(sources):
    return sources.replace(target="local")


def _target(settings):
    return LocalTarget(settings, endpoint_url=None)  # None: boto3's defaults, which moto intercepts


def test_local_target_points_at_the_stack_by_default(local):
    assert LocalTarget(local).endpoint_url == f"http://127.0.0.1:{local.aws_port}"


def test_local_functions_reach_the_model_server_and_carry_their_code_paths(aws, local):
    outputs = deploy(local, _target(local))
    assert all(c.action == CREATE for c in outputs.changes)
    lam = boto3.client("lambda", region_name=REGION)
    for spec in FUNCTIONS:
        function = lam.get_function(FunctionName=local.function_name(spec.folder))
        env = function["Configuration"]["Environment"]["Variables"]
        assert env == {
            "ENDPOINT_NAME": local.endpoint_name,
            "THRESHOLD": str(local.threshold),
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:8080",
        }
        paths = function["Tags"][CODE_PATHS_TAG].split(os.pathsep)
        assert paths == [
            str((local.lambdas_dir / spec.folder).resolve()),
            str(local.lambdas_dir.resolve()),
        ]
        assert function["Tags"]["managed-by"] == "scones-harness"


def test_lambda_model_server_url_overrides_what_functions_see(aws, local):
    settings = local.replace(lambda_model_server_url="http://model-server:8080")
    deploy(settings, _target(settings))
    env = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=settings.function_name("classify_image")
    )["Environment"]["Variables"]
    assert env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://model-server:8080"


def test_local_sagemaker_records_answer_describe_calls_like_aws(aws, local):
    outputs = deploy(local, _target(local))
    sm = boto3.client("sagemaker", region_name=REGION)
    endpoint = sm.describe_endpoint(EndpointName=local.endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{local.bucket}/data_capture"
    model = sm.describe_model(ModelName=outputs.model_name)
    assert model["PrimaryContainer"]["Image"] == LOCAL_IMAGE
    assert boto3.client("ecr", region_name=REGION).describe_repositories()["repositories"] == []


def test_local_deploy_without_a_model_artifact_still_records_the_endpoint(aws, local, tmp_path):
    settings = local.replace(model_artifact=tmp_path / "missing.tar.gz")
    outputs = deploy(settings, _target(settings))
    model = boto3.client("sagemaker", region_name=REGION).describe_model(
        ModelName=outputs.model_name
    )
    assert "ModelDataUrl" not in model["PrimaryContainer"]


def test_local_second_deploy_changes_nothing(aws, local):
    deploy(local, _target(local))
    again = deploy(local, _target(local))
    assert {c.action for c in again.changes} == {UNCHANGED}


def test_local_changed_model_replaces_the_endpoint_record(aws, local):
    first = deploy(local, _target(local))
    write_model(local.model_artifact, b"onnx-bytes-v2")
    again = deploy(local, _target(local))
    assert {c.kind: c.action for c in again.changes if c.action != UNCHANGED} == {
        "model artifact": CREATE,
        "sagemaker model": CREATE,
        "endpoint config": CREATE,
        "sagemaker endpoint": UPDATE,
    }
    name = boto3.client("sagemaker", region_name=REGION).describe_endpoint(
        EndpointName=local.endpoint_name
    )["EndpointConfigName"]
    assert name == again.endpoint_config_name != first.endpoint_config_name


def test_only_changed_test_images_are_uploaded(aws, local):
    deploy(local, _target(local))
    image = local.data_dir / "test" / "bike_s_000003.png"
    image.write_bytes(image.read_bytes() + b"changed")
    again = deploy(local, _target(local))
    (images,) = [c for c in again.changes if c.kind == "test images"]
    assert (images.action, images.detail) == (UPDATE, "1 of 3 to upload")
    body = boto3.client("s3", region_name=REGION).get_object(
        Bucket=local.bucket, Key="test/bike_s_000003.png"
    )
    assert body["Body"].read().endswith(b"changed")


def test_local_destroy_removes_what_deploy_created(aws, local):
    deploy(local, _target(local))
    changes = destroy(local, _target(local), delete_bucket=True)
    assert changes[0].action == DELETE and changes[0].kind == "sagemaker endpoint"
    assert boto3.client("lambda", region_name=REGION).list_functions()["Functions"] == []
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []

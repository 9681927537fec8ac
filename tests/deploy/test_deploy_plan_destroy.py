"""plan (no mutating call), destroy (endpoint first, only tagged), and the AWS safety checks."""

from __future__ import annotations

import re

import boto3
import pytest

from harness.deploy import deploy, destroy, make_target
from harness.deploy.aws import AwsTarget, local_overrides
from harness.deploy.base import CREATE, DELETE, SKIP, UNCHANGED, UPDATE
from harness.errors import HarnessError
from tests.deploy.deploy_support import REGION

READ_ONLY = re.compile(r"^(Describe|Get|List|Head)")


class MutatingCall(AssertionError):
    pass


def _read_only_session() -> tuple[boto3.session.Session, list[str]]:
    """A session whose clients fail on any call that is not Describe/Get/List/Head."""
    session, calls = boto3.session.Session(region_name=REGION), []

    def guard(model, **kwargs):
        calls.append(model.name)
        if not READ_ONLY.match(model.name):
            raise MutatingCall(f"plan called {model.name}")

    session.events.register("before-call", guard)
    return session, calls


def _no_docker():
    raise AssertionError("plan must not build or push the image")


def test_plan_on_an_empty_account_lists_creates_and_mutates_nothing(aws, sources):
    session, calls = _read_only_session()
    outputs = deploy(
        sources, AwsTarget(sources, session=session, docker_factory=_no_docker), dry_run=True
    )
    assert outputs.dry_run and calls
    assert {c.action for c in outputs.changes} <= {CREATE, SKIP}
    assert {c.kind for c in outputs.changes if c.action == CREATE} >= {
        "s3 bucket",
        "test images",
        "model artifact",
        "ecr repository",
        "iam role",
        "sagemaker model",
        "endpoint config",
        "sagemaker endpoint",
        "lambda function",
        "state machine",
    }
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []
    assert boto3.client("lambda", region_name=REGION).list_functions()["Functions"] == []


def test_plan_after_a_change_shows_the_update_and_leaves_it_undone(aws, sources, docker_client):
    deploy(sources, make_target(sources, docker_factory=lambda: docker_client))
    handler = sources.lambdas_dir / "classify_image" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    session, _ = _read_only_session()
    outputs = deploy(
        sources, AwsTarget(sources, session=session, docker_factory=_no_docker), dry_run=True
    )
    changed = [(c.action, c.name) for c in outputs.changes if c.action not in (UNCHANGED, SKIP)]
    assert changed == [(UPDATE, sources.function_name("classify_image"))]
    # the plan reuses the last pushed image, so the model and endpoint show as unchanged
    assert {c.kind for c in outputs.changes if c.action == UNCHANGED} >= {
        "sagemaker model",
        "sagemaker endpoint",
    }
    # nothing was applied: the next real deploy still has the update to do
    again = deploy(sources, make_target(sources, docker_factory=lambda: docker_client))
    assert [
        c.action for c in again.changes if c.kind == "lambda function" and c.action != UNCHANGED
    ] == [UPDATE]


def test_destroy_deletes_the_endpoint_first_and_only_tagged_resources(aws, sources, docker_client):
    outputs = deploy(sources, make_target(sources, docker_factory=lambda: docker_client))
    lam = boto3.client("lambda", region_name=REGION)
    foreign = sources.function_name("filter_inferences")
    lam.untag_resource(Resource=outputs.function_arns["filter_inferences"], TagKeys=["managed-by"])

    changes = destroy(sources, make_target(sources, docker_factory=lambda: docker_client))

    deletions = [c for c in changes if c.action == DELETE]
    assert deletions[0].kind == "sagemaker endpoint"
    assert {c.kind for c in deletions} >= {
        "endpoint config",
        "sagemaker model",
        "lambda function",
        "state machine",
        "iam role",
        "ecr repository",
    }
    assert (SKIP, foreign) in {(c.action, c.name) for c in changes}
    sm = boto3.client("sagemaker", region_name=REGION)
    assert sm.list_endpoints()["Endpoints"] == [] and sm.list_models()["Models"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == [foreign]
    assert (
        boto3.client("stepfunctions", region_name=REGION).list_state_machines()["stateMachines"]
        == []
    )
    assert boto3.client("ecr", region_name=REGION).describe_repositories()["repositories"] == []
    roles = [r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]]
    assert roles == []
    # the bucket stays unless asked for
    assert [
        b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]
    ] == [sources.bucket]


def test_destroy_with_delete_bucket_empties_and_removes_it(aws, sources, docker_client):
    deploy(sources, make_target(sources, docker_factory=lambda: docker_client))
    changes = destroy(
        sources, make_target(sources, docker_factory=lambda: docker_client), delete_bucket=True
    )
    assert (DELETE, "s3 bucket") in {(c.action, c.kind) for c in changes}
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_destroy_leaves_an_untagged_bucket_alone(aws, sources):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=sources.bucket)
    changes = destroy(sources, make_target(sources, docker_factory=_no_docker), delete_bucket=True)
    assert (SKIP, "s3 bucket") in {(c.action, c.kind) for c in changes}
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [sources.bucket]


def test_destroy_twice_is_harmless(aws, sources, docker_client):
    deploy(sources, make_target(sources, docker_factory=lambda: docker_client))
    destroy(sources, make_target(sources, docker_factory=lambda: docker_client))
    again = destroy(sources, make_target(sources, docker_factory=lambda: docker_client))
    assert [c for c in again if c.action == DELETE] == []


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:4566",
        "http://localhost:4566",
        "localhost:8080",
        "http://host.docker.internal:4566",
    ],
)
def test_refuses_aws_while_an_endpoint_override_is_local(sources, value):
    with pytest.raises(HarnessError, match="AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        AwsTarget(sources, environ={"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": value, "HOME": "/root"})


def test_a_remote_endpoint_override_is_not_refused():
    environ = {"AWS_ENDPOINT_URL_S3": "https://bucket.vpce-1a2b.s3.us-east-1.vpce.amazonaws.com"}
    assert local_overrides(environ) == {}


def test_refuses_without_credentials(sources, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    target = AwsTarget(sources, environ={})
    with pytest.raises(HarnessError, match="No AWS credentials"):
        target.identity()


def test_the_read_only_guard_does_catch_a_real_deploy(aws, sources, docker_client):
    session, _ = _read_only_session()
    with pytest.raises(MutatingCall):
        deploy(sources, AwsTarget(sources, session=session, docker_factory=lambda: docker_client))


def test_a_failed_endpoint_is_reported_with_its_reason(aws, sources, docker_client):
    from moto.sagemaker.models import sagemaker_backends

    target = make_target(sources, docker_factory=lambda: docker_client)
    deploy(sources, target)
    endpoint = sagemaker_backends["123456789012"][REGION].endpoints[sources.endpoint_name]
    endpoint.endpoint_status, endpoint.failure_reason = "Failed", "ping health check failed"
    from harness.deploy.base import Run

    run = Run(sources, target, target.identity())
    with pytest.raises(HarnessError, match="did not become InService: ping health check failed"):
        target.wait_for_endpoint(run, sources.endpoint_name)


def test_an_endpoint_still_changing_is_waited_for_before_its_update(
    aws, sources, docker_client, monkeypatch
):
    from moto.sagemaker.models import sagemaker_backends

    deploy(sources, make_target(sources, docker_factory=lambda: docker_client))
    endpoint = sagemaker_backends["123456789012"][REGION].endpoints[sources.endpoint_name]
    endpoint.endpoint_status = "Updating"  # e.g. an earlier deploy interrupted
    target = make_target(
        sources.replace(instance_type="ml.m5.large"), docker_factory=lambda: docker_client
    )
    events = []

    def wait(run, name):
        events.append(("wait", endpoint.endpoint_status, endpoint.endpoint_config_name))
        endpoint.endpoint_status = "InService"

    monkeypatch.setattr(target, "wait_for_endpoint", wait)
    outputs = deploy(target.settings, target)
    # waited while Updating on the old config, updated, then waited for the new one
    assert events[0][:2] == ("wait", "Updating") and events[0][2] != outputs.endpoint_config_name
    assert len(events) == 2 and events[1][2] == outputs.endpoint_config_name


@pytest.mark.parametrize("problem", ["no model", "no docker", "bad placeholder"])
def test_missing_inputs_stop_deploy_before_anything_is_created(aws, sources, problem):
    settings = sources

    def no_engine():
        raise HarnessError("deploy-aws builds the model-server image and needs a Docker engine")

    if problem == "no model":
        settings = sources.replace(
            model_artifact=sources.model_artifact.with_name("missing.tar.gz")
        )
    elif problem == "bad placeholder":
        text = sources.state_machine_file.read_text()
        sources.state_machine_file.write_text(
            text.replace("${FilterInferencesFunctionArn}", "${Nope}")
        )
    with pytest.raises(HarnessError, match="Model artifact|Docker engine|Nope"):
        deploy(
            settings,
            AwsTarget(settings, docker_factory=no_engine if problem == "no docker" else _no_docker),
        )
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []
    assert boto3.client("iam").list_roles()["Roles"] == []

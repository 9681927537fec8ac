"""The AWS target against moto's in-process mock: resources, configuration, IAM, idempotence,
update paths. GIVEN an empty account, WHEN deploy runs, THEN ..."""

from __future__ import annotations

import json

import boto3
import pytest

from harness.deploy import deploy, make_target
from harness.deploy.base import CREATE, MANAGED_BY, UNCHANGED, UPDATE
from harness.deploy.iam import POLICY_NAME
from harness.deploy.workflow import FUNCTIONS
from tests.deploy.deploy_support import REGION, write_model

ACCOUNT = "123456789012"
LOCAL_MARKERS = ("127.0.0.1", "localhost", "0.0.0.0", "model-server", ":4566", ":8080")


def _deploy(settings, docker_client):
    return deploy(settings, make_target(settings, docker_factory=lambda: docker_client))


def _by_name(outputs):
    return {(c.kind, c.name): c for c in outputs.changes}


@pytest.fixture
def deployed(aws, sources, docker_client):
    return _deploy(sources, docker_client)


def test_first_deploy_creates_every_resource(deployed, sources, docker_client):
    assert deployed.changes and all(c.action == CREATE for c in deployed.changes)
    kinds = {c.kind for c in deployed.changes}
    assert kinds >= {
        "s3 bucket",
        "test images",
        "model artifact",
        "ecr repository",
        "container image",
        "iam role",
        "sagemaker model",
        "endpoint config",
        "sagemaker endpoint",
        "lambda function",
        "state machine",
    }
    s3 = boto3.client("s3", region_name=REGION)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=sources.bucket)["Contents"]}
    assert {
        "test/bicycle_s_000001.png",
        "test/motorcycle_s_000002.png",
        "test/bike_s_000003.png",
    } <= keys
    assert any(k.startswith("models/") and k.endswith("/model.tar.gz") for k in keys)
    # the image was pushed once, with the ECR token's credentials
    (push,) = docker_client.images.pushes
    assert push["repository"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/scones-model-server"
    assert push["auth_config"]["username"] == "AWS"


def test_endpoint_has_data_capture_and_the_pushed_image(deployed, sources):
    sm = boto3.client("sagemaker", region_name=REGION)
    endpoint = sm.describe_endpoint(EndpointName=sources.endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 100
    assert capture["DestinationS3Uri"] == f"s3://{sources.bucket}/data_capture"
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    (variant,) = config["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.xlarge" and variant["InitialInstanceCount"] == 1
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["Image"] == deployed.image_uri
    assert deployed.image_uri.startswith(
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/scones-model-server:"
    )
    assert model["PrimaryContainer"]["ModelDataUrl"].startswith(f"s3://{sources.bucket}/models/")
    assert model["ExecutionRoleArn"].endswith(f":role/{role_name_for(sources, 'sagemaker')}")


def role_name_for(settings, purpose):
    return f"{settings.function_prefix}scones-{purpose}-role"


def test_capture_destination_and_sampling_are_configurable(aws, sources, docker_client):
    settings = sources.replace(
        capture_s3_uri="s3://elsewhere/capture", capture_sampling_percentage=20
    )
    _deploy(settings, docker_client)
    sm = boto3.client("sagemaker", region_name=REGION)
    name = sm.describe_endpoint(EndpointName=settings.endpoint_name)["EndpointConfigName"]
    capture = sm.describe_endpoint_config(EndpointConfigName=name)["DataCaptureConfig"]
    assert (capture["DestinationS3Uri"], capture["InitialSamplingPercentage"]) == (
        "s3://elsewhere/capture",
        20,
    )


def test_functions_have_no_local_endpoint_in_their_environment(deployed, sources):
    lam = boto3.client("lambda", region_name=REGION)
    for spec in FUNCTIONS:
        config = lam.get_function(FunctionName=sources.function_name(spec.folder))["Configuration"]
        env = config["Environment"]["Variables"]
        assert env == {"ENDPOINT_NAME": sources.endpoint_name, "THRESHOLD": str(sources.threshold)}
        assert not any(m in value for value in env.values() for m in LOCAL_MARKERS)
        assert (config["Handler"], config["Runtime"]) == ("handler.handler", "python3.12")
        assert config["Role"].endswith(
            f":role/{role_name_for(sources, spec.folder.replace('_', '-'))}"
        )


def test_state_machine_gets_the_real_function_arns(deployed, sources):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = sfn.describe_state_machine(stateMachineArn=deployed.state_machine_arn)[
        "definition"
    ]
    assert "${" not in definition
    for spec in FUNCTIONS:
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{sources.function_name(spec.folder)}"
        assert deployed.function_arns[spec.folder] == arn
        assert arn in definition


def test_every_resource_is_tagged_managed_by_the_harness(deployed, sources):
    key, value = MANAGED_BY
    lam, sfn = (
        boto3.client("lambda", region_name=REGION),
        boto3.client("stepfunctions", region_name=REGION),
    )
    sm, iam = boto3.client("sagemaker", region_name=REGION), boto3.client("iam")
    s3, ecr = boto3.client("s3", region_name=REGION), boto3.client("ecr", region_name=REGION)
    for spec in FUNCTIONS:
        assert (
            lam.get_function(FunctionName=sources.function_name(spec.folder))["Tags"][key] == value
        )
    tags = [sfn.list_tags_for_resource(resourceArn=deployed.state_machine_arn)["tags"]]
    tags.append(s3.get_bucket_tagging(Bucket=sources.bucket)["TagSet"])
    for arn in (
        sm.describe_endpoint(EndpointName=sources.endpoint_name)["EndpointArn"],
        sm.list_endpoint_configs()["EndpointConfigs"][0]["EndpointConfigArn"],
        sm.list_models()["Models"][0]["ModelArn"],
    ):
        tags.append(sm.list_tags(ResourceArn=arn)["Tags"])
    for role in iam.list_roles()["Roles"]:
        tags.append(iam.get_role(RoleName=role["RoleName"])["Role"]["Tags"])
    repo_arn = ecr.describe_repositories()["repositories"][0]["repositoryArn"]
    tags.append(ecr.list_tags_for_resource(resourceArn=repo_arn)["tags"])
    for tag_list in tags:
        pairs = {(t.get("Key", t.get("key")), t.get("Value", t.get("value"))) for t in tag_list}
        assert (key, value) in pairs, tag_list


def _policy(sources, purpose):
    iam = boto3.client("iam")
    return iam.get_role_policy(RoleName=role_name_for(sources, purpose), PolicyName=POLICY_NAME)[
        "PolicyDocument"
    ]


def _grants(policy):
    out = {}
    for statement in policy["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            out.setdefault(action, []).extend(
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
    return out


LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_function_roles_are_least_privilege(deployed, sources):
    bucket_objects = f"arn:aws:s3:::{sources.bucket}/*"
    endpoint = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{sources.endpoint_name}"
    expected = {
        "serialize-image-data": {"s3:GetObject": [bucket_objects]},
        "classify-image": {"sagemaker:InvokeEndpoint": [endpoint]},
        "filter-inferences": {},
    }
    for spec in FUNCTIONS:
        purpose = spec.folder.replace("_", "-")
        grants = _grants(_policy(sources, purpose))
        group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{sources.function_name(spec.folder)}"
        for action in LOGS:
            assert sorted(grants.pop(action)) == sorted([group, f"{group}:*"])
        assert grants == expected[purpose], purpose
        trust = boto3.client("iam").get_role(RoleName=role_name_for(sources, purpose))["Role"]
        assert trust["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }


def test_state_machine_role_invokes_exactly_the_three_functions(deployed, sources):
    grants = _grants(_policy(sources, "states"))
    assert grants == {"lambda:InvokeFunction": sorted(deployed.function_arns.values())}


def test_sagemaker_role_reads_the_model_writes_capture_pulls_its_image(deployed, sources):
    grants = _grants(_policy(sources, "sagemaker"))
    assert grants["s3:GetObject"] == [f"arn:aws:s3:::{sources.bucket}/models/*"]
    assert grants["s3:PutObject"] == [f"arn:aws:s3:::{sources.bucket}/data_capture/*"]
    repo = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/scones-model-server"
    assert grants["ecr:BatchGetImage"] == [repo]
    wildcard = {a for a, resources in grants.items() if "*" in resources}
    assert wildcard == {
        "ecr:GetAuthorizationToken",
        "cloudwatch:PutMetricData",
    }  # no resource-level ARNs exist


def test_second_deploy_changes_nothing(deployed, sources, docker_client):
    again = _deploy(sources, docker_client)
    assert [c for c in again.changes if c.action != UNCHANGED] == []
    assert not again.changed
    assert len(docker_client.images.pushes) == 1  # built again, found in ECR, not pushed


def test_changed_handler_updates_only_that_function(deployed, sources, docker_client):
    lam = boto3.client("lambda", region_name=REGION)
    name = sources.function_name("filter_inferences")
    before = lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    handler = sources.lambdas_dir / "filter_inferences" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    again = _deploy(sources, docker_client)
    updates = [c for c in again.changes if c.action != UNCHANGED]
    assert [(c.action, c.kind, c.name, c.detail) for c in updates] == [
        (UPDATE, "lambda function", name, "code")
    ]
    assert lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"] != before


def test_changed_shared_code_updates_every_function(deployed, sources, docker_client):
    (sources.lambdas_dir / "shared" / "added.py").write_text("X = 1\n")
    again = _deploy(sources, docker_client)
    updated = {c.name for c in again.changes if c.action == UPDATE}
    assert updated == {sources.function_name(s.folder) for s in FUNCTIONS}


def test_changed_threshold_updates_configuration_in_place(deployed, sources, docker_client):
    again = _deploy(sources.replace(threshold=0.8), docker_client)
    updates = {c.name: c.detail for c in again.changes if c.action == UPDATE}
    assert updates == {sources.function_name(s.folder): "Environment" for s in FUNCTIONS}
    env = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=sources.function_name("filter_inferences")
    )["Environment"]["Variables"]
    assert env["THRESHOLD"] == "0.8"


def test_changed_definition_updates_the_state_machine(deployed, sources, docker_client):
    definition = json.loads(sources.state_machine_file.read_text())
    definition["Comment"] = "changed"
    sources.state_machine_file.write_text(json.dumps(definition))
    again = _deploy(sources, docker_client)
    assert _by_name(again)[("state machine", sources.state_machine_name)].action == UPDATE
    sfn = boto3.client("stepfunctions", region_name=REGION)
    live = json.loads(
        sfn.describe_state_machine(stateMachineArn=deployed.state_machine_arn)["definition"]
    )
    assert live["Comment"] == "changed"


def test_changed_model_goes_through_a_new_endpoint_config(deployed, sources, docker_client):
    sm = boto3.client("sagemaker", region_name=REGION)
    before = sm.describe_endpoint(EndpointName=sources.endpoint_name)
    write_model(sources.model_artifact, b"onnx-bytes-v2")
    again = _deploy(sources, docker_client)
    actions = {c.kind: c.action for c in again.changes if c.action != UNCHANGED}
    assert actions == {
        "model artifact": CREATE,
        "sagemaker model": CREATE,
        "endpoint config": CREATE,
        "sagemaker endpoint": UPDATE,
    }
    after = sm.describe_endpoint(EndpointName=sources.endpoint_name)
    assert after["EndpointArn"] == before["EndpointArn"]  # updated in place, not replaced
    assert after["EndpointConfigName"] == again.endpoint_config_name != before["EndpointConfigName"]
    config = sm.describe_endpoint_config(EndpointConfigName=after["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == again.model_name != deployed.model_name


def test_changed_image_is_pushed_and_served_by_a_new_model(deployed, sources, docker_client):
    docker_client.images.content = "v2"
    again = _deploy(sources, docker_client)
    assert len(docker_client.images.pushes) == 2
    assert again.image_uri != deployed.image_uri
    assert _by_name(again)[("sagemaker endpoint", sources.endpoint_name)].action == UPDATE

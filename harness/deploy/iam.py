"""Least-privilege IAM: one role per function, one for SageMaker, one for Step Functions.

Every grant is scoped to the one resource it is for (docs/contracts.md section 1): serialize may
read objects of the bucket, classify may invoke the one endpoint, the state machine may
invoke exactly the three functions, everyone may write only their own logs.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from botocore.exceptions import ClientError

from harness.clients import not_found
from harness.deploy.base import CREATE, Run
from harness.deploy.workflow import FUNCTIONS

POLICY_NAME = "scones-least-privilege"
VERSION = "2012-10-17"


def trust_policy(service: str) -> dict:
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def _statement(actions: list[str], resources: list[str], sid: str) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def lambda_logs(run: Run, function_name: str) -> dict:
    group = run.arn("logs", f"log-group:/aws/lambda/{function_name}")
    return _statement(
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        [group, f"{group}:*"],
        "OwnLogs",
    )


def function_policy(run: Run, folder: str, function_name: str) -> dict:
    """What lambdas/<folder> needs, nothing more."""
    statements = [lambda_logs(run, function_name)]
    if folder == "serialize_image_data":
        statements.append(
            _statement(
                ["s3:GetObject"],
                [f"arn:{run.identity.partition}:s3:::{run.settings.bucket}/*"],
                "ReadImages",
            )
        )
    elif folder == "classify_image":
        statements.append(
            _statement(["sagemaker:InvokeEndpoint"], [endpoint_arn(run)], "InvokeEndpoint")
        )
    return {"Version": VERSION, "Statement": statements}


def endpoint_arn(run: Run) -> str:
    return run.arn("sagemaker", f"endpoint/{run.settings.endpoint_name.lower()}")


def sagemaker_policy(run: Run, model_prefix: str, repository_arn: str | None) -> dict:
    """The endpoint's execution role: read the model, write Data Capture, pull its image, log."""
    bucket_arn = f"arn:{run.identity.partition}:s3:::{run.settings.bucket}"
    capture = run.settings.capture_destination.removeprefix("s3://")
    statements = [
        _statement(["s3:GetObject"], [f"{bucket_arn}/{model_prefix}/*"], "ReadModel"),
        _statement(
            ["s3:PutObject"], [f"arn:{run.identity.partition}:s3:::{capture}/*"], "WriteCapture"
        ),
        _statement(
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            [run.arn("logs", "log-group:/aws/sagemaker/*")],
            "EndpointLogs",
        ),
        {
            "Sid": "Metrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {
                "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}
            },
        },
    ]
    if repository_arn:
        statements += [
            _statement(
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                [repository_arn],
                "PullImage",
            ),
            # GetAuthorizationToken has no resource-level permissions
            {
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
        ]
    return {"Version": VERSION, "Statement": statements}


def states_policy(function_arns: list[str]) -> dict:
    return {
        "Version": VERSION,
        "Statement": [
            _statement(["lambda:InvokeFunction"], sorted(function_arns), "InvokeWorkflowFunctions")
        ],
    }


def role_name(run: Run, purpose: str) -> str:
    return f"{run.settings.function_prefix}scones-{purpose}-role"[:64]


SAGEMAKER_ROLE, STATES_ROLE = (
    "sagemaker",
    "states",
)  # purposes of the endpoint's and workflow's roles


def function_role_purpose(folder: str) -> str:
    """The purpose (for role_name) of the role of the function built from lambdas/<folder>."""
    return folder.replace("_", "-")


def role_purposes() -> list[str]:
    """Every role a deploy creates (what destroy deletes), as purposes for role_name."""
    return [SAGEMAKER_ROLE, STATES_ROLE] + [
        function_role_purpose(spec.folder) for spec in FUNCTIONS
    ]


def _as_dict(document) -> dict:
    # boto3 returns policy documents decoded; some servers return them URL-encoded strings
    return json.loads(unquote(document)) if isinstance(document, str) else document


def ensure_role(run: Run, purpose: str, service: str, policy: dict) -> str:
    """Create or update the role and its one inline policy; returns the role ARN."""
    iam = run.client("iam")
    name = role_name(run, purpose)
    arn = run.arn("iam", f"role/{name}", region=False)
    trust = trust_policy(service)
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if not not_found(exc):
            raise
        run.record(CREATE, "iam role", name, f"assumed by {service}")
        if run.apply:
            iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=f"Scones Unlimited: {purpose}",
                Tags=run.tag_list(),
            )
            iam.put_role_policy(
                RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy)
            )
        return arn
    try:
        current = _as_dict(
            iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
        )
    except ClientError as exc:
        if not not_found(exc):
            raise
        current = None
    diffs = []
    if _as_dict(role["AssumeRolePolicyDocument"]) != trust:
        diffs.append("trust policy")
    if current != policy:
        diffs.append("policy")
    if run.record_diffs("iam role", name, diffs):
        if "trust policy" in diffs:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        if "policy" in diffs:
            iam.put_role_policy(
                RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy)
            )
    return role["Arn"]

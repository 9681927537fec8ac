"""Delete what deploy created: the endpoint first (it is what costs money), then the rest.

Only resources carrying the managed-by=scones-harness tag are deleted; a resource of the
same name without it is reported and left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from harness.clients import find_state_machine, not_found
from harness.deploy import iam
from harness.deploy.base import DELETE, MANAGED_BY, SKIP, Run
from harness.deploy.workflow import FUNCTIONS

NOT_MANAGED = "not tagged managed-by=scones-harness: left alone"


def _managed(tags: dict[str, str] | list[dict[str, str]] | None) -> bool:
    if isinstance(tags, list):
        tags = {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tags}
    return (tags or {}).get(MANAGED_BY[0]) == MANAGED_BY[1]


def remove(
    run: Run, kind: str, name: str, tags: Callable[[], object], delete: Callable[[], None]
) -> None:
    """Delete one resource if it exists and is ours; record what happened."""
    try:
        ours = _managed(tags())
    except ClientError as exc:
        if not_found(exc):
            return
        raise
    if not ours:
        run.record(SKIP, kind, name, NOT_MANAGED)
        return
    run.record(DELETE, kind, name)
    if run.apply:
        try:
            delete()
        except ClientError as exc:
            if not not_found(exc):
                raise


def _sagemaker(run: Run) -> None:
    sm, name = run.client("sagemaker"), run.settings.endpoint_name

    def tags_of(arn: str) -> Callable[[], list]:
        return lambda: sm.list_tags(ResourceArn=arn)["Tags"]

    remove(
        run,
        "sagemaker endpoint",
        name,
        lambda: sm.list_tags(ResourceArn=sm.describe_endpoint(EndpointName=name)["EndpointArn"])[
            "Tags"
        ],
        lambda: sm.delete_endpoint(EndpointName=name),
    )
    for config in sm.list_endpoint_configs(NameContains=name, MaxResults=100)["EndpointConfigs"]:
        config_name = config["EndpointConfigName"]
        remove(
            run,
            "endpoint config",
            config_name,
            tags_of(config["EndpointConfigArn"]),
            lambda n=config_name: sm.delete_endpoint_config(EndpointConfigName=n),
        )
    for model in sm.list_models(NameContains=name, MaxResults=100)["Models"]:
        model_name = model["ModelName"]
        remove(
            run,
            "sagemaker model",
            model_name,
            tags_of(model["ModelArn"]),
            lambda n=model_name: sm.delete_model(ModelName=n),
        )


def _functions_and_state_machine(run: Run) -> None:
    lam, sfn = run.client("lambda"), run.client("stepfunctions")
    for spec in FUNCTIONS:
        name = run.settings.function_name(spec.folder)
        remove(
            run,
            "lambda function",
            name,
            lambda n=name: lam.get_function(FunctionName=n).get("Tags"),
            lambda n=name: lam.delete_function(FunctionName=n),
        )
    arn = find_state_machine(sfn, run.settings.state_machine_name)
    if arn:
        remove(
            run,
            "state machine",
            run.settings.state_machine_name,
            lambda: sfn.list_tags_for_resource(resourceArn=arn)["tags"],
            lambda: sfn.delete_state_machine(stateMachineArn=arn),
        )


def _roles(run: Run) -> None:
    client = run.client("iam")

    def delete(name: str) -> None:
        for policy in client.list_role_policies(RoleName=name)["PolicyNames"]:
            client.delete_role_policy(RoleName=name, PolicyName=policy)
        for attached in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            client.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        client.delete_role(RoleName=name)

    for purpose in iam.role_purposes():
        name = iam.role_name(run, purpose)
        remove(
            run,
            "iam role",
            name,
            lambda n=name: client.get_role(RoleName=n)["Role"].get("Tags"),
            lambda n=name: delete(n),
        )


def _bucket(run: Run) -> None:
    s3, bucket = run.client("s3"), run.settings.bucket

    def tags() -> list:
        try:
            return s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchTagSet":
                return []
            raise

    def delete() -> None:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)

    remove(run, "s3 bucket", bucket, tags, delete)


def teardown(run: Run, delete_bucket: bool) -> None:
    _sagemaker(run)
    _functions_and_state_machine(run)
    _roles(run)
    run.target.destroy_extra(run)
    if delete_bucket:
        _bucket(run)
    else:
        run.record(
            SKIP, "s3 bucket", run.settings.bucket, "kept (pass --delete-bucket to delete it)"
        )

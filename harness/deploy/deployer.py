"""The one deploy path (and its reverse), whatever the target.

`deploy(settings, target)` creates what is missing, updates what differs and leaves the rest;
with dry_run=True the same code only describes (the plan) and calls no mutating API.
"""

from __future__ import annotations

import re

from harness.config import Settings
from harness.deploy import compute, endpoint, iam, storage
from harness.deploy.base import CREATE, UPDATE, Outputs, Run, Target
from harness.deploy.workflow import FUNCTIONS, render_definition
from harness.errors import HarnessError

_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com[^/]*/([^:@]+)")


def make_target(settings: Settings, **kwargs) -> Target:
    """The target named by settings.target ("local" or "aws")."""
    if settings.target == "aws":
        from harness.deploy.aws import AwsTarget

        return AwsTarget(settings, **kwargs)
    if settings.target == "local":
        from harness.deploy.local import LocalTarget

        return LocalTarget(settings, **kwargs)
    raise HarnessError(f"Unknown target {settings.target!r}.", "use --target local or --target aws")


def _repository_arn(run: Run, image_uri: str) -> str | None:
    match = _ECR_IMAGE.match(image_uri)
    if not match:
        return None
    account, region, repository = match.groups()
    return f"arn:{run.identity.partition}:ecr:{region}:{account}:repository/{repository}"


def deploy(settings: Settings, target: Target, dry_run: bool = False) -> Outputs:
    run = Run(settings, target, target.identity(), dry_run=dry_run)

    storage.ensure_bucket(run)
    storage.upload_test_images(run)
    model_data_url = storage.upload_model(run, required=target.real_endpoint)

    # the endpoint first: on AWS it takes minutes, so the functions deploy while it starts
    image_uri = target.model_image(run)
    sagemaker_role = iam.ensure_role(run, "sagemaker", "sagemaker.amazonaws.com", iam.sagemaker_policy(
        run, storage.MODEL_PREFIX, _repository_arn(run, image_uri)))
    model_name = endpoint.ensure_model(run, image_uri, model_data_url, sagemaker_role)
    config_name = endpoint.ensure_endpoint_config(run, model_name)
    endpoint_action = endpoint.ensure_endpoint(run, config_name)

    function_arns = {}
    for spec in FUNCTIONS:
        name = settings.function_name(spec.folder)
        role = iam.ensure_role(run, spec.folder.replace("_", "-"), "lambda.amazonaws.com",
                               iam.function_policy(run, spec.folder, name))
        function_arns[spec.folder] = compute.ensure_function(run, spec, role)

    states_role = iam.ensure_role(run, "states", "states.amazonaws.com",
                                  iam.states_policy(list(function_arns.values())))
    definition = render_definition(
        {spec.placeholder: function_arns[spec.folder] for spec in FUNCTIONS}, settings.state_machine_file)
    state_machine_arn = compute.ensure_state_machine(run, definition, states_role)

    if run.apply and endpoint_action in (CREATE, UPDATE):
        target.wait_for_endpoint(run, settings.endpoint_name)

    return Outputs(
        target=target.name, identity=run.identity, bucket=settings.bucket,
        function_arns=function_arns, state_machine_arn=state_machine_arn,
        endpoint_name=settings.endpoint_name, endpoint_config_name=config_name,
        model_name=model_name, image_uri=image_uri, changes=run.changes, dry_run=dry_run,
    )


def destroy(settings: Settings, target: Target, delete_bucket: bool = False, dry_run: bool = False):
    """Delete what deploy created, endpoint first (it costs money); only resources tagged
    managed-by=scones-harness. Returns the list of Changes."""
    from harness.deploy.teardown import teardown

    run = Run(settings, target, target.identity(), dry_run=dry_run)
    teardown(run, delete_bucket)
    return run.changes

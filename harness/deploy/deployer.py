"""The one deploy path (and its reverse), whatever the target.

`deploy(settings, target)` creates what is missing, updates what differs and leaves the rest;
with dry_run=True the same code only describes (the plan) and calls no mutating API.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.config import Settings
from harness.deploy import compute, ecr, endpoint, iam, storage
from harness.deploy.base import Outputs, Run, Target
from harness.deploy.workflow import FUNCTIONS, FunctionSpec, build_zip, render_definition
from harness.errors import HarnessError


def make_target(settings: Settings, **kwargs) -> Target:
    """The target named by settings.target ("local" or "aws")."""
    if settings.target == "aws":
        from harness.deploy.aws import AwsTarget

        return AwsTarget(settings, **kwargs)
    if settings.target == "local":
        from harness.deploy.local import LocalTarget

        return LocalTarget(settings, **kwargs)
    raise HarnessError(f"Unknown target {settings.target!r}.", "use --target local or --target aws")


def _in_parallel(run: Run, *steps: Callable[[Run], Any]) -> list[Any]:
    """Run independent chains of steps at once (each call waits on the network); their
    changes are merged in the order the steps are given, so the summary reads the same."""
    forks = [run.fork() for _ in steps]
    with ThreadPoolExecutor(len(steps)) as pool:
        futures = [pool.submit(step, fork) for step, fork in zip(steps, forks)]
        results = [future.result() for future in futures]
    for fork in forks:
        run.changes.extend(fork.changes)
    return results


def _storage(run: Run) -> str | None:
    storage.ensure_bucket(run)
    storage.upload_test_images(run)
    return storage.upload_model(run, required=run.target.real_endpoint)


def _image_and_role(run: Run) -> tuple[str, str]:
    image_uri = run.target.model_image(run)
    # only an image in our ECR repository (the AWS target's) needs a pull permission
    in_ecr = image_uri.startswith(ecr.repository_uri(run) + ":")
    role = iam.ensure_role(
        run,
        iam.SAGEMAKER_ROLE,
        "sagemaker.amazonaws.com",
        iam.sagemaker_policy(
            run, storage.MODEL_PREFIX, ecr.repository_arn(run) if in_ecr else None
        ),
    )
    return image_uri, role


def _function(spec: FunctionSpec) -> Callable[[Run], str]:
    def step(run: Run) -> str:
        role = iam.ensure_role(
            run,
            iam.function_role_purpose(spec.folder),
            "lambda.amazonaws.com",
            iam.function_policy(run, spec.folder, run.settings.function_name(spec.folder)),
        )
        return compute.ensure_function(run, spec, role)

    return step


def preflight(settings: Settings, target: Target, dry_run: bool) -> None:
    """Every input checked before the first call that changes anything."""
    storage.test_images(settings.data_dir)
    if target.real_endpoint:
        storage.require_model(settings)
    for spec in FUNCTIONS:
        build_zip(spec.folder, settings.lambdas_dir)
    render_definition({spec.placeholder: "arn" for spec in FUNCTIONS}, settings.state_machine_file)
    target.preflight(dry_run)


def deploy(settings: Settings, target: Target, dry_run: bool = False) -> Outputs:
    run = Run(settings, target, target.identity(), dry_run=dry_run)
    preflight(settings, target, dry_run)

    model_data_url, (image_uri, sagemaker_role), *arns = _in_parallel(
        run, _storage, _image_and_role, *(_function(spec) for spec in FUNCTIONS)
    )
    function_arns = {spec.folder: arn for spec, arn in zip(FUNCTIONS, arns)}

    def endpoint_chain(r: Run) -> tuple[str, str, bool]:
        model_name = endpoint.ensure_model(r, image_uri, model_data_url, sagemaker_role)
        config_name = endpoint.ensure_endpoint_config(r, model_name)
        return model_name, config_name, endpoint.ensure_endpoint(r, config_name)

    def state_machine_chain(r: Run) -> str:
        role = iam.ensure_role(
            r, iam.STATES_ROLE, "states.amazonaws.com", iam.states_policy(list(arns))
        )
        definition = render_definition(
            {spec.placeholder: function_arns[spec.folder] for spec in FUNCTIONS},
            settings.state_machine_file,
        )
        return compute.ensure_state_machine(r, definition, role)

    (model_name, config_name, endpoint_starting), state_machine_arn = _in_parallel(
        run, endpoint_chain, state_machine_chain
    )

    if run.apply and endpoint_starting:
        target.wait_for_endpoint(run, settings.endpoint_name)

    return Outputs(
        target=target.name,
        identity=run.identity,
        bucket=settings.bucket,
        function_arns=function_arns,
        state_machine_arn=state_machine_arn,
        endpoint_name=settings.endpoint_name,
        endpoint_config_name=config_name,
        model_name=model_name,
        image_uri=image_uri,
        changes=run.changes,
        dry_run=dry_run,
    )


def destroy(settings: Settings, target: Target, delete_bucket: bool = False, dry_run: bool = False):
    """Delete what deploy created, endpoint first (it costs money); only resources tagged
    managed-by=scones-harness. Returns the list of Changes."""
    from harness.deploy.teardown import teardown

    run = Run(settings, target, target.identity(), dry_run=dry_run)
    teardown(run, delete_bucket)
    return run.changes

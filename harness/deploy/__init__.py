"""Deploy the workflow to a target: the local stack or AWS, through one code path.

from harness.deploy import deploy, destroy, make_target
outputs = deploy(settings, make_target(settings))            # create or update
outputs = deploy(settings, make_target(settings), dry_run=True)  # plan: no mutating call
changes = destroy(settings, make_target(settings), delete_bucket=False)
"""

from harness.deploy.base import Change, Identity, Outputs, Target
from harness.deploy.deployer import deploy, destroy, make_target

__all__ = ["Change", "Identity", "Outputs", "Target", "deploy", "destroy", "make_target"]

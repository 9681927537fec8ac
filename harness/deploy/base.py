"""What every deploy target provides, and what a deploy run records and returns.

The deploy logic (deployer.py and the step modules) is written once; a `Target` supplies
only the data that differs between the local stack and AWS: where the clients point, the
functions' extra environment and tags, where the model image comes from, whether the
SageMaker endpoint is real (instances, waiting, cost) or a control-plane record.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.config import Settings

MANAGED_BY = ("managed-by", "scones-harness")  # on every resource we create; destroy needs it

CREATE, UPDATE, UNCHANGED, DELETE, SKIP = "create", "update", "unchanged", "delete", "skip"


@dataclass(frozen=True)
class Change:
    """One resource and what a run did (or, in a plan, would do) to it."""

    action: str  # create | update | unchanged | delete | skip
    kind: str  # "lambda function", "iam role", ...
    name: str
    detail: str = ""


@dataclass(frozen=True)
class Identity:
    account: str
    region: str
    arn: str = ""
    partition: str = "aws"


class Target(Protocol):
    name: str  # "local" | "aws"
    settings: Settings
    # AWS runs the endpoint on instances (wait, cost, update in place); locally the endpoint
    # is the model server and SageMaker holds only records, replaced rather than updated.
    real_endpoint: bool

    def client(self, service: str) -> Any: ...

    def identity(self) -> Identity:
        """Who and where we deploy; raises HarnessError when that is unknown or unsafe."""

    def preflight(self, dry_run: bool) -> None:
        """Check what the target needs (on AWS: a Docker engine) before anything is created."""

    def function_environment(self) -> dict[str, str]:
        """Variables added to every function's environment (besides ENDPOINT_NAME, THRESHOLD)."""

    def function_tags(self, folder: str) -> dict[str, str]:
        """Tags added to the function built from lambdas/<folder>."""

    def model_image(self, run: Run) -> str:
        """The model server's image URI (on AWS: built and pushed unless --dry-run)."""

    def destroy_extra(self, run: Run) -> None:
        """Delete target-only resources (the ECR repository on AWS)."""

    def wait_for_endpoint(self, run: Run, endpoint_name: str) -> None: ...


@dataclass
class Run:
    """One deploy, plan or destroy: the target, who we are, and the changes so far."""

    settings: Settings
    target: Target
    identity: Identity
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def apply(self) -> bool:
        return not self.dry_run

    def client(self, service: str) -> Any:
        with (
            self._lock
        ):  # forks share clients (boto3 clients are thread-safe, creating them is not)
            if service not in self._clients:
                self._clients[service] = self.target.client(service)
            return self._clients[service]

    def fork(self) -> Run:
        """A run for one independent chain of steps: same clients, its own list of changes."""
        return Run(
            self.settings, self.target, self.identity, self.dry_run, [], self._clients, self._lock
        )

    def record(self, action: str, kind: str, name: str, detail: str = "") -> str:
        self.changes.append(Change(action, kind, name, detail))
        return action

    def record_diffs(self, kind: str, name: str, diffs: list[str]) -> bool:
        """Record an existing resource as unchanged or updated (listing `diffs`); returns
        whether the updates should be applied now (there are diffs and this is no dry run)."""
        if not diffs:
            self.record(UNCHANGED, kind, name)
            return False
        self.record(UPDATE, kind, name, ", ".join(diffs))
        return self.apply

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        ident = self.identity
        return f"arn:{ident.partition}:{service}:{ident.region if region else ''}:{ident.account}:{resource}"

    def tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {MANAGED_BY[0]: MANAGED_BY[1], **(extra or {})}

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        return [{key: k, value: v} for k, v in self.tags().items()]


@dataclass
class Outputs:
    """What a deploy produced: names and ARNs the rest of the harness (and the summary) use."""

    target: str
    identity: Identity
    bucket: str
    function_arns: dict[str, str]
    state_machine_arn: str
    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    image_uri: str
    changes: list[Change]
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(c.action not in (UNCHANGED, SKIP) for c in self.changes)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

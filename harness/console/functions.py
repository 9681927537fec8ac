"""The functions page: each workflow Lambda's configuration and its recent log lines.

GetFunctionConfiguration and CloudWatch Logs (harness.loop.logs.read_cloudwatch), the same
calls on the local stack and AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from harness import clients
from harness.config import Settings
from harness.deploy.workflow import FUNCTIONS
from harness.errors import HarnessError
from harness.loop.logs import LogLine, log_group, read_cloudwatch

LOG_LINES = 40  # per function: the tail is what a developer looks at first
_EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass
class FunctionView:
    name: str
    folder: str
    config: dict[str, Any] | None
    problem: str = ""
    logs: list[LogLine] = field(default_factory=list)
    logs_note: str = ""

    @property
    def facts(self) -> list[tuple[str, str]]:
        c = self.config or {}
        env = (c.get("Environment") or {}).get("Variables") or {}
        return [
            ("runtime", c.get("Runtime", "-")),
            ("handler", c.get("Handler", "-")),
            ("memory", f"{c.get('MemorySize', '-')} MB"),
            ("timeout", f"{c.get('Timeout', '-')} s"),
            ("code size", f"{c.get('CodeSize', 0):,} bytes"),
            ("state", f"{c.get('State', '-')} / last update {c.get('LastUpdateStatus', '-')}"),
            ("last modified", str(c.get("LastModified", "-"))),
            ("role", c.get("Role", "-")),
            ("environment", ", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "-"),
            ("ARN", c.get("FunctionArn", "-")),
        ]


def function_views(settings: Settings, since_s: float) -> list[FunctionView]:
    lam = clients.client(settings, "lambda", connect_timeout=2, retries={"max_attempts": 1})
    logs = clients.client(settings, "logs", connect_timeout=2, retries={"max_attempts": 1})
    views = []
    for spec in FUNCTIONS:
        name = settings.function_name(spec.folder)
        view = FunctionView(name, spec.folder, None)
        try:
            view.config = lam.get_function_configuration(FunctionName=name)
        except ClientError as exc:
            if not clients.not_found(exc):
                raise
            view.problem = "not deployed on this target: `make local-up` (or `make deploy-aws`)"
        try:
            lines = read_cloudwatch(
                settings, log_group(settings, spec.folder), since_s, False, client=logs
            )
            # FilterLogEvents interleaves streams: order by time, newest first on the page
            ordered = sorted(lines, key=lambda line: line.timestamp or _EPOCH)
            view.logs = ordered[-LOG_LINES:][::-1]
        except HarnessError as exc:  # no log group yet: it comes with the first invocation
            view.logs_note = exc.message + (f" {exc.hint}" if exc.hint else "")
        except (ClientError, BotoCoreError) as exc:
            view.logs_note = f"CloudWatch Logs: {exc}"
        views.append(view)
    return views

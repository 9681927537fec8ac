"""`harness e2e --mocks`: the workflow's failure paths, through mocked test cases.

Each scenario starts one execution on `<state machine ARN>#<TestCase>`, a test case of the
Step Functions Local mock file statemachine/mocks/workflow.mocks.json (SFN_MOCK_CONFIG; the
embedded emulator reads it, harness/emulator/sfn_mocks.py). The test cases mock only
"Classify image": "Serialize image" reads the real image from S3 and "Filter low-confidence
inferences" runs the real Lambda on what the mock answered, so the state machine's own Retry
rules, error names and outcomes are what is checked. The mocked errors are named as the
classify Lambda raises them (lambdas/shared/errors.py) and as AWS reports Lambda's own failures.

A mock answers the same way every time: its image_data is a 1x1 placeholder and its messages
name s3://scones-unlimited-local/test/bike_s_000658.png, the image every scenario runs on when
the data set lists it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from harness import clients
from harness.config import Settings
from harness.dataset import listed_images
from harness.e2e.cases import THRESHOLD_ERROR
from harness.e2e.runner import ExecutionResult, wait_for
from harness.errors import HarnessError
from harness.executions.api import state_machine_arn
from harness.executions.history import state_rows

MOCKED_STATE = "Classify image"
PREFERRED_KEY = "test/bike_s_000658.png"  # the key the mock file's answers name


@dataclass(frozen=True)
class MockedCase:
    test_case: str  # in the mock file, under StateMachines.<state machine name>.TestCases
    scenario: str
    expect_status: str
    expect_error: str = ""
    expect_label: str = ""
    expect_retries: int = 0  # retries of "Classify image"

    @property
    def expected(self) -> str:
        outcome = self.expect_error or self.expect_label
        return f"{self.expect_status} {outcome}".strip()


# The Retry rules these prove are statemachine/workflow.asl.json's "Classify image":
# Lambda.ServiceException & co: MaxAttempts 3; EndpointTransientError: MaxAttempts 5.
CASES = (
    MockedCase(
        "EndpointNotReadyThenReady",
        "endpoint loading (ModelNotReadyException) once, then answers",
        "SUCCEEDED",
        expect_label="bicycle",
        expect_retries=1,
    ),
    MockedCase(
        "EndpointNotReadyPersists",
        "endpoint never ready: EndpointTransientError retried 5 times",
        "FAILED",
        expect_error="EndpointTransientError",
        expect_retries=5,
    ),
    MockedCase(
        "EndpointModelError",
        "endpoint answers ModelError (424): fails at once",
        "FAILED",
        expect_error="EndpointInvocationError",
    ),
    MockedCase(
        "LambdaServiceExceptionThenSuccess",
        "Lambda.ServiceException once: the Retry absorbs it",
        "SUCCEEDED",
        expect_label="bicycle",
        expect_retries=1,
    ),
    MockedCase(
        "LambdaServiceExceptionPersists",
        "Lambda.ServiceException on every attempt: 3 retries, then fails",
        "FAILED",
        expect_error="Lambda.ServiceException",
        expect_retries=3,
    ),
    MockedCase(
        "LambdaTimeout",
        "classify Lambda times out (Sandbox.Timedout): no retry",
        "FAILED",
        expect_error="Sandbox.Timedout",
    ),
    MockedCase(
        "LowConfidence",
        "endpoint unsure (0.59): the real filter fails the run",
        "FAILED",
        expect_error=THRESHOLD_ERROR,
    ),
)


@dataclass(frozen=True)
class MockedVerdict:
    case: MockedCase
    result: ExecutionResult | None  # None: StartExecution refused it
    retries: int | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(case: MockedCase, result: ExecutionResult, retries: int | None) -> MockedVerdict:
    problems = []
    if result.status != case.expect_status:
        problems.append(f"expected {case.expect_status}, got {result.status}")
    if case.expect_error and result.error != case.expect_error:
        problems.append(f"expected error {case.expect_error}, got {result.error or 'none'}")
    if case.expect_label and result.label != case.expect_label:
        problems.append(f"expected label {case.expect_label}, got {result.label or 'none'}")
    if retries != case.expect_retries:
        problems.append(f"expected {case.expect_retries} retries of {MOCKED_STATE}, got {retries}")
    return MockedVerdict(case, result, retries, tuple(problems))


def classify_retries(sfn, execution_arn: str) -> int | None:
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    rows = [row for row in state_rows(events) if row.name == MOCKED_STATE]
    return sum(row.retries for row in rows) if rows else None


def input_key(settings: Settings) -> str:
    keys = [image.key for image in listed_images(settings.data_dir)]
    if not keys:
        raise HarnessError(f"No test images listed in {settings.data_dir}.", "set SCONES_DATA_DIR")
    return PREFERRED_KEY if PREFERRED_KEY in keys else keys[0]


def run_one(sfn, machine: str, bucket: str, key: str, case: MockedCase, batch: str):
    name = f"mock-{batch}-{case.test_case}"[:80]
    start = time.monotonic()
    try:
        arn = sfn.start_execution(
            stateMachineArn=f"{machine}#{case.test_case}",
            name=name,
            input=json.dumps({"s3_bucket": bucket, "s3_key": key}),
        )["executionArn"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return MockedVerdict(
            case,
            None,
            None,
            (f"StartExecution refused it: {error.get('Code')}: {error.get('Message')}",),
        )
    result = wait_for(sfn, arn, name, key, start, timeout=180)
    return judge(case, result, classify_retries(sfn, arn))


def run_mocked(
    settings: Settings, cases: tuple[MockedCase, ...] = CASES, parallel: int = 8
) -> list[MockedVerdict]:
    """Run every mocked scenario at once (the slow ones wait out their Retry backoff)."""
    if settings.target == "aws":
        raise HarnessError(
            "Mocked test cases (<state machine ARN>#<TestCase>) exist only locally: AWS's own "
            "Step Functions has no mock files.",
            "run `harness e2e --mocks` against the local stack, or TestState on AWS",
        )
    sfn = clients.client(settings, "stepfunctions")
    machine = state_machine_arn(sfn, settings.state_machine_name)
    key = input_key(settings)
    batch = f"{int(time.time()) % 100000:05d}"
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [
            pool.submit(run_one, sfn, machine, settings.bucket, key, case, batch) for case in cases
        ]
        return [future.result() for future in futures]


def print_table(verdicts: list[MockedVerdict], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="Mocked failure paths (statemachine/mocks/workflow.mocks.json)")
    for column in ("test case", "scenario", "expected", "got", "retries", "ms", "check"):
        table.add_column(column, justify="right" if column in ("retries", "ms") else "left")
    for v in verdicts:
        r = v.result
        if r is None:
            got, ms = "[red]not started[/]", ""
        else:
            style = "green" if r.status == "SUCCEEDED" else "red"
            got = f"[{style}]{r.status}[/] {r.error or r.label}".rstrip()
            ms = f"{r.seconds * 1000:.0f}"
        table.add_row(
            v.case.test_case,
            v.case.scenario,
            v.case.expected,
            got,
            f"{'-' if v.retries is None else v.retries} / {v.case.expect_retries}",
            ms,
            "[green]ok[/]" if v.ok else "[red]" + "; ".join(v.problems) + "[/]",
        )
    console.print(table)
    failed = [v for v in verdicts if not v.ok]
    if any(v.result is None for v in verdicts):
        console.print(
            "The AWS emulator reads the mock file named by SFN_MOCK_CONFIG (default "
            "statemachine/mocks/workflow.mocks.json), under the state machine's name; in docker "
            "mode LocalStack needs the file mounted and SFN_MOCK_CONFIG set in its container."
        )
    if failed:
        console.print(f"[red]{len(failed)} of {len(verdicts)} mocked scenarios misbehaved.[/]")
    else:
        console.print(f"[green]All {len(verdicts)} mocked scenarios behaved as expected.[/]")

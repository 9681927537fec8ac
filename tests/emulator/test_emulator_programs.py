"""Shared evaluation programs (sfn_programs.py): executions of one definition share its
program where that is safe, and their retries still count each run's own attempts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.e2e import runner

FAILING = "def handler(event, context):\n    raise ValueError('always')\n"


def tasks_only(function_arn: str) -> dict:
    return {
        "StartAt": "Try",
        "States": {
            "Try": {
                "Type": "Task",
                "Resource": function_arn,
                "Retry": [
                    {
                        "ErrorEquals": ["ValueError"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 2,
                        "BackoffRate": 1.0,
                    }
                ],
                "End": True,
            }
        },
    }


def function_arn(client, name: str) -> str:
    return client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def create_machine(client, role_arn: str, prefix: str, definition: dict) -> str:
    return client("stepfunctions").create_state_machine(
        name=f"{prefix}-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=role_arn,
    )["stateMachineArn"]


def run_one_task(client, role_arn: str, prefix: str, state: dict) -> runner.ExecutionResult:
    """One execution of a machine whose only state is `state`, to its end."""
    sfn = client("stepfunctions")
    machine = create_machine(client, role_arn, prefix, {"StartAt": "T", "States": {"T": state}})
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    return runner.wait_for(sfn, execution, prefix, "", time.monotonic(), timeout=30)


def test_a_tasks_only_definition_shares_one_program_and_parallel_does_not(aws, speedups):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    aws.wait_stepfunctions()
    plain = json.dumps(tasks_only("arn:aws:lambda:us-east-1:123456789012:function:f"))
    parallel = json.dumps(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}],
                    "End": True,
                }
            },
        }
    )
    parse = AmazonStateLanguageParser.parse
    assert (parse(plain)[0] is parse(plain)[0]) is speedups
    assert parse(parallel)[0] is not parse(parallel)[0]


def test_concurrent_runs_of_a_shared_program_count_their_own_retries(
    aws, client, role_arn, make_function
):
    """Retry counters live in each run's heap under the component's key, not on the shared
    component: six runs at once each make their own three attempts."""
    sfn = client("stepfunctions")
    failing = function_arn(client, make_function(FAILING))
    machine = create_machine(client, role_arn, "retry", tasks_only(failing))

    def run(i: int) -> list[str]:
        arn = sfn.start_execution(stateMachineArn=machine, name=f"r{i}", input="{}")["executionArn"]
        result = runner.wait_for(sfn, arn, f"r{i}", "", time.monotonic(), timeout=60)
        assert (result.status, result.error) == ("FAILED", "ValueError")
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [e["type"] for e in events if e["type"] == "LambdaFunctionFailed"]

    with ThreadPoolExecutor(6) as pool:
        failures = list(pool.map(run, range(6)))
    assert [len(f) for f in failures] == [3] * 6  # the first try and MaxAttempts 2, each run


@pytest.mark.parametrize("word", ["Parallel", "Map"])
def test_definitions_naming_parallel_or_map_are_rebuilt(word):
    from harness.emulator import sfn_programs

    built = []
    definition = json.dumps({"States": {"S": {"Type": word}}})
    for _ in range(2):
        sfn_programs.shared(lambda: built.append(object()) or built[-1], definition)
    assert len(built) == 2


def test_a_shared_program_has_every_heap_key_drawn_before_it_is_handed_out(aws):
    """Drawn lazily, two first runs at once could draw two keys for one component."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    from harness.emulator import sfn_programs

    aws.wait_stepfunctions()
    definition = json.dumps(tasks_only("arn:aws:lambda:us-east-1:123456789012:function:keys"))
    tree = AmazonStateLanguageParser.parse(definition)[1]
    program = sfn_programs.shared(lambda: Preprocessor().visit(tree), definition + " ")
    found, stack, seen = [], [program], set()
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, (list, tuple)):
            stack.extend(item)
            continue
        if id(item) in seen or not hasattr(item, "__dict__"):
            continue
        seen.add(id(item))
        if isinstance(item, EvalComponent):
            found.append(vars(item).get("_EvalComponent__heap_key"))
        stack.extend(vars(item).values())
    assert len(found) > 10 and None not in found  # the program, its state, its retrier...


@pytest.mark.parametrize("timeout", [None, 30])
def test_a_task_without_a_timeout_runs_on_its_executions_thread(
    aws, client, role_arn, make_function, speedups, monkeypatch, timeout
):
    """sfn_inline_tasks.py: no thread per state unless TimeoutSeconds needs one to enforce."""
    from harness.emulator.sfn_lambda import InProcessLambdaClient

    if not speedups:
        pytest.skip("a speed-up; moto's own engine calls Lambda over HTTP from a thread per state")

    threads = []
    original = InProcessLambdaClient.invoke

    def invoke(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(InProcessLambdaClient, "invoke", invoke)
    name = make_function("def handler(event, context):\n    return {'ok': True}\n")
    state = {"Type": "Task", "Resource": function_arn(client, name), "End": True}
    if timeout:
        state["TimeoutSeconds"] = timeout
    result = run_one_task(client, role_arn, "inline", state)
    assert (result.status, result.output) == ("SUCCEEDED", {"ok": True})
    # moto names the thread it starts per state after its target, _exec_and_notify
    assert len(threads) == 1
    assert ("_exec_and_notify" in threads[0]) is (timeout is not None), threads


def test_a_task_with_a_timeout_still_times_out(aws, client, role_arn, make_function):
    name = make_function(
        "import time\ndef handler(event, context):\n    time.sleep(3)\n", timeout=10
    )
    state = {"Type": "Task", "Resource": function_arn(client, name), "TimeoutSeconds": 1}
    result = run_one_task(client, role_arn, "timeout", {**state, "End": True})
    assert (result.status, result.error) == ("FAILED", "States.Timeout")

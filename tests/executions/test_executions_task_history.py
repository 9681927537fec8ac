"""Task states on moto's interpreter: Lambda retries and a Catch give a real AWS-shaped history."""

from __future__ import annotations

import json
from unittest import mock

import boto3
from moto.awslambda.models import LambdaFunction
from rich.console import Console

from harness.executions.api import load_execution
from harness.executions.graph import COLOURS, svg_id
from harness.executions.render import print_states, write_views
from tests.executions.executions_support import ROLE, create_machine, run_to_end, svg_content
from tests.support.lambda_zip import zip_code


def test_task_retries_and_catch_on_a_real_history(sfn, tmp_path):
    # GIVEN Lambda tasks whose code moto would run in Docker: answer in-process instead
    attempts = {"flaky": 0}

    def invoke(function, event=None):
        if function.function_name == "flaky":
            attempts["flaky"] += 1
            if attempts["flaky"] == 1:
                return (
                    json.dumps(
                        {"errorMessage": "busy", "errorType": "Lambda.TooManyRequestsException"}
                    ),
                    True,
                    "",
                )
            return json.dumps({"statusCode": 200, "body": {"image_data": "QUJD" * 400}}), False, ""
        return (
            json.dumps({"errorMessage": "0.59 < 0.93", "errorType": "ThresholdConfidenceNotMet"}),
            True,
            "",
        )

    code = zip_code({"handler.py": "def handler(event, context):\n    return event\n"})
    lam = boto3.client("lambda", region_name="us-east-1")
    boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="scones-workflow-role", AssumeRolePolicyDocument="{}"
    )
    arns = {
        name: lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": code},
        )["FunctionArn"]
        for name in ("flaky", "filter")
    }
    retry = [
        {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 2}
    ]
    definition = {
        "StartAt": "Serialize",
        "States": {
            "Serialize": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Retry": retry,
                "Parameters": {"FunctionName": arns["flaky"], "Payload.$": "$"},
                "Next": "Filter",
            },
            "Filter": {
                "Type": "Task",
                "Resource": arns["filter"],
                "Next": "Done",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Low"}],
            },
            "Low": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        },
    }
    machine = create_machine(sfn, "retry-catch-machine", definition)
    with mock.patch.object(LambdaFunction, "_invoke_lambda", invoke):
        arn = run_to_end(sfn, machine, "retry-catch", {"s3_key": "test/a.png"})
    # WHEN
    record = load_execution(sfn, arn)
    # THEN
    assert record.summary.status == "SUCCEEDED"
    assert [(r.name, r.status, r.retries) for r in record.rows] == [
        ("Serialize", "succeeded", 1),
        ("Filter", "caught", 0),
        ("Low", "succeeded", 0),
    ]
    assert record.rows[1].error == "ThresholdConfidenceNotMet"
    assert (
        json.loads(record.rows[0].output)["Payload"]["body"]["image_data"] == "<base64, 1600 chars>"
    )
    console = Console(record=True, width=300)
    print_states(record, console)
    assert "<base64, 1600 chars>" in console.export_text()  # elided once, with the real length
    content = svg_content(write_views(record, tmp_path, png=False).svg)
    assert content[svg_id("state", "Serialize")]["fill"] == COLOURS["succeeded"]
    assert content[svg_id("retries", "Serialize")]["text"] == "retries: 1"
    assert content[svg_id("state", "Filter")]["fill"] == COLOURS["caught"]
    assert content[svg_id("state", "Done")]["fill"] == COLOURS["not reached"]

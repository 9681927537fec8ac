"""`harness plan | deploy | destroy` through the CLI: output, confirmation, exit codes."""

from __future__ import annotations

import boto3
import pytest
from click.testing import CliRunner

from harness.cli import cli, main
from tests.deploy.deploy_support import REGION


@pytest.fixture
def env(aws, sources, monkeypatch):
    monkeypatch.setenv("SCONES_BUCKET", sources.bucket)
    monkeypatch.setenv("SCONES_DATA_DIR", str(sources.data_dir))
    monkeypatch.setenv("SCONES_MODEL_ARTIFACT", str(sources.model_artifact))
    return sources


def test_plan_aws_prints_the_account_and_every_resource(env):
    result = CliRunner().invoke(cli, ["plan", "--target", "aws"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "account 123456789012, region us-east-1" in result.output
    assert "Plan: " in result.output and "to create" in result.output
    for kind in ("s3 bucket", "iam role", "lambda function", "state machine", "endpoint config"):
        assert kind in result.output
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_destroy_asks_first_and_a_no_deletes_nothing(env):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=env.bucket)
    result = CliRunner().invoke(cli, ["destroy", "--target", "aws", "--delete-bucket"], input="n\n")
    assert result.exit_code == 1
    assert "Delete the endpoint" in result.output
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [env.bucket]


def test_a_refusal_is_an_error_message_and_exit_1(env, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--target", "aws"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Refusing to target AWS" in err and "unset AWS_ENDPOINT_URL" in err


def test_deploy_aws_asks_first_and_a_no_creates_nothing(env):
    result = CliRunner().invoke(cli, ["deploy", "--target", "aws"], input="n\n")
    assert result.exit_code == 1
    assert "Deploy to account 123456789012 in us-east-1?" in result.output
    assert "$0.230/hour" in result.output
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_local_deploy_when_the_stack_is_down_says_so(monkeypatch, capsys):
    from harness.stack.readiness import free_port

    monkeypatch.setenv("HARNESS_AWS_PORT", str(free_port()))
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", "--target", "local"])
    assert exit_info.value.code == 1
    assert "does not answer" in capsys.readouterr().err

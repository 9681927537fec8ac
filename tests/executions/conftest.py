"""Fixtures for the execution views."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws


@pytest.fixture
def sfn():
    """A Step Functions client on moto's in-process mock, which really runs state machines."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")

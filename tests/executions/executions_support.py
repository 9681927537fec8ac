"""Helpers for the execution-view tests: AWS-shaped history files, moto executions, SVG reading."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROLE = "arn:aws:iam::123456789012:role/scones-workflow-role"
_SVG = "{http://www.w3.org/2000/svg}"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def svg_content(path: Path) -> dict[str, dict[str, str]]:
    """id -> {"fill": ..., "text": ...} for every <g id=...> the graph wrote."""
    out = {}
    for group in ET.parse(path).getroot().iter(f"{_SVG}g"):
        gid = group.get("id")
        if not gid:
            continue
        shape = group.find(f"{_SVG}path")
        fill = (
            re.search(r"fill:\s*(#[0-9a-fA-F]{6})", shape.get("style", ""))
            if shape is not None
            else None
        )
        text = "".join(t.text or "" for t in group.iter(f"{_SVG}text"))
        out[gid] = {"fill": fill.group(1).lower() if fill else "", "text": text}
    return out


def create_machine(client, name: str, definition: dict) -> str:
    return client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


def run_to_end(client, machine_arn: str, name: str, payload: dict, deadline_s: float = 15) -> str:
    """Start a named execution and poll until it leaves RUNNING; return its ARN."""
    arn = client.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + deadline_s
    while client.describe_execution(executionArn=arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            pytest.fail(f"execution {name} still RUNNING after {deadline_s} s")
        time.sleep(0.02)
    return arn

"""One embedded AWS per test module on a free port, and a factory for Lambda functions.

HARNESS_EMULATOR_SPEEDUPS=false runs them all on moto's own paths (the `speedups` fixture).
"""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.config import Settings
from harness.emulator import CODE_PATHS_TAG, EmbeddedAWS
from tests.support import emulator_clients
from tests.support.lambda_zip import zip_code


@pytest.fixture(scope="session")
def speedups() -> bool:
    """HARNESS_EMULATOR_SPEEDUPS: CI runs these tests with the speed-ups on and off."""
    return Settings.from_env().emulator_speedups


@pytest.fixture(scope="module")
def aws(tmp_path_factory, speedups) -> EmbeddedAWS:
    settings = Settings(
        aws_port=0,
        state_dir=tmp_path_factory.mktemp("emulator-state"),
        emulator_speedups=speedups,
    )
    emulator = EmbeddedAWS(settings).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def client(aws) -> Callable:
    return emulator_clients.factory(aws.url)


@pytest.fixture(scope="module")
def role_arn(client) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ],
    }
    return client("iam").create_role(
        RoleName=f"role-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]


@pytest.fixture(scope="module")
def make_function(client, role_arn, tmp_path_factory) -> Callable[..., str]:
    """make_function(handler_source, timeout=3, env=None, hot=False) -> function name.

    hot=True writes the handler into a folder and tags the function with it (hot reload);
    the folder is then `function_folder(name)`.
    """
    lam = client("lambda")
    folders: dict[str, Path] = {}

    def make(
        source: str,
        *,
        timeout: int = 3,
        env: dict | None = None,
        hot: bool = False,
        extra_files: dict[str, str] | None = None,
    ) -> str:
        name = f"fn-{uuid.uuid4().hex[:10]}"
        files = {"handler.py": source, **(extra_files or {})}
        tags = {}
        if hot:
            folder = tmp_path_factory.mktemp(name)
            for relative, text in files.items():
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                (folder / relative).write_text(textwrap.dedent(text))
            folders[name] = folder
            tags[CODE_PATHS_TAG] = os.pathsep.join([str(folder)])
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn,
            Handler="handler.handler",
            Code={"ZipFile": zip_code(files)},
            Timeout=timeout,
            Environment={"Variables": env or {}},
            Tags=tags,
        )
        return name

    make.folders = folders
    return make


@pytest.fixture(scope="module")
def invoke(client) -> Callable:
    """invoke(name, event) -> (decoded payload, FunctionError) of a synchronous invoke."""
    lam = client("lambda")

    def call(name: str, event=None) -> tuple[dict | str, str | None]:
        response = lam.invoke(
            FunctionName=name, Payload=json.dumps(event if event is not None else {})
        )
        return json.loads(response["Payload"].read()), response.get("FunctionError")

    return call

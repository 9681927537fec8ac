"""Docker mode's errors a user can act on (issue 12, point 3), decided before and after
`docker compose up`. A fake `docker` on PATH plays the engine, so these run without one;
the real engine path is CI's docker-mode stage (.ci/docker-e2e)."""

from __future__ import annotations

import json
import stat

import pytest

from harness.config import Settings
from harness.errors import HarnessError
from harness.stack import compose

FAKE_DOCKER = """#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_CALLS"], "a") as calls:
    calls.write(" ".join(args) + "\\n")
answers = json.loads(os.environ["FAKE_DOCKER_ANSWERS"])
for prefix, (code, out) in answers.items():
    if " ".join(args).startswith(prefix) or (prefix.startswith("compose ") and
            " ".join(a for a in args if not a.startswith("-") and not a.endswith(".yml")).startswith(prefix)):
        print(out, end="")
        sys.exit(code)
sys.exit(0)
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """Install a `docker` that answers by argument prefix; returns (set_answers, calls)."""
    exe = tmp_path / "bin" / "docker"
    exe.parent.mkdir()
    exe.write_text(FAKE_DOCKER)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.txt"
    calls.touch()
    monkeypatch.setenv("PATH", f"{exe.parent}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(calls))

    def answer(**answers):
        monkeypatch.setenv(
            "FAKE_DOCKER_ANSWERS",
            json.dumps({prefix.replace("_", " "): value for prefix, value in answers.items()}),
        )

    return answer, lambda: calls.read_text().splitlines()


@pytest.mark.parametrize(
    ("image", "token", "needs"),
    [
        ("localstack/localstack:4.14.0", "", False),
        ("localstack/localstack:community-archive", "", False),
        ("localstack/localstack:3.8", "", False),
        ("localstack/localstack:latest", "", True),
        ("localstack/localstack", "", True),
        ("localstack/localstack:2026.3.0", "", True),
        ("localstack/localstack:4.15", "", True),
        ("localstack/localstack:latest", "ls-token", False),
        ("scones-localstack:4.14.0-ci", "", False),  # an image of one's own: no rule to apply
    ],
)
def test_which_localstack_tags_need_an_auth_token(image, token, needs):
    assert compose.needs_auth_token(image, token) is needs


def test_a_tag_that_needs_a_token_is_refused_before_anything_starts(fake_docker):
    answer, calls = fake_docker
    answer(info=(0, "28.0\n"), network=(1, ""))
    settings = Settings.from_env({"LOCALSTACK_IMAGE": "localstack/localstack:latest"})
    with pytest.raises(HarnessError) as err:
        compose.start(settings, "/tmp/model")
    assert "LOCALSTACK_AUTH_TOKEN" in err.value.message and "4.14.0" in err.value.hint
    assert not any(call.startswith("compose") for call in calls())


def test_a_network_name_taken_by_something_else_is_named(fake_docker):
    answer, calls = fake_docker
    answer(info=(0, "28.0\n"), network=(0, "someone-else\n"))
    with pytest.raises(HarnessError) as err:
        compose.start(Settings.from_env({"SCONES_DOCKER_NETWORK": "busy-net"}), "/tmp/model")
    assert "'busy-net'" in err.value.message and "SCONES_DOCKER_NETWORK" in err.value.hint
    assert not any(call.startswith("compose") for call in calls())


def test_our_own_network_from_an_earlier_run_is_reused(fake_docker):
    answer, calls = fake_docker
    answer(info=(0, "28.0\n"), network=(0, f"{compose.PROJECT}\n"), compose_up=(0, ""))
    compose.start(Settings.from_env({}), "/tmp/model")
    assert any(" up " in f" {call} " for call in calls())


def test_localstack_not_healthy_names_its_logs_and_takes_the_stack_down(fake_docker):
    answer, calls = fake_docker
    rows = "\n".join(
        json.dumps(row)
        for row in [
            {"Service": "localstack", "State": "running", "Health": "unhealthy"},
            {"Service": "model-server", "State": "created", "Health": ""},
        ]
    )
    answer(info=(0, "28.0\n"), network=(1, ""), compose_up=(1, ""), compose_ps=(0, rows))
    with pytest.raises(HarnessError) as err:
        compose.start(Settings.from_env({}), "/tmp/model")
    assert "LocalStack did not become healthy" in err.value.message
    assert "docker compose logs localstack" in err.value.hint
    assert any(" down " in f" {call} " for call in calls()), (
        "a failed up must leave nothing started"
    )


def test_another_service_failing_is_named_with_its_logs(fake_docker):
    answer, _ = fake_docker
    rows = json.dumps(
        [
            {"Service": "localstack", "State": "running", "Health": "healthy"},
            {"Service": "sagemaker-api", "State": "exited", "Health": ""},
        ]
    )
    answer(info=(0, "28.0\n"), network=(1, ""), compose_up=(1, ""), compose_ps=(0, rows))
    with pytest.raises(HarnessError) as err:
        compose.start(Settings.from_env({}), "/tmp/model")
    assert "sagemaker-api" in err.value.message
    assert "docker compose logs sagemaker-api" in err.value.hint


def test_no_engine_says_how_to_go_on(fake_docker):
    answer, _ = fake_docker
    answer(info=(1, ""))
    with pytest.raises(HarnessError) as err:
        compose.start(Settings.from_env({}), "/tmp/model")
    assert (
        "no Docker engine answers" in err.value.message
        and "HARNESS_MODE=embedded" in err.value.hint
    )


def test_down_removes_lambda_containers_localstack_left(fake_docker):
    answer, calls = fake_docker
    answer(compose_down=(0, ""), ps=(0, "abc123\ndef456\n"))
    compose.stop(Settings.from_env({}), "/tmp/model")
    assert f"ps -aq --filter name=^/{compose.LAMBDA_CONTAINER_PREFIX}" in calls()
    assert "rm -f abc123 def456" in calls()
